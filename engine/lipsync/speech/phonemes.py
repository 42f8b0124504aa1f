"""Phonetic recognition: which speech sound is heard when, without knowing the words.

We run PocketSphinx in phone-loop ("allphone") mode with the English acoustic model and
phone language model that ship inside the `pocketsphinx` wheel, so nothing is fetched at
run time. Recognising phones rather than words keeps this language-agnostic: Spanish or
any other language comes out as the nearest English phones, which is all a mouth needs.

Everything here works on 16 kHz mono float32 (the rate the acoustic model was trained
on); `mouth_track` resamples before calling us.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pocketsphinx

from engine.errors import MediaError

SAMPLE_RATE = 16_000
"""The only rate the shipped acoustic model understands."""

FRAME_S = 0.01
"""PocketSphinx analyses 10 ms frames; phone boundaries land on this grid."""

Phone = tuple[str, float, float]
"""(ARPAbet phone such as "AA", "M", "SIL", start_s, end_s)."""

# A frame of 25.6 ms starting at k*10 ms is centred 12.8 ms later; a boundary between
# frames k-1 and k therefore sits about 8 ms after k*10 ms.
_FRAME_CENTRE_OFFSET_S = 0.008
# Language weight of the phone LM. The default 6.5 leans so hard on English phonotactics
# that short consonants (the p in "pancakes") vanish; 1.0 trusts the acoustics: 38 of 58
# espeak p/b/m found instead of 20 (0.5 and 2.0 were no better; boosting P/B/M in a custom
# phone LM or context-dependent phones did not help either, and the latter is 10x slower).
_LANGUAGE_WEIGHT = 1.0
_MIN_DURATION_S = 0.1
_CHUNK_TARGET_S = 30.0
_CHUNK_SEARCH_S = 5.0
_DITHER = 2.0 / 32768.0


def _new_decoder() -> pocketsphinx.Decoder:
    """A fresh decoder for every chunk of audio.

    PocketSphinx carries its cepstral-mean estimate over from one utterance to the next
    (`set_cmn` does not reset it), so a reused decoder recognises the same audio
    differently the second time. Building one costs ~0.1 s, well worth being
    deterministic; it also makes the module thread-safe without locks.
    """
    model_dir = pocketsphinx.get_model_path("en-us")
    return pocketsphinx.Decoder(
        hmm=f"{model_dir}/en-us",
        allphone=f"{model_dir}/en-us-phone.lm.bin",
        lw=_LANGUAGE_WEIGHT,
        loglevel="FATAL",
    )


def _to_pcm16(audio: np.ndarray, seed: int) -> np.ndarray:
    """Float samples to int16, with a fixed tiny dither.

    Digital silence (exact zeros) makes the MFCC front end take log(0) and the recogniser
    then hallucinates; a -84 dBFS seeded noise floor avoids that while staying inaudible
    and keeping the output deterministic.
    """
    noise = np.random.default_rng(seed).standard_normal(audio.shape[0], dtype=np.float32)
    dithered = np.nan_to_num(audio, nan=0.0, posinf=1.0, neginf=-1.0) + noise * _DITHER
    return np.clip(np.round(dithered * 32767.0), -32768, 32767).astype(np.int16)


def _block_energy(audio: np.ndarray) -> np.ndarray:
    """Energy of each 10 ms block, used to find quiet spots to cut long audio at."""
    hop = int(SAMPLE_RATE * FRAME_S)
    n = audio.shape[0] // hop
    blocks = audio[: n * hop].reshape(n, hop)
    return np.einsum("ij,ij->i", blocks, blocks)


def _chunk_bounds(audio: np.ndarray) -> Iterator[tuple[int, int]]:
    """Split long audio at its quietest points so memory stays flat for 10-minute inputs.

    Cutting inside silence keeps each piece a sensible utterance for the batch cepstral
    normalisation, and never splits a phone in two when there is a pause to use.
    """
    hop = int(SAMPLE_RATE * FRAME_S)
    total = audio.shape[0]
    chunk = int(_CHUNK_TARGET_S * SAMPLE_RATE)
    search = int(_CHUNK_SEARCH_S * SAMPLE_RATE)
    if total <= chunk + search:
        yield 0, total
        return
    energy = _block_energy(audio)
    start = 0
    while total - start > chunk + search:
        lo = (start + chunk - search) // hop
        hi = (start + chunk + search) // hop
        # Smooth over 100 ms so we pick a pause, not the closure of a single stop.
        window = np.convolve(energy[lo:hi], np.ones(10, np.float32), mode="same")
        cut = (lo + int(np.argmin(window))) * hop
        yield start, cut
        start = cut
    yield start, total


def _decode(pcm: np.ndarray, offset_s: float) -> list[Phone]:
    """Run the phone loop over one chunk and return time-stamped phones."""
    decoder = _new_decoder()
    decoder.start_utt()
    decoder.process_raw(pcm.tobytes(), full_utt=True)
    decoder.end_utt()
    phones: list[Phone] = []
    for seg in decoder.seg():
        start = offset_s + seg.start_frame * FRAME_S + _FRAME_CENTRE_OFFSET_S
        end = offset_s + (seg.end_frame + 1) * FRAME_S + _FRAME_CENTRE_OFFSET_S
        phones.append((_clean_name(seg.word), round(start, 4), round(end, 4)))
    return phones


def _clean_name(word: str) -> str:
    """Noise phones like +NSN+ become NSN so callers see plain tokens."""
    return word.strip("+").upper() or "SIL"


def recognize_phones(audio: np.ndarray) -> list[Phone]:
    """Recognise the phones in 16 kHz mono float32 audio, in time order.

    Returns (phone, start_s, end_s) with ARPAbet names ("AA", "B", ..., "SIL", and "NSN" /
    "SPN" for noise). Audio shorter than 0.1 s yields no phones: the recogniser needs a
    few frames of context and a mouth cannot show anything in that time anyway.
    """
    samples = np.asarray(audio)
    if samples.ndim != 1:
        raise MediaError("the audio must be mono")
    if samples.shape[0] == 0:
        raise MediaError("the audio is empty")
    if samples.shape[0] < int(_MIN_DURATION_S * SAMPLE_RATE):
        return []
    samples = samples.astype(np.float32, copy=False)
    phones: list[Phone] = []
    for start, end in _chunk_bounds(samples):
        if end - start >= int(_MIN_DURATION_S * SAMPLE_RATE):
            pcm = _to_pcm16(samples[start:end], seed=12345 + start)
            phones.extend(_decode(pcm, start / SAMPLE_RATE))
    return phones

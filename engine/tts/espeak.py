"""espeak-ng through its C library: speech, and the exact time of every phoneme in it.

espeak-ng generates the waveform itself, so it knows when each phoneme starts: we load
libespeak-ng with ctypes, ask for phoneme events, and record each event's sample position
with the audio it belongs to. (The `espeak-ng` command prints no timings; `--pho` needs
mbrola voices.) Those timings drive the mouth of a video made from text, with no speech
recognition at all. The library keeps global state, so one instance and one lock serve the
whole process.
"""

from __future__ import annotations

import ctypes
import threading
from dataclasses import dataclass

import numpy as np

_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INITIALIZE_PHONEME_EVENTS = 0x0001
_INITIALIZE_DONT_EXIT = 0x8000
_EVENT_LIST_TERMINATED = 0
_EVENT_PHONEME = 7
_EVENT_END = 5
_EVENT_MSG_TERMINATED = 6
_CHARS_UTF8 = 1
_POS_CHARACTER = 1
_PARAM_RATE = 1
_IPA = 0x02  # espeak_TextToPhonemes: phoneme names as IPA (UTF-8), not espeak's mnemonics
_CLAUSE_ENDERS = ".,;:!?"


@dataclass(frozen=True)
class EspeakVoice:
    name: str  # what espeak_SetVoiceByName takes ("en-us", "es", "ja")
    languages: tuple[str, ...]  # language tags, most specific first
    gender: str


class _VoiceStruct(ctypes.Structure):
    _fields_ = (
        ("name", ctypes.c_char_p),
        ("languages", ctypes.c_void_p),  # (priority byte, name, NUL) pairs, then NUL
        ("identifier", ctypes.c_char_p),
        ("gender", ctypes.c_ubyte),
        ("age", ctypes.c_ubyte),
        ("variant", ctypes.c_ubyte),
        ("xx1", ctypes.c_ubyte),
        ("score", ctypes.c_int),
        ("spare", ctypes.c_void_p),
    )


class _Union(ctypes.Union):
    _fields_ = (("number", ctypes.c_int), ("name", ctypes.c_char_p), ("string", ctypes.c_char * 8))


class _Event(ctypes.Structure):
    _fields_ = (
        ("type", ctypes.c_int),
        ("unique_identifier", ctypes.c_uint),
        ("text_position", ctypes.c_int),
        ("length", ctypes.c_int),
        ("audio_position", ctypes.c_int),
        ("sample", ctypes.c_int),
        ("user_data", ctypes.c_void_p),
        ("id", _Union),
    )


_Callback = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_Event)
)


class _Espeak:
    """The process-wide espeak-ng instance: the library keeps global state, so one lock."""

    def __init__(self) -> None:
        self.lib = ctypes.CDLL("libespeak-ng.so.1")
        self.lib.espeak_Initialize.restype = ctypes.c_int
        self.lib.espeak_Initialize.argtypes = (
            ctypes.c_int,
            ctypes.c_int,
            ctypes.c_char_p,
            ctypes.c_int,
        )
        self.lib.espeak_SetVoiceByName.argtypes = (ctypes.c_char_p,)
        self.lib.espeak_SetParameter.argtypes = (ctypes.c_int, ctypes.c_int, ctypes.c_int)
        self.lib.espeak_Synth.argtypes = (
            ctypes.c_void_p,
            ctypes.c_size_t,
            ctypes.c_uint,
            ctypes.c_int,
            ctypes.c_uint,
            ctypes.c_uint,
            ctypes.POINTER(ctypes.c_uint),
            ctypes.c_void_p,
        )
        self.sample_rate = self.lib.espeak_Initialize(
            _AUDIO_OUTPUT_SYNCHRONOUS, 0, None, _INITIALIZE_PHONEME_EVENTS | _INITIALIZE_DONT_EXIT
        )
        if self.sample_rate <= 0:
            raise RuntimeError("espeak-ng failed to initialise")
        self.lock = threading.Lock()
        self._chunks: list[np.ndarray] = []
        self._events: list[tuple[int, str]] = []
        self._n_samples = 0
        # Keep a reference: ctypes callbacks are freed when the Python object dies.
        self._callback = _Callback(self._on_synth)
        self.lib.espeak_SetSynthCallback(self._callback)
        self.lib.espeak_ListVoices.restype = ctypes.POINTER(ctypes.POINTER(_VoiceStruct))
        self.lib.espeak_ListVoices.argtypes = (ctypes.c_void_p,)
        self.lib.espeak_TextToPhonemes.restype = ctypes.c_char_p
        self.lib.espeak_TextToPhonemes.argtypes = (
            ctypes.POINTER(ctypes.c_void_p),
            ctypes.c_int,
            ctypes.c_int,
        )

    def voices(self) -> list[EspeakVoice]:
        """Every voice espeak-ng has, with its languages."""
        with self.lock:
            listed = self.lib.espeak_ListVoices(None)
            found = []
            i = 0
            while listed[i]:
                voice = listed[i].contents
                found.append(
                    EspeakVoice(
                        name=(voice.identifier or b"").decode().rsplit("/", 1)[-1],
                        languages=_languages(voice.languages),
                        gender={1: "male", 2: "female"}.get(voice.gender, ""),
                    )
                )
                i += 1
            return found

    def _on_synth(self, wav: ctypes.Array, n: int, events: ctypes.Array) -> int:
        i = 0
        while events[i].type != _EVENT_LIST_TERMINATED:
            event = events[i]
            if event.type == _EVENT_PHONEME:
                name = event.id.string.decode("utf-8", errors="replace")
                self._events.append((event.sample, name))
            i += 1
        if n > 0 and wav:
            self._chunks.append(np.ctypeslib.as_array(wav, shape=(n,)).copy())
            self._n_samples += n
        return 0

    def synth(
        self, text: str, voice: str, rate_wpm: int
    ) -> tuple[np.ndarray, list[tuple[int, str]]]:
        """Speak `text` and return int16 samples plus (sample_index, phoneme) events."""
        with self.lock:
            self._chunks, self._events, self._n_samples = [], [], 0
            if self.lib.espeak_SetVoiceByName(voice.encode()) != 0:
                raise ValueError(f"espeak-ng has no voice {voice!r}")
            self.lib.espeak_SetParameter(_PARAM_RATE, int(rate_wpm), 0)
            data = text.encode("utf-8") + b"\0"
            buf = ctypes.create_string_buffer(data)
            err = self.lib.espeak_Synth(
                buf, len(data), 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None
            )
            if err != 0:
                raise RuntimeError(f"espeak_Synth failed with code {err}")
            self.lib.espeak_Synchronize()
            audio = np.concatenate(self._chunks) if self._chunks else np.zeros(0, np.int16)
            return audio.astype(np.int16), list(self._events)

    def clauses_ipa(self, text: str, voice: str) -> list[tuple[str, str]]:
        """`text` as IPA, clause by clause, each with the punctuation that ended it."""
        with self.lock:
            if self.lib.espeak_SetVoiceByName(voice.encode()) != 0:
                raise ValueError(f"espeak-ng has no voice {voice!r}")
            data = text.encode("utf-8") + b"\0"
            buf = ctypes.create_string_buffer(data)
            start = ctypes.addressof(buf)
            pointer = ctypes.c_void_p(start)
            clauses: list[tuple[str, str]] = []
            consumed = 0
            while pointer.value:
                ipa = self.lib.espeak_TextToPhonemes(ctypes.byref(pointer), _CHARS_UTF8, _IPA)
                end = (pointer.value - start) if pointer.value else len(data) - 1
                piece = data[consumed:end].decode("utf-8", errors="replace")
                consumed = end
                clauses.append((ipa_text(ipa), _ender(piece)))
            return clauses


def ipa_text(ipa: bytes | None) -> str:
    return (ipa or b"").decode("utf-8", errors="replace")


def _ender(piece: str) -> str:
    """The punctuation that closed a clause. espeak-ng stops reading one character into the
    next clause, so the mark is the last one followed by at most that character."""
    for i in range(len(piece) - 1, -1, -1):
        if piece[i] in _CLAUSE_ENDERS:
            return piece[i] if len(piece[i + 1 :].strip()) <= 1 else ""
    return ""


_instance: _Espeak | None = None
_instance_lock = threading.Lock()


def _espeak() -> _Espeak:
    global _instance
    with _instance_lock:
        if _instance is None:
            _instance = _Espeak()
        return _instance


def _languages(pointer: int | None) -> tuple[str, ...]:
    if not pointer:
        return ()
    found = []
    offset = 0
    while True:
        priority = ctypes.c_ubyte.from_address(pointer + offset).value
        if priority == 0:
            return tuple(found)
        name = ctypes.string_at(pointer + offset + 1)
        found.append(name.decode("ascii", errors="replace"))
        offset += 1 + len(name) + 1


def synthesize(
    text: str, voice: str, *, rate_wpm: int = 175
) -> tuple[np.ndarray, int, list[tuple[int, str]]]:
    """Speak `text`: (int16 mono samples, sample rate, (sample index, phoneme) events)."""
    engine = _espeak()
    audio, events = engine.synth(text, voice, rate_wpm)
    return audio, engine.sample_rate, events


def voices() -> list[EspeakVoice]:
    return _espeak().voices()


def clauses_ipa(text: str, voice: str) -> list[tuple[str, str]]:
    """`text` in IPA as espeak-ng reads it with `voice`: (phonemes, ending punctuation) per
    clause. Neural voices trained on espeak-ng's IPA (Piper's) take exactly this."""
    return _espeak().clauses_ipa(text, voice)

"""espeak-ng's phoneme mnemonics as the ARPAbet phones the mouth-shape path speaks.

Recorded speech reaches the viseme table (`engine.lipsync.speech.visemes.PHONE_VISEMES`)
as ARPAbet phones from the recogniser; speech made here comes with espeak-ng's own
phonemes, in its per-language ASCII mnemonics (`p`, `aI`, `tS`, `N\\`, `l^`...). Mapping them
onto the same phone set sends both through one viseme, coarticulation and closure path. The
mapping works on what a face shows, not on exact phonetics: the lips (p b m close; f v touch
the teeth; rounded vowels purse), the jaw (open vowels drop it), the tongue (l, th).
"""

from __future__ import annotations

# Stress, length and tone marks that espeak writes around a phoneme's core (digits too, but
# only after its first letter: `0` and `3` are vowels, `@2` a variant of `@`).
_MARKS = "'%,=:;#!-+~\\/^_"
# Consonants by their first letter once the marks are gone; what is not listed is a
# consonant with the teeth together (t d s z k g n...), the commonest shape.
_CONSONANTS = {
    "p": "P",
    "b": "B",
    "m": "M",
    "f": "F",
    "v": "V",
    "T": "TH",
    "D": "DH",
    "l": "L",
    "L": "L",
    "w": "W",
    "W": "W",
    "j": "Y",
    "h": "HH",
    "r": "R",
    "R": "R",
    "*": "R",
    "n": "N",
    "N": "NG",
    "J": "N",
    "s": "S",
    "z": "Z",
    "S": "SH",
    "Z": "ZH",
    "t": "T",
    "d": "D",
    "k": "K",
    "g": "G",
    "q": "K",
    "x": "HH",
    "C": "SH",
    "Q": "G",
    "B": "B",  # Spanish β between vowels: the lips approach; close enough to show it
}
_AFFRICATES = {"tS": "CH", "dZ": "JH", "ts": "T", "dz": "D", "t_s": "CH", "d_z": "JH"}
# Vowels by their first letter: a/A/0 open the jaw; o/O round; u/U/y purse; i/I/e/E spread
# or half-open; the central ones (@ 3 V &) half-open.
_VOWELS = {
    "a": "AA",
    "A": "AA",
    "0": "AA",
    "&": "AE",
    "o": "OW",
    "O": "AO",
    "u": "UW",
    "U": "UH",
    "y": "UW",
    "Y": "UW",
    "i": "IY",
    "I": "IH",
    "e": "EY",
    "E": "EH",
    "@": "AH",
    "3": "ER",
    "V": "AH",
}
_DIPHTHONGS = {"aI": "AY", "aU": "AW", "OI": "OY", "oU": "OW", "eI": "EY"}


def arpabet(mnemonic: str) -> str | None:
    """The ARPAbet phone for one espeak mnemonic; "SIL" for pauses; None for markers
    that are not sounds (a language switch such as `(en)`)."""
    if mnemonic.startswith("("):
        return None
    if mnemonic.startswith("_"):
        return "SIL"
    core = mnemonic.strip(_MARKS)
    if not core:
        return "SIL"
    core = core[0] + core[1:].rstrip("0123456789")
    for prefix, phone in _DIPHTHONGS.items():
        if core.startswith(prefix):
            return phone
    for prefix, phone in _AFFRICATES.items():
        if core.replace("\\", "").startswith(prefix):
            return phone
    first = core[0]
    if first in _VOWELS:
        return _VOWELS[first]
    return _CONSONANTS.get(first, "T")

"""espeak-ng's phoneme mnemonics as the ARPAbet phones the mouth-shape path speaks.

Recorded speech reaches the viseme table (`engine.lipsync.speech.visemes.PHONE_VISEMES`)
as ARPAbet phones from the recogniser; speech made here comes with espeak-ng's own
phonemes, in its per-language ASCII mnemonics (`p`, `aI`, `tS`, `N\\`, `l^`...). Mapping them
onto the same phone set sends both through one viseme, coarticulation and closure path. The
mapping works on what a face shows, not on exact phonetics: the lips (p b m close; f v touch
the teeth; rounded vowels purse), the jaw (open vowels drop it), the tongue (l, th).
"""

from __future__ import annotations

import unicodedata

# ARPAbet's vowels (the CMU phone set's 15): where the jaw opens for a syllable.
VOWELS = frozenset(
    ("AA", "AE", "AH", "AO", "AW", "AY", "EH", "ER", "EY", "IH", "IY", "OW", "OY", "UH", "UW")
)
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


# IPA, as espeak-ng writes it for Piper's voices, onto the same phones. Two-letter sounds
# first (an affricate or a diphthong is one mouth movement), then each letter alone.
_IPA_PAIRS = {
    "tʃ": "CH",
    "dʒ": "JH",
    "ts": "T",
    "dz": "D",
    "aɪ": "AY",
    "aʊ": "AW",
    "eɪ": "EY",
    "oʊ": "OW",
    "əʊ": "OW",
    "ɔɪ": "OY",
}
_IPA = {
    "p": "P",
    "b": "B",
    "β": "B",
    "m": "M",
    "ɱ": "M",
    "f": "F",
    "ɸ": "F",
    "v": "V",
    "ʋ": "V",
    "ⱱ": "V",
    "θ": "TH",
    "ð": "DH",
    "l": "L",
    "ɫ": "L",
    "ʎ": "L",
    "ɬ": "L",
    "ɭ": "L",
    "w": "W",
    "ʍ": "W",
    "ɥ": "W",
    "j": "Y",
    "h": "HH",
    "ɦ": "HH",
    "x": "HH",
    "χ": "HH",
    "ç": "HH",
    "ħ": "HH",
    "ɹ": "R",
    "r": "R",
    "ɾ": "D",
    "ɽ": "R",
    "ʁ": "R",
    "ʀ": "R",
    "ɻ": "R",
    "n": "N",
    "ɲ": "N",
    "ɳ": "N",
    "ŋ": "NG",
    "ɴ": "NG",
    "s": "S",
    "z": "Z",
    "ʃ": "SH",
    "ʒ": "ZH",
    "ɕ": "SH",
    "ʑ": "ZH",
    "ʂ": "SH",
    "ʐ": "ZH",
    "t": "T",
    "d": "D",
    "ʈ": "T",
    "ɖ": "D",
    "k": "K",
    "g": "G",
    "ɡ": "G",
    "q": "K",
    "c": "K",
    "ɟ": "G",
    "ɣ": "G",
    "ʔ": "T",
    "ʦ": "T",
    "ʣ": "D",
    "ʧ": "CH",
    "ʤ": "JH",
    "ʨ": "CH",
    "ʥ": "JH",
    "ʝ": "Y",
    "a": "AA",
    "ɑ": "AA",
    "ɒ": "AA",
    "ä": "AA",
    "æ": "AE",
    "ɐ": "AH",
    "ə": "AH",
    "ʌ": "AH",
    "ɚ": "ER",
    "ɝ": "ER",
    "ɜ": "ER",
    "ɞ": "ER",
    "ɛ": "EH",
    "œ": "EH",
    "ɶ": "AE",
    "e": "EY",
    "ø": "EY",
    "ɘ": "AH",
    "ɵ": "OW",
    "ɪ": "IH",
    "ɨ": "IH",
    "ᵻ": "IH",
    "i": "IY",
    "y": "UW",
    "ʏ": "UH",
    "o": "OW",
    "ɔ": "AO",
    "ɤ": "OW",
    "ʊ": "UH",
    "u": "UW",
    "ʉ": "UW",
    "ɯ": "UW",
    "ɰ": "W",
}
_IPA_SILENT = {"^", "$", ".", ",", ";", ":", "!", "?", "¡", "¿", "(", ")", "-", "—", "…", '"'}
_IPA_STRESS = {"ˈ", "ˌ", "↓", "→", "↗", "↘"}  # and pitch marks: they colour what follows
_IPA_PAD, _IPA_SPACE = "_", " "


def _ipa_modifier(char: str) -> bool:
    """A mark that changes the sound before it (length, rhoticity, a diacritic)."""
    return bool(unicodedata.combining(char)) or unicodedata.category(char) == "Lm"


# Longest stretch of pads and spaces before a sound that still counts as that sound (its
# lips forming, a stop's closure); more than this before it is a pause.
_IPA_LEAD_S = 0.15


def ipa_phones(
    timed: list[tuple[str, float]],
    *,
    gaps_to_next: bool = True,
    overrides: dict[str, str] | None = None,
) -> list[tuple[str, float, float]]:
    """(ARPAbet phone, start, end) from IPA symbols and the seconds a neural voice spent on
    each.

    `gaps_to_next` (Piper): its aligner gives the frames of a sound to the pads, spaces and
    marks before its symbol as much as to the symbol (the stop of a /p/ lies in the pad
    before it, the vowel after a /p/ starts in the /p/'s pad): measured on its audio, a
    sound runs from the end of the previous sound's symbol to the end of its own. So what
    lies between two sounds goes to the second, up to `_IPA_LEAD_S`. Without it (Kokoro,
    whose durations sit on the sounds once shifted), pads, spaces, length marks and
    diacritics extend the sound before them and stress marks the one after. Punctuation
    and the sentence's ends are pauses either way. `overrides` maps symbols that a voice
    uses in its own sense (Kokoro writes Japanese わ as β, lips apart)."""
    table = {**_IPA, **(overrides or {})}
    groups: list[list] = []  # [ipa, seconds, silent]
    pending = 0.0
    for symbol, seconds in timed:
        between = symbol in (_IPA_PAD, _IPA_SPACE) or (
            _ipa_modifier(symbol) and symbol not in _IPA_STRESS
        )
        if symbol in _IPA_SILENT:
            groups.append(["", pending + seconds, True])
            pending = 0.0
        elif symbol in _IPA_STRESS or (between and gaps_to_next):
            pending += seconds
        elif between:
            if groups:
                groups[-1][1] += seconds
            else:
                groups.append(["", seconds, True])
        elif groups and not groups[-1][2] and (groups[-1][0] + symbol) in _IPA_PAIRS:
            groups[-1][0] += symbol
            groups[-1][1] += pending + seconds
            pending = 0.0
        else:
            if pending > _IPA_LEAD_S:
                groups.append(["", pending - _IPA_LEAD_S, True])
                pending = _IPA_LEAD_S
            groups.append([symbol, pending + seconds, False])
            pending = 0.0
    if pending:
        groups.append(["", pending, True])
    phones: list[tuple[str, float, float]] = []
    at = 0.0
    for ipa, seconds, silent in groups:
        phone = "SIL" if silent else _IPA_PAIRS.get(ipa) or table.get(ipa[:1], "T")
        end = at + seconds
        if phones and phone == "SIL" == phones[-1][0]:
            phones[-1] = ("SIL", phones[-1][1], end)
        elif end > at:
            phones.append((phone, at, end))
        at = end
    return phones

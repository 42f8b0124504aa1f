"""The `prompt` vocabulary the built-in renderer understands.

A neural backend may read a prompt as free text; the classical renderer only knows a few
words, matched case-insensitively anywhere in the prompt (in English, Spanish, Turkish,
Korean or Japanese: the seeds' languages). Unknown words are ignored, and the prompt is
stored with the job either way.

| words | effect |
|---|---|
| calm, calmer, subtle, gentle, tranquilo, sakin, 차분, 落ち着 | smaller mouth and head motion |
| expressive, animated, energetic, lively, expresivo, canlı, 생동, 表情豊か | larger motion |
| still head, no head motion, static, cabeza quieta, sabit baş, 고정, 頭を動かさない | no head |
| no blinks, no blinking, sin parpadeo, göz kırpma yok, 깜빡임 없음, 瞬きなし | no blinks |
| blink more, more blinks | twice the blink rate |
"""

from __future__ import annotations

from dataclasses import replace

from engine.lipsync.portrait.animator import PortraitStyle

_CALM = ("calm", "subtle", "gentle", "tranquil", "sakin", "차분", "落ち着")
_EXPRESSIVE = (
    "expressive",
    "animated",
    "energetic",
    "lively",
    "expresiv",
    "canlı",
    "생동",
    "表情豊か",
)
_STILL = (
    "still head",
    "no head motion",
    "static",
    "cabeza quieta",
    "sabit baş",
    "고정",
    "頭を動かさない",
)
_NO_BLINKS = ("no blink", "sin parpadeo", "göz kırpma yok", "깜빡임 없음", "瞬きなし")
_MORE_BLINKS = ("blink more", "more blinks")


def style_from_prompt(prompt: str) -> PortraitStyle:
    text = prompt.lower()
    style = PortraitStyle()
    if any(word in text for word in _CALM):
        style = replace(style, expressiveness=0.7, head_motion=0.5)
    if any(word in text for word in _EXPRESSIVE):
        style = replace(style, expressiveness=1.35, head_motion=1.5)
    if any(word in text for word in _STILL):
        style = replace(style, head_motion=0.0)
    if any(word in text for word in _NO_BLINKS):
        style = replace(style, blink_rate=0.0)
    elif any(word in text for word in _MORE_BLINKS):
        style = replace(style, blink_rate=2.0)
    return style

"""Long sentences in pieces a neural voice can take.

A neural voice reads a sentence in one pass: Kokoro refuses more than 500 symbols, and
Piper takes any length but its memory grows with the square of it (2,900 characters
without a full stop: 3.7 GB). So a long sentence is cut at its clause marks, else between
words, else (one endless word) anywhere; nothing is dropped.
"""

from __future__ import annotations

import re

_CLAUSE_END = re.compile(r"(?<=[,;:.!?、。])\s*")


def pieces(sentence: str, limit: int) -> list[str]:
    """`sentence` as pieces of at most `limit` characters, in order."""
    if len(sentence) <= limit:
        return [sentence]
    units: list[str] = []
    for clause in _CLAUSE_END.split(sentence):
        if len(clause) <= limit:
            units.append(clause)
            continue
        for word in clause.split():
            units += [word[i : i + limit] for i in range(0, len(word), limit)]
    found, current = [], ""
    for unit in units:
        if current and len(current) + len(unit) + 1 > limit:
            found.append(current)
            current = unit
        else:
            current = f"{current} {unit}".strip()
    if current:
        found.append(current)
    return found

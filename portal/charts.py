"""Usage per day as bars the template draws in SVG: no chart library, no script."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass


@dataclass(frozen=True)
class Bar:
    day: str  # YYYY-MM-DD (UTC)
    amount: int
    height: float  # 0..1 of the tallest day


def daily_bars(
    spent: list[tuple[str, int]], *, days: int, today: dt.date | None = None
) -> list[Bar]:
    """One bar per day of the last `days` days, oldest first, days without use at zero."""
    today = today or dt.datetime.now(dt.UTC).date()
    by_day = dict(spent)
    dates = [(today - dt.timedelta(days=back)).isoformat() for back in range(days - 1, -1, -1)]
    tallest = max([by_day.get(d, 0) for d in dates] + [1])
    return [Bar(d, by_day.get(d, 0), by_day.get(d, 0) / tallest) for d in dates]

"""A rebuild's budget (``replicate rebuild --budget 90m``): the duration, each step's time as recorded in
``results/rebuild/times.csv`` (a never-timed step: the longest timed step of its kind), and whether it fits
what is left. A dry run spends the recorded times instead of waiting, so it lists the steps the budget would
make."""

from __future__ import annotations

import pandas as pd

from ..io.errors import ReplicateError

__all__ = ["parse_budget", "estimate", "fits", "need"]


def parse_budget(text: str | None) -> float | None:
    """Seconds of a budget written ``90m``, ``1.5h``, ``600s`` or ``600`` (None: no budget)."""
    if text is None:
        return None
    units = {"s": 1, "m": 60, "h": 3600}
    value, unit = (text[:-1], text[-1]) if text and text[-1] in units else (text, "s")
    try:
        seconds = float(value) * units[unit]
    except ValueError:
        raise ReplicateError(f"--budget {text!r} is not a duration: write e.g. 90m, 1.5h or 600s.") from None
    if seconds <= 0:
        raise ReplicateError(f"--budget {text!r} must be positive.")
    return seconds


def estimate(step: str, times: pd.DataFrame) -> float | None:
    """A step's recorded seconds; for a never-timed one the longest timed step of its kind (the name up to its
    first '-': ``page-02_vae`` is estimated by the pages timed), None when none of its kind was timed."""
    known = times.set_index("step")["seconds"] if len(times) else pd.Series(dtype=float)
    if step in known.index:
        return float(known[step])
    kind = step.split("-", 1)[0]
    same = known[[n.split("-", 1)[0] == kind for n in known.index]]
    return float(same.max()) if len(same) else None


def fits(step: str, left: float, first: bool, times: pd.DataFrame) -> bool:
    """Whether ``step``'s recorded (or estimated, :func:`estimate`) time fits the ``left`` seconds of a budget;
    a step with no estimate only as the first."""
    guess = estimate(step, times)
    return first if guess is None else guess <= left


def need(step: str, times: pd.DataFrame) -> str:
    """What ``step`` is expected to take, in words (for the line that says why a rebuild stops)."""
    if step in set(times["step"]):
        return f"{estimate(step, times) / 60:.0f} min last time"
    guess = estimate(step, times)
    return "never timed" if guess is None else f"never timed, {guess / 60:.0f} min as the longest of its kind"

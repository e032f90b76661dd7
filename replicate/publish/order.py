"""The order the study graph's steps must follow: which step reads which one's outputs, what a step waits for
when steps run side by side, and the longest chain of dependent steps (what no number of workers shortens), with
what it projects for a rebuild on more cores."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from ..io.errors import ReplicateError

__all__ = ["after", "waits", "critical_path", "projection"]


def _paths(entries: list) -> list[str]:
    return [next(iter(e)) if isinstance(e, dict) else str(e) for e in entries or []]


def after(stages: dict[str, dict]) -> dict[str, set[str]]:
    """Each step of a ``dvc.yaml`` ``stages`` mapping with the steps it must follow: those whose outputs are its
    dependencies (a file, a folder holding it, or a file inside a folder it depends on)."""
    outs = {name: _paths(stage.get("outs")) for name, stage in stages.items()}
    under = lambda a, b: a == b or a.startswith(b.rstrip("/") + "/")  # noqa: E731
    return {name: {other for other, made in outs.items() if other != name
                   and any(under(d, o) or under(o, d) for d in _paths(stage.get("deps")) for o in made)}
            for name, stage in stages.items()}


def critical_path(stages: dict[str, dict], seconds: dict[str, float]) -> tuple[float, list[str]]:
    """The longest chain of steps that must run one after another (:func:`after`), weighted by ``seconds`` (a step
    never timed weighs 0): the least time a rebuild takes however many steps run side by side. Returns its
    seconds and its steps in order."""
    before = after(stages)
    best: dict[str, tuple[float, list[str]]] = {}

    def longest(name: str, trail: tuple[str, ...] = ()) -> tuple[float, list[str]]:
        if name in trail:
            raise ReplicateError(f"the study graph has a cycle: {' -> '.join((*trail, name))}")
        if name not in best:
            chains = [longest(b, (*trail, name)) for b in sorted(before[name])]
            up = max(chains, key=lambda c: c[0], default=(0.0, []))
            best[name] = (up[0] + float(seconds.get(name, 0.0)), [*up[1], name])
        return best[name]

    return max((longest(n) for n in stages), key=lambda c: c[0], default=(0.0, []))


def waits(todo: Sequence[str], stages: dict[str, dict]) -> dict[str, set[str]]:
    """Each step of ``todo`` with the steps of ``todo`` it must wait for: those whose outputs it reads, directly or
    through other steps (:func:`after`)."""
    before, found = after(stages), {}
    for step in todo:
        seen, stack = set(), list(before.get(step, ()))
        while stack:
            other = stack.pop()
            if other not in seen:
                seen.add(other)
                stack += before.get(other, ())
        found[step] = seen & set(todo)
    return found


def projection(table: pd.DataFrame, stages: dict[str, dict], cores: int = 16) -> str:
    """What the measured times say about side-by-side rebuilds: the critical path, and a floor on ``cores``."""
    seconds = dict(zip(table["step"], table["seconds"]))
    length, chain = critical_path(stages, seconds)
    measured_on = int(table["cores"].max()) if len(table) else 2
    floor = max(length, table["seconds"].sum() * measured_on / cores)
    shown = " → ".join(f"`{n}`" for n in chain if seconds.get(n, 0) > 0)
    return (f"Run side by side, the steps still wait for one another: the longest chain of dependent steps, its "
            f"**critical path**, takes **{length / 3600:.2f} h** as measured ({shown}), the least a rebuild takes "
            f"with any number of workers. On {cores} cores a rebuild would take at least **{floor / 3600:.2f} h** "
            f"(the larger of that path and the {table['seconds'].sum() / 3600:.2f} h of {measured_on}-core work "
            f"spread over {cores} cores): a projection from these times, not a measurement.")

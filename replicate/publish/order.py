"""The order the study graph's steps must follow: which step reads which one's outputs, what a step waits for
when steps run side by side, and the longest chain of dependent steps (what no number of workers shortens)."""

from __future__ import annotations

from collections.abc import Sequence

from ..io.errors import ReplicateError

__all__ = ["after", "waits", "downstream", "critical_path"]


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


def downstream(todo: Sequence[str], stages: dict[str, dict]) -> list[str]:
    """The steps outside ``todo`` that read, directly or through other steps, the outputs of a step of ``todo``
    (:func:`after`), in the graph's order."""
    before, reached = after(stages), set(todo)
    grew = True
    while grew:
        new = {name for name, ups in before.items() if name not in reached and ups & reached}
        reached |= new
        grew = bool(new)
    return [name for name in stages if name in reached and name not in set(todo)]

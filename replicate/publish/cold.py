"""A cold rebuild: every step of the study graph made from empty caches, timed step by step, over as many
sittings as it takes (``replicate rebuild --cold``).

What a rebuild costs depends on what the caches already hold: a step whose VAEs another step trained takes
minutes instead of an hour. A cold rebuild starts in an empty cache folder (point ``REPLICATE_CACHE_DIR`` at
one) and leaves a marker there naming it; each step it makes is recorded with that name
(:data:`replicate.publish.times.COLUMNS`), so a later ``replicate rebuild --cold`` with the same cache folder
goes on with the steps it has not made yet, and the reproducibility page adds the named rows up to the cost
of a rebuild from nothing. Where a sitting's machine does not keep the folder, an empty one goes on with the
newest unfinished cold rebuild as its next *part*: its steps start without the trainings earlier parts stored,
so they may train some again (listed entry by entry in ``results/rebuild/cold-trainings.csv``, and their
seconds stated beside the total). Only that rebuild may write to the folder meanwhile: a ``replicate run`` using it
would warm what the measurement assumes cold. Steps run one at a time (each step's time is its own, not a
share of cores); the machine-specific benchmarks only with ``--machine-specific``, as in any rebuild.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

from ..io import store
from ..io.errors import ReplicateError
from ..io.paths import relative
from .times import cold_rows

__all__ = ["MARKER", "begin", "remaining"]

#: The file in the cache folder naming the cold rebuild that owns it.
MARKER = "cold-rebuild.json"
#: How to start one, named in every refusal.
_HOW = ("Point REPLICATE_CACHE_DIR at an empty folder kept for this measurement, e.g. "
        "`REPLICATE_CACHE_DIR=$PWD/.cold-cache replicate rebuild --cold --budget 2h --commit`, and give the same "
        "folder to every later sitting: it goes on from the steps already made.")


def begin(cache: str | os.PathLike | None = None, *, create: bool = True, steps: list[str] = (),
          times: str | os.PathLike | None = None) -> tuple[str, int]:
    """(name, part) of the cold rebuild the cache folder belongs to: the one its marker names; for an empty folder,
    the next part of the newest cold rebuild in ``times`` that has not made all of ``steps``, else a new one (the
    marker written). Refuses the default cache folder (ordinary runs would warm it) and a folder that holds
    anything else. ``create=False`` (a dry run): ('', 0) where a new one would begin."""
    if cache is None and not os.environ.get("REPLICATE_CACHE_DIR"):
        raise ReplicateError("--cold needs its own cache folder: REPLICATE_CACHE_DIR is not set, and the default "
                             "one is shared with every ordinary run. " + _HOW)
    folder = Path(cache) if cache else store.cache_dir()
    marker = folder / MARKER
    if marker.is_file():
        held = json.loads(marker.read_text(encoding="utf-8"))
        return str(held["name"]), int(held.get("part", 1))
    held = [p for p in folder.rglob("*") if p.is_file()] if folder.is_dir() else []
    if held:
        raise ReplicateError(f"--cold: the cache folder {relative(folder)} already holds {len(held)} files, so the "
                             "steps would not start cold. " + _HOW)
    newest = cold_rows(times)
    if len(newest) and remaining(str(newest["cold_rebuild"].iloc[0]), list(steps), times):
        name, part = str(newest["cold_rebuild"].iloc[0]), int(newest["cold_part"].fillna(1).max()) + 1
        print(f"--cold: this cache folder is empty, so it goes on with `{name}` as its part {part}: its steps start "
              "without the trainings that earlier parts stored, and may train some again (counted on the page)",
              flush=True)
    else:
        name, part = dt.datetime.now().strftime("cold-%Y-%m-%dT%H%M"), 1
    if not create:
        return (name, part) if part > 1 else ("", 0)
    folder.mkdir(parents=True, exist_ok=True)
    store.atomic_write(marker, lambda p: p.write_text(json.dumps({"name": name, "part": part}), encoding="utf-8"))
    return name, part


def remaining(name: str, steps: list[str], times: str | os.PathLike | None = None) -> list[str]:
    """``steps`` (in order) that the cold rebuild ``name`` has not made yet."""
    made = set(cold_rows(times, name)["step"])
    return [s for s in steps if s not in made]

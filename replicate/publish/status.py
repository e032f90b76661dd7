"""`replicate status`: which committed results are current, from DVC's view of the study graph.

A step is **current** when ``dvc.lock`` records it and none of its inputs (code, facts, data
entries, upstream results) nor outputs changed since; **stale** when one did (the first changed
inputs are named); **not recorded** when ``dvc.lock`` has no entry for it (it was never made by
``dvc repro`` with the graph of :mod:`replicate.publish.graph`). Each row also names the commit that
last changed the step's outputs, so a reader sees which code version made a committed number.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pandas as pd
import yaml

from ..io.errors import ReplicateError
from ..io.paths import project_root

__all__ = ["STATES", "dvc_status", "last_commit", "status", "markdown"]

#: What a step can be.
STATES = ("current", "stale", "not recorded")


def dvc_status() -> dict[str, Any]:
    """``dvc status --json`` of the checkout (an error saying how to install DVC when it is missing)."""
    done = subprocess.run([sys.executable, "-m", "dvc", "status", "--json"], capture_output=True, text=True,
                          cwd=project_root(), check=False)
    if done.returncode:
        if "No module named dvc" in done.stderr:
            raise ReplicateError("DVC is not installed: `pip install -e '.[test]'` (or `pip install dvc`) installs it.")
        raise ReplicateError(f"`dvc status` failed: {done.stderr.strip()[-500:]}")
    lines = done.stdout.strip().splitlines()
    return json.loads(lines[-1]) if lines else {}


def last_commit(paths: list[str]) -> str:
    """``<short hash> <date>`` of the last commit that changed any of ``paths`` ('' when none did)."""
    done = subprocess.run(["git", "log", "-1", "--format=%h %ad", "--date=short", "--", *paths],
                          capture_output=True, text=True, cwd=project_root(), check=False)
    return done.stdout.strip()


def _changed(entries: list[Any]) -> str:
    names: list[str] = []
    for entry in entries:
        if isinstance(entry, dict):
            for kind in ("changed deps", "changed outs"):
                names += [f"{p} ({how})" for p, how in entry.get(kind, {}).items()]
        else:
            names.append(str(entry))
    return ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")


def status() -> pd.DataFrame:
    """One row per step of ``dvc.yaml``: ``step``, ``state``, ``changed`` (the first changed inputs),
    ``outputs`` and ``last_commit`` of the outputs."""
    root = project_root()
    graph_file = root / "dvc.yaml"
    if not graph_file.is_file():
        raise ReplicateError("no dvc.yaml: `python -m replicate.publish.graph > dvc.yaml` writes the study graph.")
    stages = yaml.safe_load(graph_file.read_text())["stages"]
    lock_file = root / "dvc.lock"
    locked = set(yaml.safe_load(lock_file.read_text()).get("stages", {})) if lock_file.is_file() else set()
    changed = dvc_status()
    rows = []
    for name, stage in stages.items():
        outs = [next(iter(o)) if isinstance(o, dict) else o for o in stage.get("outs", [])]
        state = "not recorded" if name not in locked else ("stale" if name in changed else "current")
        rows.append({"step": name, "state": state, "changed": _changed(changed.get(name, [])) if state == "stale" else "",
                     "outputs": ", ".join(outs), "last_commit": last_commit(outs),
                     "machine_specific": bool(stage.get("meta", {}).get("machine_specific"))})
    return pd.DataFrame(rows)


def markdown() -> str:
    """The status of every step as a Markdown table (the reproducibility page), or why it cannot be had."""
    try:
        table = status()
    except ReplicateError as exc:
        return f"*The study graph's status could not be read here: {exc}*"
    counts = table["state"].value_counts()
    head = ", ".join(f"**{counts.get(s, 0)}** {s}" for s in STATES) + f" of the {len(table)} steps of `dvc.yaml`."
    lines = ["| step | state | its outputs last changed by |", "|---|---|---|"]
    for row in table.itertuples():
        note = " (machine-specific)" if row.machine_specific else ""
        lines.append(f"| `{row.step}` | {row.state}{note} | {row.last_commit or '-'} |")
    return head + "\n\n" + "\n".join(lines)

"""`replicate status`: which committed results are current, from DVC's view of the study graph.

A step is **current** when ``dvc.lock`` records it and none of its inputs (code, facts, data
entries, upstream results) nor outputs changed since; **stale** when one did (the first changed
inputs are named); **not recorded** when ``dvc.lock`` has no entry for it (it was never made by
``dvc repro`` with the graph of :mod:`replicate.publish.graph`). Each row also names the commit that
last changed the step's outputs, so a reader sees which code version made a committed number.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from typing import Any

import pandas as pd
import yaml

from ..io.errors import ReplicateError
from ..io.paths import project_root

__all__ = ["STATES", "UNCHECKED", "dvc_status", "last_commit", "code_version", "changed_inputs", "status", "markdown"]

#: What a step can be.
STATES = ("current", "stale", "not recorded")
#: A recorded step's state where DVC is not installed (``status(require_dvc=False)``).
UNCHECKED = "not checked"


def dvc_status(*steps: str) -> dict[str, Any]:
    """``dvc status --json`` of the checkout, or of ``steps`` alone (an error saying how to install DVC when it is
    missing)."""
    done = subprocess.run([sys.executable, "-m", "dvc", "status", "--json", *steps], capture_output=True, text=True,
                          cwd=project_root(), check=False)
    if done.returncode:
        if "No module named dvc" in done.stderr:
            raise ReplicateError("DVC is not installed: `pip install -e '.[test]'` (or `pip install dvc`) installs it.")
        raise ReplicateError(f"`dvc status` failed: {done.stderr.strip()[-500:]}")
    lines = done.stdout.strip().splitlines()
    return json.loads(lines[-1]) if lines else {}


def last_commit(paths: list[str], *, fmt: str = "%h %ad") -> str:
    """The last commit that changed any of ``paths`` ('' when none did), as ``git log --format=<fmt>`` writes it:
    ``<short hash> <date>`` by default, the full hash with ``fmt="%H"``."""
    done = subprocess.run(["git", "log", "-1", f"--format={fmt}", "--date=short", "--", *paths],
                          capture_output=True, text=True, cwd=project_root(), check=False)
    return done.stdout.strip()


def changed_inputs(entries: list[Any]) -> list[str]:
    """Every changed input or output DVC reports for one step, as ``"<path> (<how>)"``."""
    names: list[str] = []
    for entry in entries:
        if isinstance(entry, dict):
            for kind in ("changed deps", "changed outs"):
                names += [f"{p} ({how})" for p, how in entry.get(kind, {}).items()]
        else:
            names.append(str(entry))
    return names


def code_version() -> dict[str, Any]:
    """The checkout's code: ``commit`` (short hash of HEAD), ``date`` (today) and ``dirty`` (the package,
    notebooks or fact files differ from that commit); no ``commit`` outside a git checkout."""
    out: dict[str, Any] = {"date": dt.date.today().isoformat()}
    try:
        git = ["git", "-C", str(project_root())]
    except ReplicateError:  # an installed wheel: no checkout
        return out
    try:
        head = subprocess.run([*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False)
        changes = subprocess.run([*git, "status", "--porcelain", "--", "replicate", "notebooks"], capture_output=True,
                                 text=True, check=False)
    except OSError:  # no git
        return out
    if head.returncode == 0 and head.stdout.strip():
        out.update(commit=head.stdout.strip(), dirty=bool(changes.stdout.strip()))
    return out


def _changed(entries: list[Any]) -> str:
    names = changed_inputs(entries)
    return ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")


def status(*, require_dvc: bool = True) -> pd.DataFrame:
    """One row per step of ``dvc.yaml``: ``step``, ``state``, ``changed`` (the first changed inputs),
    ``changed_all`` (every one), ``outputs`` and ``last_commit`` of the outputs (``<hash> <date>``).

    Without DVC, ``require_dvc=False`` gives the same table with every recorded step
    :data:`UNCHECKED` (the quick environment has no DVC; the commits still come from git).
    """
    root = project_root()
    graph_file = root / "dvc.yaml"
    if not graph_file.is_file():
        raise ReplicateError("no dvc.yaml: `python -m replicate.publish.graph > dvc.yaml` writes the study graph.")
    stages = yaml.safe_load(graph_file.read_text())["stages"]
    lock_file = root / "dvc.lock"
    locked = set(yaml.safe_load(lock_file.read_text()).get("stages", {})) if lock_file.is_file() else set()
    try:
        changed = dvc_status()
    except ReplicateError as exc:
        if require_dvc or not str(exc).startswith("DVC is not installed"):
            raise
        changed = None  # the commits are still known; whether a recorded step is current is not
    rows = []
    for name, stage in stages.items():
        outs = [next(iter(o)) if isinstance(o, dict) else o for o in stage.get("outs", [])]
        state = ("not recorded" if name not in locked else UNCHECKED if changed is None
                 else "stale" if name in changed else "current")
        stale = state == "stale"
        rows.append({"step": name, "state": state, "changed": _changed(changed[name]) if stale else "",
                     "changed_all": changed_inputs(changed[name]) if stale else [],
                     "outputs": ", ".join(outs), "last_commit": last_commit(outs),
                     "machine_specific": bool(stage.get("meta", {}).get("machine_specific"))})
    return pd.DataFrame(rows)


def _minutes(times: pd.DataFrame | None, step: str) -> str:
    if times is None or times.empty or step not in set(times["step"]):
        return "not timed"
    return f"{float(times.set_index('step').loc[step, 'seconds']) / 60:.1f}"


def markdown(times: pd.DataFrame | None = None) -> str:
    """Every step of the study graph as a Markdown table (the reproducibility page): its state, the commit
    and date that last changed its outputs, its measured minutes (``times``: the newest row of each step in
    ``results/rebuild/times.csv``) and, when stale, what changed since; or why the graph cannot be read."""
    try:
        table = status(require_dvc=False)
    except ReplicateError as exc:
        return f"*The study graph's status could not be read here: {exc}*"
    counts = table["state"].value_counts()
    if counts.get(UNCHECKED, 0):
        head = (f"Whether the {counts[UNCHECKED]} recorded steps are current was **not checked** here: DVC, which "
                "compares each step's inputs with `dvc.lock`, is not installed in this environment "
                "(`pip install -e '.[reproduce]'` installs it); the commits below come from git. "
                f"**{counts.get('not recorded', 0)}** of the {len(table)} steps of `dvc.yaml` were never recorded.")
    else:
        head = ", ".join(f"**{counts.get(s, 0)}** {s}" for s in STATES) + f" of the {len(table)} steps of `dvc.yaml`."
    lines = ["| step | state | made by commit | minutes | changed since |", "|---|---|---|---:|---|"]
    for row in table.itertuples():
        note = " (machine-specific)" if row.machine_specific else ""
        changed = "; ".join(f"`{c}`" for c in row.changed_all[:3]) + (
            f" and {len(row.changed_all) - 3} more" if len(row.changed_all) > 3 else "")
        lines.append(f"| `{row.step}` | {row.state}{note} | {row.last_commit or '-'} | {_minutes(times, row.step)} "
                     f"| {changed or '-'} |")
    return head + "\n\n" + "\n".join(lines)

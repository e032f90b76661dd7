"""`replicate rebuild --jobs N` against one step at a time, measured side by side on this machine.

Clones this repository (its committed state) into a scratch folder and makes the same independent steps twice
there, each time from an empty VAE cache: one at a time (``replicate rebuild STEPS``), then up to ``--jobs`` at
once (``replicate rebuild STEPS --jobs N``). Prints and writes (``--json``):
- the wall time of each run and their ratio (the speed-up), with each step's own time in each run;
- whether the two runs' outputs hold the same numbers (side by side must not move one; timings and memory aside,
  as ``replicate verify`` compares), and whether they are the committed ones.
The default steps are the control studies (``controls-*``): independent of one another, minutes each, and
deterministic on one machine. Machine-specific: the figures depend on the cores; the JSON records the machine.
Not a step of the study graph: it runs ``replicate rebuild`` itself, in its own clone.

Usage: python benchmarks/rebuild_jobs.py [--jobs 2] [--steps STEP ...] [--json benchmarks/results/rebuild_jobs.json]
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import yaml

from replicate.publish.compare import value_columns

ROOT = Path(__file__).resolve().parents[1]
TIMES = "results/rebuild/times.csv"


def _git(clone: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=clone, capture_output=True, text=True, check=True).stdout.strip()


def _outs(clone: Path, steps: list[str]) -> list[str]:
    stages = yaml.safe_load((clone / "dvc.yaml").read_text())["stages"]
    return [o if isinstance(o, str) else next(iter(o)) for s in steps for o in stages[s].get("outs", [])]


def _numbers(text: str) -> str:
    """A digest of a CSV's result columns (:func:`replicate.publish.compare.value_columns`): its numbers, not its
    timings."""
    table = pd.read_csv(io.StringIO(text), float_precision="round_trip")
    return hashlib.sha256(table[value_columns(table)].to_csv(index=False).encode()).hexdigest()


def _run(clone: Path, steps: list[str], jobs: int, cache: Path) -> dict:
    """One rebuild of ``steps`` in ``clone`` from the empty ``cache``; its wall time, step times and outputs."""
    # the clone's own package: the `replicate` script of an editable install would otherwise run (and write into)
    # the checkout it came from; the check runs outside the clone, as that script does (no cwd on its path)
    env = {**os.environ, "REPLICATE_CACHE_DIR": str(cache), "PYTHONPATH": str(clone)}
    env.pop("REPLICATE_STEP", None)
    where = subprocess.run([sys.executable, "-c", "from replicate.io.paths import project_root; print(project_root())"],
                           cwd=clone.parent, env=env, capture_output=True, text=True, check=True).stdout.strip()
    if Path(where).resolve() != clone.resolve():
        raise SystemExit(f"the scratch clone would run the package of {where}, not its own: refusing to rebuild there")
    cmd = [str(Path(sys.executable).parent / "replicate"), "rebuild", *steps]
    cmd += ["--jobs", str(jobs)] if jobs > 1 else []
    before = len(pd.read_csv(clone / TIMES)) if (clone / TIMES).is_file() else 0
    load = os.getloadavg()[0]
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=clone, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            bufsize=1)
    for line in proc.stdout:  # rebuild prints a line at least every 15 s per step
        print(f"[jobs {jobs}] {time.monotonic() - t0:7.1f}s {line.rstrip()}", flush=True)
    if proc.wait() != 0:
        raise SystemExit(f"`{' '.join(cmd[1:])}` failed (exit {proc.returncode}) in the scratch clone {clone}")
    wall = time.monotonic() - t0
    rows = pd.read_csv(clone / TIMES).iloc[before:]
    outs = {o: _numbers((clone / o).read_text()) for o in _outs(clone, steps)}
    committed = {o: _numbers(_git(clone, "show", f"HEAD:{o}") + "\n") == digest for o, digest in outs.items()}
    return {"jobs": jobs, "wall_s": round(wall, 1), "load_average_at_start": round(load, 2),
            "step_s": {r.step: round(float(r.seconds), 1) for r in rows.itertuples()},
            "cpu": str(rows["cpu"].iloc[0]) if len(rows) else "",
            "numbers_sha256": outs, "numbers_as_committed": all(committed.values())}


def side_by_side(steps: list[str], jobs: int) -> dict:
    """Clone, make ``steps`` one at a time and then ``jobs`` at once, each from an empty cache; compare."""
    scratch = Path(tempfile.mkdtemp(prefix="rebuild-jobs-"))
    clone = scratch / "replicate"
    try:
        subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
        stages = yaml.safe_load((clone / "dvc.yaml").read_text())["stages"]
        steps = steps or [s for s in stages if s.startswith("controls-")]
        serial = _run(clone, steps, 1, scratch / "cache-serial")
        _git(clone, "checkout", "-q", "--", ".")  # the committed outputs again: the second run starts alike
        parallel = _run(clone, steps, jobs, scratch / "cache-parallel")
        return {
            "benchmark": "rebuild_jobs", "commit": _git(clone, "rev-parse", "--short=7", "HEAD"),
            "date": time.strftime("%Y-%m-%d"), "steps": steps, "order": "one at a time first",
            "one_at_a_time": serial, "side_by_side": parallel,
            "speed_up": round(serial["wall_s"] / parallel["wall_s"], 2),
            "longest_step_s": max(serial["step_s"].values()),
            "identical": serial["numbers_sha256"] == parallel["numbers_sha256"],
            "machine": {"cores": os.cpu_count(), "cpu": serial["cpu"] or platform.machine()},
            "machine_specific": True,
        }
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2, help="steps at once in the second run (default 2)")
    parser.add_argument("--steps", nargs="+", default=[], help="steps of dvc.yaml (default: every controls-* step)")
    parser.add_argument("--json", help="write the figures here")
    args = parser.parse_args()
    result = side_by_side(args.steps, args.jobs)
    print(json.dumps({k: v for k, v in result.items() if k not in ("one_at_a_time", "side_by_side")}, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    return 0 if result["identical"] else 1


if __name__ == "__main__":
    raise SystemExit(main())

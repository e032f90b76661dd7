"""A newcomer's first run, timed line by line: `make quick` in a fresh clone with empty caches.

Clones this repository (its committed state) into a scratch folder, runs ``make quick`` there with an empty
VAE cache, and timestamps every line it prints. Prints and writes (``--json``):
- the wall time in all and of each phase (install, run, book: split at the Makefile's own command lines);
- the longest silence (seconds between two lines, or from the start to the first) and the line after it;
- the environment's installed size and whether it holds PyTorch, scvi-tools or DVC (the quick profile needs
  none of them).
Machine-specific: the figures depend on the cores, the disk and the package index (a local wheel folder or the
network); the JSON records the machine.

Usage: python benchmarks/first_run.py [--json benchmarks/results/first_run.json] [--keep]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: The Makefile's command lines that start each phase (make echoes them).
PHASES = (("run", "bin/replicate run "), ("book", "bin/replicate book "))


def _size_mb(folder: Path) -> float:
    out = subprocess.run(["du", "-sk", str(folder)], capture_output=True, text=True, check=True).stdout
    return round(int(out.split()[0]) / 1024, 1)


def _has(venv: Path, module: str) -> bool:
    code = f"import importlib.util, sys; sys.exit(0 if importlib.util.find_spec({module!r}) else 1)"
    return subprocess.run([str(venv / "bin" / "python"), "-c", code], capture_output=True, check=False).returncode == 0


def first_run(*, keep: bool = False) -> dict:
    """Clone, run ``make quick`` with every line timestamped, and measure what a newcomer waits for."""
    scratch = Path(tempfile.mkdtemp(prefix="first-run-"))
    clone = scratch / "replicate"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
    commit = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=clone, capture_output=True, text=True,
                            check=True).stdout.strip()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REPLICATE_", "VIRTUAL_ENV"))}
    env["REPLICATE_CACHE_DIR"] = str(scratch / "cache")  # empty: nothing trained before
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if ".venv" not in p)
    t0 = time.monotonic()
    lines: list[tuple[float, str]] = []
    proc = subprocess.Popen(["make", "quick"], cwd=clone, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, bufsize=1)
    for line in proc.stdout:
        lines.append((time.monotonic() - t0, line.rstrip()))
        print(f"{lines[-1][0]:7.1f}s  {lines[-1][1]}", flush=True)
    code = proc.wait()
    total = time.monotonic() - t0
    starts = {"install": 0.0}
    for name, marker in PHASES:
        starts[name] = next((t for t, text in lines if marker in text and not text.startswith(" ")), float("nan"))
    bounds = [*starts.values(), total]
    phases = {name: round(bounds[i + 1] - bounds[i], 1) for i, name in enumerate(starts)}
    gaps = [(lines[0][0] if lines else total, lines[0][1] if lines else "")]
    gaps += [(b[0] - a[0], b[1]) for a, b in zip(lines, lines[1:])]
    gaps.append((total - lines[-1][0] if lines else 0.0, "(the end)"))
    silence, after = max(gaps)
    venv = clone / ".venv"
    result = {
        "commit": commit, "exit_code": code, "seconds": round(total, 1), "phases_seconds": phases, "lines": len(lines),
        "longest_silence_seconds": round(silence, 1), "line_after_longest_silence": after[:200],
        "silences_over_15s": sum(g > 15 for g, _ in gaps),
        "venv_mb": _size_mb(venv) if venv.is_dir() else None,
        "venv_has": {m: _has(venv, m) for m in ("torch", "scvi", "dvc", "tensorflow")} if venv.is_dir() else {},
        "machine": {"cores": os.cpu_count(), "platform": sys.platform}, "machine_specific": True,
        "date": time.strftime("%Y-%m-%d"),
    }
    if keep:
        result["folder"] = "kept (a scratch folder, not recorded)"
    else:
        shutil.rmtree(scratch, ignore_errors=True)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", help="write the figures here")
    parser.add_argument("--keep", action="store_true", help="keep the scratch clone (for a look at its book)")
    args = parser.parse_args()
    result = first_run(keep=args.keep)
    print(json.dumps(result, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    return result["exit_code"]


if __name__ == "__main__":
    raise SystemExit(main())

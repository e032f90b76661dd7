"""Coursework: the exercises of ``replicate/data/exercises.toml``, run and placed at the end of their chapters.

Each exercise is a few ``rp.*`` lines on the quick profile's embedded data set that set ``answer``
(numbers). ``python -m replicate.publish.exercises`` runs every one in a fresh interpreter with an
empty cache (so its time includes the imports and trainings a student waits for) and writes
``results/exercises/answers.json`` (each answer and its seconds, written whole); the book places each
exercise at the end of its page with the solution filled from that file, hidden until opened. No
number in a solution is typed.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from ..io import paths, progress, store
from ..io.errors import ReplicateError
from ..io.facts import load_toml
from ..io.paths import project_root
from ..io.provenance import machine

__all__ = ["STUDY", "ANSWERS", "exercises", "run_one", "answers", "markdown", "index_markdown", "main"]

#: The folder of the committed answers under ``results/``.
STUDY = "exercises"
#: The committed answers, relative to the repository.
ANSWERS = f"results/{STUDY}/answers.json"


def exercises() -> list[dict[str, Any]]:
    """Every exercise: label, page, title, question, code, solution (a template of the answer's names)."""
    return list(load_toml("exercises")["exercise"])


def run_one(exercise: dict[str, Any], *, timeout_s: float = 600) -> dict[str, Any]:
    """Run one exercise's code in a fresh interpreter with an empty cache (its time is a student's first
    run, trainings included): ``{"answer": {...}, "seconds": s}``."""
    script = exercise["code"] + "\nimport json as _json\nprint('ANSWER ' + _json.dumps(answer))\n"
    with tempfile.TemporaryDirectory() as cache:
        t0 = time.perf_counter()
        done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=timeout_s,
                              cwd=project_root(), env={**os.environ, "REPLICATE_CACHE_DIR": cache})
        seconds = time.perf_counter() - t0
    lines = [line for line in done.stdout.splitlines() if line.startswith("ANSWER ")]
    if done.returncode or not lines:
        raise ReplicateError(f"exercise {exercise['label']} failed (exit {done.returncode}):\n{done.stderr[-2000:]}")
    return {"answer": json.loads(lines[-1].removeprefix("ANSWER ")), "seconds": round(seconds, 1)}


def answers() -> dict[str, Any] | None:
    """The committed answers by label (None before they are made)."""
    path = paths.committed(f"results/{STUDY}") / "answers.json"
    return json.loads(path.read_text()) if path.is_file() else None


def markdown(exercise: dict[str, Any], made: dict[str, Any] | None) -> str:
    """The exercise as the book shows it: the question and its code, then the hidden solution."""
    code = exercise["code"].strip()
    head = (f"## Exercise\n\n```{{exercise}} {exercise['title']}\n:label: {exercise['label']}\n\n"
            f"{exercise['question'].strip()}\n\n~~~python\n{code}\n~~~\n```\n\n")
    if made is None or exercise["label"] not in made:
        return head + "*The solution's numbers are not computed yet: `replicate rebuild exercises`.*"
    entry = made[exercise["label"]]
    text = exercise["solution"].strip().format(**entry["answer"])
    return head + (f"```{{solution}} {exercise['label']}\n:class: dropdown\n\n{text}\n\n"
                   f"*Computed by `replicate rebuild exercises` (the code above in a fresh interpreter with an empty "
                   f"cache), read here from its committed answers: {entry['seconds']:.0f} s on "
                   f"{made.get('_machine', 'this machine')}.*\n```")


def index_markdown(pages: list[str] | None = None) -> str:
    """The exercises page's list: every exercise, its page and its measured run time; linked where its
    page is in the book (``pages``: the run's sections; None: all)."""
    made = answers() or {}
    lines = ["| exercise | at the end of | run time |", "|---|---|---|"]
    for ex in exercises():
        t = f"{made[ex['label']]['seconds']:.0f} s" if ex["label"] in made else "not run yet"
        if pages is None or ex["page"] in pages:
            lines.append(f"| {{ref}}`{ex['title']} <{ex['label']}>` | {{doc}}`{ex['page']}` | {t} |")
        else:
            lines.append(f"| {ex['title']} | `{ex['page']}` (not in this run) | {t} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m replicate.publish.exercises", description=__doc__)
    p.add_argument("--only", nargs="*", default=None, help="these labels (default every exercise)")
    args = p.parse_args(argv)
    chosen = [e for e in exercises() if args.only is None or e["label"] in args.only]
    made = {k: v for k, v in (answers() or {}).items() if args.only is not None}  # --only keeps the others
    for ex in chosen:
        made[ex["label"]] = run_one(ex)
        progress.report(f"[exercises] {ex['label']}: {made[ex['label']]['seconds']:.0f} s")
    out = Path(paths.study_dir(STUDY))
    out.mkdir(parents=True, exist_ok=True)
    store.write_json(out / "answers.json", {**made, "_machine": f"{machine()['cpu']}, {machine()['cores']} cores"})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

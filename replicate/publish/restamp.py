"""`replicate restamp`: a step stale only through code is made current again once its numbers are
proven unchanged, and the proof is kept.

DVC calls a step stale when any file it depends on changed. For an edit that moves no number (a
comment, a refactor, a refusal that never triggers on the committed data) re-making the step costs
hours for nothing; ``restamp`` proves it with the cheapest evidence that suffices, and only then
records the step's new input hashes in ``dvc.lock`` (``dvc commit``):

1. **same program**: every changed input is code that parses to the same program as the version the
   step was made from (found in git by the hash ``dvc.lock`` holds), comments and docstrings aside; or
   **same inputs**: besides such code, a fact file now tracked by entry (:data:`replicate.publish.graph.KEYED`)
   whose bytes are the ones the step was made from (only its declaration in ``dvc.yaml`` changed); or
   **same parameters**: a tables step's (``replicate compute``) notebook, which it reads for its parameters only,
   edited elsewhere than in its parameters cell; an upstream folder it depended on, replaced by files in it,
   while the folder is what ``dvc.lock`` recorded (same inputs);
2. **sample re-computed**: for the paper run's sections 01-04 and the stability study, the sample
   of ``replicate verify`` re-computed from empty caches with this checkout's code, every number
   compared (bit for bit on the CPU family and BLAS that made the section, within the tolerance of
   :mod:`replicate.publish.compare` on another);
3. **step re-computed**: a step whose measured time (``results/rebuild/times.csv``) is at most
   ``max_minutes`` is re-made whole in a scratch copy of the checkout and every number of its
   tables compared; these steps record no machine, so every number must be identical. The VAE
   cache is shared (its key holds the code that trains); every other cache starts empty.

A re-computation vouches for any changed input it reads (code, facts, data, upstream results); a step
stale through its notebook is refused (its executed copy is the page), as is a step without a sample
that is too long to re-make here: ``replicate rebuild`` re-makes it. Every attempt appends its evidence to
``results/verify/restamps.csv`` (step, commit, evidence, numbers compared, identical, differing),
shown on the reproducibility page; a refused step stays stale and the numbers that moved are printed.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
import yaml

from ..io import progress, store
from ..io.datasets import data_dir
from ..io.errors import ReplicateError
from ..io.paths import project_root
from .compare import NOT_COMPARED, OUTCOMES
from .graph import KEYED
from .times import latest
from .status import code_version, status
from .unchanged import narrowed, parameters_only, same_inputs
from .verify import PAPER_RUN, SECTIONS, paper_run, scratch_cache, stability_sample

__all__ = ["EVIDENCE", "COLUMNS", "code_changes", "compare_tables", "restamp", "markdown"]

#: The committed record of every restamp attempt.
EVIDENCE = "results/verify/restamps.csv"
COLUMNS = ["date", "commit", "step", "evidence", "changed", "compared", "identical", "within_tolerance", "differing",
           "seconds", "outcome", "detail"]


def _sampled(step: str) -> bool:
    """Whether ``replicate verify`` re-computes a sample of ``step`` (the paper run's sections 01-04, per seed)."""
    return step.startswith("paper-") and step.removeprefix("paper-").split("-")[0] in SECTIONS


class Refused(Exception):
    """Why a step cannot be restamped (it stays stale)."""


def code_changes(changed: Sequence[str]) -> list[str]:
    """The changed inputs of a stale step (``replicate status``'s ``changed_all``) that a re-computation can vouch
    for: code, facts, data, upstream results. :class:`Refused` for a notebook (its executed copy is the step's page,
    which only re-making it renews) or an input added or deleted other than code the step now imports or a fact
    file now tracked by entry."""
    files = []
    for entry in changed:
        path, _, how = entry.rpartition(" (")
        how = how.rstrip(")")
        if path.startswith("notebooks/") or how not in ("modified", "new") or (
                how == "new" and not path.endswith(".py") and path not in KEYED):
            raise Refused(f"stale through {entry}, which only re-making it renews: `replicate rebuild`")
        files.append(path)
    return files


def _flat(value: object, prefix: str = "") -> dict[str, str]:
    """A JSON document as ``{path: text}`` leaves."""
    if isinstance(value, dict):
        return {k: v for key, item in value.items() for k, v in _flat(item, f"{prefix}{key}.").items()}
    if isinstance(value, list):
        return {k: v for i, item in enumerate(value) for k, v in _flat(item, f"{prefix}{i}.").items()}
    return {prefix.rstrip("."): repr(value)}


def _cells(path: Path) -> dict[str, str]:
    """Every result cell of a CSV or JSON file as ``{row|column: text}`` (timings, versions and dates left out)."""
    skip = lambda name: (name.split(".")[-1] in NOT_COMPARED or name.split(".")[-1] in ("date", "versions")  # noqa: E731
                         or name.endswith("seconds") or ".versions." in f".{name}.")
    if path.suffix == ".json":
        return {k: v for k, v in _flat(json.loads(path.read_text())).items() if not skip(k)}
    table = pd.read_csv(path, dtype=str, keep_default_na=False)
    return {f"{i}|{c}": table.at[i, c] for c in table.columns if not skip(c) for i in table.index}


def compare_tables(new: Path, old: Path) -> pd.DataFrame:
    """Every result cell of the tables (CSV, JSON) under ``new`` against ``old`` (a file or a folder), as text:
    equal text is the same number bit for bit (pandas writes floats as round-trip reprs)."""
    files = sorted(p.relative_to(new) for p in ([new] if new.is_file() else new.rglob("*"))
                   if p.suffix in (".csv", ".json") and not p.name.startswith(".")) if new.is_dir() else [Path()]
    rows = []
    for rel in files:
        a_path, b_path = (new / rel, old / rel) if new.is_dir() else (new, old)
        a, b = _cells(a_path), (_cells(b_path) if b_path.is_file() else {})
        for key in sorted(set(a) | set(b)):
            rows.append({"table": str(rel) if new.is_dir() else a_path.name, "row": key, "recomputed": a.get(key),
                         "committed": b.get(key), "outcome": "identical" if a.get(key) == b.get(key) else "differing"})
    return pd.DataFrame(rows, columns=["table", "row", "recomputed", "committed", "outcome"])


def _scratch_copy(target: Path) -> Path:
    """The checkout's code, notebooks, facts and committed results in ``target`` (no git, environment or data)."""
    root = project_root()
    anywhere = shutil.ignore_patterns(".git", ".venv", ".ci-cache", ".ci-verify", "_build", "__pycache__",
                                      "*.egg-info", ".pytest_cache")

    def ignore(folder: str, names: list[str]) -> set[str]:  # the top level's data and book; replicate/data stays
        top = {"data", "book"} & set(names) if Path(folder) == root else set()
        return set(anywhere(folder, names)) | top

    shutil.copytree(root, target, ignore=ignore, symlinks=True)
    if (root / "book").is_dir():  # the book's sources (a run's built book stays behind)
        shutil.copytree(root / "book", target / "book", ignore=shutil.ignore_patterns("_build"))
    return target


def _rerun(step: str, cmd: str, outs: list[str], scratch: Path, vae: Path) -> pd.DataFrame:
    """Re-make ``step`` whole in a scratch copy of the checkout; its tables against the committed ones.
    ``vae``: the VAE cache to share."""
    copy = _scratch_copy(scratch / "checkout")
    cache = scratch / "rerun-cache"
    cache.mkdir()
    if vae.is_dir():  # its key holds the code that trains: valid for any code of the other files
        (cache / "vae").symlink_to(vae, target_is_directory=True)
    env = {**os.environ, "REPLICATE_CACHE_DIR": str(cache), "REPLICATE_DATA_DIR": str(data_dir()),
           "PYTHONPATH": str(copy), "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    python = f'"{sys.executable}"'
    command = (f"{python} -m replicate.cli {cmd.removeprefix('replicate ')}" if cmd.startswith("replicate ")
               else cmd.replace("python ", f"{python} ", 1))
    log, t0 = scratch / "step.log", time.monotonic()
    with progress.follow(log, lambda line: progress.report(f"  [{step}] {line}"),
                         heartbeat=lambda: f"  [{step}] still running, {time.monotonic() - t0:.0f} s"):
        with open(log, "a", encoding="utf-8") as out:
            done = subprocess.run(command, shell=True, cwd=copy, env=env, stdout=out, stderr=subprocess.STDOUT,
                                  check=False)
    if done.returncode:  # the error's last line, with the scratch copy's path as a name (no machine path)
        lines = log.read_text(encoding="utf-8", errors="replace").strip().splitlines() or [""]
        raise Refused(f"re-making it failed (exit {done.returncode}): "
                      f"{lines[-1].replace(str(copy), '<scratch copy>')[-300:]}")
    return pd.concat([compare_tables(copy / o, project_root() / o) for o in outs], ignore_index=True)


def _paper_samples(steps: list[str], sample: int, scratch: Path) -> dict[str, pd.DataFrame]:
    """The verify sample of the paper run's sections ``steps`` (``paper-01_data`` ...), re-made together."""
    names = [s.removeprefix("paper-") for s in steps]
    methods = [n.split("-", 1)[1] for n in names if "-" in n]
    last = max(n.split("-")[0] for n in names)
    sections = tuple(s for s in SECTIONS if s <= last and (s != "03_clustering" or methods))
    frames = paper_run(sample, scratch, PAPER_RUN, sections=sections, methods=methods)
    table = pd.concat(frames, ignore_index=True)
    step_of = "paper-" + table["table"].str.split("/").str[0]
    return {s: table[step_of == s] for s in steps}


def _counts(comparison: pd.DataFrame) -> dict[str, int]:
    counts = comparison["outcome"].value_counts() if len(comparison) else pd.Series(dtype=int)
    return {"compared": int(len(comparison)), **{o.replace(" ", "_"): int(counts.get(o, 0)) for o in OUTCOMES}}


def _moved(comparison: pd.DataFrame, n: int = 8) -> str:
    off = comparison[comparison["outcome"] == "differing"]
    where = lambda r: " ".join(str(getattr(r, c)) for c in ("table", "row", "column") if c in off and getattr(r, c) != "")  # noqa: E731
    shown = "; ".join(f"{where(r)}: {r.recomputed} (committed {r.committed})" for r in off.head(n).itertuples())
    return shown + (f"; and {len(off) - n} more" if len(off) > n else "")


def _dvc_commit(step: str) -> None:
    done = subprocess.run([sys.executable, "-m", "dvc", "commit", "-f", "-q", step], cwd=project_root(),
                          capture_output=True, text=True, check=False)
    if done.returncode:
        raise ReplicateError(f"`dvc commit {step}` failed: {done.stderr.strip()[-500:]}")


def _record(rows: list[dict], path: Path) -> None:
    new = pd.DataFrame(rows, columns=COLUMNS)
    if path.is_file():
        new = pd.concat([pd.read_csv(path), new], ignore_index=True)
    counts = ["compared", "identical", "within_tolerance", "differing"]  # whole numbers, blank where none
    new[counts] = new[counts].apply(pd.to_numeric).astype("Int64")
    store.atomic_write(path, lambda p: new.to_csv(p, index=False))


def _evidence(step: str, scratch: Path, *, sample: int, max_minutes: float, graph: dict,
              vae: Path) -> tuple[str, pd.DataFrame]:
    """(what was re-computed, its comparison) for a step that is not the same program: see the module."""
    if step == "stability":
        return "sample re-computed", pd.concat(stability_sample(sample, scratch), ignore_index=True)
    times = latest()
    minutes = times.set_index("step")["seconds"].get(step, float("nan")) / 60 if len(times) else float("nan")
    if not minutes <= max_minutes:  # also when never timed
        raise Refused(f"no sample is defined for it and its measured time ({minutes:.0f} min) is over "
                      f"--max-minutes {max_minutes:g}: re-make it with `replicate rebuild {step}`")
    stage = graph[step]
    outs = [next(iter(o)) if isinstance(o, dict) else o for o in stage.get("outs", [])]
    return "step re-computed", _rerun(step, stage["cmd"], outs, scratch, vae)


def _judge(step: str, how: str, comparison: pd.DataFrame, changed: list[str], seconds: float) -> dict:
    counts = _counts(comparison)
    ok = counts["compared"] > 0 and counts["differing"] == 0
    if ok:
        _dvc_commit(step)
    detail = "" if ok else (_moved(comparison) or "nothing was compared")
    unit = "inputs" if how.startswith("same") else "numbers"  # the same-program evidence compares files, not numbers
    progress.report(f"restamp {step}: {how}, {counts['compared']:,} {unit}, {counts['identical']:,} identical, "
                    f"{counts['differing']:,} differing: {'restamped' if ok else 'left stale'}"
                    + (f"; moved: {detail}" if detail else ""))
    return {"step": step, "evidence": how, "changed": " ".join(changed), **counts, "seconds": round(seconds, 1),
            "outcome": "restamped" if ok else "refused", "detail": detail}


def _targets(steps: Sequence[str], table: pd.DataFrame) -> list[str]:
    unknown = sorted(set(steps) - set(table.index))
    if unknown:
        raise ReplicateError(f"no step {', '.join(unknown)} in dvc.yaml; `replicate status` lists them.")
    named = list(steps) or [s for s in table.index if table.loc[s, "state"] == "stale"]
    for s in named:
        if table.loc[s, "state"] != "stale":
            progress.report(f"restamp {s}: {table.loc[s, 'state']}, nothing to restamp"
                            + (" (`replicate rebuild` makes and records it)"
                               if table.loc[s, "state"] == "not recorded" else ""))
    return [s for s in named if table.loc[s, "state"] == "stale"]


def restamp(steps: Sequence[str] = (), *, sample: int = 1, max_minutes: float = 10.0,
            evidence: str | os.PathLike | None = None) -> pd.DataFrame:
    """Restamp the stale ``steps`` (default: every stale step) whose numbers are proven unchanged; return one
    row of evidence per step tried (also appended to :data:`EVIDENCE`)."""
    table = status().set_index("step")
    graph = yaml.safe_load((project_root() / "dvc.yaml").read_text())["stages"]
    version = code_version()
    made = version.get("commit", "") + ("+changes" if version.get("dirty") else "")
    rows, later = [], []
    for step in _targets(steps, table):
        t0 = time.perf_counter()
        changed, notebooks = parameters_only(step, list(table.loc[step, "changed_all"]), graph)
        changed, inside = narrowed(step, changed)
        try:
            files = code_changes(changed)
        except Refused as why:
            progress.report(f"restamp {step}: refused, {why}")
            rows.append({"step": step, "evidence": "none", "outcome": "refused", "detail": str(why)})
            continue
        if same_inputs(step, files):
            how = "same inputs" if inside or not all(f.endswith(".py") for f in files) else "same program"
            if notebooks:
                how = "same parameters" if not files and not inside else f"{how}, same parameters"
            vouched = files + notebooks + inside
            rows.append(_judge(step, how, pd.DataFrame({"outcome": ["identical"] * len(vouched)}), vouched,
                               time.perf_counter() - t0))
        else:
            later.append((step, files))
    rows += _recomputed(later, graph, sample=sample, max_minutes=max_minutes)
    out = pd.DataFrame([{"date": dt.date.today().isoformat(), "commit": made, **r} for r in rows], columns=COLUMNS)
    if len(out):
        _record(out.to_dict("records"), Path(evidence) if evidence else project_root() / EVIDENCE)
    return out


def _recomputed(todo: list[tuple[str, list[str]]], graph: dict, *, sample: int, max_minutes: float) -> list[dict]:
    """Evidence rows for the steps that need a re-computation (the paper sections' samples share one run)."""
    rows, vae = [], store.cache_dir() / "vae"
    with tempfile.TemporaryDirectory(prefix="replicate-restamp-") as tmp:
        scratch = Path(tmp)
        sampled = [s for s, _ in todo if _sampled(s)]
        if sampled:
            t0 = time.perf_counter()
            try:
                with scratch_cache(scratch / "sample-cache"):
                    found = _paper_samples(sampled, sample, scratch / "sample")
            except ReplicateError as why:  # the sample could not be re-made: every step it was for stays stale
                progress.report(f"restamp: the paper run's sample failed: {why}")
                rows += [{"step": s, "evidence": "none", "changed": " ".join(f), "outcome": "refused",
                          "detail": f"its sample could not be re-made: {str(why)[:300]}"} for s, f in todo if s in sampled]
                found = None
            seconds = (time.perf_counter() - t0) / len(sampled)
            if found is not None:
                rows += [_judge(s, "sample re-computed", found[s], f, seconds) for s, f in todo if s in sampled]
        for i, (step, files) in enumerate((s, f) for s, f in todo if s not in sampled):
            t0, work = time.perf_counter(), scratch / f"step-{i}"
            work.mkdir()
            try:
                with scratch_cache(work / "cache"):
                    how, comparison = _evidence(step, work, sample=sample, max_minutes=max_minutes, graph=graph,
                                                vae=vae)
            except Refused as why:
                progress.report(f"restamp {step}: refused, {why}")
                rows.append({"step": step, "evidence": "none", "changed": " ".join(files), "outcome": "refused",
                             "detail": str(why)})
                continue
            rows.append(_judge(step, how, comparison, files, time.perf_counter() - t0))
    return rows


def markdown(path: str | os.PathLike | None = None) -> str:
    """The restamps on record (the reproducibility page): step, date, commit, evidence and its numbers."""
    target = Path(path) if path else project_root() / EVIDENCE
    if not target.is_file():
        return "*No step has been restamped yet: `replicate restamp` proves a code change moved no number.*"
    rows = pd.read_csv(target, keep_default_na=False)
    lines = ["| step | date and code | evidence | numbers | outcome |", "|---|---|---|---|---|"]
    for r in rows.itertuples():
        counts = [f"{int(n):,} {what}" for n, what in ((r.compared, "compared"), (r.identical, "identical"),
                                                       (r.differing, "differing")) if str(n) != ""]
        numbers = ", ".join(counts) or "–"  # one column: the table fits the page's content column
        # a cell key or a path is one long word: let it break after its separators, or the table overflows the page
        detail = re.sub(r"([/,=_-])", "\\1\u200b", r.detail).replace("|", "\\|\u200b")  # | would end the cell
        outcome = r.outcome + (f": {detail}" if detail else "")
        # the step's name as plain text, which breaks after its hyphens (copied, it is still the name)
        lines.append(f"| {r.step} | {r.date} `{r.commit}` | {r.evidence} | {numbers} | {outcome} |")
    return "\n".join(lines)

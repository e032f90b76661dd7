"""`replicate verify`: re-compute a sample of the committed study in a scratch folder and compare every number.

Two steps, each re-made from empty caches (a scratch cache, so nothing trained earlier on this
machine is reused):

- **paper run**: the committed run's data, VAE and clustering sections and its live baselines
  (``01_data`` ... ``04_baselines``, every method of the run) with its first ``sample`` VAE seeds
  and otherwise the parameters its manifest records;
- **stability**: ``sample`` readings of the stability study (spread over its list), seed 0.

Every number re-computed is compared with the committed one by the rule of
:mod:`replicate.publish.compare` (bit for bit on the committed run's CPU family and BLAS kernels where
seed 0 also trains to the run's final loss here, otherwise within the tolerance stated there). The table (step, numbers compared, identical, within tolerance, differing)
and every number that is not identical (with its outcome) go to ``results/verify/``; the command
fails when any number differs.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..io import progress, store
from ..io.errors import ReplicateError
from ..io.facts import PAPER_DATASET
from ..io.paths import committed as committed_folder
from ..io.paths import project_root, relative, study_dir
from ..io.provenance import versions
from ..studies import stability
from ..studies.readings import readings
from . import pipeline, trains_alike
from .compare import OUTCOMES, compare, read_table
from .status import status as graph_status

__all__ = ["PAPER_RUN", "SECTIONS", "scratch_cache", "current_steps", "same_machine", "verify", "markdown", "paper_run", "stability_sample", "summary_table"]

#: The committed run that the paper-run step re-computes a sample of.
PAPER_RUN = "results/pbmc2100-top2000/paper"
#: The sections re-computed: the ones whose tables hold per-seed numbers (later sections aggregate
#: over all seeds, which a sample cannot re-make).
SECTIONS = ("01_data", "02_vae", "03_clustering", "04_baselines")


@contextlib.contextmanager
def scratch_cache(folder: Path) -> Iterator[None]:
    """Every cache (latents, grid cells, baselines) in ``folder`` for the duration, kernels included."""
    saved = os.environ.get("REPLICATE_CACHE_DIR")
    os.environ["REPLICATE_CACHE_DIR"] = str(folder)
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("REPLICATE_CACHE_DIR", None)
        else:
            os.environ["REPLICATE_CACHE_DIR"] = saved


def _same_family(recorded: dict[str, Any] | None) -> bool:
    """Bit for bit is expected only where the CPU family and the BLAS kernels are both the recorded ones: a
    record that names no BLAS kernels (made before they were recorded) is compared as another machine."""
    here = pipeline.run_machine()
    return bool(recorded) and all(recorded.get(k) == here[k] for k in ("family", "blas"))


def _section_machine(manifest: dict[str, Any], name: str) -> dict[str, Any] | None:
    """The machine that made section ``name``: each section records its own, since the steps of one run can be
    made on different machines (the run's top-level ``machine`` is the latest step's). A section made before
    sections recorded it names none, and is compared as made on another machine."""
    return manifest.get("sections", {}).get(name, {}).get("machine")


def same_machine(run: str = PAPER_RUN) -> bool:
    """Whether this machine made every section of the committed run (CPU family and BLAS kernels): where bit
    for bit is expected."""
    manifest = json.loads((committed_folder(run) / "manifest.json").read_text())
    names = list(manifest.get("sections", {})) or [""]
    return all(_same_family(_section_machine(manifest, name)) for name in names)


def _trains_alike(fresh: Path, committed: Path) -> bool:
    """Whether seed 0 trained here ends at the committed run's final loss: one CPU family and BLAS do not settle
    it (:mod:`.trains_alike`), so where it does not, the run is compared as made on another machine."""
    here, recorded = trains_alike.committed_loss(fresh), trains_alike.committed_loss(committed)
    if here is None or recorded is None or here == recorded:
        return True
    progress.report(f"verify: seed 0 ends at a loss of {here!r} here, {recorded!r} in the committed run: this machine "
                    "trains other VAEs, so the run's numbers are compared as made on another machine")
    return False


def _trained_rows(section: str) -> Any:
    """Rows a trained network shapes: every row of the VAE and clustering sections, scVI's baselines."""
    if section == "04_baselines":
        return lambda t: t["method"].astype(str).str.startswith("scvi")
    if section == "01_data":
        return None
    return _every_row


def _every_row(table: pd.DataFrame) -> pd.Series:
    return pd.Series(True, index=table.index)


def paper_run(sample: int, scratch: Path, run: str = PAPER_RUN, *, sections: tuple[str, ...] = SECTIONS,
              methods: list[str] | None = None) -> list[pd.DataFrame]:
    """Re-make the sample of the committed run ``run`` into ``scratch``; one comparison per table.
    ``sections`` (of :data:`SECTIONS`) and ``methods`` (default: the run's) narrow what is re-made."""
    committed = Path(run) if Path(run).is_absolute() else project_root() / run
    run = relative(committed)
    manifest_path = committed / "manifest.json"
    if not manifest_path.is_file():
        raise ReplicateError(f"no committed run at {run}/manifest.json; `replicate run --profile paper` makes it.")
    manifest = json.loads(manifest_path.read_text())
    # the committed run's own parameters (not today's profile), with the sample of its seeds
    overrides = {k: v for name, sec in manifest["sections"].items() if name.split("-")[0] in SECTIONS
                 for k, v in sec.get("parameters", {}).items() if k not in ("output_dir", "dataset", "profile", "method")}
    seeds = list(overrides.get("seeds", [0]))[:sample]
    overrides["seeds"] = seeds
    methods = list(manifest["methods"]) if methods is None else methods
    progress.report(f"verify: paper run, sections {', '.join(sections)}, seeds {seeds}, {len(methods)} methods")
    fresh = pipeline.run(manifest["profile"], manifest["dataset"], overrides=overrides,
                         results=scratch / "runs", sections=sections, methods=methods)
    alike = _trains_alike(fresh, committed)
    out = []
    for section_dir in sorted(p for p in fresh.iterdir() if p.is_dir()):
        section = section_dir.name.split("-")[0]
        same = alike and _same_family(_section_machine(manifest, section_dir.name))
        for table in sorted(section_dir.glob("*.csv")):
            old = committed / section_dir.name / table.name
            if not old.is_file():
                raise ReplicateError(f"{run}/{section_dir.name}/{table.name} is not committed: the committed run "
                                     "was made by other code; rebuild it (`replicate run --profile paper`).")
            rows = compare(read_table(table), read_table(old), same_family=same, trained=_trained_rows(section))
            out.append(rows.assign(step="paper run", table=f"{section_dir.name}/{table.name}"))
    return out


def stability_sample(sample: int, scratch: Path) -> list[pd.DataFrame]:
    """Re-train ``sample`` readings of the committed stability study (seed 0) and compare their rows."""
    committed = committed_folder(f"results/{stability.STUDY}") / f"{PAPER_DATASET}.csv"
    if not committed.is_file():
        raise ReplicateError(f"no committed stability study at {relative(committed)}.")
    old = read_table(committed)
    studied = set(old["reading"])  # the study trains a part of the readings file
    names = [r["name"] for r in readings() if r["name"] in studied]
    chosen = [names[int(i)] for i in np.unique(np.linspace(0, len(names) - 1, sample).round())]
    progress.report(f"verify: stability, {len(chosen)} readings, seed 0")
    out = scratch / "stability.csv"
    stability.run_study(PAPER_DATASET, [0], out, names=chosen, verbose=False)
    rows = compare(read_table(out), old, same_family=False, trained=_every_row)
    # the study records no machine: compared as another family (the tolerance is stated)
    return [rows.assign(step="stability", table=relative(committed))]


def current_steps() -> tuple[str, ...]:
    """The verify steps whose every step of the study graph is current (``replicate status``)."""
    table = graph_status().set_index("step")["state"]
    paper = [s for s in table.index if s.startswith("paper-") and s.removeprefix("paper-").split("-")[0] in SECTIONS]
    out = []
    if paper and (table[paper] == "current").all():
        out.append("paper run")
    if table.get("stability") == "current":
        out.append("stability")
    return tuple(out)


def summary_table(comparisons: pd.DataFrame) -> pd.DataFrame:
    """Per step: numbers compared, identical, within tolerance, differing."""
    counts = comparisons.groupby(["step", "outcome"]).size().unstack(fill_value=0)
    counts = counts.reindex(columns=list(OUTCOMES), fill_value=0)
    counts.insert(0, "compared", counts.sum(axis=1))
    return counts.reset_index().rename(columns={"within tolerance": "within_tolerance"})


def verify(*, sample: int = 2, steps: tuple[str, ...] = ("paper run", "stability"), out: str | os.PathLike | None = None,
           run: str = PAPER_RUN) -> pd.DataFrame:
    """Re-compute the sample of each step, compare, write ``summary.csv``,
    ``not-identical.csv`` and ``verification.json`` (date, machine, sample, counts) into ``out`` (default ``results/verify``);
    return the summary."""
    if sample < 1:
        raise ReplicateError(f"--sample must be at least 1, got {sample}.")
    target = Path(out) if out is not None else study_dir("verify")
    start = time.perf_counter()
    frames: list[pd.DataFrame] = []
    with tempfile.TemporaryDirectory(prefix="replicate-verify-") as tmp:
        scratch = Path(tmp)
        with scratch_cache(scratch / "cache"):
            if "paper run" in steps:
                frames += paper_run(sample, scratch, run)
            if "stability" in steps:
                frames += stability_sample(sample, scratch)
    comparisons = pd.concat(frames, ignore_index=True)
    summary = summary_table(comparisons)
    target.mkdir(parents=True, exist_ok=True)
    differing = comparisons[comparisons["outcome"] != "identical"]
    store.atomic_write(target / "summary.csv", lambda p: summary.to_csv(p, index=False))
    store.atomic_write(target / "not-identical.csv", lambda p: differing.to_csv(p, index=False))
    store.write_json(target / "verification.json", {
        "date": dt.date.today().isoformat(), "sample": sample, "steps": list(steps), "machine": pipeline.run_machine(),
        "versions": versions(), "seconds": round(time.perf_counter() - start, 1),
        "counts": summary.set_index("step").to_dict(orient="index")})
    return summary


def markdown(folder: str | os.PathLike | None = None) -> str:
    """The latest committed verification (``results/verify``) as a paragraph and a table."""
    target = Path(folder) if folder is not None else committed_folder("results/verify")
    info_file = target / "verification.json"
    if not info_file.is_file():
        return "*No verification is committed yet: `replicate verify --sample 2` makes one.*"
    info = json.loads(info_file.read_text())
    summary = pd.read_csv(target / "summary.csv")
    lines = ["| step | numbers compared | identical | within tolerance | differing |", "|---|---|---|---|---|"]
    lines += [f"| {r.step} | {r.compared:,} | {r.identical:,} | {r.within_tolerance:,} | {r.differing:,} |"
              for r in summary.itertuples()]
    head = (f"Latest verification: {info['date']}, sample {info['sample']}; machine: {info['machine']['cpu']}, "
            f"{info['machine']['cores']} cores, CPU family `{info['machine']['family']}`, BLAS "
            f"`{info['machine'].get('blas') or 'not recorded'}`; {info['seconds'] / 60:.0f} minutes.")
    return head + "\n\n" + "\n".join(lines) + _details(target / "not-identical.csv")


def _details(path: Path) -> str:
    """How far the numbers within tolerance are, and which numbers differ."""
    if not path.is_file():
        return ""
    rows = read_table(path)
    out = []
    close = rows[rows["outcome"] == "within tolerance"]
    if len(close):
        # Python's float() rounds correctly; pandas' converters of a mixed column may not
        a, b = (close[c].astype(str).map(float) for c in ("recomputed", "committed"))
        worst = ((a - b).abs() / b.abs().clip(lower=1.0)).max()
        out.append(f"The largest relative difference among the numbers within tolerance is {worst:.1e}.")
    off = rows[rows["outcome"] == "differing"]
    if len(off):
        listed = [f"`{r.table}` {r.column} {r.recomputed} (committed: {r.committed})" for r in off.head(5).itertuples()]
        more = f" and {len(off) - 5} more" if len(off) > 5 else ""
        out.append(f"Differing: {'; '.join(listed)}{more}.")
    return ("\n\n" + " ".join(out)) if out else ""

"""The study graph: every step that makes a committed file, what it reads and what it writes, for DVC.

``dvc.yaml`` is written from :func:`steps` (``python -m replicate.publish.graph > dvc.yaml``; a
test fails when the committed file is not what this module writes). Each step depends on

- **code**: the package files its entry point loads, measured in a fresh interpreter
  (:func:`code_of`): the modules a study's command imports, or those a section notebook's imports
  and ``rp.*`` namespaces load -- an edit to a plot that a step never draws leaves it current;
- **facts**: the fact files (``replicate/data/*.toml``) its code reads (:func:`facts_of`: a file whose
  name a loaded module passes to ``load_toml``), so an edit to the claims' rules leaves the stability
  study current; the dataset registry by the entry of each data set it loads (the data by hash), and the
  run profiles by the paper profile's entry (:data:`KEYED`: every step reads that one only), so a change to
  the quick profile stales nothing committed;
- **upstream results**: the committed files or folders it reads (:data:`READS`, checked against what a run
  records: Table 1 and the claims read only the readings study's table, so they do not wait for the rest of
  ``results/why``) and, for a section, the tables of the sections whose trained VAEs and grid cells it reads back
  through the caches (:data:`replicate.publish.pipeline.NEEDS`, followed through: the open points need the
  clustering sections, the VAE and the data, not the claims), so a step waits only for what it uses.

Outputs live in git (``cache: false``). The benchmarks' figures are marked machine-specific: they
are measurements of one machine, not results to re-make anywhere. ``results/why/*-other-cpu*``
are the record of the first study run on another machine; no step makes them.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

from ..io.facts import PAPER_DATASET, profiles
from ..io.made import TABLES_RECORD
from ..io.paths import project_root
from ..method.clustering import methods as all_methods
from ..paper.run_tables import COMPUTE, SPLIT, entry, table_names
from ..studies import controls, generalisation, why
from . import exercises
from .pipeline import NEEDS, PER_METHOD, expand_sections, run_dir

__all__ = ["Step", "READINGS", "READS", "KEYED", "FACTS", "RECORDS", "steps", "needed", "code_of", "facts_of", "render", "main"]

#: The fact files whose entries the steps read one by one, tracked per entry as DVC params: the dataset
#: registry (each step names its data sets) and the run profiles, of which every step reads the paper's
#: (``PAPER_DATASET``, ``replicate run --profile paper``); the quick and smoke profiles make nothing committed.
KEYED = {"replicate/data/datasets.toml": None, "replicate/data/profiles.toml": ("paper",)}
#: The fact files a step depends on whole.
FACTS = tuple(f"replicate/data/{p.name}" for p in sorted((Path(__file__).parents[1] / "data").glob("*.toml"))
              if f"replicate/data/{p.name}" not in KEYED)
#: The measured cost models the clusterers' refusal reads (``replicate.method.budget``; made by a benchmark step).
MEASURED = "replicate/data/clustering_costs.json"
#: How the package reads a fact file: ``load_toml("<name>")`` (replicate.io.facts), always with a literal name.
_FACT_READ = re.compile(r'\bload_toml\(\s*"(\w+)"\s*\)')
#: The readings study's table (and its summary): what the fingerprint-matched reading is chosen from.
READINGS = (f"results/why/{PAPER_DATASET}-readings.csv", f"results/why/{PAPER_DATASET}-readings-summary.csv")
#: The committed study files or folders each section of the paper run reads (a test checks them against the
#: reads a run records, :func:`replicate.io.paths.committed`).
READS = {"02_vae": ("results/stability",), "05_table1": READINGS, "06_claims": READINGS,
         "07_open_points": ("results/stability",), "08_why": ("results/why",),
         "09_generalisation": ("results/generalisation",), "10_uncertainty": ("results/generalisation",)}

#: Committed files that no step makes, and why.
RECORDS = {"results/pbmc2100-top2000/paper/manifest.json": "the paper run's bookkeeping, updated by each of its steps",
           f"results/why/{PAPER_DATASET}-other-cpu.csv": "the first study run, on another machine: a record",
           f"results/why/{PAPER_DATASET}-other-cpu-history.csv": "its loss histories",
           "results/verify": "the latest `replicate verify` report",
           "results/rebuild": "the measured time of each step `replicate rebuild` made",
           "benchmarks/results/first_run.json": "a newcomer's `make quick` from a fresh clone, timed line by line "
                                                "(benchmarks/first_run.py): a measurement of the whole repository",
           "benchmarks/results/rebuild_jobs.json": "`replicate rebuild --jobs 2` against one step at a time, each "
                                                   "from an empty cache in a scratch clone (benchmarks/rebuild_jobs.py): "
                                                   "it runs the rebuild itself, so it cannot be one of its steps",
           "benchmarks/results/cpu_family-avx512.json": "the same trainings on an AVX-512 machine, and one with "
                                                        "numpy's AVX-512 loops off too (benchmarks/cpu_family.py)",
           "benchmarks/results/cpu_family-avx2.json": "one training of the paper's VAE on an AVX2 machine, with and "
                                                      "without TensorFlow's oneDNN kernels (benchmarks/cpu_family.py): "
                                                      "evidence for comparing CPU families"}


@dataclass(frozen=True)
class Step:
    """One step: its command, the entry point whose loaded code it depends on, its outputs and inputs."""

    name: str
    cmd: str
    entry: str  # "module:replicate.studies.why" or "notebook:05_table1"
    outs: tuple[str, ...]
    datasets: tuple[str, ...] = ()
    deps: tuple[str, ...] = ()  # upstream committed results, notebooks
    machine_specific: bool = False


def _study_steps() -> list[Step]:
    ds = PAPER_DATASET
    stab = (f"results/stability/{ds}.csv", f"results/stability/{ds}-summary.csv")
    readings = READINGS
    out = [Step("stability", "python -m replicate.studies.stability", "module:replicate.studies.stability", stab, (ds,)),
           Step("why-readings", "python -m replicate.studies.why --steps readings", "module:replicate.studies.why",
                readings, (ds,), stab)]
    for step, data, target in (("gene-set", why.GENE_SET, f"{why.GENE_SET}.csv"),
                               ("cell-set", why.CELL_SET, f"{why.CELL_SET}.csv"),
                               ("gene-count", why.WORM, f"{why.WORM}-gene-count.csv")):
        out.append(Step(f"why-{step}", f"python -m replicate.studies.why --steps {step}", "module:replicate.studies.why",
                        (f"results/why/{target}",), (data,), stab + readings))
    gen = "python -m replicate.studies.generalisation"
    upstream = stab + readings
    for data in generalisation.DATASETS:
        out.append(Step(f"generalisation-{data}", f"{gen} --steps rows --datasets {data}",
                        "module:replicate.studies.generalisation", (f"results/generalisation/{data}.csv",), (data,),
                        upstream))
    small = ("pbmc4k-top2000", "worm-2100", "worm-4186")  # the committed uncertainty rows' data sets
    out += [Step("generalisation-uncertainty", f"{gen} --steps uncertainty --datasets {' '.join(small)}",
                 "module:replicate.studies.generalisation", ("results/generalisation/uncertainty.csv",), small, upstream),
            Step("generalisation-costs", f"{gen} --steps costs", "module:replicate.studies.generalisation",
                 ("results/generalisation/method-costs.csv",), (generalisation.COSTS_DATASET,), upstream),
            Step("generalisation-reading", f"{gen} --steps reading", "module:replicate.studies.generalisation",
                 ("results/generalisation/reading.json",), (ds,), upstream)]
    return out


def _tables(run: str, name: str, section: str, fixed: dict, *, drawn: bool = False) -> tuple[str, ...]:
    """The table files a section of the paper run writes that later sections depend on; ``drawn``: with those its
    page alone draws (:mod:`replicate.paper.run_tables`)."""
    return tuple(f"{run}/{name}/{t}.csv" for t in table_names(section, fixed, drawn=drawn))


def _paper_steps() -> list[Step]:
    """Each section of the paper run: one step, or two for a section whose tables are made apart from its page
    (:data:`replicate.sections.SPLIT`): ``paper-<name>`` makes the tables (with the code its section's module loads), ``page-<name>`` draws them. A section
    depends on the earlier sections' tables, never on their executed notebooks (a re-drawn page stales nothing)."""
    prof = profiles()["paper"]
    chosen = all_methods() if prof.get("methods") == "all" else list(prof["methods"])
    run = run_dir(prof["dataset"], "paper").as_posix()
    planned = expand_sections(chosen)
    out = []
    for name, section, fixed in planned:
        earlier = [t for n, s, f in planned if s in needed(section) for t in _tables(run, n, s, f)]
        which = f"--profile paper --sections {section}" + (f" --methods {fixed['method']}" if section == PER_METHOD else "")
        notebook, reads = f"notebooks/{section}.ipynb", READS.get(section, ())
        if section in SPLIT:  # the notebook is read for its parameters' defaults
            made = (*_tables(run, name, section, fixed, drawn=True), f"{run}/{name}/{TABLES_RECORD}")
            out += [Step(f"paper-{name}", f"replicate compute {which}", f"module:{entry(section)}", made,
                         (prof["dataset"],), (notebook, *reads, *earlier)),
                    Step(f"page-{name}", f"replicate run {which}", f"notebook:{section}", (f"{run}/{name}/{name}.ipynb",),
                         (prof["dataset"],), (notebook, *reads, *made))]
        else:
            out.append(Step(f"paper-{name}", f"replicate run {which}", f"notebook:{section}", (f"{run}/{name}",),
                            (prof["dataset"],), (notebook, *reads, *earlier)))
    return out


def needed(section: str) -> set[str]:
    """The sections ``section`` waits for, directly or through another (:data:`replicate.publish.pipeline.NEEDS`)."""
    found: set[str] = set()
    todo = list(NEEDS.get(section, ()))
    while todo:
        s = todo.pop()
        if s not in found:
            found.add(s)
            todo += NEEDS.get(s, ())
    return found


def _control_steps() -> list[Step]:
    ds, ctl = PAPER_DATASET, "python -m replicate.studies.controls"
    readings = READINGS
    out = [Step("controls-table1", f"{ctl} --table1", "module:replicate.studies.controls",
                (f"results/{controls.STUDY}/table1.csv",), (ds,), (controls.TABLE1, *readings))]
    for data in generalisation.DATASETS:
        out.append(Step(f"controls-{data}", f"{ctl} --datasets {data}", "module:replicate.studies.controls",
                        (f"results/{controls.STUDY}/{data}.csv",), (data,), (f"results/generalisation/{data}.csv",)))
    out.append(Step("exercises", "python -m replicate.publish.exercises", "exercises:replicate.publish.exercises",
                    (f"results/{exercises.STUDY}/answers.json",), ("pbmc68k-reduced",),
                    ("results/generalisation/reading.json",)))
    return out


def _benchmark_steps() -> list[Step]:
    py = "python benchmarks"
    return [Step("benchmark-vae-speed", f"{py}/vae_speed.py --json benchmarks/results/vae_speed.json",
                 "script:benchmarks/vae_speed.py", ("benchmarks/results/vae_speed.json",), machine_specific=True),
            Step("benchmark-vae-speed-run2", f"{py}/vae_speed.py --no-keras --parallel-seeds 0 --bf16-quality 0 "
                 "--json benchmarks/results/vae_speed_run2.json", "script:benchmarks/vae_speed.py",
                 ("benchmarks/results/vae_speed_run2.json",), machine_specific=True),
            Step("benchmark-clustering-speed",
                 f"{py}/clustering_speed.py --dask --json benchmarks/results/clustering_speed.json",
                 "script:benchmarks/clustering_speed.py", ("benchmarks/results/clustering_speed.json",),
                 machine_specific=True),
            Step("benchmark-scaling", f"{py}/scaling.py --json benchmarks/results/scaling.json",
                 "script:benchmarks/scaling.py", ("benchmarks/results/scaling.json",), machine_specific=True),
            # the clusterers' cost models, read (lazily, by replicate.method.budget) to refuse what cannot fit
            Step("benchmark-clustering-cost",
                 f"{py}/clustering_cost.py --json benchmarks/results/clustering_cost.json --write",
                 "script:benchmarks/clustering_cost.py",
                 ("benchmarks/results/clustering_cost.json", "replicate/data/clustering_costs.json"),
                 machine_specific=True)]


def steps() -> list[Step]:
    """Every step, in an order that respects their dependencies: the clusterers' cost models first (every
    clustering step reads them), then the studies, the paper run, the controls and the other benchmarks."""
    benchmarks = _benchmark_steps()
    costs = [s for s in benchmarks if MEASURED in s.outs]
    return costs + _study_steps() + _paper_steps() + _control_steps() + [s for s in benchmarks if s not in costs]


_PACKAGE_IMPORT = re.compile(r"^(?:import replicate.*|from replicate[\w.]* import .*)$", re.M)


def _loader(entry: str) -> str:
    kind, _, target = entry.partition(":")
    if kind == "module":
        return f"import {target}"
    if kind in ("notebook", "exercises"):  # what a notebook's or the exercises' code imports and calls
        text = ((project_root() / "notebooks" / f"{target}.md").read_text(encoding="utf-8") if kind == "notebook"
                else "\n".join([f"import {target}", *(e["code"] for e in exercises.exercises())]))
        lines = sorted(set(_PACKAGE_IMPORT.findall(text)))
        if kind == "notebook" and target in COMPUTE:  # a page makes its tables itself when they are not made yet
            lines.append(f"import {COMPUTE[target]}")
        spaces = sorted(set(re.findall(r"\brp\.(pp|tl|pl|VAEConfig|VAEModel)\b", text)))
        return "\n".join(["import replicate as rp", *lines, *(f"rp.{s}" for s in spaces)])
    # a benchmark script: the package modules it imports at its top
    text = (project_root() / target).read_text(encoding="utf-8")
    return "\n".join(sorted(set(_PACKAGE_IMPORT.findall(text))))


@cache
def code_of(entry: str) -> tuple[str, ...]:
    """The package files (and fact files read at import) that ``entry`` loads, in a fresh interpreter."""
    script = _loader(entry) + "\nfrom replicate.io.paths import loaded_code\nimport json\nprint(json.dumps(loaded_code()))"
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=project_root(),
                          check=False)
    if done.returncode:
        raise RuntimeError(f"loading {entry} failed:\n{done.stderr[-2000:]}")
    return tuple(json.loads(done.stdout.strip().splitlines()[-1]))


def _fact_names(code: tuple[str, ...] | list[str]) -> set[str]:
    return {n for path in code for n in _FACT_READ.findall((project_root() / path).read_text(encoding="utf-8"))}


def facts_of(code: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """The fact files that the package files ``code`` can read whole (each ``load_toml`` name among them), in
    :data:`FACTS` order; a test checks them against what real runs record."""
    names = _fact_names(code)
    return tuple(f for f in FACTS if Path(f).stem in names)


def _stage(step: Step) -> dict:
    loaded = code_of(step.entry)
    code = [c for c in loaded if not c.startswith("replicate/data/")]
    # the fact files its code can read, and any read while importing
    names = _fact_names(code) | {Path(c).stem for c in loaded if c.startswith("replicate/data/")}
    facts = {f for f in FACTS if Path(f).stem in names}
    if step.entry.startswith("script:"):
        code = [step.entry.partition(":")[2], *code]
    data = [MEASURED] if "replicate/method/budget.py" in code and step.name != "benchmark-clustering-cost" else []
    stage: dict = {"cmd": step.cmd, "deps": [*code, *(f for f in FACTS if f in facts), *data, *step.deps]}
    params = [{"replicate/data/datasets.toml": list(step.datasets)}] if step.datasets else []
    params += [{f: list(keys)} for f, keys in KEYED.items() if keys and Path(f).stem in names]
    if params:
        stage["params"] = params
    stage["outs"] = [{o: {"cache": False}} for o in step.outs]
    if step.machine_specific:
        stage["meta"] = {"machine_specific": True}
    return stage


def render() -> str:
    """The text of ``dvc.yaml``."""
    head = ("# The study graph, written by `python -m replicate.publish.graph > dvc.yaml` (do not edit by hand):\n"
            "# `dvc status` says what is stale, `dvc repro` (or `make reproduce`) rebuilds it in order.\n")
    body = yaml.safe_dump({"stages": {s.name: _stage(s) for s in steps()}}, sort_keys=False, width=120)
    return head + body


def main() -> int:
    sys.stdout.write(render())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""The study graph (dvc.yaml): written from the package, every committed file accounted for, the code each
step loads declared."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from replicate.io.paths import CODE_ENV, recorded_reads
from replicate.publish import graph

ROOT = Path(__file__).resolve().parents[2]


def _stages() -> dict:
    return yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]


def _outs(stage: dict) -> list[str]:
    return [next(iter(o)) for o in stage["outs"]]


def test_every_committed_result_is_made_by_one_step_or_is_a_named_record():
    tracked = subprocess.run(["git", "ls-files", "results", "benchmarks/results"], cwd=ROOT, capture_output=True,
                             text=True, check=True).stdout.split()
    outs = [o for s in _stages().values() for o in _outs(s)]
    assert len(outs) == len(set(outs))  # no file is made by two steps
    covered = [*outs, *graph.RECORDS]
    orphans = [f for f in tracked if not any(f == c or f.startswith(c + "/") for c in covered)]
    assert not orphans, orphans
    assert all(v["outs"] and all(o[next(iter(o))] == {"cache": False} for o in v["outs"]) for v in _stages().values())


def test_steps_name_their_data_by_registry_entry_and_their_upstream_results():
    stages = _stages()
    assert stages["stability"]["params"] == [{"replicate/data/datasets.toml": ["pbmc2100-top2000"]},
                                             {"replicate/data/profiles.toml": ["paper"]}]
    # every step reads the paper profile only: the quick and smoke profiles are no step's input
    for name, stage in stages.items():
        assert "replicate/data/profiles.toml" not in stage["deps"], name
    assert "results/stability/pbmc2100-top2000.csv" in stages["why-readings"]["deps"]
    table1 = stages["paper-05_table1"]["deps"]
    run = "results/pbmc2100-top2000/paper"
    assert f"{run}/02_vae/vae_history.csv" in table1
    # Table 1 reads the readings study's table, not the why study's other files (it need not wait for them)
    assert "results/why/pbmc2100-top2000-readings.csv" in table1
    assert not [d for d in table1 if d.startswith("results/why") and "readings" not in d]
    assert "results/why" in stages["paper-08_why"]["deps"]
    assert "notebooks/05_table1.ipynb" in table1
    # a section depends on the earlier sections' tables, never on their executed notebooks
    assert not [d for d in table1 if d.startswith(run) and not d.endswith(".csv")]
    # and only on those of the sections whose trainings and grid cells it reads back (pipeline.NEEDS)
    open_points = [d for d in stages["paper-07_open_points"]["deps"] if d.startswith(run)]
    assert f"{run}/03_clustering-kmeans/clustering_kmeans.csv" in open_points
    assert f"{run}/02_vae/vae_history.csv" in open_points
    assert not [d for d in open_points if "/05_table1/" in d or "/06_claims/" in d or "/04_baselines/" in d]
    assert [d for d in stages["paper-09_generalisation"]["deps"] if d.startswith(run)] == [
        f"{run}/01_data/label_counts.csv"]
    assert stages["benchmark-scaling"]["meta"] == {"machine_specific": True}
    # a plot that a step never draws is not among its inputs: the data section does not load the why pages, and a
    # section's tables step loads no page at all (its page step does)
    assert "replicate/publish/pages/why.py" not in stages["page-01_data"]["deps"]
    assert "replicate/publish/pages/why.py" in stages["page-08_why"]["deps"]
    assert not [d for d in stages["paper-08_why"]["deps"] if d.startswith("replicate/publish/")]
    assert "replicate/studies/why_factors.py" in stages["paper-08_why"]["deps"]


@pytest.mark.slow
def test_dvc_yaml_is_what_the_graph_writes():
    assert graph.render() == (ROOT / "dvc.yaml").read_text(), "run `python -m replicate.publish.graph > dvc.yaml`"


def test_each_step_comes_after_every_step_whose_outputs_it_reads():
    """`replicate rebuild` makes the steps in dvc.yaml's order: a step listed before one it reads would be made
    from the old outputs (the clusterers' cost models, which every clustering step reads, were listed last)."""
    from replicate.publish.order import after

    names = list(_stages())
    for name, before in after(_stages()).items():
        late = [b for b in before if names.index(b) > names.index(name)]
        assert not late, (name, late)


def _covered(read: str, declared: set[str]) -> bool:
    """A read file or folder is declared, or lies in a declared folder."""
    parts = read.split("/")
    return any("/".join(parts[:i]) in declared for i in range(1, len(parts) + 1))


def _declared(stage: dict) -> set[str]:
    return set(stage["deps"]) | {next(iter(p)) for p in stage.get("params", [])}


def test_each_step_depends_on_the_fact_files_its_code_reads_only():
    stages = _stages()
    assert graph.facts_of(["replicate/paper/claims.py"]) == ("replicate/data/claims.toml",)
    assert graph.facts_of(["replicate/io/paths.py"]) == ()
    # the claims' rules are read by the claims page, not by the stability study
    assert "replicate/data/claims.toml" in stages["paper-06_claims"]["deps"]
    assert "replicate/data/claims.toml" not in stages["stability"]["deps"]
    assert "replicate/data/stability.toml" in stages["stability"]["deps"]
    for name, stage in stages.items():
        code = [d for d in stage["deps"] if d.startswith("replicate/") and d.endswith(".py")]
        facts = [d for d in stage["deps"] if d.startswith("replicate/data/") and d != graph.MEASURED]
        assert set(graph.facts_of(code)) <= set(facts) <= set(graph.FACTS), name
        # the clusterers' refusal reads the measured cost models: a step whose code refuses depends on them
        if "replicate/method/budget.py" in code and name != "benchmark-clustering-cost":
            assert graph.MEASURED in stage["deps"], name


@pytest.mark.slow
def test_each_study_step_loads_only_the_code_it_declares(tmp_path):
    stages = _stages()
    by_entry = {}
    for step in graph.steps():
        if step.entry.startswith("module:"):
            by_entry.setdefault(step.entry.partition(":")[2], []).append(step.name)
    for module, names in by_entry.items():
        record = tmp_path / f"{module}.log"
        # a study's own command line; the sections' tables (`replicate compute`): what their code imports
        tables = module.startswith("replicate.sections")
        run = ["-c", f"import {module}"] if tables else ["-m", module, "--help"]
        subprocess.run([sys.executable, *run], cwd=ROOT, check=True, capture_output=True,
                       env={**os.environ, CODE_ENV: str(record)})
        loaded = set(recorded_reads(record))
        for imported in module.split(", "):
            path = imported.replace(".", "/")
            assert f"{path}.py" in loaded or f"{path}/__init__.py" in loaded, imported
        for name in names:
            assert loaded <= _declared(stages[name]), (name, sorted(loaded - _declared(stages[name])))


@pytest.mark.slow
def test_each_section_of_a_run_loaded_and_read_only_what_its_step_declares(smoke_run):
    """The kernels of a real run (smoke profile) recorded the code they loaded and the results they read."""
    stages = _stages()
    manifest = json.loads((smoke_run / "manifest.json").read_text())
    for name, section in manifest["sections"].items():
        declared = _declared(stages.get(f"page-{name}") or stages[f"paper-{name}"])  # the kernel draws the page
        assert set(section["code"]) <= declared, (name, sorted(set(section["code"]) - declared))
        undeclared = [r for r in section["reads"] if not _covered(r, declared)]
        assert not undeclared, (name, undeclared)


def test_a_split_section_is_a_tables_step_that_loads_no_plot_and_a_page_step_that_draws_its_tables():
    stages, run = _stages(), "results/pbmc2100-top2000/paper/03_clustering-kmeans"
    tables, page = stages["paper-03_clustering-kmeans"], stages["page-03_clustering-kmeans"]
    assert tables["cmd"].startswith("replicate compute ") and page["cmd"].startswith("replicate run ")
    assert _outs(tables) == [f"{run}/clustering_kmeans.csv", f"{run}/labels_kmeans.csv", f"{run}/tables.json"]
    assert _outs(page) == [f"{run}/03_clustering-kmeans.ipynb"]
    assert set(_outs(tables)) <= set(page["deps"])
    # a plotting change stales the page only: the tables' step loads no plot, page or notebook code
    assert not [d for d in tables["deps"] if d.startswith("replicate/publish/") or d == "replicate/pl.py"]
    assert "replicate/publish/figures.py" in page["deps"] and "replicate/method/clustering.py" in tables["deps"]

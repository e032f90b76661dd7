"""`replicate run` + `replicate book`, end to end on the smoke profile (the README's path)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from replicate import cli
from replicate.io.errors import ParameterError, ReplicateError
from replicate.paper.table1 import DEFAULT_READING
from replicate.publish.pages import provenance
from replicate.publish.pipeline import SECTIONS, expand_sections, resolve_parameters, run, run_dataset, run_dir

from ..conftest import SMOKE_REPOSITORY


def test_profiles_resolve_with_overrides():
    per = resolve_parameters("smoke", None, {"epochs": 5})
    assert per["02_vae"]["epochs"] == 5 and per["02_vae"]["dataset"] == "pbmc68k-reduced"
    assert "epochs" not in per["01_data"]  # each notebook gets only the parameters it declares
    assert per["05_table1"]["profile"] == "smoke"


def test_a_run_of_one_section_that_declares_no_dataset_is_still_a_run_on_its_profiles_data():
    # 09_generalisation reads only the committed studies: `replicate run --sections 09_generalisation`
    per = resolve_parameters("paper", None, {})
    assert "dataset" not in per["09_generalisation"]
    assert run_dataset(per) == "pbmc2100-top2000"
    assert run_dataset(resolve_parameters("smoke", "pbmc2100-top2000", {})) == "pbmc2100-top2000"


def test_unknown_override_names_the_real_parameters():
    with pytest.raises(ParameterError, match=r"unknown parameter\(s\) 'epoch'.*epochs.*learning_rate"):
        resolve_parameters("smoke", None, {"epoch": 5})


def test_bad_override_value_and_unknown_profile():
    with pytest.raises(ParameterError, match="epochs = -1"):
        resolve_parameters("smoke", None, {"epochs": -1})
    with pytest.raises(ParameterError, match="unknown profile 'fast'.*smoke, quick, paper"):
        resolve_parameters("fast", None, {})


def test_cli_reports_errors_without_a_traceback(capsys):
    assert cli.main(["run", "--profile", "smoke", "--set", "epoch=3"]) == 2
    assert "unknown parameter(s) 'epoch'" in capsys.readouterr().err
    assert cli.main(["run", "--set", "nonsense"]) == 2


def test_cli_lists_datasets(capsys):
    assert cli.main(["datasets"]) == 0
    out = capsys.readouterr().out
    assert "pbmc68k-reduced" in out and "paper-pbmc4k" in out


def _kmeans_row(run_folder):
    table = pd.read_csv(run_folder / "05_table1" / "table1.csv")
    return table[(table["row"] == "VAE+K-means") & (table["selection"] == "paper's setting")
                 & (table["reading"] == DEFAULT_READING)].iloc[0]


@pytest.mark.slow
def test_smoke_run_writes_every_section(smoke_run):
    assert smoke_run == run_dir("pbmc68k-reduced", "smoke", smoke_run.parents[1])
    manifest = json.loads((smoke_run / "manifest.json").read_text())
    assert manifest["order"] == ["01_data", "02_vae", "03_clustering-kmeans",
                                 "03_clustering-affinity_propagation", "04_baselines", "05_table1",
                                 "06_claims", "07_open_points", "08_why", "09_generalisation", "10_uncertainty"]
    assert set(manifest["sections"]) == set(manifest["order"])
    assert {v["status"] for v in manifest["sections"].values()} == {"done"}
    assert manifest["sections"]["02_vae"]["parameters"]["epochs"] == 3
    table = pd.read_csv(smoke_run / "05_table1" / "table1.csv")
    vae = table[table["selection"] == "paper's setting"]
    # the six VAE rows for each reading: the default and the one matched by fingerprints
    sizes = vae.groupby("reading").size()
    assert sizes.get(DEFAULT_READING) == 6 and len(sizes) == 2 and (sizes == 6).all(), sizes
    assert next(r for r in sizes.index if r != DEFAULT_READING).startswith("fingerprint-matched (")
    assert vae[["ours_CA", "ours_NMI", "ours_ARI"]].stack().between(0, 100).all()
    assert (smoke_run / "03_clustering-affinity_propagation" / "clustering_affinity_propagation.csv").is_file()
    assert "PCA(32)+k-means (live)" in set(table["row"])
    assert not list(smoke_run.rglob(".*.running.ipynb"))
    # nothing recorded names the machine's folders: paths are relative to the run folder
    root = str(smoke_run.resolve().parents[2])
    assert root not in (smoke_run / "manifest.json").read_text()
    assert manifest["sections"]["05_table1"]["parameters"]["output_dir"] == "."
    for nb in smoke_run.glob("*/*.ipynb"):
        assert root not in nb.read_text(), nb.name


@pytest.mark.slow
def test_book_builds_and_table1_page_shows_computed_numbers(smoke_run, smoke_book):
    site = smoke_book
    page = (site / "05_table1.html").read_text()
    ours = _kmeans_row(smoke_run)
    assert f"{ours['ours_CA']:.2f}" in page
    assert "VAE+K-means" in page and "paper" in page
    intro = (site / "intro.html").read_text()
    assert f"{ours['ours_CA']:.2f}" in intro  # cross-page glue resolved
    assert "mjx" not in intro or "cdn.jsdelivr" not in intro
    assert "cdn.jsdelivr.net/npm/mathjax" not in (site / "02_vae.html").read_text()
    # launch buttons open a notebook that exists in the repository (the page's source notebook)
    targets = set()
    for page in site.glob("*.html"):
        for m in re.finditer(r"(?:urlpath=lab/tree/|blob/main/)(notebooks/[\w.-]+\.(?:ipynb|md))", page.read_text()):
            targets.add(m.group(1))
    assert "notebooks/05_table1.ipynb" in targets and "notebooks/03_clustering.ipynb" in targets
    assert "notebooks/own_data.ipynb" in targets
    root = Path(__file__).resolve().parents[2]
    assert all((root / t).is_file() for t in targets), targets
    assert f'href="{SMOKE_REPOSITORY}"' in (site / "intro.html").read_text()
    # every page says where its numbers come from: this run (date, commit) or a committed step
    assert provenance.audit_book(smoke_run / "book") == []
    table1 = (site / "05_table1.html").read_text()
    assert "provenance-run" in table1 and "with the code of commit" in table1


@pytest.mark.slow
def test_book_pages_in_a_real_browser(smoke_run, smoke_book):
    from replicate.publish.browser import check_layout, check_pages, chromium_path

    if chromium_path() is None:
        pytest.fail("Chromium is not installed; .ci/run installs it (apt-get install chromium)")
    site = smoke_book
    # index.html only redirects (meta refresh) to the root page
    assert 'url=intro.html' in (site / "index.html").read_text()
    pages = sorted(p.name for p in site.glob("*.html") if p.name not in ("index.html", "genindex.html", "search.html"))
    report = check_pages(site, pages)
    for name, r in report.items():
        assert not r["broken_links"], (name, r["broken_links"])
        assert not r["missing_images"], (name, r["missing_images"])
    ours = _kmeans_row(smoke_run)
    table1 = report["05_table1.html"]
    assert "Table 1" in table1["title"] and table1["images"] >= 1
    assert f"{ours['ours_ARI']:.1f}" in table1["text"]  # the paper-layout table shows one decimal
    assert f"{ours['ours_CA']:.2f}" in report["intro.html"]["text"]
    assert "latent space: Affinity propagation" in report["03_clustering-affinity_propagation.html"]["title"]
    # every table and figure fits the content column at 1280 px; at 390 px nothing scrolls the page
    layout = check_layout(site, pages, widths=(1280, 390))
    for name, by_width in layout.items():
        for width, r in by_width.items():
            assert r["pageScroll"] <= 0 and not r["offenders"], (name, width, r)


ABSOLUTE = re.compile(r"(?<![\w.:/])/(?:home|root|tmp|work|Users|var/folders|mnt|opt|private)/[\w.-]+")


def _absolute_paths(folder: Path, suffixes=(".html", ".ipynb", ".csv", ".json", ".md", ".txt"),
                    files: list[Path] | None = None) -> list[str]:
    hits = []
    for f in folder.rglob("*") if files is None else files:
        if f.is_file() and f.suffix in suffixes and "_static" not in f.parts and ".doctrees" not in f.parts:
            for m in ABSOLUTE.finditer(f.read_text(errors="replace")):
                hits.append(f"{f.relative_to(folder)}: {m.group(0)}")
    return hits


@pytest.mark.slow
def test_no_machine_path_in_the_built_site_or_the_run(smoke_run, smoke_book):
    hits = _absolute_paths(smoke_book) + _absolute_paths(smoke_run, (".ipynb", ".csv", ".json"))
    assert not hits, hits[:10]


def test_no_machine_path_in_the_committed_results():
    """Committed files only: a rebuild writing its scratch files under results/ (ignored by git) is not read."""
    root = Path(__file__).resolve().parents[2]
    listed = subprocess.run(["git", "ls-files", "-z", "results"], cwd=root, capture_output=True, check=False).stdout
    files = [root / name for name in listed.decode().split("\0") if name]
    assert files or not (root / ".git").exists(), "git lists no committed result"
    hits = _absolute_paths(root / "results", files=files or None)
    assert not hits, hits[:10]


@pytest.mark.slow
def test_rerun_skips_unchanged_sections_and_redoes_only_affected_ones(smoke_run, tmp_path, capsys):
    results = tmp_path / "results"  # a copy: other tests read the shared run while this one re-makes sections
    copy = run_dir("pbmc68k-reduced", "smoke", results)
    shutil.copytree(smoke_run, copy, ignore=shutil.ignore_patterns("book", ".book.building"))
    run("smoke", None, results=results)
    out = capsys.readouterr().out
    assert out.count("unchanged, skipped") == len(SECTIONS) + 1  # two clustering methods in smoke
    # epochs is declared by the VAE sections only, not by 01_data or 04_baselines
    run("smoke", None, overrides={"epochs": 2}, results=results)
    manifest = json.loads((copy / "manifest.json").read_text())
    skipped = {s: v["skipped"] for s, v in manifest["sections"].items()}
    assert skipped == {"01_data": True, "02_vae": False, "03_clustering-kmeans": False,
                       "03_clustering-affinity_propagation": False, "04_baselines": True, "05_table1": False,
                       "06_claims": False, "07_open_points": False, "08_why": False,
                       "09_generalisation": True, "10_uncertainty": False}


@pytest.mark.slow
def test_failing_section_stops_the_run_and_keeps_earlier_ones(tmp_path):
    with pytest.raises(ReplicateError, match=r"section 02_vae failed .*TrainingError") as err:
        # a learning rate this large makes the loss non-finite in the first epoch
        run("smoke", None, overrides={"learning_rate": 1e12}, results=tmp_path,
            sections=("01_data", "02_vae", "03_clustering"), methods=["kmeans"])
    out = run_dir("pbmc68k-reduced", "smoke", tmp_path)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["sections"]["01_data"]["status"] == "done"
    assert manifest["sections"]["02_vae"]["status"] == "failed"
    assert "03_clustering-kmeans" not in manifest["sections"]
    assert (out / "02_vae" / "02_vae.failed.ipynb").is_file()
    assert not (out / "02_vae" / "02_vae.ipynb").exists()
    assert re.search(r"02_vae\.failed\.ipynb", str(err.value))


def test_the_key_follows_the_committed_results_a_section_read(tmp_path, monkeypatch):
    from replicate.io import made
    from replicate.publish import pipeline

    monkeypatch.setattr(made, "project_root", lambda: tmp_path)
    folder = tmp_path / "results" / "generalisation"
    folder.mkdir(parents=True)
    (folder / "uncertainty.csv").write_text("dataset,CA\nworm-2100,0.5\n")
    before = pipeline.reads_identity(["results/generalisation"])
    assert pipeline.reads_identity([]) != before
    (folder / "uncertainty.csv").write_text("dataset,CA\nworm-2100,0.6\n")
    assert pipeline.reads_identity(["results/generalisation"]) != before


@pytest.mark.slow
def test_each_section_records_the_committed_results_its_code_read(smoke_run):
    """What a section reads is recorded as it runs (replicate.io.paths.committed), never typed by hand: Table 1
    and the claims read the readings study through the fingerprint-matched reading (smoke compares it)."""
    manifest = json.loads((smoke_run / "manifest.json").read_text())
    reads = {name: set(s["reads"]) for name, s in manifest["sections"].items()}
    # Table 1 and the claims read the readings table alone (file by file: their steps need not wait for the rest)
    for section in ("05_table1", "06_claims"):
        assert reads[section] == {"results/why/pbmc2100-top2000-readings.csv"}, (section, reads[section])
    assert any(r.startswith("results/why/") for r in reads["08_why"]), reads["08_why"]
    assert "results/stability" in reads["02_vae"] and "results/generalisation" in reads["09_generalisation"]
    assert reads["01_data"] == set() and reads["04_baselines"] == set()
    # each key includes exactly those folders: a change there makes the section stale
    from replicate.publish import pipeline

    for name, section in manifest["sections"].items():
        notebook = name.split("-", 1)[0] if name.startswith(pipeline.PER_METHOD) else name
        assert section["key"] == pipeline.section_key(notebook, section["parameters"], section["reads"],
                                                      section["code"]), name


@pytest.mark.slow
def test_each_section_records_the_code_its_kernel_loaded(smoke_run):
    """The package files each kernel loaded and the fact files it read are recorded at its exit."""
    manifest = json.loads((smoke_run / "manifest.json").read_text())
    code = {name: set(s["code"]) for name, s in manifest["sections"].items()}
    for name, files in code.items():
        assert "replicate/__init__.py" in files and all(f.startswith("replicate/") for f in files), name
        assert all((Path(__file__).resolve().parents[2] / f).is_file() for f in files), name
    assert "replicate/method/vae_train.py" in code["02_vae"]
    assert "replicate/data/grids.toml" in code["03_clustering-kmeans"]
    assert "replicate/studies/why_factors.py" in code["08_why"]
    assert "replicate/studies/why_factors.py" not in code["01_data"]


def test_the_key_follows_only_the_code_a_section_loaded(tmp_path, monkeypatch):
    from replicate.io import made
    from replicate.publish import pipeline

    monkeypatch.setattr(made, "project_root", lambda: tmp_path)
    for name in ("replicate/a.py", "replicate/b.py"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x = 1\n")
    before = pipeline.code_identity(["replicate/a.py"])
    (tmp_path / "replicate/b.py").write_text("x = 2\n")  # a module the section never loaded
    assert pipeline.code_identity(["replicate/a.py"]) == before
    (tmp_path / "replicate/a.py").write_text("x = 2\n")
    assert pipeline.code_identity(["replicate/a.py"]) != before


def test_each_section_waits_for_the_sections_it_reads_back_through_the_caches():
    from replicate.publish.pipeline import _needs

    plan = expand_sections(["kmeans", "birch"])
    needs = _needs(plan)
    clustering = {"03_clustering-kmeans", "03_clustering-birch"}
    assert needs["01_data"] == set() and needs["02_vae"] == {"01_data"}
    assert needs["04_baselines"] == {"01_data"}  # beside the VAE's training: it trains nothing
    assert needs["03_clustering-kmeans"] == needs["03_clustering-birch"] == {"02_vae"}
    assert needs["05_table1"] == clustering | {"04_baselines"}  # it reads their grid cells and baselines
    assert needs["06_claims"] == needs["08_why"] == {"05_table1"}  # the second reading's VAEs are trained there
    assert needs["07_open_points"] == clustering and needs["10_uncertainty"] == {"02_vae"}
    order = [name for name, _, _ in plan]
    assert all(order.index(n) < order.index(name) for name, before in needs.items() for n in before)


def test_a_section_starts_only_once_what_it_needs_is_done(tmp_path, monkeypatch):
    """Two workers, and a section that needs a slow one: it waits although a worker is free, while a ready section
    later in the plan takes that worker; a section whose need is not in the run starts at once. (Threads stand in
    for the worker processes, which would not see a stand-in for the notebooks.)"""
    import threading
    import time as clock
    from concurrent.futures import ThreadPoolExecutor

    from replicate.publish import sections

    events, lock = [], threading.Lock()

    def fake(section, name, sec_dir, params, log_output, **_):
        with lock:
            events.append(("start", name, clock.monotonic()))
        clock.sleep(params["s"])
        with lock:
            events.append(("end", name, clock.monotonic()))
        return ([], []), params["s"]

    threads = lambda max_workers, mp_context: ThreadPoolExecutor(max_workers)  # noqa: E731
    monkeypatch.setattr(sections, "ProcessPoolExecutor", threads)
    monkeypatch.setattr(sections, "_timed", fake)
    todo = [(n, "x", tmp_path, {"s": s}) for n, s in (("slow", 0.6), ("after_slow", 0.05), ("free", 0.05),
                                                        ("outside", 0.05))]
    needs = {"after_slow": {"slow"}, "outside": {"not_in_the_run"}}
    done = []
    sections.execute_graph(todo, needs, 2, False, lambda name, *_: done.append(name), notebooks=tmp_path,
                           labels={n: "" for n, *_ in todo})
    starts = [name for kind, name, _ in events if kind == "start"]
    assert starts == ["slow", "free", "outside", "after_slow"]
    at = {(kind, name): t for kind, name, t in events}
    assert at[("start", "after_slow")] >= at[("end", "slow")]
    assert at[("start", "outside")] < at[("end", "slow")]  # it did not wait behind the slow one
    assert sorted(done) == sorted(n for n, *_ in todo)

    monkeypatch.setattr(sections, "execute", lambda *a, **k: fake(*a, **k)[0])
    order = []
    sections.execute_graph(todo, needs, 1, False, lambda name, *_: order.append(name), notebooks=tmp_path,
                           labels={n: "" for n, *_ in todo})
    assert order == ["slow", "after_slow", "free", "outside"]  # one at a time: the plan's order


@pytest.mark.slow
def test_sections_side_by_side_make_the_same_run_as_one_by_one(smoke_run, tmp_path):
    part = ("01_data", "02_vae", "03_clustering", "04_baselines")
    one = run("smoke", None, results=tmp_path / "one", sections=part, jobs=1)  # both after smoke_run: warm caches
    two = run("smoke", None, results=tmp_path / "two", sections=part, jobs=2)
    manifest = json.loads((two / "manifest.json").read_text())
    assert list(manifest["sections"]) == manifest["order"] == json.loads((one / "manifest.json").read_text())["order"]
    side = [n for n in manifest["order"] if n.startswith("03_") or n == "04_baselines"]
    assert len(side) == 3 and all(manifest["sections"][n]["status"] == "done" for n in side)
    for name in side:
        tables = sorted(p.name for p in (one / name).glob("*.csv"))
        assert tables and tables == sorted(p.name for p in (two / name).glob("*.csv")), name
        for csv in tables:
            assert (one / name / csv).read_bytes() == (two / name / csv).read_bytes(), (name, csv)

"""A section's tables apart from its page: computed once, read back while their record matches, never with a plot."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from replicate import cli, sections
from replicate.io.paths import READS_ENV, committed

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def counted(monkeypatch):
    """A section whose computation counts its calls and reads a committed folder."""
    calls = []

    def compute(params: dict) -> dict[str, pd.DataFrame]:
        calls.append(dict(params))
        committed("results/stability")
        return {f"clustering_{params['method']}": pd.DataFrame({"setting": ["a", "b"], "CA": [0.5, 0.25]}),
                f"labels_{params['method']}": pd.DataFrame({"cell": ["c1", "c2"], "label": ["x", "y"],
                                                            "cluster": [0, 1]})}

    monkeypatch.setattr(sections, "computation", lambda section: compute)
    return calls


def test_tables_are_read_back_while_their_record_matches(counted, tmp_path):
    params = {"dataset": "", "method": "kmeans", "seeds": [0], "n_jobs": -1, "output_dir": "."}
    first = sections.tables("03_clustering", params, tmp_path)
    record = json.loads((tmp_path / sections.RECORD).read_text())
    assert record["reads"] == ["results/stability"] and record["parameters"]["seeds"] == [0]
    assert record["tables"] == ["clustering_kmeans", "labels_kmeans"]
    assert "output_dir" not in record["parameters"] and record["machine"]["cpu"]
    # read back: no second computation, and what the page draws is what the file holds (labels as read)
    again = sections.tables("03_clustering", {**params, "n_jobs": 1}, tmp_path)  # how it runs is not part of the key
    assert len(counted) == 1
    for name in first:
        pd.testing.assert_frame_equal(first[name], again[name])
    assert again["labels_kmeans"]["cluster"].tolist() == [0, 1]
    sections.tables("03_clustering", {**params, "seeds": [0, 1]}, tmp_path)  # other parameters: made again
    assert len(counted) == 2
    sections.tables("03_clustering", {**params, "seeds": [0, 1]}, tmp_path, force=True)
    assert len(counted) == 3
    (tmp_path / "labels_kmeans.csv").unlink()  # a table gone: made again
    sections.tables("03_clustering", {**params, "seeds": [0, 1]}, tmp_path)
    assert len(counted) == 4


def test_a_read_of_a_committed_result_reaches_the_run_that_records_reads(counted, tmp_path, monkeypatch):
    outer = tmp_path / "outer-reads"
    monkeypatch.setenv(READS_ENV, str(outer))
    sections.tables("03_clustering", {"dataset": "", "method": "gmm", "seeds": [0]}, "")
    assert outer.read_text().split() == ["results/stability"]
    assert sections.os.environ[READS_ENV] == str(outer)


def test_a_changed_read_or_code_makes_them_again(counted, tmp_path, monkeypatch):
    params = {"dataset": "", "method": "kmeans", "seeds": [0]}
    sections.tables("03_clustering", params, tmp_path)
    record = json.loads((tmp_path / sections.RECORD).read_text())
    monkeypatch.setattr(sections, "files_identity", lambda paths: "changed" + ",".join(paths))
    assert sections.read(tmp_path, "03_clustering", params) is None
    assert record["key"] != sections.key("03_clustering", params, record["reads"])


def test_the_tables_code_loads_no_plot_or_page():
    code = sections.code("03_clustering")
    assert "replicate/sections/__init__.py" in code and "replicate/sections/clustering.py" in code and "replicate/method/clustering.py" in code
    assert "replicate/grid/execute.py" in code and "replicate/tl.py" in code
    for section in sections.SPLIT:
        drawn = [c for c in sections.code(section) if c.startswith("replicate/publish/") or c == "replicate/pl.py"]
        assert not drawn, (section, drawn)


def test_each_sections_tables_load_only_the_code_they_compute_with():
    data = sections.code("01_data")
    assert "replicate/sections/data.py" in data and "replicate/method/preprocess.py" in data
    # counting labels trains nothing, clusters nothing and reads no study
    assert not [c for c in data if c.startswith(("replicate/method/vae", "replicate/grid/", "replicate/studies/"))]
    assert "replicate/sections/why.py" not in sections.code("10_uncertainty")
    assert "replicate/studies/why_factors.py" in sections.code("08_why")
    assert list(sections.SPLIT) == list(sections.COMPUTE)
    with pytest.raises(KeyError, match="has no tables of its own"):
        sections.computation("09_generalisation")


def test_labels_go_into_the_data_cell_by_cell():
    import anndata as ad
    import numpy as np

    adata = ad.AnnData(np.zeros((3, 2)), obs=pd.DataFrame(index=["c2", "c1", "c3"]))
    labels = pd.DataFrame({"cell": ["c1", "c2", "c3"], "label": ["a", "b", "c"], "cluster": [7, 8, 9]})
    sections.labels_into(adata, labels, "kmeans")
    assert adata.obs["kmeans"].astype(str).tolist() == ["8", "7", "9"]
    with pytest.raises(ValueError, match="lacks 1 of the data's cells"):
        sections.labels_into(adata, labels.iloc[:2], "kmeans")


def test_compute_refuses_a_section_without_tables_of_its_own(capsys):
    assert cli.main(["compute", "--profile", "smoke", "--sections", "09_generalisation"]) == 2  # a usage error
    err = capsys.readouterr().err
    assert "none of these sections has tables of its own" in err and "01_data, 02_vae, 03_clustering" in err


@pytest.mark.slow
def test_a_page_draws_the_tables_its_step_made_and_is_drawn_again_when_they_change(smoke_run, tmp_path, capsys):
    """The smoke run's clustering page made its tables in its kernel; `replicate compute` with the same profile
    finds them current (the command line resolves the parameters the notebook holds), and a re-made table
    re-draws the page but nothing else."""
    run = tmp_path / smoke_run.parent.name / smoke_run.name  # where `--results tmp_path` puts the smoke run
    shutil.copytree(smoke_run, run)
    folder = run / "03_clustering-kmeans"
    assert (folder / sections.RECORD).is_file() and (folder / "labels_kmeans.csv").is_file()
    results = str(tmp_path)
    target = ["--profile", "smoke", "--sections", "03_clustering", "--methods", "kmeans", "--results", results]
    made = (folder / sections.RECORD).read_text()
    assert cli.main(["compute", *target]) == 0
    assert (folder / sections.RECORD).read_text() == made  # read back, not made again
    cli.main(["run", *target])
    assert "03_clustering-kmeans: unchanged, skipped" in capsys.readouterr().out
    assert cli.main(["compute", *target, "--force"]) == 0
    assert json.loads((folder / sections.RECORD).read_text())["key"] == json.loads(made)["key"]
    capsys.readouterr()
    cli.main(["run", *target])
    out = capsys.readouterr().out
    assert "03_clustering-kmeans done" in out and "tables read back" in out
    manifest = json.loads((run / "manifest.json").read_text())["sections"]["03_clustering-kmeans"]
    assert manifest["tables_key"] and "drawn_on" in manifest


def test_the_code_list_is_measured_once_per_state_of_the_package(tmp_path, monkeypatch):
    monkeypatch.setenv("REPLICATE_CACHE_DIR", str(tmp_path))
    sections.code.cache_clear()
    first = sections.code("01_data")
    assert len(list((tmp_path / "code").glob("sections-01_data-*.json"))) == 1
    sections.code.cache_clear()
    monkeypatch.setattr(sections.subprocess, "run", lambda *a, **k: pytest.fail("measured again"))
    assert sections.code("01_data") == first  # another kernel: read back, no interpreter started
    sections.code.cache_clear()

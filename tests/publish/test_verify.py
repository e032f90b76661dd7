import json
import shutil

import pandas as pd
import pytest

from replicate import cli
from replicate.io.errors import ReplicateError
from replicate.publish import verify


@pytest.mark.slow
def test_verify_recomputes_the_sample_and_fails_on_the_one_number_made_to_disagree(smoke_run, tmp_path):
    committed = tmp_path / "committed"
    shutil.copytree(smoke_run, committed, ignore=shutil.ignore_patterns("book", ".book.building"))
    table = committed / "03_clustering-kmeans" / "clustering_kmeans.csv"
    rows = pd.read_csv(table, float_precision="round_trip")
    rows.loc[0, "CA"] += 0.001  # one committed number disagrees
    rows.to_csv(table, index=False)
    report = tmp_path / "report"
    code = cli.main(["verify", "--sample", "1", "--steps", "paper run", "--out", str(report), "--run", str(committed)])
    assert code == 1
    summary = pd.read_csv(report / "summary.csv")
    assert summary["step"].tolist() == ["paper run"]
    assert summary.loc[0, "differing"] == 1 and summary.loc[0, "within_tolerance"] == 0
    # every other number (losses, every grid cell of both methods, the baselines) came out bit for bit
    assert summary.loc[0, "identical"] == summary.loc[0, "compared"] - 1 > 50
    off = pd.read_csv(report / "not-identical.csv")
    assert off[["table", "column"]].values.tolist() == [["03_clustering-kmeans/clustering_kmeans.csv", "CA"]]
    info = json.loads((report / "verification.json").read_text())
    assert info["sample"] == 1 and info["machine"]["family"] and info["counts"]["paper run"]["differing"] == 1
    assert str(tmp_path) not in (report / "not-identical.csv").read_text()


def test_verify_refuses_a_sample_below_one_and_a_missing_run(tmp_path):
    with pytest.raises(ReplicateError, match="at least 1"):
        verify.verify(sample=0)
    with pytest.raises(ReplicateError, match="no committed run"):
        verify.paper_run(1, tmp_path, run=str(tmp_path / "nowhere"))


def test_the_reproducibility_page_shows_the_latest_verification(tmp_path):
    assert "No verification is committed" in verify.markdown(tmp_path)
    pd.DataFrame([{"step": "paper run", "compared": 1234, "identical": 1200, "within_tolerance": 30,
                   "differing": 4}]).to_csv(tmp_path / "summary.csv", index=False)
    (tmp_path / "verification.json").write_text(json.dumps({
        "date": "2026-12-02", "sample": 2, "seconds": 900.0,
        "machine": {"cpu": "AMD EPYC", "cores": 2, "family": "AuthenticAMD x86_64 avx2"}}))
    text = verify.markdown(tmp_path)
    assert ("2026-12-02, sample 2; machine: AMD EPYC, 2 cores, CPU family `AuthenticAMD x86_64 avx2`, "
            "BLAS `not recorded`; 15 minutes") in text
    assert "| paper run | 1,234 | 1,200 | 30 | 4 |" in text
    pd.DataFrame([{"row": "a", "column": "silhouette", "recomputed": 0.07908511161804199,
                   "committed": 0.0790851116180419, "outcome": "within tolerance", "step": "paper run", "table": "t.csv"},
                  {"row": "b", "column": "status", "recomputed": "ok", "committed": "warning", "outcome": "differing",
                   "step": "paper run", "table": "b.csv"}]).to_csv(tmp_path / "not-identical.csv", index=False)
    text = verify.markdown(tmp_path)
    assert "largest relative difference among the numbers within tolerance is 9.7e-17" in text
    assert "Differing: `b.csv` status ok (committed: warning)." in text


def test_bit_for_bit_is_expected_only_on_the_recorded_family_and_blas_kernels():
    from replicate.publish.pipeline import run_machine

    here = run_machine()
    assert "blas" in here and here["blas"]  # numpy's OpenBLAS, its version and kernel core
    assert verify._same_family(here)
    assert not verify._same_family({k: v for k, v in here.items() if k != "blas"})  # a record without them
    assert not verify._same_family({**here, "blas": "openblas 0.3.31 SkylakeX"})
    assert not verify._same_family(None)


def test_each_section_is_judged_by_the_machine_that_made_it(tmp_path, monkeypatch):
    """A run whose last steps were re-made here, its first ones elsewhere, is not this machine's run."""
    from replicate.publish.pipeline import run_machine

    here = run_machine()
    run = tmp_path / "run"
    run.mkdir()
    sections = {"01_data": {"status": "done"}, "09_generalisation": {"status": "done", "machine": here}}
    (run / "manifest.json").write_text(json.dumps({"machine": here, "sections": sections}))
    assert not verify.same_machine(str(run))  # 01_data names no machine: made before sections recorded one
    sections["01_data"]["machine"] = here
    (run / "manifest.json").write_text(json.dumps({"machine": here, "sections": sections}))
    assert verify.same_machine(str(run))
    assert verify._section_machine({"sections": sections}, "09_generalisation") == here


def test_a_machine_whose_seed_0_trains_apart_is_compared_as_another_machine(tmp_path, capsys):
    """One family and one BLAS do not settle it: the re-made seed 0's final loss must be the committed one."""
    def run(name: str, last_loss: float):
        (tmp_path / name / "02_vae").mkdir(parents=True)
        pd.DataFrame({"seed": [0, 0, 1], "epoch": [1, 2, 2], "loss": [900.0, last_loss, 1.0]}).to_csv(
            tmp_path / name / "02_vae" / "vae_history.csv", index=False)
        return tmp_path / name

    committed = run("committed", 894.8855)
    assert verify._trains_alike(run("alike", 894.8855), committed)
    assert not verify._trains_alike(run("apart", 893.6084), committed)
    said = capsys.readouterr()
    assert "893.6084" in said.err + said.out
    assert verify._trains_alike(tmp_path / "no-vae-section", committed)  # nothing to measure: the family decides

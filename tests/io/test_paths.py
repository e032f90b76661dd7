"""Where things are, shown without the machine's folders, and every read of committed results noted."""

from __future__ import annotations

from pathlib import Path

from replicate.io import paths


def test_the_checkout_and_relative_paths():
    root = paths.project_root()
    assert (root / "pyproject.toml").is_file() and (root / "notebooks").is_dir()
    assert paths.relative(root / "results" / "why") == "results/why"
    assert paths.relative("/somewhere/else/file.csv") == "file.csv"  # never an absolute machine path
    assert paths.study_dir("why") == root / "results" / "why"


def test_reads_of_committed_folders_are_recorded_when_asked(tmp_path, monkeypatch):
    log = tmp_path / "reads.log"
    assert paths.committed("results/why") == paths.project_root() / "results" / "why"
    assert not log.exists()  # nothing asked for a record
    monkeypatch.setenv(paths.READS_ENV, str(log))
    paths.committed("results/why")
    paths.committed("results/stability/")
    paths.committed("results/why")
    assert paths.recorded_reads(log) == ["results/stability", "results/why"]
    assert paths.recorded_reads(tmp_path / "none.log") == []


def test_the_package_reads_committed_results_only_through_committed():
    """A read that bypassed paths.committed would not be recorded, so a section's key could miss it."""
    offenders = []
    for f in sorted((paths.project_root() / "replicate").rglob("*.py")):
        text = f.read_text()
        if f.name != "paths.py" and ('/ "results"' in text or '"benchmarks" / "results"' in text):
            offenders.append(Path(f).name)
    assert not offenders, offenders

"""What made a result: the files' identity, the data's and the machine's."""

from __future__ import annotations

from replicate.io import made


def test_the_identity_of_files_and_folders_follows_their_names_and_bytes(tmp_path, monkeypatch):
    monkeypatch.setattr(made, "project_root", lambda: tmp_path)
    (tmp_path / "results" / "why").mkdir(parents=True)
    (tmp_path / "results" / "why" / "a.csv").write_text("x\n1\n")
    (tmp_path / "code.py").write_text("x = 1\n")
    before = made.files_identity(["results/why", "code.py"])
    assert made.files_identity(["code.py", "results/why"]) == before  # order does not matter
    (tmp_path / "results" / "why" / "b.csv").write_text("")
    assert made.files_identity(["results/why", "code.py"]) != before  # a file added to a folder read
    assert made.files_identity(["missing.py"]) != made.files_identity([])


def test_the_data_identity_names_a_registered_set_by_its_entry_and_a_file_by_its_bytes(tmp_path):
    assert made.data_identity("") == ""
    assert made.data_identity("pbmc2100-top2000") == made.data_identity("pbmc2100-top2000")
    path = tmp_path / "cells.h5ad"
    path.write_bytes(b"a")
    first = made.data_identity(str(path))
    path.write_bytes(b"b")
    assert made.data_identity(str(path)) != first


def test_the_machine_names_its_blas_kernels_and_caps():
    machine = made.run_machine()
    assert {"cpu", "cores", "family", "blas", "caps"} <= set(machine) and machine["caps"]

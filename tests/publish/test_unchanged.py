"""Evidence without re-computation: a folder's hash as DVC records it, and which changes it sets aside."""

from __future__ import annotations

import subprocess
import sys

import yaml

from replicate.publish import status, unchanged


def test_a_folders_hash_is_the_one_dvc_records(tmp_path, monkeypatch):
    run = lambda *a: subprocess.run(a, cwd=tmp_path, check=True, capture_output=True)  # noqa: E731
    run("git", "init", "-q")
    run(sys.executable, "-m", "dvc", "init", "-q")
    (tmp_path / "dvc.yaml").write_text("stages:\n  up:\n    cmd: python up.py\n    outs:\n    - up:\n        cache: false\n"
                                       "  down:\n    cmd: python -c 'pass'\n    deps: [up]\n    outs:\n"
                                       "    - down.txt:\n        cache: false\n")
    (tmp_path / "up.py").write_text("import os\nos.makedirs('up/sub', exist_ok=True)\n"
                                    "open('up/t.csv', 'w').write('CA\\n0.5\\n')\nopen('up/sub/page.ipynb', 'w').write('{}')\n")
    (tmp_path / "down.txt").write_text("")
    run(sys.executable, "up.py")
    run(sys.executable, "-m", "dvc", "commit", "-f", "-q")
    lock = yaml.safe_load((tmp_path / "dvc.lock").read_text())["stages"]
    monkeypatch.setattr(unchanged, "project_root", lambda: tmp_path)
    assert unchanged.folder_md5("up") == lock["down"]["deps"][0]["md5"] == lock["up"]["outs"][0]["md5"]
    (tmp_path / ".dvcignore").write_text(".kernel.log\n")
    (tmp_path / "up" / ".kernel.log").write_text("a run's own log")  # ignored by DVC, so by the hash too
    assert unchanged.folder_md5("up") == lock["down"]["deps"][0]["md5"]
    (tmp_path / "up" / "sub" / "page.ipynb").write_text('{"cells": []}')  # any file of the folder counts
    assert unchanged.folder_md5("up") != lock["down"]["deps"][0]["md5"]


def test_only_a_tables_step_sets_its_notebook_aside():
    changed = ["notebooks/03_clustering.ipynb (modified)", "replicate/pl.py (modified)"]
    graph = {"page-x": {"cmd": "replicate run --sections 03_clustering"}}
    assert unchanged.parameters_only("page-x", changed, graph) == (changed, [])


def test_code_the_step_loaded_without_declaring_it_is_compared_with_the_version_it_was_made_with(tmp_path, monkeypatch):
    run = lambda *a: subprocess.run(a, cwd=tmp_path, check=True, capture_output=True)  # noqa: E731
    run("git", "init", "-q")
    run("git", "config", "user.email", "t@t")
    run("git", "config", "user.name", "t")
    (tmp_path / "dvc.yaml").write_text("stages:\n  s:\n    cmd: python a.py\n    deps: [a.py]\n    outs:\n"
                                       "    - out.csv:\n        cache: false\n")
    (tmp_path / "dvc.lock").write_text("schema: '2.0'\nstages:\n  s:\n    deps:\n    - path: a.py\n      md5: x\n")
    (tmp_path / "a.py").write_text("import b\n")
    (tmp_path / "b.py").write_text("X = 1\n")
    run("git", "add", ".")
    run("git", "commit", "-q", "-m", "code")
    (tmp_path / "out.csv").write_text("CA\n0.5\n")
    run("git", "add", "out.csv")
    run("git", "commit", "-q", "-m", "made s")
    for module in (unchanged, status):  # status finds the commit that made the outputs
        monkeypatch.setattr(module, "project_root", lambda: tmp_path)
    (tmp_path / "b.py").write_text('"""Now declared."""\nX = 1  # the same program\n')
    assert unchanged.same_program("s", ["b.py"])
    (tmp_path / "b.py").write_text("X = 2\n")
    assert not unchanged.same_program("s", ["b.py"])
    (tmp_path / "c.py").write_text("Y = 1\n")  # not in the commit that made the step: nothing to compare with
    assert not unchanged.same_program("s", ["c.py"])

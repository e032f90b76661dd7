"""Evidence without re-computation: a folder's hash as DVC records it, and which changes it sets aside."""

from __future__ import annotations

import subprocess
import sys

import yaml

from replicate.publish import unchanged


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

"""`replicate status` on a small DVC project of its own: current, stale, not recorded."""

from __future__ import annotations

import subprocess
import sys

import pytest

from replicate import cli
from replicate.io.errors import ReplicateError
from replicate.publish import status

GRAPH = """stages:
  made:
    cmd: python -c "open('out.txt', 'w').write(open('in.txt').read().upper())"
    deps: [in.txt]
    outs:
    - out.txt:
        cache: false
  never:
    cmd: python -c "open('other.txt', 'w').write('x')"
    deps: [in.txt]
    outs:
    - other.txt:
        cache: false
"""


@pytest.fixture
def project(tmp_path, monkeypatch):
    run = lambda *a: subprocess.run(a, cwd=tmp_path, check=True, capture_output=True)  # noqa: E731
    run("git", "init", "-q")
    run("git", "config", "user.email", "t@example.org")
    run("git", "config", "user.name", "t")
    run(sys.executable, "-m", "dvc", "init", "-q")
    (tmp_path / "in.txt").write_text("a")
    (tmp_path / "dvc.yaml").write_text(GRAPH)
    run(sys.executable, "-m", "dvc", "repro", "-q", "--single-item", "made")
    run("git", "add", "-A")
    run("git", "commit", "-qm", "made")
    monkeypatch.setattr(status, "project_root", lambda: tmp_path)
    return tmp_path


def test_a_recorded_step_is_current_until_an_input_changes(project, capsys):
    table = status.status().set_index("step")
    assert table.loc["made", "state"] == "current" and table.loc["never", "state"] == "not recorded"
    assert table.loc["made", "last_commit"].endswith(tuple("0123456789"))  # "<hash> <date>"
    assert cli.main(["status", "--fail-on-stale"]) == 0
    (project / "in.txt").write_text("b")
    table = status.status().set_index("step")
    assert table.loc["made", "state"] == "stale" and "in.txt (modified)" in table.loc["made", "changed"]
    assert cli.main(["status", "--fail-on-stale"]) == 1
    assert "make reproduce" in capsys.readouterr().err
    assert "**0** current, **1** stale, **1** not recorded" in status.markdown()


def test_no_graph_is_an_error_naming_the_command(tmp_path, monkeypatch):
    monkeypatch.setattr(status, "project_root", lambda: tmp_path)
    with pytest.raises(ReplicateError, match="replicate.publish.graph"):
        status.status()
    assert "could not be read" in status.markdown()


def test_without_dvc_the_commits_are_known_and_the_states_not_checked(project, monkeypatch):
    def missing():
        raise ReplicateError("DVC is not installed: `pip install -e '.[test]'` (or `pip install dvc`) installs it.")

    monkeypatch.setattr(status, "dvc_status", missing)
    with pytest.raises(ReplicateError, match="DVC is not installed"):
        status.status()
    table = status.status(require_dvc=False).set_index("step")
    assert table.loc["made", "state"] == status.UNCHECKED and table.loc["never", "state"] == "not recorded"
    assert table.loc["made", "last_commit"]
    page = status.markdown()
    assert "**not checked** here" in page and "pip install -e '.[reproduce]'" in page and "| `made` |" in page


def test_the_reproducibility_table_gives_each_steps_minutes_and_what_changed(project):
    import pandas as pd

    (project / "in.txt").write_text("b")
    page = status.markdown(pd.DataFrame({"step": ["made"], "seconds": [90.0]}))
    assert "| `made` | stale |" in page and "| 1.5 | `in.txt (modified)` |" in page
    assert "| `never` | not recorded | - | not timed | - |" in page
    assert status.code_version()["commit"] and status.code_version()["dirty"] is False

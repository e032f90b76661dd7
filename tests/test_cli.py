"""The command line: errors without tracebacks, the data sets, the studies."""

from __future__ import annotations

import pytest

from replicate import cli


def test_cli_reports_errors_without_a_traceback(capsys):
    assert cli.main(["run", "--profile", "smoke", "--set", "epoch=3"]) == 2
    assert "unknown parameter(s) 'epoch'" in capsys.readouterr().err
    assert cli.main(["run", "--set", "nonsense"]) == 2



def test_cli_lists_datasets(capsys):
    assert cli.main(["datasets"]) == 0
    out = capsys.readouterr().out
    assert "pbmc68k-reduced" in out and "paper-pbmc4k" in out



def test_each_study_has_its_command_and_its_own_help(capsys):
    assert set(cli.STUDIES) == {"stability", "why", "generalisation"}
    for name in cli.STUDIES:
        with pytest.raises(SystemExit) as done:
            cli.main(["study", name, "--help"])
        assert done.value.code == 0
        assert f"python -m replicate.studies.{name}" in capsys.readouterr().out


def test_a_study_name_is_checked():
    with pytest.raises(SystemExit) as done:
        cli.main(["study", "stabilty"])
    assert done.value.code == 2


def test_the_recipe_names_the_missing_label_key(tmp_path, capsys):
    import anndata as ad
    import numpy as np

    path = tmp_path / "cells.h5ad"
    ad.AnnData(np.ones((10, 5), dtype=np.float32)).write_h5ad(path)
    assert cli.main(["recipe", str(path), "--label-key", "cell_type", "--out", str(tmp_path / "r")]) == 2
    assert "--label-key 'cell_type' is not a column of .obs" in capsys.readouterr().err
    assert cli.main(["recipe", str(path), "--out", str(tmp_path / "r")]) == 2
    assert "--label-key" in capsys.readouterr().err


def test_verify_reports_without_failing_only_on_another_machine(monkeypatch, capsys):
    import pandas as pd

    from replicate.publish import verify

    monkeypatch.setattr(verify, "verify", lambda **kw: pd.DataFrame(
        [{"step": "paper run", "compared": 3, "identical": 2, "within_tolerance": 0, "differing": 1}]))
    for same, flag, code in ((False, True, 0), (True, True, 1), (False, False, 1)):
        monkeypatch.setattr(verify, "same_machine", lambda run=None, same=same: same)
        args = ["verify", "--steps", "paper run"] + (["--other-machine-reports"] if flag else [])
        assert cli.main(args) == code
    assert "reported, not failed" in capsys.readouterr().err

"""Executing one section: its own scratch notebook and logs, the terminal's progress lines, a failure that
crosses from a worker process intact, and two runs into one folder kept apart."""

from __future__ import annotations

import json
import os
import re

import pytest

from replicate.publish.pipeline import run, run_dir
from replicate.publish.sections import SectionFailed


@pytest.mark.slow
def test_the_terminal_shows_progress_and_no_kernel_noise(tmp_path, capfd, monkeypatch):
    monkeypatch.setenv("REPLICATE_CACHE_DIR", str(tmp_path / "cache"))  # train, do not read another test's latents
    run("smoke", None, results=tmp_path, sections=("01_data", "02_vae"), overrides={"epochs": 2})
    out, err = capfd.readouterr()
    assert "[2/2] 02_vae started" in out and "VAE seed 0: epoch 2/2" in out
    assert re.search(r"\[2/2\] 02_vae done in \d+s", out)  # and when it ends
    assert "Kernel is running over TCP" not in out + err and "absl::InitializeLog" not in out + err
    # a line the run already showed (both sections z-score the same data) is shown once
    zscore = [line for line in out.splitlines() if ": zscore: z-scored every gene" in line]
    assert len(zscore) == 1, zscore
    assert not list(run_dir("pbmc68k-reduced", "smoke", tmp_path).glob(".shown.*"))
    log = run_dir("pbmc68k-reduced", "smoke", tmp_path) / "02_vae" / ".kernel.log"
    assert log.is_file()  # the kernel's own lines are kept for debugging
    nb = (run_dir("pbmc68k-reduced", "smoke", tmp_path) / "02_vae" / "02_vae.ipynb").read_text()
    assert "VAE seed 0: epoch" not in nb  # progress lines stay out of the executed notebook (and the book)


@pytest.mark.slow
def test_two_runs_into_one_folder_at_once_keep_their_files_and_lines_apart(tmp_path):
    """Two `replicate run` side by side into one results folder: each executes with its own scratch notebook and
    logs, neither deletes the other's, both sections are in the manifest, and nothing is left behind."""
    import subprocess
    import sys

    env = {**os.environ, "REPLICATE_CACHE_DIR": str(tmp_path / "cache")}
    args = [sys.executable, "-m", "replicate.cli", "run", "--profile", "smoke", "--results", str(tmp_path), "--force"]
    first = subprocess.Popen([*args, "--sections", "01_data"], stdout=subprocess.PIPE, text=True, env=env)
    second = subprocess.Popen([*args, "--sections", "01_data,02_vae", "--set", "epochs=1"], stdout=subprocess.PIPE,
                              text=True, env=env)
    outs = [p.communicate(timeout=600)[0] for p in (first, second)]
    assert first.returncode == second.returncode == 0, outs
    assert "02_vae" not in outs[0] and "02_vae started" in outs[1]  # each terminal shows its own run
    folder = run_dir("pbmc68k-reduced", "smoke", tmp_path)
    assert set(json.loads((folder / "manifest.json").read_text())["sections"]) == {"01_data", "02_vae"}
    assert not [p.name for p in folder.rglob(".*") if p.name != ".kernel.log" and p.is_file()]


def test_a_failing_cell_crosses_from_a_worker_process_intact(tmp_path):
    import pickle


    failed = pickle.loads(pickle.dumps(SectionFailed(7, "ValueError", "bad value", tmp_path / "x.failed.ipynb")))
    assert (failed.exec_count, failed.ename, failed.evalue, failed.notebook.name) == (7, "ValueError", "bad value",
                                                                                       "x.failed.ipynb")


def test_a_killed_runs_files_are_swept_and_a_running_runs_files_stay(tmp_path):
    import subprocess
    import sys

    from replicate.publish.sections import sweep

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True).stdout.strip()
    mine = str(os.getpid())
    names = [f".02_vae.{dead}.running.ipynb", f".progress.{dead}.log", f".shown.{dead}.log",
             f".02_vae.{mine}.running.ipynb", f".reads.{mine}.log", ".kernel.log", "02_vae.ipynb"]
    for name in names:
        (tmp_path / name).write_text("x")
    assert sorted(sweep(tmp_path)) == sorted(names[:3])
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(names[3:])


def test_a_line_left_out_does_not_put_the_heartbeat_off(tmp_path, capsys):
    """The heartbeat counts from the last line the terminal showed: lines shown once per run already keep coming,
    yet the person waiting still hears from the section."""
    import time

    from replicate.publish import sections

    seen, log = tmp_path / ".shown.1.log", tmp_path / ".progress.1.log"
    seen.write_text("zscore: again\nstill running, 1s\n")  # another section's heartbeat read the same
    with sections._Follow(log, sections._printer("07_open_points", seen), heartbeat=lambda: "still running, 1s",
                          heartbeat_s=0.5, poll_s=0.05):
        for _ in range(12):  # a repeated line every 0.1 s for 1.2 s: never printed
            with open(log, "a") as f:
                f.write("zscore: again\n")
            time.sleep(0.1)
    out = capsys.readouterr().out
    assert "zscore: again" not in out and out.count("07_open_points: still running, 1s") >= 2  # each heartbeat printed

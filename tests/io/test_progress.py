"""Progress lines reach the terminal while a notebook runs, and quiet stretches get a heartbeat."""

from __future__ import annotations

import time

from replicate.io import progress


def test_report_writes_to_the_progress_file_when_one_is_set(tmp_path, monkeypatch, capsys):
    target = tmp_path / "p.log"
    monkeypatch.setenv(progress.ENV, str(target))
    progress.report("VAE seed 0: epoch 1/30")
    progress.report("[clustering] 3/10 cells")
    assert target.read_text().splitlines() == ["VAE seed 0: epoch 1/30", "[clustering] 3/10 cells"]
    monkeypatch.delenv(progress.ENV)
    progress.report("to the terminal")
    assert capsys.readouterr().err == "to the terminal\n"


def test_follow_prints_whole_lines_as_they_arrive_and_a_heartbeat_when_quiet(tmp_path):
    seen: list[str] = []
    path = tmp_path / "p.log"
    with progress.follow(path, seen.append, heartbeat_s=0.3, heartbeat=lambda: "still running", poll_s=0.05):
        with open(path, "a") as f:
            f.write("first\nhalf a li")
            f.flush()
            time.sleep(0.2)
            assert seen == ["first"]  # a half-written line waits
            f.write("ne\n")
        time.sleep(0.7)
    assert seen[:2] == ["first", "half a line"] and "still running" in seen[2:]


def test_throttle():
    say = progress.Throttle(60)
    assert say() and not say() and say(force=True)


def test_follow_keeps_reading_a_relative_path_after_the_working_directory_changes(tmp_path, monkeypatch):
    # papermill runs each notebook with the parent's working directory set to the section folder
    monkeypatch.chdir(tmp_path)
    (tmp_path / "run").mkdir()
    seen: list[str] = []
    with progress.follow("run/p.log", seen.append, heartbeat_s=None, poll_s=0.05):
        monkeypatch.chdir(tmp_path / "run")
        with open("p.log", "a") as f:
            f.write("VAE seed 0: epoch 1/30\n")
        time.sleep(0.3)
    assert seen == ["VAE seed 0: epoch 1/30"]


def test_the_eta_follows_the_pace_after_the_first_update_which_also_paid_for_start_up(monkeypatch):
    now = [0.0]
    monkeypatch.setattr(progress.time, "perf_counter", lambda: now[0])
    counter = progress.Counter(10, enabled=False)
    for at in (100.0, 110.0, 120.0):  # the first item took 100 s (start-up included), the next ones 10 s each
        now[0] = at
        counter.update()
    # 7 left at 10 s each; from the mean pace (40 s an item) it would say 280 s
    assert counter.line() == "[clustering] 3/10 cells, elapsed 00:02:00, ETA 00:01:10"

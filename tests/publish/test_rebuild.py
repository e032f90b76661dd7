"""`replicate rebuild` on a small DVC project of its own: what is not current is made, in order, and timed."""

from __future__ import annotations

import pandas as pd
import pytest
import yaml

from replicate import cli
from replicate.io.errors import ReplicateError
from replicate.publish import order, rebuild, status
from replicate.publish import times as timing
from replicate.publish.budget import parse_budget
from replicate.publish.pages import rebuild_times

from .test_status import GRAPH, project  # noqa: F401  (the fixture)

BROKEN = """  broken:
    cmd: python -c "raise SystemExit(3)"
    deps: [out.txt]
    outs:
    - broken.txt:
        cache: false
"""


@pytest.fixture
def here(project, monkeypatch):  # noqa: F811
    for module in (rebuild, rebuild_times, timing):
        monkeypatch.setattr(module, "project_root", lambda: project)
    return project


def test_rebuild_makes_what_is_not_current_in_order_and_times_each_step(here, capsys):
    (here / "in.txt").write_text("b")  # `made` is stale, `never` was never made
    assert rebuild.pending() == ["made", "never"]
    assert rebuild.rebuild(dry_run=True) == ["made", "never"] and not (here / timing.TIMES).exists()
    assert cli.main(["rebuild"]) == 0
    assert (here / "out.txt").read_text() == "B" and (here / "other.txt").read_text() == "x"
    assert set(status.status()["state"]) == {"current"} and rebuild.pending() == []
    times = pd.read_csv(here / timing.TIMES)
    assert list(times.columns) == timing.COLUMNS and list(times["step"]) == ["made", "never"]
    assert (times["seconds"] > 0).all() and (times["vae_cache_entries"] >= 0).all()
    assert "2 steps made" in capsys.readouterr().out
    # named steps are made even when current (not skipped by DVC); the newest row of each step is the one shown
    before = (here / "out.txt").stat().st_mtime_ns
    rebuild.rebuild(["made"])
    assert (here / "out.txt").stat().st_mtime_ns != before
    assert len(pd.read_csv(here / timing.TIMES)) == 3 and list(timing.latest()["step"]) == ["made", "never"]
    page = rebuild_times.markdown()
    assert "**2** of the 2 steps timed" in page and "leaves out" not in page and "| made |" in page and str(here) not in page


def test_a_failing_step_stops_the_rebuild_and_keeps_what_was_made(here):
    (here / "dvc.yaml").write_text(GRAPH + BROKEN)
    (here / "in.txt").write_text("c")
    with pytest.raises(ReplicateError, match="dvc repro --single-item broken.*run the same command again"):
        rebuild.rebuild()
    assert list(pd.read_csv(here / timing.TIMES)["step"]) == ["made", "never"]  # made before it, recorded
    assert rebuild.pending() == ["broken"]
    assert "**2** of the 3 steps timed" in rebuild_times.markdown() and "leaves out the 1 step never timed (`broken`)" in \
        rebuild_times.markdown()


def test_unknown_steps_and_nothing_timed(here):
    with pytest.raises(ReplicateError, match="no step nope in dvc.yaml"):
        rebuild.pending(["nope"])
    assert "No step of the study graph has been timed" in rebuild_times.markdown()


def test_a_budget_stops_before_the_first_step_that_does_not_fit_and_each_step_is_committed(here, capsys):
    import subprocess

    (here / "in.txt").write_text("d")  # both steps to make; `made` took 1 s last time, `never` is untimed
    timing.record({"step": "made", "seconds": 1.0}, here / timing.TIMES)
    timing.record({"step": "never", "seconds": 3600.0}, here / timing.TIMES)
    subprocess.run(["git", "add", "-A"], cwd=here, check=True)
    subprocess.run(["git", "commit", "-qm", "times"], cwd=here, check=True)
    # a dry run spends the recorded times: after `made` (1 s), 3599.5 s are left for `never` (3600 s)
    assert rebuild.rebuild(budget=parse_budget("3600.5s"), dry_run=True) == ["made"]
    assert rebuild.rebuild(budget=parse_budget("3601.5s"), dry_run=True) == ["made", "never"]
    assert rebuild.rebuild(budget=parse_budget("10m"), commit=True) == ["made"]
    out = capsys.readouterr().out
    assert "budget: never is next (60 min last time), 10 min of the budget left: stopping here" in out
    log = subprocess.run(["git", "log", "--format=%s", "-1", "--name-only"], cwd=here, capture_output=True,
                         text=True).stdout
    assert log.startswith("Rebuild made (") and "out.txt" in log and "dvc.lock" in log and timing.TIMES in log
    assert status.status().set_index("step").loc["made", "state"] == "current"
    # the same command goes on; a larger budget takes the next step
    assert rebuild.rebuild(budget=parse_budget("2h")) == ["never"]


def test_a_step_silent_for_a_while_still_shows_it_runs(monkeypatch, tmp_path, capsys):
    import sys

    monkeypatch.setattr(rebuild, "HEARTBEAT_S", 1.0)
    script = "import time; print('loading', flush=True); time.sleep(2.6); print('done')"
    code, tail = rebuild._stream([sys.executable, "-c", script], "slow", tmp_path, dict(__import__("os").environ))
    lines = capsys.readouterr().out.splitlines()
    assert code == 0 and tail == "loading\ndone"
    assert lines[0] == "    slow | loading" and lines[-1] == "    slow | done"
    assert any(line.startswith("    slow | still running, ") for line in lines[1:-1])
    assert rebuild._stream([sys.executable, "-c", "raise SystemExit(3)"], "bad", tmp_path, {})[0] == 3


def test_one_rebuild_at_a_time_in_a_checkout(here):
    import subprocess
    import sys

    lock = here / rebuild.LOCK
    with subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"]) as other:
        lock.write_text(str(other.pid))
        with pytest.raises(ReplicateError, match=rf"another `replicate rebuild` \(pid {other.pid}.*kill {other.pid}"):
            rebuild.rebuild()
        other.kill()
    assert rebuild.rebuild(dry_run=True) == ["never"] and lock.read_text() == str(other.pid)  # a dry run takes none
    assert rebuild.rebuild() == ["never"] and not lock.exists()  # a dead rebuild's lock is taken, then let go


def test_a_committed_folder_keeps_its_results_and_leaves_the_runs_own_logs_out(here):
    """A section folder holds a kernel log beside its tables: the step's commit has the tables only."""
    import subprocess

    folder_step = """  folder:
    cmd: python -c "import os; os.makedirs('sec', exist_ok=True); open('sec/table.csv', 'w').write('1'); open('sec/.kernel.log', 'w').write('noise')"
    deps: [in.txt]
    outs:
    - sec:
        cache: false
"""
    (here / "dvc.yaml").write_text((here / "dvc.yaml").read_text() + folder_step)
    (here / ".gitignore").write_text("sec/\n")  # results are ignored by default, as in the project
    subprocess.run(["git", "add", "-A"], cwd=here, check=True)
    subprocess.run(["git", "commit", "-qm", "graph"], cwd=here, check=True)
    assert rebuild.rebuild(["folder"], commit=True) == ["folder"]
    tracked = subprocess.run(["git", "ls-files", "sec"], cwd=here, capture_output=True, text=True).stdout.split()
    assert tracked == ["sec/table.csv"] and (here / "sec" / ".kernel.log").is_file()


def test_a_sections_commit_holds_its_runs_manifest(here):
    """A section of a run records its machine in the run's manifest.json (read by verify): the step's commit has it."""
    import subprocess

    section_step = """  section:
    cmd: python make_section.py
    deps: [in.txt]
    outs:
    - run/sec:
        cache: false
"""
    (here / "make_section.py").write_text(
        "import json, os\nos.makedirs('run/sec', exist_ok=True)\nopen('run/sec/table.csv', 'w').write('1')\n"
        "json.dump({'sections': {'sec': {}}}, open('run/manifest.json', 'w'))\n")
    (here / "dvc.yaml").write_text((here / "dvc.yaml").read_text() + section_step)
    (here / ".gitignore").write_text("run/\n")
    (here / "run").mkdir()
    (here / "run" / "manifest.json").write_text("{}")
    subprocess.run(["git", "add", "-A"], cwd=here, check=True)
    subprocess.run(["git", "commit", "-qm", "graph"], cwd=here, check=True)
    assert rebuild.rebuild(["section"], commit=True) == ["section"]
    log = subprocess.run(["git", "log", "--format=%s", "-1", "--name-only"], cwd=here, capture_output=True,
                         text=True).stdout
    assert "run/manifest.json" in log and "run/sec/table.csv" in log
    shown = subprocess.run(["git", "show", "HEAD:run/manifest.json"], cwd=here, capture_output=True, text=True).stdout
    assert '"sec"' in shown


def test_a_section_of_a_run_made_on_another_cpu_family_is_refused_unless_asked(here, monkeypatch):
    """Re-making one section on another family would mix two families' latents into one run."""
    import json
    import subprocess

    section_step = """  tables:
    cmd: python tables.py
    deps: [in.txt]
    outs:
    - run/sec/t.csv:
        cache: false
"""
    (here / "tables.py").write_text("import json\nopen('run/sec/t.csv', 'w').write('2')\nm = json.load(open("
                                    "'run/manifest.json'))\nm['sections']['sec']['seconds'] = 1\n"
                                    "json.dump(m, open('run/manifest.json', 'w'))\n")
    (here / "run" / "sec").mkdir(parents=True)
    (here / "run" / "sec" / "t.csv").write_text("1")
    made = lambda family: {"status": "done", "machine": {"family": family}}  # noqa: E731
    (here / "run" / "manifest.json").write_text(json.dumps({"sections": {
        "sec": made("x86_64 avx2 fma avx512f"), "a": made("x86_64 avx2 fma"), "b": made("x86_64 avx2 fma"),
        "c": made("x86_64 avx2 fma avx512f")}}))
    (here / "dvc.yaml").write_text((here / "dvc.yaml").read_text() + section_step)
    subprocess.run(["git", "add", "-A"], cwd=here, check=True)
    subprocess.run(["git", "commit", "-qm", "graph"], cwd=here, check=True)
    assert rebuild.run_family("tables") == "x86_64 avx2 fma"  # most of the other sections; not its own entry
    monkeypatch.setattr(rebuild, "machine", lambda: {"cpu": "c", "cores": 2, "family": "x86_64 avx2 fma avx512f"})
    with pytest.raises(ReplicateError, match="made on x86_64 avx2 fma; this machine is x86_64 avx2 fma avx512f"):
        rebuild.rebuild(["tables"])
    assert (here / "run" / "sec" / "t.csv").read_text() == "1"  # nothing was made
    assert rebuild.rebuild(["tables"], other_family=True, commit=True) == ["tables"]
    log = subprocess.run(["git", "log", "--format=%s", "-1", "--name-only"], cwd=here, capture_output=True,
                         text=True).stdout
    assert "run/sec/t.csv" in log and "run/manifest.json" in log  # a tables file's run manifest is committed too
    assert pd.read_csv(here / timing.TIMES)["family"].iloc[-1] == "x86_64 avx2 fma avx512f"


SIDE = """stages:
  made:
    cmd: python -c "import time; open('made.start', 'w').write(str(time.time())); time.sleep(3); open('out.txt', 'w').write(open('in.txt').read().upper()); print('upper case written'); open('made.end', 'w').write(str(time.time()))"
    deps: [in.txt]
    outs:
    - out.txt:
        cache: false
  never:
    cmd: python -c "import time; open('never.start', 'w').write(str(time.time())); time.sleep(3); open('other.txt', 'w').write('x'); open('never.end', 'w').write(str(time.time()))"
    deps: [in.txt]
    outs:
    - other.txt:
        cache: false
  twice:
    cmd: python -c "import time; open('twice.start', 'w').write(str(time.time())); open('twice.txt', 'w').write(open('out.txt').read() * 2)"
    deps: [out.txt]
    outs:
    - twice.txt:
        cache: false
"""


def test_side_by_side_steps_start_once_what_they_read_is_made_and_are_recorded_as_one_at_a_time(here, capsys):
    import subprocess

    (here / "dvc.yaml").write_text(SIDE)
    (here / "in.txt").write_text("e")
    subprocess.run(["git", "add", "-A"], cwd=here, check=True)
    subprocess.run(["git", "commit", "-qm", "side"], cwd=here, check=True)
    assert order.waits(rebuild.pending(), yaml.safe_load(SIDE)["stages"]) == {"made": set(), "never": set(), "twice": {"made"}}
    made = rebuild.rebuild(jobs=2, commit=True)
    assert sorted(made) == ["made", "never", "twice"] and made[-1] == "twice"
    stamp = lambda name: float((here / name).read_text())  # noqa: E731
    assert stamp("never.start") < stamp("made.end") and stamp("made.start") < stamp("never.end")  # side by side
    assert stamp("twice.start") >= stamp("made.end")  # it reads made's output: after it
    assert (here / "twice.txt").read_text() == "EE"
    assert set(status.status()["state"]) == {"current"}  # dvc.lock holds each, as `dvc repro` would have written
    assert sorted(pd.read_csv(here / timing.TIMES)["step"]) == ["made", "never", "twice"]
    log = subprocess.run(["git", "log", "--format=%s"], cwd=here, capture_output=True, text=True).stdout
    assert sum(line.startswith("Rebuild ") for line in log.splitlines()) == 3  # one commit per step
    out = capsys.readouterr().out
    assert "    made | upper case written" in out  # a step's lines carry its name
    # a failing step stops new starts; what finished stays made and recorded
    (here / "dvc.yaml").write_text(SIDE.replace("time.sleep(3); open('other.txt'", "raise SystemExit(4); open('other.txt'"))
    (here / "in.txt").write_text("f")
    with pytest.raises(ReplicateError, match="never failed \\(exit 4\\).*made"):
        rebuild.rebuild(jobs=2)
    assert status.status().set_index("step").loc["made", "state"] == "current"
    with pytest.raises(ReplicateError, match="--jobs 0"):
        rebuild.rebuild(jobs=0)


AFTER = """  after:
    cmd: python -c "open('after.txt', 'w').write(open('out.txt').read() + '!')"
    deps: [out.txt]
    outs:
    - after.txt:
        cache: false
"""


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_step_reading_a_remade_output_is_made_too_unless_that_output_came_out_the_same(here, capsys, jobs):
    """`after` is current when the rebuild starts; re-making `made` stales it (one command, not a second run) --
    unless `made`'s output comes out byte for byte the same, when it is left as it is."""
    import subprocess
    import sys

    (here / "dvc.yaml").write_text(GRAPH + AFTER)
    subprocess.run([sys.executable, "-m", "dvc", "repro", "-q"], cwd=here, check=True, capture_output=True)
    assert set(status.status()["state"]) == {"current"}
    (here / "in.txt").write_text("b")  # out.txt: A -> B
    assert rebuild.pending() == ["made", "never"]
    assert sorted(rebuild.rebuild(jobs=jobs)) == ["after", "made", "never"]
    assert (here / "after.txt").read_text() == "B!" and set(status.status()["state"]) == {"current"}
    (here / "in.txt").write_text("B")  # made is stale, but out.txt comes out "B" again
    assert sorted(rebuild.rebuild(jobs=jobs)) == ["made", "never"]
    assert "after: still current after the steps it reads were re-made" in capsys.readouterr().out
    assert set(status.status()["state"]) == {"current"}

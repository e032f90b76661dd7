"""`replicate restamp` on a small DVC project of its own, and on a clone of this repository."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from replicate.publish import rebuild, restamp, status, unchanged
from replicate.publish import times as timing

ROOT = Path(__file__).resolve().parents[2]
MAKE = '''import csv
# the grid: one score per setting
x = [1, 2, 3]
with open("out.csv", "w", newline="") as f:
    csv.writer(f).writerows([["setting", "CA", "seconds"], *[[v, v / 4, v / 10] for v in x]])
'''
GRAPH = """stages:
  grid:
    cmd: python make.py
    deps: [make.py]
    outs:
    - out.csv:
        cache: false
  data:
    cmd: python -c "open('copy.txt', 'w').write(open('in.txt').read())"
    deps: [in.txt]
    outs:
    - copy.txt:
        cache: false
"""


@pytest.fixture
def project(tmp_path, monkeypatch):
    run = lambda *a: subprocess.run(a, cwd=tmp_path, check=True, capture_output=True)  # noqa: E731
    run("git", "init", "-q")
    run("git", "config", "user.email", "t@example.org")
    run("git", "config", "user.name", "t")
    run(sys.executable, "-m", "dvc", "init", "-q")
    (tmp_path / "make.py").write_text(MAKE)
    (tmp_path / "in.txt").write_text("a")
    (tmp_path / "dvc.yaml").write_text(GRAPH)
    run(sys.executable, "-m", "dvc", "repro", "-q")
    run("git", "add", "-A")
    run("git", "commit", "-qm", "made")
    for module in (status, rebuild, restamp, unchanged, timing):
        monkeypatch.setattr(module, "project_root", lambda: tmp_path)
    return tmp_path


def _state(step: str) -> str:
    return status.status().set_index("step").loc[step, "state"]


def test_a_comment_edit_is_the_same_program_and_is_restamped(project):
    (project / "make.py").write_text(MAKE.replace("# the grid", "# the grid of settings").replace(
        "import csv\n", '"""Makes the grid."""\nimport csv\n'))
    assert _state("grid") == "stale"
    rows = restamp.restamp()
    assert list(rows["outcome"]) == ["restamped"] and list(rows["evidence"]) == ["same program"]
    assert _state("grid") == "current"
    kept = pd.read_csv(project / restamp.EVIDENCE)
    assert list(kept["step"]) == ["grid"] and kept["changed"][0] == "make.py"
    assert "| grid |" in restamp.markdown() and "same program" in restamp.markdown()


def test_a_named_step_that_is_not_stale_is_said_and_left_out_without_evidence(project, capsys):
    (project / "dvc.yaml").write_text(GRAPH + """  never:
    cmd: python -c "open('never.txt', 'w').write('x')"
    outs:
    - never.txt:
        cache: false
""")
    assert _state("never") == "not recorded"
    rows = restamp.restamp(["never", "data"])
    assert rows.empty and not (project / restamp.EVIDENCE).exists()
    out = capsys.readouterr().err
    assert "restamp never: not recorded, nothing to restamp (`replicate rebuild`" in out
    assert "restamp data: current, nothing to restamp" in out


def test_a_refactor_is_restamped_by_re_making_the_step_and_comparing_every_number(project):
    timing.record({"step": "grid", "seconds": 1.0}, project / timing.TIMES)
    (project / "make.py").write_text(MAKE.replace("v / 4", "v * 0.25"))
    rows = restamp.restamp(["grid"])
    assert rows.loc[0, "evidence"] == "step re-computed" and rows.loc[0, "outcome"] == "restamped"
    assert rows.loc[0, "compared"] == 6 and rows.loc[0, "identical"] == 6  # seconds are not compared
    assert _state("grid") == "current" and (project / "out.csv").read_text().count("0.25") == 1


def test_an_edit_that_moves_a_number_is_refused_and_the_number_named(project):
    timing.record({"step": "grid", "seconds": 1.0}, project / timing.TIMES)
    (project / "make.py").write_text(MAKE.replace("v / 4", "v / 2"))
    rows = restamp.restamp(["grid"])
    assert rows.loc[0, "outcome"] == "refused" and rows.loc[0, "differing"] == 3
    assert "out.csv 0|CA: 0.5 (committed 0.25)" in rows.loc[0, "detail"]
    assert _state("grid") == "stale"


def test_what_cannot_be_recomputed_here_is_refused_with_the_command_that_remakes_it(project):
    (project / "in.txt").write_text("b")
    (project / "make.py").write_text(MAKE.replace("v / 4", "v / 2"))
    rows = restamp.restamp().set_index("step")
    assert "replicate rebuild data" in rows.loc["data", "detail"]  # not timed: no re-computation fits
    assert "replicate rebuild grid" in rows.loc["grid", "detail"]
    assert set(rows["outcome"]) == {"refused"} and _state("grid") == "stale"


def test_a_fact_file_tracked_by_entry_instead_of_whole_is_restamped_as_the_same_inputs(project):
    facts = project / "replicate" / "data" / "profiles.toml"
    facts.parent.mkdir(parents=True)
    text = "[paper]\nseeds = [0, 1]\n\n[quick]\nseeds = [0]\n"
    facts.write_text(text)
    (project / "dvc.yaml").write_text(GRAPH.replace("deps: [make.py]", "deps: [make.py, replicate/data/profiles.toml]"))
    subprocess.run([sys.executable, "-m", "dvc", "repro", "-q"], cwd=project, check=True, capture_output=True)
    subprocess.run(["git", "add", "-A"], cwd=project, check=True)
    subprocess.run(["git", "commit", "-qm", "the profiles, whole"], cwd=project, check=True)
    (project / "dvc.yaml").write_text(GRAPH.replace("deps: [make.py]", "deps: [make.py]\n    params:\n"
                                                    "    - replicate/data/profiles.toml:\n      - paper"))
    assert _state("grid") == "stale"
    rows = restamp.restamp(["grid"])
    assert list(rows["evidence"]) == ["same inputs"] and list(rows["outcome"]) == ["restamped"]
    assert _state("grid") == "current"
    facts.write_text(text.replace("[quick]\nseeds = [0]", "[quick]\nseeds = [0, 1, 2]"))
    assert _state("grid") == "current"  # another profile's entry: nothing was made from it
    facts.write_text(text.replace("seeds = [0, 1]", "seeds = [0, 1, 2]"))
    assert _state("grid") == "stale"
    rows = restamp.restamp(["grid"])  # the paper profile's entry changed: only re-making it renews the step
    assert list(rows["outcome"]) == ["refused"] and "only re-making it renews" in rows.loc[0, "detail"]


def test_a_tables_steps_notebook_edited_outside_its_parameters_is_restamped_and_a_new_default_is_refused(project):
    """A tables step (``replicate compute``) reads its section's notebook for its parameters' defaults only."""
    import nbformat

    cells = [nbformat.v4.new_code_cell("seeds = [0]", metadata={"tags": ["parameters"]}),
             nbformat.v4.new_code_cell("rp.pl.grid_heatmaps(rows);")]
    path = project / "notebooks" / "s.ipynb"
    path.parent.mkdir()
    nbformat.write(nbformat.v4.new_notebook(cells=cells), path)
    (project / "t.csv").write_text("setting,CA\na,0.5\n")
    (project / "dvc.yaml").write_text(GRAPH + "  tables:\n    cmd: replicate compute --sections s\n"
                                      "    deps: [notebooks/s.ipynb]\n    outs:\n    - t.csv:\n        cache: false\n")
    subprocess.run([sys.executable, "-m", "dvc", "commit", "-f", "-q", "tables"], cwd=project, check=True,
                   capture_output=True)
    subprocess.run(["git", "add", "-A"], cwd=project, check=True)
    subprocess.run(["git", "commit", "-qm", "tables"], cwd=project, check=True)
    cells[1].source = "rp.pl.grid_heatmaps(rows, method);  # a plot's change"
    nbformat.write(nbformat.v4.new_notebook(cells=cells), path)
    assert _state("tables") == "stale"
    rows = restamp.restamp(["tables"])
    assert list(rows["evidence"]) == ["same parameters"] and list(rows["outcome"]) == ["restamped"]
    assert _state("tables") == "current"
    cells[0].source = "seeds = [0, 1]"  # a new default: the tables it makes change
    nbformat.write(nbformat.v4.new_notebook(cells=cells), path)
    rows = restamp.restamp(["tables"])
    assert list(rows["outcome"]) == ["refused"] and "only re-making it renews" in rows.loc[0, "detail"]
    assert _state("tables") == "stale"


def test_a_folder_dependency_narrowed_to_its_tables_is_the_same_inputs_while_the_folder_is_unchanged(project):
    """A section once depended on an earlier section's folder (executed notebook included), now on its tables."""
    (project / "up.py").write_text("import os\nos.makedirs('up', exist_ok=True)\nopen('up/t.csv', 'w').write('CA\\n0.5\\n')\n"
                                   "open('up/page.ipynb', 'w').write('page')\n")
    up = "  up:\n    cmd: python up.py\n    deps: [up.py]\n    outs:\n    - up:\n        cache: false\n"
    down = "  down:\n    cmd: cp up/t.csv down.txt\n    deps: [{dep}]\n    outs:\n    - down.txt:\n        cache: false\n"
    (project / "dvc.yaml").write_text(GRAPH + up + down.format(dep="up"))
    run = lambda *a: subprocess.run(a, cwd=project, check=True, capture_output=True)  # noqa: E731
    run(sys.executable, "-m", "dvc", "repro", "-q")
    run("git", "add", "-A")
    run("git", "commit", "-qm", "up and down")
    (project / "dvc.yaml").write_text(GRAPH + up + down.format(dep="up/t.csv"))
    assert _state("down") == "stale"
    rows = restamp.restamp(["down"])
    assert list(rows["evidence"]) == ["same inputs"] and list(rows["outcome"]) == ["restamped"]
    assert rows.loc[0, "changed"] == "up/t.csv" and _state("down") == "current"
    # the same narrowing after the folder changed: the step's inputs are not what it was made from
    run("git", "checkout", "-q", "--", "dvc.lock")
    (project / "up" / "t.csv").write_text("CA\n0.75\n")
    rows = restamp.restamp(["down"])
    assert list(rows["outcome"]) == ["refused"] and _state("down") == "stale"


def status_of(clone: Path, env: dict) -> dict[str, str]:
    """Each step's state in a clone, from `replicate status`."""
    out = subprocess.run([sys.executable, "-m", "replicate.cli", "status"], cwd=clone, env=env, capture_output=True,
                         text=True).stdout.splitlines()
    return {line.split()[0]: line.split()[1] for line in out[2:] if len(line.split()) > 1}


@pytest.mark.slow
def test_a_comment_in_the_clusterers_module_restamps_every_step_it_staled(tmp_path):
    """The issue's case on a clone of this repository: a comment edited in method/clustering.py stales 40-odd steps;
    restamp proves them unchanged and makes them current again. (The clone first records every step as it is, so
    the test does not depend on which steps main holds stale.)"""
    clone = tmp_path / "clone"
    git = lambda *a: subprocess.run(["git", *a], cwd=clone, check=True, capture_output=True)  # noqa: E731
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
    # every step whose inputs and outputs are all there (a step never made, such as a page not yet drawn, is not)
    stages = yaml.safe_load((clone / "dvc.yaml").read_text())["stages"]
    there = [n for n, s in stages.items() if all((clone / p).exists() for p in [
        *(next(iter(o)) for o in s["outs"]), *s.get("deps", [])])]
    subprocess.run([sys.executable, "-m", "dvc", "commit", "-f", "-q", *there], cwd=clone, check=True,
                   capture_output=True)
    git("-c", "user.email=t@example.org", "-c", "user.name=t", "commit", "-q", "--allow-empty", "-am",
        "every step recorded as it is")  # nothing to record when main holds every step current
    target = clone / "replicate" / "method" / "clustering.py"
    target.write_text(target.read_text().replace("\n\n", "\n\n# a comment: moves no number\n", 1))
    env = {**os.environ, "PYTHONPATH": str(clone)}
    cli = lambda *a: subprocess.run([sys.executable, "-m", "replicate.cli", *a], cwd=clone, env=env,  # noqa: E731
                                    capture_output=True, text=True)
    before = status_of(clone, env)
    staled = [n for n in there if before.get(n) == "stale"]  # a step the module is not a dependency of stays current
    users = [n for n in there if "replicate/method/clustering.py" in stages[n].get("deps", [])]
    assert staled == users and len(staled) >= 10, before  # exactly the steps that load the module
    done = cli("restamp", *staled)
    assert done.returncode == 0, done.stdout + done.stderr
    stale = len(staled)
    assert f"{stale} of {stale} steps restamped" in done.stdout, done.stdout
    after = status_of(clone, env)
    assert not [n for n in there if after.get(n) != "current"], after
    kept = pd.read_csv(clone / restamp.EVIDENCE)
    assert list(kept["evidence"].tail(stale).unique()) == ["same program"]


def test_a_paper_sections_steps_share_one_sample_and_a_failed_sample_refuses_them(project, monkeypatch):
    graph = GRAPH.replace("  grid:", "  paper-03_clustering-kmeans:").replace("  data:", "  paper-01_data:")
    (project / "dvc.yaml").write_text(graph)
    subprocess.run([sys.executable, "-m", "dvc", "repro", "-q"], cwd=project, check=True, capture_output=True)
    subprocess.run(["git", "commit", "-qam", "renamed"], cwd=project, check=True)
    (project / "make.py").write_text(MAKE.replace("v / 4", "v / 2"))
    asked = []

    def sample(steps, n, scratch):
        asked.append(list(steps))
        raise restamp.ReplicateError("the data file is missing")

    monkeypatch.setattr(restamp, "_paper_samples", sample)
    rows = restamp.restamp(["paper-03_clustering-kmeans"]).set_index("step")
    assert asked == [["paper-03_clustering-kmeans"]]  # a section's step: verify's sample, not a re-run
    assert "its sample could not be re-made: the data file is missing" in rows.loc["paper-03_clustering-kmeans", "detail"]
    assert _state("paper-03_clustering-kmeans") == "stale"


def test_which_changed_inputs_a_recomputation_can_vouch_for():
    assert restamp.code_changes(["replicate/method/clustering.py (modified)", "replicate/method/budget.py (new)",
                                 "replicate/data/clustering_costs.json (modified)", "results/why (modified)"]) == [
        "replicate/method/clustering.py", "replicate/method/budget.py", "replicate/data/clustering_costs.json",
        "results/why"]
    assert restamp.code_changes(["replicate/data/profiles.toml (new)"]) == ["replicate/data/profiles.toml"]
    for entry in ("notebooks/05_table1.ipynb (modified)", "results/why/x.csv (deleted)", "data.toml (new)",
                  "replicate/data/claims.toml (new)"):
        with pytest.raises(restamp.Refused, match="only re-making it renews"):
            restamp.code_changes([entry])


def test_the_scratch_copy_keeps_the_package_facts_and_leaves_data_git_and_builds(tmp_path, monkeypatch):
    """A step re-made in the scratch copy reads replicate/data/*.toml (a top-level data/ folder is the user's)."""
    root = tmp_path / "repo"
    for name in ("replicate/data/profiles.toml", "replicate/io/facts.py", "data/big.h5", ".git/HEAD",
                 "book/intro.md", "book/_build/html/index.html", "notebooks/01_data.md"):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text("x")
    monkeypatch.setattr(restamp, "project_root", lambda: root)
    copy = restamp._scratch_copy(tmp_path / "copy")
    kept = sorted(str(p.relative_to(copy)) for p in copy.rglob("*") if p.is_file())
    assert kept == ["book/intro.md", "notebooks/01_data.md", "replicate/data/profiles.toml", "replicate/io/facts.py"]


def test_a_detail_holding_a_cell_key_stays_in_its_cell(tmp_path):
    """A moved number's detail names its grid cell (`a|b|c`): it must neither end the table cell nor widen the page."""
    import re

    csv = tmp_path / "restamps.csv"
    pd.DataFrame([{"step": "s", "date": "2026-12-06", "commit": "abc", "evidence": "sample re-computed",
                   "compared": 3, "identical": 2, "within_tolerance": 0, "differing": 1, "outcome": "refused",
                   "detail": "moved: pbmc|vae_seed=0|birch|{\"threshold\": 0.5}"}]).to_csv(csv, index=False)
    row = restamp.markdown(csv).splitlines()[-1]
    assert len(re.findall(r"(?<!\\)\|", row)) == 6  # 5 cells
    assert max(len(w) for w in re.split(r"[\s\u200b]+", row)) < 40  # breaks after each separator

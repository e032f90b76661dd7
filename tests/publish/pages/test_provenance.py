"""Provenance notes: each page names the commit that made what it shows, and says when that is stale."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from replicate.publish.pages import provenance
from replicate.publish.status import UNCHECKED

ROOT = Path(__file__).resolve().parents[3]
PAPER_RUN = ROOT / "results" / "pbmc2100-top2000" / "paper"


def _table(**states: str) -> pd.DataFrame:
    rows = [{"step": s, "state": st, "last_commit": "abc1234 2026-12-01",
             "changed_all": ["replicate/method/clustering.py (modified)"] if st == "stale" else []}
            for s, st in states.items()]
    return pd.DataFrame(rows)


def test_a_stale_step_is_a_warning_naming_what_changed_and_how_to_remake_it():
    text = provenance.note(["paper-05_table1", "stability"],
                           _table(**{"paper-05_table1": "stale", "stability": "current"}))
    warning, current = text.split("```\n\n")
    assert ":class: warning provenance provenance-stale" in warning and "Made by older code" in warning
    assert "`replicate/method/clustering.py (modified)`" in warning and "(commit `abc1234`, 2026-12-01)" in warning
    assert "replicate rebuild paper-05_table1" in warning and "stability" not in warning
    assert "provenance-current" in current and "`stability` (commit `abc1234`, 2026-12-01); current" in current


def test_unrecorded_and_unchecked_steps_say_so_and_unknown_steps_are_left_out():
    text = provenance.note(["why-readings", "benchmark-scaling", "no-such-step"],
                           _table(**{"why-readings": "not recorded", "benchmark-scaling": UNCHECKED}))
    assert "provenance-unrecorded" in text and "never made by the study graph" in text
    assert "`replicate rebuild why-readings` re-makes and records it" in text
    assert "provenance-unchecked" in text and "DVC is not installed" in text
    assert "no-such-step" not in text
    assert provenance.note([], _table(a="current")) == ""


def test_steps_quoted_follow_glue_substitutions_and_includes():
    text = ("{glue:text}`05_table1.ipynb::kmeans_CA_ours:.2f` and\n```{glue} fig\n:doc: 08_why.ipynb\n```\n"
            "{{ stability_elu }} {{ paper_lr }} {{ verdict }}\n```{include} _generated/performance.md\n```\n")
    found = provenance.steps_quoted(text, graph_run=True)
    assert found[:2] == ["paper-05_table1", "paper-08_why"]
    assert {"stability", "paper-06_claims", "benchmark-scaling", "benchmark-vae-speed"} <= set(found)
    assert not any(s.startswith("paper-") for s in provenance.steps_quoted(text, graph_run=False))


def test_steps_read_are_the_steps_whose_outputs_lie_in_a_folder():
    assert set(provenance.steps_read(["results/why"])) == {"why-readings", "why-gene-set", "why-cell-set",
                                                           "why-gene-count"}
    assert provenance.steps_read(["results/why/pbmc2100-top2000-readings.csv"]) == ["why-readings"]
    assert provenance.steps_read([]) == []


def test_a_prose_page_quoting_a_section_states_the_study_steps_that_section_read(tmp_path):
    """The introduction's verdict comes from Table 1, whose second reading the readings study chose: the page
    states why-readings' state too, not only paper-05's."""
    (tmp_path / "05_table1").mkdir()
    (tmp_path / "05_table1" / "tables.json").write_text('{"reads": ["results/why/pbmc2100-top2000-readings.csv"]}')
    notes = provenance.BookNotes(tmp_path, {"sections": {"05_table1": {"reads": []}}})
    notes.graph_run = True
    page = tmp_path / "intro.md"
    page.write_text("# Intro\n\n{glue:text}`05_table1.ipynb::table1_summary:s`\n")
    notes.prose(page)
    stated = [step for step, _ in notes.expected["intro"]]
    assert stated[:2] == ["paper-05_table1", "why-readings"]


def test_a_split_sections_page_states_what_its_tables_step_read(tmp_path):
    """The page of a section made apart from its tables reads only those tables back; the study results its tables
    step read (its ``tables.json``) are still what the page shows, so their steps' states are stated."""
    (tmp_path / "05_table1").mkdir()
    (tmp_path / "05_table1" / "tables.json").write_text('{"reads": ["results/why"]}')
    notes = provenance.BookNotes(tmp_path, {"sections": {"05_table1": {"reads": []}}})
    notes.section("05_table1")
    assert {"why-readings", "why-gene-set"} <= {step for step, _ in notes.expected["05_table1"]}


def test_run_and_build_notes_name_the_commit():
    manifest = {"date": "2026-12-04", "sections": {"02_vae": {"code_version": {"commit": "feed123", "dirty": True}}}}
    text = provenance.run_note(manifest, "02_vae")
    assert "provenance-run" in text and "`feed123` with uncommitted changes" in text and "2026-12-04" in text
    assert "code not recorded" in provenance.run_note({"date": "2026-12-04"})
    outside = {"date": "2026-12-04", "sections": {"01_data": {"code_version": {"date": "2026-12-04"}}}}
    assert "with code from outside a git checkout." in provenance.run_note(outside, "01_data")
    # the whole run (its introduction): the commits its sections were made with, once each
    manifest["sections"]["01_data"] = {"code_version": {"commit": "feed123", "dirty": True}}
    assert "with the code of commit `feed123` with uncommitted changes." in provenance.run_note(manifest)
    manifest["sections"]["05_table1"] = {"code_version": {"commit": "beef456", "dirty": False}}
    assert ("with the code of commit `feed123` with uncommitted changes and the code of commit `beef456`."
            in provenance.run_note(manifest))
    assert "provenance-build" in provenance.build_note("Executed", {"commit": "feed123", "date": "2026-12-04"})


def _page(folder: Path, name: str, notes: str) -> None:
    (folder / f"{name}.html").write_text(f"<html><body><h1>{name}</h1>{notes}</body></html>")


def test_audit_names_a_page_without_notes_and_a_step_stated_in_the_wrong_state(tmp_path):
    _page(tmp_path, "ok", '<div class="provenance provenance-current admonition"><p>`paper-01_data` made</p></div>')
    _page(tmp_path, "wrong", '<div class="provenance provenance-current admonition"><p><code>why-readings'
                             '</code> made</p></div>')
    _page(tmp_path, "bare", "<p>CA 0.72</p>")
    (tmp_path / "index.html").write_text('<meta http-equiv="Refresh" content="0; url=ok.html" />')
    problems = provenance.audit(tmp_path, {"ok": [("paper-01_data", "current")],
                                           "wrong": [("why-readings", "not recorded")], "gone": [("x", "current")]})
    assert problems == ["bare.html: no provenance note (which commit made what this page shows)",
                        "wrong.html: step why-readings (not recorded) is shown but no provenance-unrecorded note "
                        "names it",
                        "gone.html: expected in the book but not built"]


@pytest.mark.slow
def test_the_committed_books_pages_state_every_steps_state(tmp_path, committed_book):
    """The committed study's book as the Pages workflow builds it: every page carries its notes, every stale or
    unrecorded result it shows is marked (what lets a stale step land), and a lost note fails the audit."""
    assert provenance.BookNotes(PAPER_RUN, {}).graph_run and not provenance.BookNotes(tmp_path, {}).graph_run
    html = committed_book
    assert provenance.audit_book(html.parents[1]) == []
    table = provenance.BookNotes(PAPER_RUN, {}).table.set_index("step")["state"]
    table1 = (html / "05_table1.html").read_text()
    assert "paper-05_table1" in table1 and provenance.CLASS[table["paper-05_table1"]] in table1
    old = [s for s in ("why-readings", "why-gene-set") if table[s] in ("stale", "not recorded")]
    for step in old:  # 05_table1 reads results/why: an old result there is never shown without its warning
        assert f'warning provenance {provenance.CLASS[table[step]]}' in table1
    copy = tmp_path / "book"
    shutil.copytree(html.parents[1], copy, ignore=shutil.ignore_patterns("_sources", "_static", "*.ipynb"))
    page = copy / "_build" / "html" / "05_table1.html"
    page.write_text(page.read_text().replace("provenance", "note"))
    problems = provenance.audit_book(copy)
    assert problems and all(p.startswith("05_table1.html: ") for p in problems)

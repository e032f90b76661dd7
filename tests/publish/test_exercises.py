"""Coursework: every chapter ends with an exercise whose solution's numbers the build computed."""

from __future__ import annotations

import re
import string

import pytest

from replicate.io.paths import project_root
from replicate.publish import exercises, pipeline

#: The exercises written into a notebook or a page (answered in words), besides the TOML's.
IN_PAGES = {"ex-literal": "notebooks/02_vae.md", "ex-nmi": "book/methods.md", "ex-seeds": "notebooks/06_claims.md"}


def _fields(template: str) -> set[str]:
    return {f for _, f, _, _ in string.Formatter().parse(template) if f}


def test_each_chapter_ends_with_an_exercise_and_there_are_at_least_ten():
    listed = exercises.exercises()
    labels = [e["label"] for e in listed]
    assert len(set(labels)) == len(labels) and not set(labels) & set(IN_PAGES)
    for label, where in IN_PAGES.items():
        assert f":label: {label}" in (project_root() / where).read_text()
    assert len(listed) + len(IN_PAGES) >= 10
    sections = {n for n, _, _ in pipeline.expand_sections(["kmeans", "affinity_propagation"])}
    assert all(e["page"] in sections for e in listed)
    covered = {e["page"].split("-")[0] for e in listed} | {"02_vae", "06_claims"}
    assert covered >= set(pipeline.SECTIONS)  # every section of the paper run


def test_an_exercise_shows_its_code_and_hides_a_solution_filled_from_the_answers():
    ex = next(e for e in exercises.exercises() if e["label"] == "ex-pca-dims")
    made = {"ex-pca-dims": {"answer": {"CA_10": 60.0, "CA_32": 62.5, "diff": -2.5, "word": "worse"}, "seconds": 9.0}}
    text = exercises.markdown(ex, made)
    assert text.startswith("## Exercise") and "~~~python\nimport replicate as rp" in text
    assert "CA 60.0" in text and "do\nworse (-2.5 points)" in text and ":class: dropdown" in text
    assert "not computed yet" in exercises.markdown(ex, None)


@pytest.mark.slow
def test_every_exercise_runs_and_fills_its_solution():
    committed = exercises.answers()
    for ex in exercises.exercises():
        got = exercises.run_one(ex)
        assert _fields(ex["solution"]) <= set(got["answer"]), ex["label"]
        text = ex["solution"].format(**got["answer"])
        assert not re.search(r"\{\w+\}", text)
        if committed and ex["label"] in committed:  # the committed solution is the one this code computes
            assert set(committed[ex["label"]]["answer"]) == set(got["answer"]), ex["label"]
        a = got["answer"]
        # a difference the solution prints is the difference of the terms it prints
        for diff, (x, y) in {"diff": ("CA_10", "CA_32"), "moved": ("CA_10", "CA_none"),
                             "CA_fewer_change": ("CA_fewer", "CA_paper"), "ARI_more_change": ("ARI_more", "ARI_paper"),
                             "gap": (f"ARI_{a.get('best')}", "ARI_tied")}.items():
            if diff in a and x in a and y in a:
                assert f"{a[diff]:+.1f}" == f"{round(a[x], 1) - round(a[y], 1):+.1f}", (ex["label"], diff)
        assert "0.0 points above" not in text, ex["label"]


def test_the_exercises_page_links_only_the_pages_of_the_run():
    text = exercises.index_markdown(["01_data"])
    assert "<ex-zscore>` | {doc}`01_data`" in text
    assert "{doc}`04_baselines`" not in text and "`04_baselines` (not in this run)" in text

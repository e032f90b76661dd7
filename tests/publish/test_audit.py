"""The page audit: each kind of defect a reader would trip over is found on a page made to show it, and the two
books (the committed study's, a run's own) show only the defects listed as known, each awaiting its fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from replicate import cli
from replicate.io.facts import paper
from replicate.publish import audit

KNOWN = Path(__file__).with_name("audit_known.txt")

PAGE = """<html><body><main>
<table><thead><tr><th></th><th>peak_rss_mb</th><th>CA</th></tr></thead>
<tbody><tr><th>0</th><td>12</td><td>nan</td></tr><tr><th>1</th><td>13</td><td>71.7 ± 6.9</td></tr></tbody></table>
<p>The gene count lowers CA by +nan points.</p>
<p>Using the uncertainty raises CA clearly (+1.5, 95% interval +0.0 to +4.4); the reading changes ARI by -0.5
(-4.0 to +4.4) and explains nothing.</p>
<pre>replicate run --profile quick
replicate rebuilt
python -m replicate.stability
replicate study generalisation --datasets worm-2100
replicate study stabilty
python benchmarks/vae_gpu.py --json out.json</pre>
<p><code>python -m replicate.studies.why</code> and <code>import replicate as rp</code></p>
</main></body></html>"""


def test_each_kind_of_defect_is_found_and_named(tmp_path):
    (tmp_path / "page.html").write_text(PAGE)
    found = [str(f) for f in audit.audit(tmp_path)]
    assert "page: identifier: th: peak_rss_mb" in found and "page: identifier: th: 0" in found
    assert "page: not a value: td: nan" in found and "page: not a value: td: 71.7 ± 6.9" not in found
    assert any(f.startswith("page: not a value: p:") and "+nan" in f for f in found)
    assert any(f.startswith("page: words: p:") and "raises CA clearly" in f for f in found)
    assert not any("explains nothing" in f for f in found)  # its clause gives no direction to the 0-holding interval
    commands = [f for f in found if ": command: " in f]
    assert commands == ["page: command: pre: `replicate rebuilt` is no sub-command",
                        "page: command: pre: `python -m replicate.stability`: no such module",
                        "page: command: pre: `replicate study stabilty` is no study"], commands
    assert {"run", "restamp", "study"} <= audit._subcommands()["replicate"] and "why" in set(cli.STUDIES)


@pytest.mark.slow
def test_cells_that_touch_are_found_in_a_browser(tmp_path):
    # Table 1 as a reader found it: a difference beside the paper's NMI for VAE + Affinity propagation
    nmi = f"{next(r['NMI'] for r in paper()['table1'] if r.get('method') == 'affinity_propagation'):.2f}"
    (tmp_path / "t.html").write_text(
        f"<html><body><main><table><tr><td style='padding:0'>-35.0</td><td style='padding:0'>{nmi}</td></tr>"
        "<tr><td style='padding:0 8px'>1.0</td><td style='padding:0 8px'>2.0</td></tr></table></main></body></html>")
    assert [str(f) for f in audit.crowded_cells(tmp_path)] == [f"t: table: td: -35.0 | {nmi}"]


def _keys(html: Path, book: str) -> set[str]:
    """Each defect as book, page, kind and element: a re-made result moves numbers, not the defects' places."""
    return {f"{book} | {f.page}: {f.kind}: {f.element}" for f in audit.audit(html) + audit.crowded_cells(html)}


@pytest.mark.slow
def test_both_books_show_only_the_known_defects(smoke_book, committed_book):
    """A new defect fails (it names page, element and text); a listed one that is gone fails too, so the list in
    audit_known.txt only shrinks. Both books are compared by page, kind and element (a rebuilt step moves numbers)."""
    found = _keys(committed_book, "paper") | _keys(smoke_book, "run")
    known = audit.read_known(KNOWN)
    assert sorted(found - known) == [], "new defects on the built pages"
    assert sorted(known - found) == [], "fixed: take these lines out of audit_known.txt"

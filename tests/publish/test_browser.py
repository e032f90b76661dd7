"""The layout check against hand-made pages (a real headless Chromium)."""

from __future__ import annotations

import pytest

from replicate.publish.browser import check_layout, chromium_path

PAGE = """<html><body><article class="bd-article" style="width: 800px">
<p>text</p><div class="output" style="overflow-x: auto; width: {box}px"><table style="width: 600px">
<tr><td>a</td></tr></table></div></article></body></html>"""


@pytest.fixture(autouse=True)
def _chromium():
    if chromium_path() is None:
        pytest.fail("Chromium is not installed; `make test` installs it (tools/ensure-chromium)")


@pytest.mark.parametrize("box, clipped", [(300, True), (700, False)])
def test_a_table_cut_off_by_a_narrow_scroll_box_is_reported(tmp_path, box, clipped):
    (tmp_path / "p.html").write_text(PAGE.format(box=box))
    r = check_layout(tmp_path, ["p.html"], widths=(1280,))["p.html"][1280]
    assert any("clipped" in o for o in r["offenders"]) is clipped, r

"""Published elsewhere: numbers other tools' authors reported for cells this project scores
(``replicate/data/published.toml``), each with its source and the exact cells, in a section of their own."""

from __future__ import annotations

import re
from typing import Any

from ...io.facts import load_toml, registry

__all__ = ["entries", "markdown"]


def entries() -> list[dict[str, Any]]:
    """Every traced entry of ``published.toml``."""
    return list(load_toml("published").get("entry", []))


def _source(text: str) -> str:
    """``text`` with a GitHub file and commit as a link showing the commit's first 12 digits (a 40-digit hash
    would not wrap and push the table past the column)."""
    m = re.fullmatch(r"(?P<file>\S+) of github\.com/(?P<repo>[\w.-]+/[\w.-]+), commit (?P<commit>[0-9a-f]{40})", text)
    if not m:
        return text
    url = f"https://github.com/{m['repo']}/blob/{m['commit']}/{m['file']}"
    return f"[{m['file']} of {m['repo']}, commit {m['commit'][:12]}]({url})"


def markdown() -> str:
    """The section: one row per published result (narrow: a link does not wrap), then each one's quote, source and
    where our row for those cells is."""
    rows = entries()
    if not rows:
        return ""
    lines = ["## Published elsewhere, on cells scored here",
             "Numbers other tools' authors published, read from their source (kept in `replicate/data/published.toml`), "
             "shown apart from ours: other preprocessing, other genes, often one run. A metric its authors did not "
             "report is \"not reported\".", "",
             "| tool | CA | NMI | ARI | runs |", "|---|---:|---:|---:|---|"]
    for e in rows:
        shown = " | ".join(f"{100 * e[m]:.1f}" if m in e else "not reported" for m in ("CA", "NMI", "ARI"))
        lines.append(f"| {e['tool']} | {shown} | {e['runs']} |")
    lines.append("")
    for e in rows:
        ours = registry().get(e.get("ours", ""), {})
        lines.append(f"*{e['tool']}*, on {e['cells']}: \"{e['quote']}\" ({_source(e['source'])})." + (
            f" The same {ours['cells']:,} cells, in a {ours['genes']:,}-gene file of the same authors, are scored here "
            f"as `{e['ours']}` in the generalisation study's table." if ours else ""))
    lines.append("\nNo number that another tool's authors published for the paper's 2,100 cells has been traced to "
                 "its source, so none is shown beside Table 1.")
    return "\n".join(lines)

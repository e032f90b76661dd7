"""The page audit: what a careful reader finds on a built book, found by a program (CI runs it on both books).

It reads every built HTML page and reports, as ``page: kind: element: text``:

- **not a value**: ``nan``, ``None`` or ``inf`` shown where a number belongs (a table cell, or ``+nan`` in a
  sentence) -- a missing value must be a word saying why;
- **command**: a ``replicate`` sub-command, a ``python -m`` module or a script in the text or a code block
  that does not exist;
- **identifier**: a raw column name (``peak_rss_mb``) or a pandas index (0, 1, 2, ...) as a table header;
- **words**: a direction word ("raises", "lowers", "clearly", "explains") in a sentence whose interval on the
  same line holds 0, or that gives the effect as ``0.0``;
- **table** (:func:`crowded_cells`, in a browser at 1280 px): two adjacent cells whose texts touch.

A known defect not yet fixed is listed, with the issue that fixes it, in ``tests/publish/audit_known.txt``;
the test fails on any other finding, and on a listed one that is gone (so the list only shrinks).
"""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from bs4 import BeautifulSoup

from ..io.paths import project_root
from .browser import launch

__all__ = ["Finding", "audit", "crowded_cells", "read_known"]

_SKIP = ("genindex", "search")
_NOT_VALUE_CELL = re.compile(r"^(?:[+\-−±]?\s*(?:nan|NaN|None|inf|<NA>)|nan\s*±.*|.*±\s*nan)$")
_NOT_VALUE_TEXT = re.compile(r"(?:[+\-−±]\s?nan\b|\bnan\s?[±%]|(?<![\w.])(?:nan|inf)(?![\w.])|\bNone\b(?=\s*[;,)]))")
_SNAKE = re.compile(r"^[a-z][a-z0-9]*(?:_[a-z0-9]+)+$")
_DIRECTION = re.compile(r"\b(raises?|lowers?|clearly|explains?|improves?|worsens?)\b", re.I)
_INTERVAL = re.compile(r"([+\-−]?\d+(?:\.\d+)?)\s*(?:to|–|—)\s*([+\-−]?\d+(?:\.\d+)?)")
_ZERO = re.compile(r"\(\s*[+\-−]?0\.0+\s*\)")


@dataclass(frozen=True)
class Finding:
    """One thing a reader would trip over on a page."""

    page: str
    kind: str
    element: str
    text: str

    def __str__(self) -> str:
        return f"{self.page}: {self.kind}: {self.element}: {self.text}"


def _number(text: str) -> float:
    return float(text.replace("−", "-"))


def _choices(*args: str) -> set[str]:
    """The ``{a,b,c}`` choices that ``replicate ... --help`` prints, run as a reader would run it."""
    done = subprocess.run([sys.executable, "-m", "replicate.cli", *args, "--help"], capture_output=True, text=True,
                          check=False)
    found = re.search(r"\{([\w,-]+)\}", done.stdout)
    return set(found.group(1).split(",")) if found else set()


def _subcommands() -> dict[str, set[str]]:
    """``replicate``'s sub-commands, and the studies ``replicate study`` runs (from their ``--help``)."""
    return {"replicate": _choices(), "study": _choices("study")}


def _command_problems(text: str, known: dict[str, set[str]]) -> list[str]:
    bad = []
    for line in text.splitlines():
        line = line.strip().lstrip("$ ")
        m = re.match(r"^(?:\S*/)?replicate\s+([a-z][\w-]*)(?:\s+([a-z][\w-]*))?", line)
        if m and not line.startswith(("replicate-", "replicate/")):
            if m.group(1) not in known["replicate"]:
                bad.append(f"`replicate {m.group(1)}` is no sub-command")
            elif m.group(1) == "study" and m.group(2) and m.group(2) not in known["study"]:
                bad.append(f"`replicate study {m.group(2)}` is no study")
        for module in re.findall(r"python3?\s+-m\s+([\w.]+)", line):
            if importlib.util.find_spec(module.split(".")[0]) is None or importlib.util.find_spec(module) is None:
                bad.append(f"`python -m {module}`: no such module")
        for script in re.findall(r"python3?\s+((?:benchmarks|tools)/[\w./-]+\.py)", line):
            if not (project_root() / script).is_file():
                bad.append(f"`python {script}`: no such script")
    return bad


def _page_findings(name: str, soup: BeautifulSoup, commands: dict[str, set[str]]) -> list[Finding]:
    out = []
    main = soup.find("main") or soup
    for cell in main.find_all(["td", "th"]):
        text = cell.get_text(" ", strip=True)
        if _NOT_VALUE_CELL.match(text):
            out.append(Finding(name, "not a value", cell.name, text))
    for head in main.select("thead th, tbody th"):
        text = head.get_text(" ", strip=True)
        if _SNAKE.match(text) or (head.find_parent("tbody") and re.fullmatch(r"\d+", text)):
            out.append(Finding(name, "identifier", "th", text))
    for block in main.find_all(["p", "li", "strong", "div"], recursive=True):
        if block.name == "div" and "cell_output" not in " ".join(block.get("class", [])):
            continue
        if block.find_parent(["pre", "table"]) or block.find(["p", "li", "div"]):
            continue
        text = block.get_text(" ", strip=True)
        for m in _NOT_VALUE_TEXT.finditer(text):
            out.append(Finding(name, "not a value", block.name, text[max(0, m.start() - 50):m.end() + 30]))
        out += _words(name, block.name, text)
    for code in main.find_all(["pre", "code"]):
        if code.name == "code" and code.find_parent("pre"):
            continue
        out += [Finding(name, "command", code.name, why) for why in _command_problems(code.get_text(), commands)]
    return out


def _words(name: str, element: str, text: str) -> list[Finding]:
    """A direction word in the clause that gives an interval holding 0, or an effect of 0.0."""
    out = []
    zero_at = [m.start() for m in _INTERVAL.finditer(text) if _number(m.group(1)) <= 0 <= _number(m.group(2))]
    zero_at += [m.start() for m in _ZERO.finditer(text)]
    for at in sorted(zero_at):
        clause = re.split(r"[;:]|\)\s*,", text[max(0, at - 160):at])[-1]  # from the clause's start to the number
        if _DIRECTION.search(clause):
            out.append(Finding(name, "words", element, (clause + text[at:at + 40]).strip()[:220]))
    return out


def audit(html_dir: str | Path) -> list[Finding]:
    """Every finding on the built pages in ``html_dir`` (the browser's table check is :func:`crowded_cells`)."""
    commands = _subcommands()
    out: list[Finding] = []
    for path in sorted(Path(html_dir).glob("*.html")):
        if path.stem in _SKIP:
            continue
        soup = BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")
        out += _page_findings(path.stem, soup, commands)
    return list(dict.fromkeys(out))


_CROWDED_JS = """(minGap) => {
  const out = [];
  const box = (cell) => { const r = document.createRange(); r.selectNodeContents(cell);
                          const b = r.getBoundingClientRect(); return b; };
  for (const row of document.querySelectorAll('main table tr')) {
    const cells = [...row.children].filter(c => c.innerText.trim());
    for (let i = 0; i + 1 < cells.length; i++) {
      const a = box(cells[i]), b = box(cells[i + 1]);
      if (a.width && b.width && Math.abs(a.top - b.top) < a.height && b.left - a.right < minGap) {
        out.push(`${cells[i].innerText.trim()} | ${cells[i + 1].innerText.trim()}`.slice(0, 120));
      }
    }
  }
  return [...new Set(out)].slice(0, 10);
}"""


def crowded_cells(html_dir: str | Path, *, width: int = 1280, min_gap_px: float = 5.0) -> list[Finding]:
    """Adjacent table cells whose texts come closer than ``min_gap_px`` at ``width`` (read as one value)."""
    from playwright.sync_api import sync_playwright

    out = []
    with sync_playwright() as p:
        browser = launch(p)
        page = browser.new_page(viewport={"width": width, "height": 900})
        for path in sorted(Path(html_dir).resolve().glob("*.html")):
            if path.stem in _SKIP or re.search(r'http-equiv="refresh"', path.read_text(encoding="utf-8"), re.I):
                continue  # a redirect (index.html) has no table of its own
            page.goto(path.as_uri(), wait_until="load")
            out += [Finding(path.stem, "table", "td", pair) for pair in page.evaluate(_CROWDED_JS, min_gap_px)]
        browser.close()
    return out


def read_known(path: str | Path) -> set[str]:
    """The known findings listed in ``path`` (one ``str(Finding)`` per line; ``#`` starts a comment)."""
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    return {line.rstrip() for line in lines if line.strip() and not line.lstrip().startswith("#")}

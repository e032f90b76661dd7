"""Which step of the study graph made what each page shows, and the notes that say so on the page.

A page of the book built from the committed study run names, for every result it shows, the step of
the study graph (``dvc.yaml``) that made it, the commit that last changed that step's outputs and its
date, and whether this checkout's code makes the same (``replicate status``). A result of a **stale**
step (its code or inputs changed since) or of a step the graph **never recorded** carries a visible
warning naming what changed, so a change whose re-computation does not fit one sitting can land
without any reader mistaking an old number for a current one. A page of another run (``make
quick``) names its run's date and commit; a page executed while the book is built says so.
:func:`audit` reads the built HTML and lists every page whose notes are missing or wrong.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd

from ...io.errors import ReplicateError
from ...io.made import TABLES_RECORD
from ...io.paths import relative
from ..graph import steps as graph_steps
from ..status import UNCHECKED, code_version, status

__all__ = ["SUBSTITUTED", "CLASS", "steps_quoted", "steps_read", "note", "run_note", "build_note", "BookNotes",
           "audit", "audit_book"]

#: A prose page's ``{{ name }}`` facts that come from a step's committed results (the rest are the paper's
#: facts, versions and the registry). Names starting with a key ending in ``_`` match by prefix.
SUBSTITUTED = {"verdict": ("paper-05_table1", "paper-06_claims"), "n_readings": ("stability",),
               "stability_": ("stability",), "readings_seeds": ("why-readings",), "exercises_table": ("exercises",)}
#: A state's class on the page (the audit looks for it) and the note's title.
CLASS = {"current": "provenance-current", "stale": "provenance-stale", "not recorded": "provenance-unrecorded",
         UNCHECKED: "provenance-unchecked", "run": "provenance-run", "build": "provenance-build"}
_TITLE = {"current": "Where these numbers come from", "stale": "Made by older code",
          "not recorded": "Made outside the study graph", UNCHECKED: "Where these numbers come from"}
_WARN = ("stale", "not recorded")
_GLUE = re.compile(r"(?:\{glue(?::\w+)?\}`|:doc:\s*)([\w-]+)\.ipynb")
_SUBST = re.compile(r"\{\{\s*(\w+)\s*\}\}")
_INCLUDED = {"_generated/performance.md": "benchmark-"}


def steps_quoted(text: str, *, graph_run: bool) -> list[str]:
    """The steps whose results a prose page's source ``text`` shows: its glued numbers and figures (a
    section of the committed run: ``paper-<section>``), its substituted facts (:data:`SUBSTITUTED`) and
    the generated tables it includes (the benchmarks)."""
    found: list[str] = []
    if graph_run:
        found += [f"paper-{nb}" for nb in _GLUE.findall(text)]
    for name in _SUBST.findall(text):
        for key, made_by in SUBSTITUTED.items():
            if name == key or (key.endswith("_") and name.startswith(key)):
                found += [s for s in made_by if graph_run or not s.startswith("paper-")]
    for include, prefix in _INCLUDED.items():
        if include in text:
            found += [s.name for s in graph_steps() if s.name.startswith(prefix)]
    return list(dict.fromkeys(found))


def steps_read(folders: Iterable[str]) -> list[str]:
    """The steps whose outputs are, or lie in, the committed files or ``folders`` a section read (its manifest's
    ``reads``)."""
    folders = [f.rstrip("/") for f in folders]
    return [s.name for s in graph_steps()
            if any(o == f or o.startswith(f + "/") for o in s.outs for f in folders)]


def _made(row: Any, *, first: bool) -> str:
    commit, _, date = str(row.get("last_commit") or "").partition(" ")
    if not commit:
        return "no commit of this checkout"
    return f"{'commit ' if first else ''}`{commit}`, {date}"


def _listed(names: list[str], rows: pd.DataFrame) -> str:
    """```a` (commit `x`, date), `b` (`y`, date) and `c` (...)``."""
    parts = [f"`{s}` ({_made(rows.loc[s], first=i == 0)})" for i, s in enumerate(names)]
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def _changed(files: list[str]) -> str:
    shown = ", ".join(f"`{c}`" for c in files[:4]) + (f" and {len(files) - 4} more" if len(files) > 4 else "")
    return shown or "its inputs"


def _sentences(state: str, names: list[str], rows: pd.DataFrame) -> str:
    listed, many = _listed(names, rows), len(names) > 1
    rebuild = f"`replicate rebuild {' '.join(names)}`"
    if state == "current":
        return (f"Made by the study graph: {listed}; current: this checkout's code and inputs make the same.")
    if state == "not recorded":
        return (f"{listed} {'were' if many else 'was'} **never made by the study graph**: "
                f"{'they come' if many else 'it comes'} from the code of {'those days' if many else 'that day'}, "
                f"which may differ from this checkout's. {rebuild} re-makes and records "
                f"{'them' if many else 'it'}.")
    if state == "stale":
        groups: dict[tuple[str, ...], list[str]] = {}
        for s in names:  # steps stale through the same changes share one sentence
            groups.setdefault(tuple(rows.loc[s].get("changed_all") or []), []).append(s)
        return " ".join(
            f"{_listed(steps, rows)} {'are' if len(steps) > 1 else 'is'} **stale**: since then {_changed(list(c))} "
            f"changed, so these numbers are what that code made; `replicate rebuild {' '.join(steps)}` re-makes "
            f"{'them' if len(steps) > 1 else 'it'}." for c, steps in groups.items())
    return (f"Made by the study graph: {listed}; whether this checkout's code makes the same was not checked here "
            "(DVC is not installed: `pip install -e '.[reproduce]'`).")


def note(step_names: Iterable[str], table: pd.DataFrame) -> str:
    """The notes for the steps a page shows, one admonition per state (warnings first); '' for none.

    ``table`` is :func:`replicate.publish.status.status`; a step it does not list is left out.
    """
    rows = table.set_index("step")
    chosen = [s for s in dict.fromkeys(step_names) if s in rows.index]
    blocks = []
    for state in ("stale", "not recorded", UNCHECKED, "current"):
        mine = [s for s in chosen if rows.loc[s, "state"] == state]
        if mine:
            classes = ("warning " if state in _WARN else "") + f"provenance {CLASS[state]}"
            blocks.append(f"```{{admonition}} {_TITLE[state]}\n:class: {classes}\n"
                          f"{_sentences(state, mine, rows)}\n```\n")
    return "\n".join(blocks)


def _code_words(code: dict[str, Any]) -> str:
    """``the code of commit `abc` (with uncommitted changes)``, or what is known without a commit."""
    if not code.get("commit"):
        return "code from outside a git checkout"
    return f"the code of commit `{code['commit']}`" + (" with uncommitted changes" if code.get("dirty") else "")


def run_note(manifest: dict[str, Any], section: str | None = None) -> str:
    """A page of a run the study graph does not make (``make quick``, one's own): its date and commit; for the whole
    run (no ``section``), the commits its sections were made with."""
    sections = manifest.get("sections", {})
    info = sections.get(section, {}) if section else {}
    date = info.get("date") or manifest.get("date", "an unknown date")
    if section or manifest.get("code_version"):
        words = _code_words(info.get("code_version") or manifest.get("code_version") or {})
    else:
        found = list(dict.fromkeys(_code_words(e["code_version"]) for e in sections.values()
                                   if e.get("code_version")))
        words = " and ".join(found) if found else "code not recorded"
    return (f"```{{admonition}} Where these numbers come from\n:class: provenance {CLASS['run']}\n"
            f"Made by `replicate run` on {date}, with {words}. The committed study graph does "
            "not make this run: its status says nothing of it.\n```\n")


def build_note(what: str, version: dict[str, Any]) -> str:
    """A page whose content is made while the book is built (``what`` says what), at this checkout's commit."""
    return (f"```{{admonition}} Where this page comes from\n:class: provenance {CLASS['build']}\n"
            f"{what} when this book was built, on {version.get('date', 'the build date')}, with "
            f"{_code_words(version)}.\n```\n")


_RUN_INFO = "```{include} _generated/run_info.md\n```\n"


def _insert(text: str, block: str) -> str:
    """``text`` with ``block`` after its run-info admonition, else after its first heading."""
    if _RUN_INFO in text:
        return text.replace(_RUN_INFO, _RUN_INFO + "\n" + block, 1)
    head = re.search(r"^# .*\n", text, re.M)
    at = head.end() if head else 0
    return text[:at] + "\n" + block + "\n" + text[at:]


class BookNotes:
    """The provenance notes of one book's pages, and what each page must state (for :func:`audit`).

    ``run`` is the run folder the book shows and ``manifest`` its ``manifest.json``; the state of every
    step is read once (``replicate status``; without DVC, each recorded step is "not checked").
    """

    def __init__(self, run: str | Path, manifest: dict[str, Any]) -> None:
        self.run, self.manifest, self.version = Path(run), manifest, code_version()
        rel = relative(self.run.resolve())
        self.graph_run = any(o.startswith(rel + "/") for s in graph_steps() if s.name.startswith("paper-")
                             for o in s.outs)
        try:
            self.table = status(require_dvc=False)
        except ReplicateError:  # no study graph in this checkout: only run and build notes
            self.table = pd.DataFrame(columns=["step", "state", "last_commit", "changed_all"])
        self.expected: dict[str, list[tuple[str, str]]] = {}

    def _steps(self, page: str, names: Iterable[str]) -> str:
        states = self.table.set_index("step")["state"]
        known = [s for s in dict.fromkeys(names) if s in states.index]
        self.expected.setdefault(page, []).extend((s, states[s]) for s in known)
        return note(known, self.table)

    def _run(self, page: str, section: str | None = None) -> str:
        self.expected.setdefault(page, []).append(("replicate run", "run"))
        return run_note(self.manifest, section)

    def _read_by(self, name: str) -> list[str]:
        """The steps whose committed results section ``name`` read: its manifest's reads, and those its tables step
        recorded (a split section's page only reads its tables back)."""
        reads = self.manifest.get("sections", {}).get(name, {}).get("reads", [])
        record = self.run / name / TABLES_RECORD
        if record.is_file():
            reads = [*reads, *json.loads(record.read_text(encoding="utf-8")).get("reads", [])]
        return steps_read(reads)

    def section(self, name: str, shown: Iterable[str] = ()) -> str:
        """The notes of an executed section ``name``; ``shown``: further steps whose results the book adds."""
        own = [f"paper-{name}", f"page-{name}"] if self.graph_run else []  # its tables, and its page where apart
        text = self._steps(name, [*own, *self._read_by(name), *shown])
        return text if self.graph_run else self._run(name, name) + "\n" + text

    def prose(self, path: Path, *, executed: bool = False) -> None:
        """Insert the notes into the staged prose page at ``path`` (a page executed at build time says so)."""
        text, page = path.read_text(encoding="utf-8"), path.stem
        if executed or page == "rerun":
            what = ("Executed" if executed else
                    "The tables below were read from `dvc.lock`, git and the committed `results/` folders")
            self.expected.setdefault(page, []).append(("built", "build"))
            block = build_note(what, self.version)
        else:
            quoted = steps_quoted(text, graph_run=self.graph_run)
            # a quoted section's numbers rest on the study results it read (Table 1's second reading: why-readings)
            upstream = [r for s in quoted if s.startswith("paper-") for r in self._read_by(s.removeprefix("paper-"))]
            block = self._steps(page, [*quoted, *upstream])
            if not self.graph_run and _GLUE.search(text):
                block = self._run(page) + "\n" + block
            if not block:  # nothing computed on it: the build's own note
                self.expected.setdefault(page, []).append(("built", "build"))
                block = build_note("Written by hand; its facts filled in", self.version)
        path.write_text(_insert(text, block), encoding="utf-8")

    def write(self, path: Path) -> Path:
        """What each page must state, as JSON (read by :func:`audit_book`)."""
        path.write_text(json.dumps(self.expected, indent=1))
        return path


_DIV = re.compile(r'<div class="([^"]*\bprovenance\b[^"]*)"[^>]*>(.*?)</div>', re.S)


def audit(html_dir: str | Path, expected: dict[str, list[tuple[str, str]]]) -> list[str]:
    """Every problem with the provenance notes of a built book (empty: none).

    ``expected`` maps a page (its HTML file's stem) to the ``(step, state)`` pairs it must state, each
    in a note of that state's class; every page of the book must carry at least one note.
    """
    problems = []
    pages = {p.stem: p for p in Path(html_dir).glob("*.html") if p.stem not in ("genindex", "search")}
    for page, path in sorted(pages.items()):
        source = path.read_text(encoding="utf-8")
        if re.search(r'http-equiv="refresh"', source, re.I):  # index.html: a redirect to the first page
            continue
        notes = [(cls.split(), html.unescape(re.sub(r"<[^>]+>", "", body))) for cls, body in _DIV.findall(source)]
        if not notes:
            problems.append(f"{path.name}: no provenance note (which commit made what this page shows)")
        for step, state in expected.get(page, []):
            if not any(CLASS[state] in cls and step in text for cls, text in notes):
                problems.append(f"{path.name}: step {step} ({state}) is shown but no {CLASS[state]} note names it")
    for page in sorted(set(expected) - set(pages)):
        problems.append(f"{page}.html: expected in the book but not built")
    return problems


def audit_book(book: str | Path) -> list[str]:
    """:func:`audit` of a book that ``replicate book`` built into ``book`` (``<run>/book``)."""
    book = Path(book)
    expected = json.loads((book / "provenance.json").read_text())
    return audit(book / "_build" / "html", {k: [tuple(p) for p in v] for k, v in expected.items()})

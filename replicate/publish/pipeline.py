"""`replicate run`: execute the section notebooks in order with papermill into a run folder.

A run lives in ``results/<dataset>/<profile>/``: one folder per section holding the executed
notebook and its tables, plus ``manifest.json`` (parameters, timings, versions, status, and the
committed results each section read). Every path recorded there is relative to the run folder.
While a notebook executes, its progress lines (VAE epochs, grid cells) are printed on the
terminal; the kernel's own log noise goes to ``<section>/.kernel.log`` instead.

Which committed results a section reads, and which of the package's modules and fact files its
kernel loads, are recorded while it runs (:func:`replicate.io.paths.committed`,
:func:`replicate.io.paths.loaded_code`), never typed by hand: its key includes their content, so a
change to a study it read, or to code it ran, re-executes it -- and an edit to code it never loads
(a plot it does not draw) leaves it alone.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import papermill as pm

from ..io import store
from ..io.errors import ParameterError, ReplicateError
from ..io.facts import profiles
from ..io.made import TABLES_RECORD, data_identity, files_identity, run_machine
from ..io.paths import project_root
from ..io.provenance import versions
from ..method.clustering import methods as all_methods
from .params import check, parse_value
from .sections import SectionFailed, execute_graph, sweep
from .status import code_version

__all__ = ["SECTIONS", "PER_METHOD", "NEEDS", "expand_sections", "run_dataset", "run_machine", "notebook_dir",
           "notebook_parameters", "resolve_parameters", "run_dir", "reads_identity", "code_identity", "section_key", "tables_plan",
           "run"]


#: Section notebooks in dependency order.
SECTIONS = ("01_data", "02_vae", "03_clustering", "04_baselines", "05_table1", "06_claims", "07_open_points",
            "08_why", "09_generalisation", "10_uncertainty")



#: The section executed once per clustering method (its ``method`` parameter).
PER_METHOD = "03_clustering"
#: What each section needs done before it starts when sections run side by side (``replicate run --jobs``):
#: the sections whose work it reads back through the caches (trained VAEs, grid cells, baselines), never
#: their folders. Every section comes after 01_data, which fetches the data set once. A section also makes
#: what it finds missing itself, so the order changes no number, only what is computed twice.
NEEDS = {"01_data": (), "02_vae": ("01_data",), PER_METHOD: ("02_vae",), "04_baselines": ("01_data",),
         "05_table1": (PER_METHOD, "04_baselines"), "06_claims": ("05_table1",), "07_open_points": (PER_METHOD,),
         "08_why": ("05_table1",), "09_generalisation": ("01_data",), "10_uncertainty": ("02_vae",)}


def expand_sections(methods: list[str], sections: tuple[str, ...] = SECTIONS) -> list[tuple[str, str, dict[str, Any]]]:
    """(run folder name, notebook, fixed parameters) for each section to execute, in order."""
    out = []
    for section in sections:
        if section == PER_METHOD:
            out += [(f"{section}-{m}", section, {"method": m}) for m in methods]
        else:
            out.append((section, section, {}))
    return out



def notebook_dir() -> Path:
    """The section notebooks (``.ipynb``, paired with their text sources by jupytext)."""
    return project_root() / "notebooks"



def notebook_parameters(section: str) -> dict[str, Any]:
    """The parameters a section notebook declares, with their default values."""
    path = notebook_dir() / f"{section}.ipynb"
    found = pm.inspect_notebook(str(path))
    return {name: parse_value(p["default"]) for name, p in found.items()}



def resolve_parameters(profile: str, dataset: str | None, overrides: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Per-section parameters: notebook defaults < profile < command-line overrides.

    An override that no section declares is an error naming the real parameters (papermill by
    itself only warns about unknown names).
    """
    all_profiles = profiles()
    if profile not in all_profiles:
        raise ParameterError(f"unknown profile {profile!r}; profiles: {', '.join(all_profiles)}.")
    prof = all_profiles[profile]
    wanted = {**prof.get("params", {}), "profile": profile, "dataset": dataset or prof["dataset"], **overrides}
    declared = {s: notebook_parameters(s) for s in SECTIONS}
    known = set().union(*declared.values())
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise ParameterError(
            f"unknown parameter(s) {', '.join(map(repr, unknown))}; the notebooks' parameters are: "
            f"{', '.join(sorted(known - {'output_dir'}))}."
        )
    out = {}
    for section, defaults in declared.items():
        params = {k: v for k, v in wanted.items() if k in defaults}
        try:
            check(**params)
        except ParameterError as exc:  # the notebooks' hint is papermill's syntax; here it is the command line's
            raise ParameterError(re.sub(r"papermill \.\.\. -p (\w+) <value>", lambda m: f"replicate run --{m[1]} <value>"
                                        if m[1] == "dataset" else f"replicate run --set {m[1]}=<value>", str(exc))) from None
        out[section] = params
    return out




def run_dataset(per_section: dict[str, dict[str, Any]]) -> str:
    """The data set of a run: the one its sections declare (a section that reads only committed
    studies, such as ``09_generalisation``, declares none)."""
    return next(params["dataset"] for params in per_section.values() if "dataset" in params)


def run_dir(dataset: str, profile: str, results: str | os.PathLike = "results") -> Path:
    """Where a run of ``profile`` on ``dataset`` is written."""
    safe = Path(dataset).stem if (os.sep in dataset or Path(dataset).suffix) else dataset
    return Path(results) / safe / profile



#: Hash of repository paths a section depended on, names and bytes: a committed folder it read
#: (``results/why``: each of its files) or a package file it loaded (``replicate/method/latents.py``).
reads_identity = files_identity


#: The package files a section loaded are hashed the same way as the folders it read.
code_identity = reads_identity


def section_key(section: str, params: dict[str, Any], reads: list[str], code: list[str]) -> str:
    """What a section's result depends on: its notebook, its parameters, the data, the committed
    results it ``reads`` and the package files its kernel loaded (``code``; both recorded when it last ran).

    Sections share work through the caches (VAE latents), never through each other's files, so
    a section's key does not include the keys of earlier sections. The reads and code recorded by
    the section's last execution are the ones it makes now unless its notebook, parameters or one
    of those files changed -- and each of those changes the key by itself.
    """
    nb = hashlib.sha256((notebook_dir() / f"{section}.ipynb").read_bytes()).hexdigest()
    visible = {k: v for k, v in params.items() if k != "output_dir"}
    return store.content_key(nb, visible, code_identity(code), data_identity(str(params.get("dataset", ""))),
                             reads_identity(reads))


def _plan(profile: str, dataset: str | None, overrides: dict[str, Any], sections: tuple[str, ...],
          methods: list[str] | None) -> tuple[dict[str, dict[str, Any]], list[str], list[tuple[str, str, dict]]]:
    if "method" in overrides:
        raise ParameterError("method is set per clustering section by the profile's `methods`; "
                             "use `replicate run --methods kmeans,birch` instead of --set method=...")
    per_section = resolve_parameters(profile, dataset, overrides)
    named = methods or profiles()[profile].get("methods", ["kmeans"])
    chosen = all_methods() if named == "all" else list(named)
    for m in chosen:
        check(method=m)
    return per_section, chosen, expand_sections(chosen, sections)


def _needs(plan: list[tuple[str, str, dict]]) -> dict[str, set[str]]:
    """Each section of the plan (by its run name) with the run names it waits for (:data:`NEEDS`)."""
    names: dict[str, list[str]] = {}
    for name, section, _ in plan:
        names.setdefault(section, []).append(name)
    return {name: {n for need in NEEDS.get(section, ()) for n in names.get(need, [])} for name, section, _ in plan}


def _record_failure(manifest: dict, manifest_path: Path, out: Path, name: str, params: dict,
                    failed: SectionFailed) -> ReplicateError:
    manifest["sections"][name] = {"status": "failed", "parameters": params, "error": failed.evalue,
                                  "notebook": failed.notebook.relative_to(out).as_posix()}
    store.write_json(manifest_path, manifest)
    return ReplicateError(
        f"section {name} failed in cell {failed.exec_count}: {failed.ename}: {failed.evalue}\n"
        f"The executed notebook with the failing cell is {failed.notebook}; the kernel's log is "
        f"{out / name / '.kernel.log'}.")


def _manifest(path: Path, profile: str, ds: str, chosen: list[str], plan: list, *, part: bool) -> tuple[dict, dict]:
    """The run's manifest as it starts, and the sections the folder's manifest held before."""
    old = json.loads(path.read_text()) if path.is_file() else {}
    previous = old.get("sections", {})
    manifest: dict[str, Any] = {"profile": profile, "dataset": ds, "methods": chosen, "sections": {},
                                "order": [name for name, _, _ in plan], "versions": versions(), "machine": run_machine()}
    if part:  # a part of the run (one step of the study graph): the other sections keep their entries
        kept = [m for m in all_methods() if m in set(old.get("methods", [])) | set(chosen)]
        names = {n for n, _, _ in plan} | set(previous)
        manifest.update(methods=kept, sections=dict(previous),
                        order=[n for n, _, _ in expand_sections(kept) if n in names])
    return manifest, previous


def _tasks(plan: list, out: Path, per_section: dict) -> Iterator[tuple[str, str, Path, dict]]:
    """(name, notebook, folder, parameters) of each section of the plan, its folder made."""
    for name, section, fixed in plan:
        sec_dir = out / name
        sec_dir.mkdir(exist_ok=True)
        params = {**per_section[section], **fixed}
        if "output_dir" in notebook_parameters(section):
            params["output_dir"] = "."  # the notebook runs in its section folder: no machine path anywhere
        yield name, section, sec_dir, params


def _tables_record(sec_dir: Path) -> dict:
    """The record of the tables a section's folder holds (``replicate.sections``; empty when it has none)."""
    path = sec_dir / TABLES_RECORD
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def _tables_identity(sec_dir: Path) -> str:
    """Hash of a section's tables and their record, byte for byte ('' when it has none)."""
    record = _tables_record(sec_dir)
    if not record:
        return ""
    h = hashlib.sha256((sec_dir / TABLES_RECORD).read_bytes())
    for name in record.get("tables", []):
        path = sec_dir / f"{name}.csv"
        h.update(path.read_bytes() if path.is_file() else b"(missing)")
    return h.hexdigest()


def _unchanged(before: dict, section: str, notebook: Path, params: dict) -> bool:
    """Whether a section's recorded key still matches: its notebook, parameters, reads and code are unchanged, and
    so are the tables it drew, byte for byte (a page whose tables were made again is drawn again)."""
    return bool(before.get("status") == "done" and notebook.is_file() and before.get("code")
                and before.get("tables_key", "") == _tables_identity(notebook.parent)
                and before.get("key") == section_key(section, params, before.get("reads", []), before.get("code", [])))


def _entry(section: str, params: dict, made: tuple[list[str], list[str]], seconds: float, folder: Path) -> dict:
    """A finished section's manifest entry. A page drawn from tables their own step made records that step's
    machine, which made the numbers, and its own as ``drawn_on``."""
    reads, code = made
    tables = _tables_record(folder)
    return {"status": "done", "parameters": params, "reads": reads, "code": code,
            "key": section_key(section, params, reads, code), "seconds": round(seconds, 1), "skipped": False,
            "machine": tables.get("machine") or run_machine(), "code_version": code_version(),
            **({"tables_key": _tables_identity(folder), "drawn_on": run_machine()} if tables else {})}


def tables_plan(profile: str, dataset: str | None, overrides: dict[str, Any], sections: tuple[str, ...],
                methods: list[str] | None, results: str | os.PathLike = "results") -> list[tuple[str, str, dict, Path]]:
    """(run folder name, section, every parameter as its notebook would hold it, folder) of each section whose
    tables are a step of their own (``replicate compute``): the notebook's defaults < profile < overrides."""
    per_section, _, plan = _plan(profile, dataset, overrides, sections, methods)
    out = run_dir(run_dataset(per_section), profile, results)
    return [(name, section, {**notebook_parameters(section), **per_section[section], **fixed, "output_dir": "."},
             out / name) for name, section, fixed in plan]


def run(profile: str = "quick", dataset: str | None = None, *, overrides: dict[str, Any] | None = None,
        results: str | os.PathLike = "results", sections: tuple[str, ...] = SECTIONS,
        methods: list[str] | None = None, log_output: bool = False, force: bool = False,
        jobs: int = 1) -> Path:
    """Execute the sections of ``profile`` on ``dataset``; return the run folder.

    A section whose key (:func:`section_key`) matches the manifest's is skipped, unless
    ``force``. With ``jobs`` > 1, sections run that many at a time in worker processes, each once the
    sections it reads back through the caches are done (:data:`NEEDS`: the baselines beside the VAE's
    training, the clustering sections once it is done, ...); they are deterministic, so the run folder is the
    same as one by one (the manifest lists sections in
    plan order). On a failing section the run stops; earlier sections stay intact, the failed
    notebook is kept (as ``<section>.failed.ipynb``) so the failing cell can be read, and the
    manifest says which section failed. Progress reaches the terminal at least every 15 s.
    ``log_output`` streams every cell's output (and the kernel's log) to the terminal instead.
    """
    per_section, chosen, plan = _plan(profile, dataset, dict(overrides or {}), sections, methods)
    if not (isinstance(jobs, int) and jobs >= 1):
        raise ParameterError(f"jobs = {jobs!r} is invalid: use an integer >= 1 (sections run side by side).")
    ds = run_dataset(per_section)
    out = run_dir(ds, profile, results)
    out.mkdir(parents=True, exist_ok=True)
    manifest_path = out / "manifest.json"
    manifest, previous = _manifest(manifest_path, profile, ds, chosen, plan, part=tuple(sections) != SECTIONS
                                   or methods is not None)
    start, mine = time.perf_counter(), set()
    labels = {name: f"[{i}/{len(plan)}]" for i, (name, _, _) in enumerate(plan, 1)}
    # the progress lines this run has shown; absolute, since papermill runs each notebook in its own folder
    seen = (out / f".shown.{os.getpid()}.log").resolve()
    sweep(out)  # what a killed run into this folder left

    def write() -> None:  # merged under a lock with what another run into this folder wrote meanwhile
        with store.locked(manifest_path):
            disk = json.loads(manifest_path.read_text()).get("sections", {}) if manifest_path.is_file() else {}
            manifest["sections"].update({n: e for n, e in disk.items() if n not in mine})
            store.write_json(manifest_path, manifest)

    def done(name: str, params: dict, made: tuple[list[str], list[str]], seconds: float) -> None:
        mine.add(name)
        manifest["sections"][name] = _entry(next(sec for n, sec, _ in plan if n == name), params, made, seconds,
                                            out / name)
        write()
        # said when it ends too: the next section's first line can be seconds away (a worker process starting)
        print(f"{labels[name]} {name} done in {seconds:.0f}s", flush=True)

    try:
        todo = []
        for name, section, sec_dir, params in _tasks(plan, out, per_section):
            before = previous.get(name, {})
            if _unchanged(before, section, sec_dir / f"{name}.ipynb", params) and not force:
                mine.add(name)
                manifest["sections"][name] = {**before, "skipped": True}
                write()
                print(f"{labels[name]} {name}: unchanged, skipped", flush=True)
                continue
            todo.append((name, section, sec_dir, params))  # its line is printed when it starts
        try:
            execute_graph(todo, _needs(plan), jobs, log_output, done, notebooks=notebook_dir(), labels=labels,
                          seen=seen)
        except SectionFailed as failed:
            name = failed.notebook.parent.name
            raise _record_failure(manifest, manifest_path, out, name,
                                  dict(next(t[3] for t in todo if t[0] == name)), failed) from None
    finally:
        seen.unlink(missing_ok=True)
    ordered = [n for n in manifest.get("order", []) if n in manifest["sections"]]
    manifest["sections"] = {n: manifest["sections"][n] for n in ordered + [n for n in manifest["sections"] if n not in ordered]}
    manifest["seconds"] = round(time.perf_counter() - start, 1)
    manifest["date"] = dt.date.today().isoformat()
    write()
    print(f"done in {manifest['seconds']:.0f}s: {out}")
    return out

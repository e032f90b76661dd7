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

import contextlib
import datetime as dt
import hashlib
import json
import multiprocessing
import os
import re
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

import nbformat
import papermill as pm
from threadpoolctl import threadpool_info

from ..io import paths, progress, store
from ..io.errors import ParameterError, ReplicateError
from ..io.facts import profiles, registry
from ..io.paths import project_root
from ..io.provenance import machine, scrub_notebook, versions
from ..method.clustering import methods as all_methods
from .params import check, parse_value
from .status import code_version

__all__ = ["SECTIONS", "PER_METHOD", "SIDE_BY_SIDE", "expand_sections", "run_dataset", "run_machine", "notebook_dir",
           "notebook_parameters", "resolve_parameters", "run_dir", "reads_identity", "code_identity", "section_key",
           "run"]


#: Section notebooks in dependency order.
SECTIONS = ("01_data", "02_vae", "03_clustering", "04_baselines", "05_table1", "06_claims", "07_open_points",
            "08_why", "09_generalisation", "10_uncertainty")



#: The section executed once per clustering method (its ``method`` parameter).
PER_METHOD = "03_clustering"
#: Sections that read only the data and the VAE's latents (through the cache), never each other:
#: they may run side by side once 02_vae is done.
SIDE_BY_SIDE = (PER_METHOD, "04_baselines")



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



def run_machine() -> dict[str, Any]:
    """:func:`replicate.io.provenance.machine` and the BLAS kernels this process uses (OpenBLAS picks them by
    CPU model, which the family's feature flags do not name; an ill-conditioned fit can depend on them)."""
    blas = sorted({f"{i['internal_api']} {i.get('version')} {i.get('architecture')}" for i in threadpool_info()
                   if i.get("user_api") == "blas"})
    return {**machine(), "blas": ", ".join(blas)}


def run_dataset(per_section: dict[str, dict[str, Any]]) -> str:
    """The data set of a run: the one its sections declare (a section that reads only committed
    studies, such as ``09_generalisation``, declares none)."""
    return next(params["dataset"] for params in per_section.values() if "dataset" in params)


def run_dir(dataset: str, profile: str, results: str | os.PathLike = "results") -> Path:
    """Where a run of ``profile`` on ``dataset`` is written."""
    safe = Path(dataset).stem if (os.sep in dataset or Path(dataset).suffix) else dataset
    return Path(results) / safe / profile



def reads_identity(paths: list[str]) -> str:
    """Hash of repository paths a section depended on, names and bytes: a committed folder it read
    (``results/why``: each of its files) or a package file it loaded (``replicate/method/latents.py``)."""
    h = hashlib.sha256()
    for name in sorted(paths):
        target = project_root() / name
        h.update(name.encode())
        files = sorted(f for f in target.glob("*") if f.is_file()) if target.is_dir() else [target]
        for f in files:
            h.update(f.name.encode())
            h.update(f.read_bytes() if f.is_file() else b"(missing)")
    return h.hexdigest()


#: The package files a section loaded are hashed the same way as the folders it read.
code_identity = reads_identity


def _data_identity(dataset: str) -> str:
    if not dataset:
        return ""
    if dataset in registry():
        return store.content_key(dataset, registry()[dataset])
    path = Path(dataset).expanduser()
    if path.is_file():
        return store.file_sha256(path)
    return store.content_key(sorted((p.name, p.stat().st_size, p.stat().st_mtime) for p in path.rglob("*")))


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
    return store.content_key(nb, visible, code_identity(code), _data_identity(str(params.get("dataset", ""))),
                             reads_identity(reads))


@contextlib.contextmanager
def _kernel_output_to(log: Path) -> Iterator[None]:
    """Send this process's standard error, which the kernel inherits, to ``log`` for the duration.

    The kernel's own start-up lines (ipykernel's transport warning, TensorFlow's absl and oneDNN
    notices) then land in the log, not on the terminal; the executed notebook keeps its outputs.
    """
    sys.stderr.flush()
    saved = os.dup(2)
    with open(log, "ab") as f:
        os.dup2(f.fileno(), 2)
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)



def relative_notebook_paths(path: Path, section: str, output_name: str) -> None:
    """Papermill records the absolute input and output paths in the notebook's metadata; keep
    them relative (to the repository and to the section folder), and strip the machine's folders
    from printed warnings (:func:`replicate.io.provenance.scrub_paths`), so no machine path is published."""
    nb = nbformat.read(path, as_version=4)
    meta = nb.metadata.get("papermill")
    if meta is not None:
        meta["input_path"] = f"notebooks/{section}.ipynb"
        meta["output_path"] = output_name
        nbformat.write(nb, path)
    scrub_notebook(path)



def _execute(section: str, name: str, sec_dir: Path, params: dict[str, Any],
             log_output: bool) -> tuple[list[str], list[str]]:
    """Execute one section notebook into ``sec_dir`` (atomically: a scratch file renamed at the end);
    return the committed folders it read and the package files it loaded. A failing cell raises
    ReplicateError naming it."""
    t0 = time.perf_counter()
    scratch = sec_dir / f".{name}.running.ipynb"
    progress_file, reads_file, code_file = sec_dir / ".progress.log", sec_dir / ".reads.log", sec_dir / ".code.log"
    reads_file.unlink(missing_ok=True)
    code_file.unlink(missing_ok=True)
    heartbeat = lambda: f"still running, {time.perf_counter() - t0:.0f}s"  # noqa: E731 (prefixed like every line)
    os.environ[progress.ENV] = str(progress_file.resolve())
    os.environ[paths.READS_ENV] = str(reads_file.resolve())
    os.environ[paths.CODE_ENV] = str(code_file.resolve())
    try:
        with contextlib.ExitStack() as stack:
            stack.enter_context(progress.follow(progress_file, lambda line: print(f"    {name}: {line}", flush=True),
                                                heartbeat=heartbeat, heartbeat_s=15.0))
            if not log_output:
                stack.enter_context(_kernel_output_to(sec_dir / ".kernel.log"))
            pm.execute_notebook(str(notebook_dir() / f"{section}.ipynb"), str(scratch), parameters=params,
                                cwd=str(sec_dir), kernel_name="python3", progress_bar=False, log_output=log_output)
    except pm.PapermillExecutionError as exc:
        failed = sec_dir / f"{name}.failed.ipynb"
        relative_notebook_paths(scratch, section, failed.name)
        scratch.replace(failed)
        raise _SectionFailed(exc.exec_count, exc.ename, exc.evalue, failed) from None
    except BaseException:
        scratch.unlink(missing_ok=True)
        raise
    finally:
        os.environ.pop(progress.ENV, None)
        os.environ.pop(paths.READS_ENV, None)
        os.environ.pop(paths.CODE_ENV, None)
    target = sec_dir / f"{name}.ipynb"
    relative_notebook_paths(scratch, section, target.name)
    scratch.replace(target)
    return paths.recorded_reads(reads_file), paths.recorded_reads(code_file)


class _SectionFailed(Exception):
    """A failing cell: plain fields, so that it crosses from a worker process intact."""

    def __init__(self, exec_count: Any, ename: str, evalue: str, notebook: Path) -> None:
        super().__init__(exec_count, ename, evalue, notebook)
        self.exec_count, self.ename, self.evalue, self.notebook = exec_count, ename, evalue, notebook


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


def _waves(plan: list[tuple[str, str, dict]]) -> list[list[tuple[str, str, dict]]]:
    """The plan in waves: each run of consecutive :data:`SIDE_BY_SIDE` sections is one wave, every other section its own."""
    waves: list[list[tuple[str, str, dict]]] = []
    for item in plan:
        if waves and item[1] in SIDE_BY_SIDE and waves[-1][-1][1] in SIDE_BY_SIDE:
            waves[-1].append(item)
        else:
            waves.append([item])
    return waves


def _record_failure(manifest: dict, manifest_path: Path, out: Path, name: str, params: dict,
                    failed: _SectionFailed) -> ReplicateError:
    manifest["sections"][name] = {"status": "failed", "parameters": params, "error": failed.evalue,
                                  "notebook": failed.notebook.relative_to(out).as_posix()}
    store.write_json(manifest_path, manifest)
    return ReplicateError(
        f"section {name} failed in cell {failed.exec_count}: {failed.ename}: {failed.evalue}\n"
        f"The executed notebook with the failing cell is {failed.notebook}; the kernel's log is "
        f"{out / name / '.kernel.log'}.")


def _execute_wave(todo: list[tuple[str, str, Path, dict]], jobs: int, log_output: bool,
                  done: Any) -> None:
    """Execute ``todo`` (name, section, folder, parameters), ``jobs`` at a time in worker processes (each
    with its own environment and standard error: a kernel inherits both), calling ``done`` as each ends."""
    if jobs <= 1 or len(todo) <= 1:
        for name, section, sec_dir, params in todo:
            t0 = time.perf_counter()
            done(name, params, _execute(section, name, sec_dir, params, log_output), time.perf_counter() - t0)
        return
    pool = ProcessPoolExecutor(max_workers=min(jobs, len(todo)), mp_context=multiprocessing.get_context("spawn"))
    try:
        t0 = time.perf_counter()
        futures = {pool.submit(_execute, section, name, sec_dir, params, log_output): (name, params)
                   for name, section, sec_dir, params in todo}
        for future in as_completed(futures):
            name, params = futures[future]
            done(name, params, future.result(), time.perf_counter() - t0)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def run(profile: str = "quick", dataset: str | None = None, *, overrides: dict[str, Any] | None = None,
        results: str | os.PathLike = "results", sections: tuple[str, ...] = SECTIONS,
        methods: list[str] | None = None, log_output: bool = False, force: bool = False,
        jobs: int = 1) -> Path:
    """Execute the sections of ``profile`` on ``dataset``; return the run folder.

    A section whose key (:func:`section_key`) matches the manifest's is skipped, unless
    ``force``. Sections that read only the data and the VAE (:data:`SIDE_BY_SIDE`) run ``jobs``
    at a time in worker processes once the VAE section is done; they are deterministic and
    independent, so the run folder is the same as one by one (the manifest lists sections in
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
    old = json.loads(manifest_path.read_text()) if manifest_path.is_file() else {}
    previous = old.get("sections", {})
    manifest: dict[str, Any] = {"profile": profile, "dataset": ds, "methods": chosen, "sections": {},
                                "order": [name for name, _, _ in plan], "versions": versions(), "machine": run_machine()}
    if tuple(sections) != SECTIONS or methods is not None:
        # a part of the run (one step of the study graph): the other sections keep their entries
        kept = [m for m in all_methods() if m in set(old.get("methods", [])) | set(chosen)]
        names = {n for n, _, _ in plan} | set(previous)
        manifest.update(methods=kept, sections=dict(previous),
                        order=[n for n, _, _ in expand_sections(kept) if n in names])
    start = time.perf_counter()
    index = {name: i for i, (name, _, _) in enumerate(plan, 1)}

    def done(name: str, params: dict, made: tuple[list[str], list[str]], seconds: float) -> None:
        reads, code = made
        section = next(sec for n, sec, _ in plan if n == name)
        manifest["sections"][name] = {"status": "done", "parameters": params, "reads": reads, "code": code,
                                      "key": section_key(section, params, reads, code), "seconds": round(seconds, 1),
                                      "skipped": False, "machine": run_machine(), "code_version": code_version()}
        store.write_json(manifest_path, manifest)

    for wave in _waves(plan):
        todo = []
        for name, section, fixed in wave:
            sec_dir = out / name
            sec_dir.mkdir(exist_ok=True)
            params = {**per_section[section], **fixed}
            if "output_dir" in notebook_parameters(section):
                params["output_dir"] = "."  # the notebook runs in its section folder: no machine path anywhere
            before = previous.get(name, {})
            unchanged = (before.get("status") == "done" and (sec_dir / f"{name}.ipynb").is_file() and before.get("code")
                         and before.get("key") == section_key(section, params, before.get("reads", []),
                                                              before.get("code", [])))
            if unchanged and not force:
                manifest["sections"][name] = {**before, "skipped": True}
                store.write_json(manifest_path, manifest)
                print(f"[{index[name]}/{len(plan)}] {name}: unchanged, skipped", flush=True)
                continue
            print(f"[{index[name]}/{len(plan)}] {name} (elapsed {time.perf_counter() - start:.0f}s)", flush=True)
            todo.append((name, section, sec_dir, params))
        try:
            _execute_wave(todo, jobs, log_output, done)
        except _SectionFailed as failed:
            name = failed.notebook.parent.name
            raise _record_failure(manifest, manifest_path, out, name, dict(next(t[3] for t in todo if t[0] == name)),
                                  failed) from None
    ordered = [n for n in manifest.get("order", []) if n in manifest["sections"]]
    manifest["sections"] = {n: manifest["sections"][n] for n in ordered + [n for n in manifest["sections"] if n not in ordered]}
    manifest["seconds"] = round(time.perf_counter() - start, 1)
    manifest["date"] = dt.date.today().isoformat()
    store.write_json(manifest_path, manifest)
    print(f"done in {manifest['seconds']:.0f}s: {out}")
    return out

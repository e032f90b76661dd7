"""`replicate run`: execute the section notebooks in order with papermill into a run folder.

A run lives in ``results/<dataset>/<profile>/``: one folder per section holding the executed
notebook and its tables, plus ``manifest.json`` (parameters, timings, versions, status, and the
committed results each section read). Every path recorded there is relative to the run folder.
While a notebook executes, its progress lines (VAE epochs, grid cells) are printed on the
terminal; the kernel's own log noise goes to ``<section>/.kernel.log`` instead.

Which committed results a section reads is recorded while it runs (every read goes through
:func:`replicate.io.paths.committed`), never typed by hand: its key includes their content, so a
change to a study it read re-executes it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import papermill as pm

from ..io import paths, progress, store
from ..io.errors import ParameterError, ReplicateError
from ..io.facts import profiles, registry
from ..io.paths import project_root
from ..io.provenance import scrub_notebook, versions
from ..method.clustering import methods as all_methods
from .params import check, parse_value

__all__ = ["SECTIONS", "PER_METHOD", "expand_sections", "notebook_dir", "notebook_parameters",
           "resolve_parameters", "run_dir", "reads_identity", "section_key", "run"]


#: Section notebooks in dependency order.
SECTIONS = ("01_data", "02_vae", "03_clustering", "04_baselines", "05_table1", "06_claims", "07_open_points",
            "08_why", "09_generalisation", "10_uncertainty")



#: The section executed once per clustering method (its ``method`` parameter).
PER_METHOD = "03_clustering"



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
        check(**params)
        out[section] = params
    return out



def run_dir(dataset: str, profile: str, results: str | os.PathLike = "results") -> Path:
    """Where a run of ``profile`` on ``dataset`` is written."""
    safe = Path(dataset).stem if (os.sep in dataset or Path(dataset).suffix) else dataset
    return Path(results) / safe / profile



def _package_hash() -> str:
    """Hash of the package's source and data files: a code change invalidates every section."""
    h = hashlib.sha256()
    pkg = Path(__file__).resolve().parents[1]
    for f in sorted(pkg.rglob("*")):
        if f.suffix in (".py", ".toml") and "__pycache__" not in f.parts:
            h.update(f.relative_to(pkg).as_posix().encode())
            h.update(f.read_bytes())
    return h.hexdigest()



def reads_identity(reads: list[str]) -> str:
    """Hash of the committed folders a section read (``results/why``, ...): names and bytes of their files."""
    h = hashlib.sha256()
    for folder in sorted(reads):
        h.update(folder.encode())
        for f in sorted((project_root() / folder).glob("*")):
            if f.is_file():
                h.update(f.name.encode())
                h.update(f.read_bytes())
    return h.hexdigest()


def _data_identity(dataset: str) -> str:
    if not dataset:
        return ""
    if dataset in registry():
        return store.content_key(dataset, registry()[dataset])
    path = Path(dataset).expanduser()
    if path.is_file():
        return store.file_sha256(path)
    return store.content_key(sorted((p.name, p.stat().st_size, p.stat().st_mtime) for p in path.rglob("*")))


def section_key(section: str, params: dict[str, Any], reads: list[str]) -> str:
    """What a section's result depends on: its notebook, its parameters, the package, the data, and
    the committed results it ``reads`` (recorded when it last ran).

    Sections share work through the caches (VAE latents), never through each other's files, so
    a section's key does not include the keys of earlier sections. The reads recorded by the
    section's last execution are the ones it makes now unless its notebook, parameters or the
    package changed -- and each of those changes the key by itself.
    """
    nb = hashlib.sha256((notebook_dir() / f"{section}.ipynb").read_bytes()).hexdigest()
    visible = {k: v for k, v in params.items() if k != "output_dir"}
    return store.content_key(nb, visible, _package_hash(), _data_identity(str(params.get("dataset", ""))),
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



def _execute(section: str, name: str, sec_dir: Path, params: dict[str, Any], log_output: bool) -> list[str]:
    """Execute one section notebook into ``sec_dir`` (atomically: a scratch file renamed at the end);
    return the committed folders it read. A failing cell raises ReplicateError naming it."""
    t0 = time.perf_counter()
    scratch = sec_dir / f".{name}.running.ipynb"
    progress_file, reads_file = sec_dir / ".progress.log", sec_dir / ".reads.log"
    reads_file.unlink(missing_ok=True)
    heartbeat = lambda: f"    {name}: still running, {time.perf_counter() - t0:.0f}s"  # noqa: E731
    os.environ[progress.ENV] = str(progress_file.resolve())
    os.environ[paths.READS_ENV] = str(reads_file.resolve())
    try:
        with contextlib.ExitStack() as stack:
            stack.enter_context(progress.follow(progress_file, lambda line: print(f"    {line}", flush=True),
                                                heartbeat=heartbeat, heartbeat_s=15.0))
            if not log_output:
                stack.enter_context(_kernel_output_to(sec_dir / ".kernel.log"))
            pm.execute_notebook(str(notebook_dir() / f"{section}.ipynb"), str(scratch), parameters=params,
                                cwd=str(sec_dir), kernel_name="python3", progress_bar=False, log_output=log_output)
    except pm.PapermillExecutionError as exc:
        failed = sec_dir / f"{name}.failed.ipynb"
        relative_notebook_paths(scratch, section, failed.name)
        scratch.replace(failed)
        raise _SectionFailed(exc, failed) from None
    except BaseException:
        scratch.unlink(missing_ok=True)
        raise
    finally:
        os.environ.pop(progress.ENV, None)
        os.environ.pop(paths.READS_ENV, None)
    target = sec_dir / f"{name}.ipynb"
    relative_notebook_paths(scratch, section, target.name)
    scratch.replace(target)
    return paths.recorded_reads(reads_file)


class _SectionFailed(Exception):
    def __init__(self, exc: Any, notebook: Path) -> None:
        super().__init__(exc.evalue)
        self.exc, self.notebook = exc, notebook


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


def run(profile: str = "quick", dataset: str | None = None, *, overrides: dict[str, Any] | None = None,
        results: str | os.PathLike = "results", sections: tuple[str, ...] = SECTIONS,
        methods: list[str] | None = None, log_output: bool = False, force: bool = False) -> Path:
    """Execute the sections of ``profile`` on ``dataset``; return the run folder.

    A section whose key (:func:`section_key`) matches the manifest's is skipped, unless
    ``force``. On a failing section the run stops; earlier sections stay intact, the failed
    notebook is kept (as ``<section>.failed.ipynb``) so the failing cell can be read, and the
    manifest says which section failed. Progress reaches the terminal at least every 15 s.
    ``log_output`` streams every cell's output (and the kernel's log) to the terminal instead.
    """
    per_section, chosen, plan = _plan(profile, dataset, dict(overrides or {}), sections, methods)
    ds = per_section[sections[0]]["dataset"]
    out = run_dir(ds, profile, results)
    out.mkdir(parents=True, exist_ok=True)
    manifest_path = out / "manifest.json"
    previous = json.loads(manifest_path.read_text()).get("sections", {}) if manifest_path.is_file() else {}
    manifest: dict[str, Any] = {"profile": profile, "dataset": ds, "methods": chosen, "sections": {},
                                "order": [name for name, _, _ in plan], "versions": versions()}
    start = time.perf_counter()
    for i, (name, section, fixed) in enumerate(plan, 1):
        sec_dir = out / name
        sec_dir.mkdir(exist_ok=True)
        params = {**per_section[section], **fixed}
        if "output_dir" in notebook_parameters(section):
            params["output_dir"] = "."  # the notebook runs in its section folder: no machine path anywhere
        before = previous.get(name, {})
        unchanged = (before.get("status") == "done" and (sec_dir / f"{name}.ipynb").is_file()
                     and before.get("key") == section_key(section, params, before.get("reads", [])))
        if unchanged and not force:
            manifest["sections"][name] = {**before, "skipped": True}
            store.write_json(manifest_path, manifest)
            print(f"[{i}/{len(plan)}] {name}: unchanged, skipped", flush=True)
            continue
        print(f"[{i}/{len(plan)}] {name} (elapsed {time.perf_counter() - start:.0f}s)", flush=True)
        t0 = time.perf_counter()
        try:
            reads = _execute(section, name, sec_dir, params, log_output)
        except _SectionFailed as failed:
            manifest["sections"][name] = {"status": "failed", "parameters": params, "error": failed.exc.evalue,
                                          "notebook": failed.notebook.relative_to(out).as_posix()}
            store.write_json(manifest_path, manifest)
            raise ReplicateError(
                f"section {name} failed in cell {failed.exc.exec_count}: {failed.exc.ename}: {failed.exc.evalue}\n"
                f"The executed notebook with the failing cell is {failed.notebook}; the kernel's log is "
                f"{sec_dir / '.kernel.log'}."
            ) from None
        manifest["sections"][name] = {"status": "done", "parameters": params, "reads": reads,
                                      "key": section_key(section, params, reads),
                                      "seconds": round(time.perf_counter() - t0, 1), "skipped": False}
        store.write_json(manifest_path, manifest)
    manifest["seconds"] = round(time.perf_counter() - start, 1)
    manifest["date"] = dt.date.today().isoformat()
    store.write_json(manifest_path, manifest)
    print(f"done in {manifest['seconds']:.0f}s: {out}")
    return out

"""`replicate run`: execute the section notebooks in order with papermill into a run folder.

A run lives in ``results/<dataset>/<profile>/``: one folder per section holding the executed
notebook and its tables, plus ``manifest.json`` (parameters, timings, versions, status). Every
path recorded there is relative to the run folder. While a notebook executes, its progress
lines (VAE epochs, grid cells) are printed on the terminal; the kernel's own log noise goes to
``<section>/.kernel.log`` instead.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from . import progress, store
from ._resources import profiles
from .errors import ParameterError, ReplicateError
from .params import check
from .provenance import project_root, versions

__all__ = ["SECTIONS", "PER_METHOD", "expand_sections", "notebook_dir", "notebook_parameters",
           "resolve_parameters", "run"]

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
    import papermill as pm

    from .params import parse_value

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
    import hashlib

    h = hashlib.sha256()
    pkg = Path(__file__).resolve().parent
    for f in sorted(pkg.rglob("*")):
        if f.suffix in (".py", ".toml") and "__pycache__" not in f.parts:
            h.update(f.relative_to(pkg).as_posix().encode())
            h.update(f.read_bytes())
    return h.hexdigest()


#: Committed study results a section reads (a change there re-executes the section).
READS = {"02_vae": ("results/stability",), "07_open_points": ("results/stability",),
         "08_why": ("results/why",), "09_generalisation": ("results/generalisation",),
         "10_uncertainty": ("results/generalisation",)}


def _reads_identity(section: str) -> str:
    import hashlib

    h = hashlib.sha256()
    for folder in READS.get(section, ()):
        for f in sorted((project_root() / folder).glob("*")):
            if f.is_file():
                h.update(f.name.encode())
                h.update(f.read_bytes())
    return h.hexdigest()


def _data_identity(dataset: str) -> str:
    from ._resources import registry
    from .datasets import file_sha256

    if not dataset:
        return ""
    if dataset in registry():
        return store.content_key(dataset, registry()[dataset])
    path = Path(dataset).expanduser()
    if path.is_file():
        return file_sha256(path)
    return store.content_key(sorted((p.name, p.stat().st_size, p.stat().st_mtime) for p in path.rglob("*")))


def section_key(section: str, params: dict[str, Any]) -> str:
    """What a section's result depends on: its notebook, its parameters, the package, the data.

    Sections share work through the caches (VAE latents), never through each other's files, so
    a section's key does not include the keys of earlier sections.
    """
    import hashlib

    nb = hashlib.sha256((notebook_dir() / f"{section}.ipynb").read_bytes()).hexdigest()
    visible = {k: v for k, v in params.items() if k != "output_dir"}
    return store.content_key(nb, visible, _package_hash(), _data_identity(str(params.get("dataset", ""))),
                             _reads_identity(section))


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
    from printed warnings (:func:`replicate.provenance.scrub_paths`), so no machine path is published."""
    import nbformat

    from .provenance import scrub_notebook

    nb = nbformat.read(path, as_version=4)
    meta = nb.metadata.get("papermill")
    if meta is not None:
        meta["input_path"] = f"notebooks/{section}.ipynb"
        meta["output_path"] = output_name
        nbformat.write(nb, path)
    scrub_notebook(path)


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
    import datetime as dt
    import json

    import papermill as pm

    overrides = dict(overrides or {})
    if "method" in overrides:
        raise ParameterError("method is set per clustering section by the profile's `methods`; "
                             "use `replicate run --methods kmeans,birch` instead of --set method=...")
    per_section = resolve_parameters(profile, dataset, overrides)
    chosen = list(methods) if methods else list(profiles()[profile].get("methods", ["kmeans"]))
    for m in chosen:
        check(method=m)
    plan = expand_sections(chosen, sections)
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
        key = section_key(section, params)
        target = sec_dir / f"{name}.ipynb"
        before = previous.get(name, {})
        if not force and before.get("status") == "done" and before.get("key") == key and target.is_file():
            manifest["sections"][name] = {**before, "skipped": True}
            store.write_json(manifest_path, manifest)
            print(f"[{i}/{len(plan)}] {name}: unchanged, skipped", flush=True)
            continue
        print(f"[{i}/{len(plan)}] {name} (elapsed {time.perf_counter() - start:.0f}s)", flush=True)
        t0 = time.perf_counter()
        scratch = sec_dir / f".{name}.running.ipynb"
        progress_file = sec_dir / ".progress.log"
        heartbeat = lambda: f"    {name}: still running, {time.perf_counter() - t0:.0f}s"  # noqa: E731
        os.environ[progress.ENV] = str(progress_file.resolve())
        try:
            with contextlib.ExitStack() as stack:
                stack.enter_context(progress.follow(progress_file, lambda line: print(f"    {line}", flush=True),
                                                    heartbeat=heartbeat, heartbeat_s=15.0))
                if not log_output:
                    stack.enter_context(_kernel_output_to(sec_dir / ".kernel.log"))
                pm.execute_notebook(str(notebook_dir() / f"{section}.ipynb"), str(scratch), parameters=params,
                                    cwd=str(sec_dir), kernel_name="python3", progress_bar=False,
                                    log_output=log_output)
        except pm.PapermillExecutionError as exc:
            failed = sec_dir / f"{name}.failed.ipynb"
            relative_notebook_paths(scratch, section, failed.name)
            scratch.replace(failed)
            manifest["sections"][name] = {"status": "failed", "parameters": params, "error": exc.evalue,
                                          "notebook": failed.relative_to(out).as_posix()}
            store.write_json(manifest_path, manifest)
            raise ReplicateError(
                f"section {name} failed in cell {exc.exec_count}: {exc.ename}: {exc.evalue}\n"
                f"The executed notebook with the failing cell is {failed}; the kernel's log is "
                f"{sec_dir / '.kernel.log'}."
            ) from None
        except BaseException:
            scratch.unlink(missing_ok=True)
            raise
        finally:
            os.environ.pop(progress.ENV, None)
        relative_notebook_paths(scratch, section, target.name)
        scratch.replace(target)
        manifest["sections"][name] = {"status": "done", "parameters": params, "key": key,
                                      "seconds": round(time.perf_counter() - t0, 1), "skipped": False}
        store.write_json(manifest_path, manifest)
    manifest["seconds"] = round(time.perf_counter() - start, 1)
    manifest["date"] = dt.date.today().isoformat()
    store.write_json(manifest_path, manifest)
    print(f"done in {manifest['seconds']:.0f}s: {out}")
    return out

"""`replicate run`: execute the section notebooks in order with papermill into a run folder.

A run lives in ``results/<dataset>/<profile>/``: one folder per section holding the executed
notebook and its tables, plus ``manifest.json`` (parameters, timings, versions, status).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from . import store
from ._resources import profiles
from .errors import ParameterError, ReplicateError
from .params import check

__all__ = ["SECTIONS", "project_root", "notebook_dir", "notebook_parameters", "resolve_parameters", "run"]

#: Section notebooks in dependency order.
SECTIONS = ("01_data", "02_vae", "03_clustering", "05_table1")


def project_root() -> Path:
    """The source checkout this package runs from (it holds notebooks/ and book/)."""
    root = Path(__file__).resolve().parents[1]
    if not (root / "notebooks").is_dir():
        raise ReplicateError(
            f"cannot find the notebooks/ folder next to the package ({root}). "
            "Run `replicate` from a clone of the repository installed with `pip install -e .`."
        )
    return root


def notebook_dir() -> Path:
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


def run(profile: str = "quick", dataset: str | None = None, *, overrides: dict[str, Any] | None = None,
        results: str | os.PathLike = "results", sections: tuple[str, ...] = SECTIONS,
        log_output: bool = False) -> Path:
    """Execute the sections of ``profile`` on ``dataset``; return the run folder.

    On a failing section the run stops; earlier sections stay intact, the failed notebook is
    kept (as ``<section>.failed.ipynb``) so the failing cell can be read, and the manifest says
    which section failed.
    """
    import papermill as pm

    per_section = resolve_parameters(profile, dataset, overrides or {})
    ds = per_section[sections[0]]["dataset"]
    out = run_dir(ds, profile, results)
    out.mkdir(parents=True, exist_ok=True)
    manifest_path = out / "manifest.json"
    manifest: dict[str, Any] = {"profile": profile, "dataset": ds, "sections": {}}
    from .study import versions

    manifest["versions"] = versions()
    start = time.perf_counter()
    for i, section in enumerate(sections, 1):
        sec_dir = (out / section).resolve()
        sec_dir.mkdir(exist_ok=True)
        params = dict(per_section[section])
        if "output_dir" in notebook_parameters(section):
            params["output_dir"] = str(sec_dir)
        print(f"[{i}/{len(sections)}] {section} (elapsed {time.perf_counter() - start:.0f}s)", flush=True)
        t0 = time.perf_counter()
        target = sec_dir / f"{section}.ipynb"
        scratch = sec_dir / f".{section}.running.ipynb"
        try:
            pm.execute_notebook(str(notebook_dir() / f"{section}.ipynb"), str(scratch), parameters=params,
                                cwd=str(sec_dir), kernel_name="python3", progress_bar=False,
                                log_output=log_output)
        except pm.PapermillExecutionError as exc:
            failed = sec_dir / f"{section}.failed.ipynb"
            scratch.replace(failed)
            manifest["sections"][section] = {"status": "failed", "parameters": params, "error": exc.evalue,
                                             "notebook": str(failed)}
            store.write_json(manifest_path, manifest)
            raise ReplicateError(
                f"section {section} failed in cell {exc.exec_count}: {exc.ename}: {exc.evalue}\n"
                f"The executed notebook with the failing cell is {failed}."
            ) from None
        except BaseException:
            scratch.unlink(missing_ok=True)
            raise
        scratch.replace(target)
        manifest["sections"][section] = {"status": "done", "parameters": params,
                                         "seconds": round(time.perf_counter() - t0, 1)}
        store.write_json(manifest_path, manifest)
    manifest["seconds"] = round(time.perf_counter() - start, 1)
    store.write_json(manifest_path, manifest)
    print(f"done in {manifest['seconds']:.0f}s: {out}")
    return out

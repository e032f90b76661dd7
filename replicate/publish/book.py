"""`replicate book`: build the Jupyter Book (1.x, offline) from a run folder.

The run's executed notebooks are rendered as they are (never executed again); the one page that
the build executes is ``own_data`` (the five-line route on one's own AnnData). Facts the prose
pages mention -- library versions, counts -- are MyST substitutions written from the run's
manifest and the package's data files, so no page types them.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import nbformat
import yaml

from ..io.errors import ReplicateError
from ..io.facts import PAPER_DATASET, paper, profiles, registry
from ..io.paths import project_root
from ..io.provenance import run_info, run_info_markdown, scrub_notebook
from ..paper.claims import rules
from ..paper.table1 import paper_table1
from ..studies.fingerprints import targets
from ..studies.stability import committed_summary
from ..studies.generalisation import DATASETS as GENERALISATION_DATASETS
from ..studies.why import READINGS, committed
from .builder import jupyter_book, run_build
from .pages.table1 import glue_name
from .performance import markdown as performance_markdown
from .compare import RELATIVE
from .status import markdown as status_markdown
from .verify import markdown as verification_markdown
from .pages.rebuild_times import markdown as rebuild_markdown
from .times import latest as rebuild_latest
from .restamp import markdown as restamp_markdown
from .pages.verdict import markdown as verdict_markdown
from .pages import controls as controls_page
from .pages import cpu_family, parameters, provenance, published
from . import exercises
from .exercises import markdown as exercise_markdown
from .pipeline import PER_METHOD, notebook_parameters

__all__ = ["ADDED", "build", "add_section", "substitutions", "write_toc", "write_run_info"]

#: Prose pages of book/ around the executed sections, in reading order.
BEFORE = ["methods"]
AFTER = ["discussion", "own_data", "performance", "rerun", "exercises"]
#: Pages staged from notebooks/ (executed while the book is built).
FROM_NOTEBOOKS = ["own_data"]


def _method_title(method: str) -> str:
    rows = paper_table1().dropna(subset=["method"]).set_index("method")["row"]
    return rows[method].removeprefix("VAE+") if method in rows else method.upper()


def _ran_with(params: dict[str, Any], defaults: dict[str, Any]) -> str:
    """One line: the dataset, seeds and profile of a page, and every parameter that differs from its default."""
    shown = {k: params[k] for k in ("dataset", "profile", "seeds", "method") if k in params}
    changed = {k: v for k, v in params.items()
               if k not in shown and k != "output_dir" and k in defaults and defaults[k] != v}
    parts = [f"{k} `{_short_value(v)}`" for k, v in shown.items()]
    line = "**This page ran with** " + ", ".join(parts)
    if changed:
        line += "; changed from the notebook's defaults: " + ", ".join(f"`{k} = {v!r}`" for k, v in changed.items())
    else:
        line += "; every other parameter at the notebook's default"
    return line + "."


def _short_value(v: Any) -> str:
    if isinstance(v, list) and len(v) > 3 and all(isinstance(x, int) for x in v) and v == list(range(v[0], v[-1] + 1)):
        return f"{v[0]}–{v[-1]}"
    return str(v)


def prepare_page(path: Path, *, params: dict[str, Any], defaults: dict[str, Any], title_suffix: str = "",
                 provenance: str = "") -> None:
    """Make an executed notebook read result-first on the site (the run's own copy is not touched).

    The parameters cell and papermill's injected cell are removed, every code cell's input is
    folded away (one click shows it), and a line under the title says what the page ran with,
    followed by ``provenance`` (:mod:`replicate.publish.pages.provenance`: which commit made it).
    """
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        tags = cell.metadata.setdefault("tags", [])
        if cell.cell_type != "code":
            continue
        if "parameters" in tags or "injected-parameters" in tags:
            tags.append("remove-cell")
        elif not any(t.startswith("remove-") or t == "hide-input" for t in tags):
            tags.append("hide-input")
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "markdown" and cell.source.lstrip().startswith("# "):
            if title_suffix:
                head, _, rest = cell.source.lstrip().partition("\n")
                cell.source = f"{head}: {title_suffix}\n{rest}"
            nb.cells.insert(i + 1, nbformat.v4.new_markdown_cell(_ran_with(params, defaults)))
            if provenance:
                nb.cells.insert(i + 2, nbformat.v4.new_markdown_cell(provenance))
            break
    nbformat.write(nb, path)


#: Sections the book adds to an executed page from committed results (so the page's run is not re-made):
#: page -> (the function of the run folder that writes the section's Markdown, the heading it goes before,
#: the steps of the study graph that make what it shows).
ADDED = {"05_table1": (controls_page.table1_markdown, "## How a setting is chosen", ("controls-table1",)),
         "09_generalisation": (lambda run: controls_page.generalisation_markdown() + "\n\n" + published.markdown(),
                               "## The paper's comparative claims",
                               tuple(f"controls-{d}" for d in GENERALISATION_DATASETS))}


def add_section(path: Path, markdown: str, *, before: str | None = None) -> None:
    """Insert ``markdown`` into the executed notebook at ``path`` as one Markdown cell, before the cell
    with a line starting ``before`` (at the end when there is none, or ``before`` is None)."""
    nb = nbformat.read(path, as_version=4)
    at = next((i for i, c in enumerate(nb.cells) if before and c.cell_type == "markdown"
               and any(line.startswith(before) for line in c.source.splitlines())), len(nb.cells))
    nb.cells.insert(at, nbformat.v4.new_markdown_cell(markdown))
    nbformat.write(nb, path)


def write_run_info(folder: Path, manifest: dict) -> Path:
    """``_generated/run_info.md``: the run a prose page shows (dataset, profile, methods, date, versions)."""
    info = run_info(dataset=manifest.get("dataset", "?"), profile=manifest.get("profile", ""),
                    date=manifest.get("date"), methods=manifest.get("methods", []),
                    version_map=manifest.get("versions", {}))
    text = (f"```{{admonition}} The run shown in this book\n:class: note\n"
            f"{run_info_markdown(info)}\n```\n")
    path = folder / "_generated" / "run_info.md"
    path.parent.mkdir(exist_ok=True)
    path.write_text(text)
    return path


def write_toc(folder: Path, sections: list[str]) -> Path:
    """The book's _toc.yml: intro, methods, the run's sections (a page per clustering method), the rest."""
    lines = ["format: jb-book", "root: intro", "chapters:"]
    lines += [f"  - file: {p}" for p in BEFORE]
    for name in sections:
        lines.append(f"  - file: {name}")
        if name.startswith(PER_METHOD + "-"):
            lines.append(f'    title: "3. Clustering: {_method_title(name.split("-", 1)[1])}"')
    lines += [f"  - file: {p}" for p in AFTER]
    path = folder / "_toc.yml"
    path.write_text("\n".join(lines) + "\n")
    return path


def _defaults(section: str) -> dict[str, Any]:
    try:
        return notebook_parameters(section)
    except (OSError, ValueError):  # a section that no longer exists in notebooks/
        return {}


def _encoder_weights(facts: dict[str, Any]) -> int:
    """Weights of the paper's encoder on its genes: the dense layers to the hidden widths, then mu and log sigma^2."""
    sizes = [facts["data"]["n_genes"], *facts["model"]["encoder_hidden"]]
    hidden = sum(a * b + b for a, b in zip(sizes, sizes[1:]))
    return hidden + 2 * (sizes[-1] * facts["model"]["latent_dim"] + facts["model"]["latent_dim"])


def _profiles_table() -> str:
    """The run profiles as a Markdown table (from ``profiles.toml``: one place for their seeds and epochs)."""
    lines = ["| profile | data | VAE seeds x epochs | grids | |", "|---|---|---|---|---|"]
    for name, prof in profiles().items():
        params = prof.get("params", {})
        lines.append(f"| `{name}` | `{prof['dataset']}` | {len(params.get('seeds', [0]))} x {params.get('epochs', '')} | "
                     f"{params.get('grid', 'full')} | {prof['description']} |")
    return "\n".join(lines)


def _verdict(run: Path | None, manifest: dict[str, Any]) -> str:
    """The introduction's verdict line: only a run on the paper's cells, with Table 1 and the claims, gives one."""
    dataset = manifest.get("dataset", "")
    if dataset != PAPER_DATASET:
        return (f"*This book comes from a run on `{dataset or 'an unnamed data set'}`, not on the paper's cells "
                f"(`{PAPER_DATASET}`), so it gives no verdict on the replication: the committed study run does.*")
    done = {name for name, s in manifest.get("sections", {}).items() if s.get("status") == "done"}
    if run is None or not {"05_table1", "06_claims"} <= done:
        return "*This run has no Table 1 and claims sections, so no verdict.*"
    return verdict_markdown(run)


def substitutions(manifest: dict[str, Any], run: Path | None = None) -> dict[str, str]:
    """The facts prose pages quote (``{{ name }}``), from the run's manifest and the data files.

    Besides versions and the paper's facts, every registered data set's shape is there as
    ``<name>_cells``, ``<name>_genes``, ``<name>_labels`` (dashes as underscores, thousands with commas),
    and every reading's outcome in the committed stability study as ``stability_<name>`` (and
    ``stability_<name>_active``, its mean active latent units), the name as
    :func:`replicate.publish.pages.table1.glue_name` spells it.
    """
    versions = manifest.get("versions", {})
    facts = paper()
    out = {
        "run_tensorflow": versions.get("tensorflow-cpu", versions.get("tensorflow", "?")),
        "run_keras": versions.get("keras", "?"),
        "run_sklearn": versions.get("scikit-learn", "?"),
        "paper_framework": facts["model"]["framework"],
        "paper_sklearn": facts["model"]["clustering_library"],
        "paper_genes": f"{facts['data']['n_genes']:,}",
        "paper_cells": f"{facts['data']['n_cells_table1']:,}",
        "paper_vaes": str(facts["model"]["n_vaes"]),
        "paper_lr": f"{facts['model']['learning_rate']:g}",
        "paper_batch": str(facts["model"]["batch_size"]),
        "paper_epochs": str(facts["model"]["epochs"]),
        "paper_latent": str(facts["model"]["latent_dim"]),
        "paper_clusters": str(facts["data"]["n_clusters"]),
        "c3_margin": f"{rules()['C3']['margin']:g}",
        "c9_margin": f"{rules()['C9']['margin']:g}",
        "paper_encoder_weights": f"{_encoder_weights(facts) / 1e6:.0f} million",
        "kl_spike_factor": f"{targets()['training_health']['kl_spike_factor']:g}",
    }
    out["profiles_table"], out["parameters_table"] = _profiles_table(), parameters.markdown()
    out["study_status"], out["verification"] = status_markdown(rebuild_latest()), verification_markdown()
    out["verify_relative"] = f"{RELATIVE:g}"
    out["rebuild_times"] = rebuild_markdown()
    out.update(cpu_family.measured())
    out["run_family"] = cpu_family.run_family(manifest)
    out["restamps"] = restamp_markdown()
    out["verdict"] = _verdict(run, manifest)
    out["exercises_table"] = exercises.index_markdown(list(manifest.get("order", manifest.get("sections", {}))))
    for name, info in registry().items():
        for field in ("cells", "genes", "labels", "genes_differ"):
            if field in info:
                out[f"{name.replace('-', '_')}_{field}"] = f"{info[field]:,}"
    readings = committed(READINGS)
    out["readings_seeds"] = str(int(readings.groupby("reading")["seed"].nunique().max())) if readings is not None else "several"
    try:
        summary = committed_summary()
        out["n_readings"], out["stability_seeds"] = str(len(summary)), str(int(summary["seeds"].max()))
        for name, row in summary.iterrows():  # each reading's outcome: {{ stability_<name> }}, ..._active
            out[f"stability_{glue_name(name)}"] = str(row["outcomes"])
            active = row["active_units"]
            out[f"stability_{glue_name(name)}_active"] = "—" if active != active else f"{active:.0f}"
    except ReplicateError:
        out["n_readings"], out["stability_seeds"] = "several", "several"
    return out


def write_performance(folder: Path) -> Path:
    """``_generated/performance.md``: the committed benchmark figures (``benchmarks/results``)."""
    path = folder / "_generated" / "performance.md"
    path.parent.mkdir(exist_ok=True)
    path.write_text(performance_markdown(path.parent))
    return path


def _write_config(stage: Path, manifest: dict[str, Any], repository: str | None = None,
                  run: Path | None = None) -> str:
    """Fill in the substitutions and, when a repository URL is known, the repository link and launch buttons.

    The one setting is ``repository.url`` in ``book/_config.yml`` (or ``replicate book
    --repository URL``). Launch buttons open a page's source notebook in ``notebooks/`` on
    Binder or Colab (a clustering page opens ``03_clustering``, parameterised by ``method``).
    Returns the repository URL used ('' for none).
    """
    path = stage / "_config.yml"
    config = yaml.safe_load(path.read_text())
    config.setdefault("parse", {})["myst_substitutions"] = substitutions(manifest, run)
    repo = config.setdefault("repository", {})
    url = (repository if repository is not None else repo.get("url") or "").strip()
    html = config.setdefault("html", {})
    if url:
        repo.update(url=url, path_to_book="notebooks", branch=repo.get("branch") or "main")
        html["use_repository_button"] = True
        config["launch_buttons"] = {"binderhub_url": "https://mybinder.org",
                                    "colab_url": "https://colab.research.google.com",
                                    "notebook_interface": "jupyterlab"}
    else:
        config.pop("repository", None)
        html["use_repository_button"] = False
    path.write_text(yaml.safe_dump(config, sort_keys=False, allow_unicode=True))
    return url


def _fix_launch_links(html_dir: Path, sections: list[str]) -> None:
    """Point each page's launch buttons at a notebook that exists in the repository."""
    renames = {f"{name}.ipynb": f"{PER_METHOD}.ipynb" for name in sections if name.startswith(PER_METHOD + "-")}
    renames.update({f"{name}.md": f"{name}.ipynb" for name in FROM_NOTEBOOKS})
    for page in html_dir.glob("*.html"):
        text = page.read_text(encoding="utf-8")
        new = text
        for old, target in renames.items():
            new = new.replace(f"notebooks/{old}", f"notebooks/{target}").replace(f"notebooks%2F{old}", f"notebooks%2F{target}")
        if new != text:
            page.write_text(new, encoding="utf-8")


def build(run: str | Path, *, strict: bool = True, repository: str | None = None) -> Path:
    """Stage ``book/`` with the run's executed notebooks and build it; return the HTML folder.

    The book is built in a scratch folder and moved to ``<run>/book`` only when the build
    succeeds, so a failed build never replaces a good one. ``strict`` turns every Sphinx warning
    (a missing glued number, a broken link) into a failure.
    """
    run = Path(run)
    manifest = run / "manifest.json"
    if not manifest.is_file():
        raise ReplicateError(f"{run} is not a run folder (no manifest.json). Create one with `replicate run`.")
    info = json.loads(manifest.read_text())
    sections = list(info.get("order", info.get("sections", {})))
    missing = [s for s in sections if info["sections"].get(s, {}).get("status") != "done"]
    if missing or not sections:
        raise ReplicateError(f"run {run} has unfinished sections: {', '.join(missing) or 'all'}. "
                             "Re-run `replicate run`.")
    stage = run / ".book.building"
    shutil.rmtree(stage, ignore_errors=True)
    shutil.copytree(project_root() / "book", stage, ignore=shutil.ignore_patterns("_build"))
    exercise_list, made = exercises.exercises(), exercises.answers()
    notes = provenance.BookNotes(run, info)
    for name in sections:
        page = stage / f"{name}.ipynb"
        shutil.copyfile(run / name / f"{name}.ipynb", page)
        section = name.split("-", 1)[0] if name.startswith(PER_METHOD + "-") else name
        suffix = _method_title(name.split("-", 1)[1]) if section == PER_METHOD else ""
        placed = [e for e in exercise_list if e["page"] == name]  # each chapter ends with its exercise
        shown = [*ADDED.get(name, ((), (), ()))[2], *(["exercises"] if placed else [])]
        prepare_page(page, params=info["sections"][name].get("parameters", {}),
                     defaults=_defaults(section), title_suffix=suffix, provenance=notes.section(name, shown))
        scrub_notebook(page)  # runs made before paths were scrubbed at execution
        if name in ADDED:
            write, before, _ = ADDED[name]
            add_section(page, write(run), before=before)
        for ex in placed:
            add_section(page, exercise_markdown(ex, made))
    for name in FROM_NOTEBOOKS:
        shutil.copyfile(project_root() / "notebooks" / f"{name}.md", stage / f"{name}.md")
    for name in ["intro", *BEFORE, *AFTER]:
        notes.prose(next(stage.glob(f"{name}.*")), executed=name in FROM_NOTEBOOKS)
    notes.write(stage / "provenance.json")
    write_toc(stage, sections)
    write_run_info(stage, info)
    write_performance(stage)
    url = _write_config(stage, info, repository, run)
    cmd = [jupyter_book(), "build", "--all", str(stage)]
    if strict:
        cmd[3:3] = ["-W", "-n", "--keep-going"]
    code, tail = run_build(cmd)
    if code != 0:
        log = "".join(tail)[-4000:]
        raise ReplicateError(f"jupyter-book build failed (the previous book, if any, is kept):\n{log}")
    if url:
        _fix_launch_links(stage / "_build" / "html", sections)
    for nb in (stage / "_build").rglob("*.ipynb"):  # pages executed at build time (own data), and their copies
        scrub_notebook(nb)
    final = run / "book"
    shutil.rmtree(final, ignore_errors=True)
    stage.replace(final)
    return final / "_build" / "html"

"""The re-run page's table of notebook parameters: each parameter, the notebooks that declare it (read from their
``parameters`` cells, so the table follows the notebooks) and what it means."""

from __future__ import annotations

from pathlib import Path

import nbformat

from ...io.facts import paper
from ...io.paths import project_root
from ..params import declared_names

__all__ = ["MEANINGS", "declared", "markdown"]

#: What each parameter means, grouped as the page shows them (a group's parameters are declared by the same
#: notebooks); ``{name}``: a fact of the paper's data file.
MEANINGS: dict[tuple[str, ...], str] = {
    ("dataset",): "`pbmc68k-reduced` (offline default), `pbmc2100-top2000` (the paper's cells), `paper-pbmc4k`, "
                  "`paper-pbmc2100`, any name `replicate datasets` lists, or a file path",
    ("label_key",): "`.obs` column holding the true labels, for `.h5ad` files",
    ("h5ad",): "the `.h5ad` file of one's own labelled cells",
    ("target_sum", "clip_zscore"): "preprocessing: total per cell (`None` = median), z-score clipping (`None` = none)",
    ("profile", "output_dir"): "the profile's name shown on the page, and the folder for the tables (`replicate run` "
                               "sets both; an empty folder writes nothing)",
    ("seeds",): "one VAE per seed; the paper trains {n_vaes}",
    ("epochs", "learning_rate", "batch_size"): "training (paper: {epochs}, {learning_rate:g}, {batch_size})",
    ("encoder_hidden", "decoder_hidden", "latent_dim"): "sizes (paper: `[2048]`, `[128]`, {latent_dim})",
    ("activation", "reconstruction"): "`relu`; `sum` (eq. 4) or `mean`",
    ("batch_norm", "logvar_clamp", "grad_clipnorm", "adam_epsilon"): "stabilisers; only `batch_norm` is on by "
                                                                     "default (see the VAE page)",
    ("reconstruction_weight", "kl_warmup_epochs"): "the balance of the loss (not in the paper; 1 and 0 by default; "
                                                   "see \"why we differ\")",
    ("compare_reading",): "a second VAE reading shown beside the default: `fingerprint-matched` (the committed "
                          "readings study), a reading named in `replicate/data/stability.toml`, or empty",
    ("variant_seeds", "encoder_variants"): "the claims' encoder variants: the seeds each trains and which variants",
    ("sensitivity_seeds",): "the seeds of the open points' preprocessing readings",
    ("method",): "which clusterer (one page each)",
    ("grid",): "how much of each clusterer's grid: `full`, `paper`, or every n-th setting",
    ("cluster_random_state",): "the clusterers' own seed",
    ("n_jobs", "scheduler"): "grid cells in parallel locally, or on a Dask scheduler (`tcp://host:8786`; also "
                             "`$REPLICATE_DASK_SCHEDULER`)",
    ("cell_time_limit",): "seconds a grid cell may run before it is stopped and recorded as `timeout` (the rest of "
                          "the grid goes on)",
    ("samples",): "Monte-Carlo samples per cell for the consensus clustering",
}

#: How the table names each notebook.
SHORT = {"01_data": "data", "02_vae": "VAE", "03_clustering": "clustering", "04_baselines": "baselines",
         "05_table1": "Table 1", "06_claims": "claims", "07_open_points": "open points", "08_why": "why",
         "09_generalisation": "generalisation", "10_uncertainty": "uncertainty", "own_data": "own data"}


def declared(folder: str | Path | None = None) -> dict[str, list[str]]:
    """Each notebook's declared parameters (its ``parameters`` cell), by file name without suffix."""
    out = {}
    for path in sorted(Path(folder or project_root() / "notebooks").glob("*.ipynb")):
        cells = nbformat.read(path, as_version=4).cells
        cell = next((c for c in cells if "parameters" in c.get("metadata", {}).get("tags", [])), None)
        out[path.stem] = declared_names(cell.source) if cell is not None else []
    return out


def _where(names: tuple[str, ...], by_notebook: dict[str, list[str]]) -> str:
    having = [nb for nb, declared_here in by_notebook.items() if any(n in declared_here for n in names)]
    sections = [nb for nb in by_notebook if nb[:2].isdigit()]
    if set(sections) <= set(having):
        return "every section" + (", own data" if "own_data" in having else "")
    missing = [SHORT.get(nb, nb) for nb in sections if nb not in having]
    if len(having) > len(sections) / 2 and len(missing) <= 2:
        return f"every section but {' and '.join(missing)}" + (", own data" if "own_data" in having else "")
    return ", ".join(SHORT.get(nb, nb) for nb in having)


def markdown(folder: str | Path | None = None) -> str:
    """The table: parameter(s), the notebooks that take them, what they mean (the paper's values from its data
    file)."""
    by_notebook, model = declared(folder), paper()["model"]
    facts = {"n_vaes": model["n_vaes"], "epochs": model["epochs"], "learning_rate": model["learning_rate"],
             "batch_size": model["batch_size"], "latent_dim": model["latent_dim"]}
    lines = ["| parameter | notebooks | meaning |", "|---|---|---|"]
    for names, meaning in MEANINGS.items():
        shown = ", ".join(f"`{n}`" for n in names)
        lines.append(f"| {shown} | {_where(names, by_notebook)} | {meaning.format(**facts)} |")
    return "\n".join(lines)

"""The recipe's own book: a verdict page first (the answer, the scores beside their controls, the
paper's claims on these cells), then what ran and what it cost. Built with Jupyter Book from
Markdown pages written here; the book is built in a scratch folder and replaces ``<folder>/book``
only when the build succeeds.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from ..io.errors import ReplicateError  # noqa: E402
from ..paper.claims import rule_text, rules  # noqa: E402
from ..paper.table1 import DEFAULT_READING  # noqa: E402
from ..studies.recipe_tables import METRICS, RESCALED, SHORT, diverged_text, headline  # noqa: E402
from .builder import jupyter_book, run_build  # noqa: E402
from .figures import WIDTH, theme  # noqa: E402
from .names import NAMES  # noqa: E402
from .pages.controls import fmt  # noqa: E402

__all__ = ["label", "headline_of", "scores_figure", "verdict_page", "details_page", "build"]


def label(method: str, variant: str, reading: str) -> str:
    """A row's name on the page: the method, "rescaled" for AP's second setting, the reading when not the default."""
    name = NAMES.get(method, method)
    if variant == RESCALED:
        name += ", rescaled"
    return name if reading in ("baseline", DEFAULT_READING) else f"{name} [{reading}]"


def _headline(result: dict[str, Any], table: pd.DataFrame) -> dict[str, Any]:
    info = result["info"]
    return headline(table, result["verdicts"], cells=info["cells"], asked=len(info["seeds"]),
                    lost=info.get("diverged", []))


def headline_of(result: dict[str, Any]) -> str:
    """The verdict sentence of a recipe run (:func:`~replicate.studies.recipe_tables.headline`): it says when the
    verdict is judged on fewer seeds than were trained, and which diverged."""
    return _headline(result, result["summary"])["sentence"]


def scores_figure(table: pd.DataFrame, path: Path) -> Path:
    """Each method's mean score (bar, s.d. over seeds as a line) with the random-embedding control (x)
    and the permuted-labels control (|), one panel per metric; saved as a PNG."""
    theme()
    names = [label(r.method, r.variant, r.reading) for r in table.itertuples()]
    y = np.arange(len(table))
    fig, axes = plt.subplots(1, 3, figsize=(WIDTH, 0.3 * len(table) + 1.6), sharey=True)
    for ax, m in zip(axes, METRICS):
        colours = ["#999999" if r == "baseline" else "#3b75af" for r in table["reading"]]
        ax.barh(y, table[m], xerr=table.get(f"{m} sd"), color=colours, height=0.65, error_kw={"lw": 0.8})
        ax.scatter(table[f"{m} random"], y, marker="x", color="#c03d3e", s=22, zorder=3, label="random embedding")
        ax.scatter(table[f"{m} permuted"], y, marker="|", color="black", s=60, zorder=3, label="permuted labels")
        ax.set_xlim(0, 100)
        ax.set_title(m)
        ax.set_xlabel("%")
    axes[0].set_yticks(y, names)
    axes[0].invert_yaxis()
    fig.legend(*axes[0].get_legend_handles_labels(), loc="lower center", ncol=2, frameon=False)
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _scores_table(table: pd.DataFrame, labels: int) -> str:
    lines = [f"| method | seeds scored | clusters found (labels: {labels}) | CA | CA scaled | NMI | NMI scaled | ARI | "
             "ARI scaled | status |", "|---|---|---|---|---|---|---|---|---|---|"]
    for r in table.to_dict("records"):
        sd = f" ± {fmt(r['CA sd'])}" if r["scored"] > 1 else ""
        lines.append(f"| {label(r['method'], r['variant'], r['reading'])} | {r['scored']} of {r['seeds']} | "
                     f"{r.get('clusters') or '–'} | {fmt(r['CA'])}{sd} | {fmt(r['CA scaled'], 2)} | {fmt(r['NMI'])} | "
                     f"{fmt(r['NMI scaled'], 2)} | {fmt(r['ARI'])} | {fmt(r['ARI scaled'], 2)} | {r['status']} |")
    return "\n".join(lines)


def _controls_table(table: pd.DataFrame) -> str:
    own = table[table["reading"] != "baseline"]
    cols = [f"{m} {short}" for short in SHORT.values() for m in ("CA", "ARI")]  # NMI's controls sit at ~0
    lines = ["| method | " + " | ".join(cols) + " |", "|---|" + "---|" * len(cols)]
    for r in own.to_dict("records"):
        lines.append(f"| {label(r['method'], r['variant'], r['reading'])} | "
                     + " | ".join(fmt(r[c]) for c in cols) + " |")
    return "\n".join(lines)


def _claims(verdicts: pd.DataFrame) -> str:
    lines = ["| reading | claim | what it says | our rule | verdict |", "|---|---|---|---|---|"]
    for v in verdicts.itertuples(index=False):
        for cid in ("C9", "C1", "C3"):
            lines.append(f"| {v.reading} | {cid} | {rules()[cid]['claim']} | {rule_text(cid)} | "
                         f"**{getattr(v, cid)}** |")
    return "\n".join(lines)


def _lost(info: dict[str, Any]) -> str:
    """The trainings that diverged, said on the first page (their seeds are left out of every mean)."""
    lost = info.get("diverged", [])
    if not lost:
        return ""
    return (f"\n\n```{{warning}}\n{diverged_text(lost).capitalize()}: "
            f"{'its' if len(lost) == 1 else 'their'} latents are not used, so every mean below, the claims and the "
            f"verdict are judged on the seeds that trained.\n```")


def verdict_page(result: dict[str, Any], table: pd.DataFrame) -> str:
    """The first page: the answer in one line, the figure, the scores with their controls, the claims."""
    info, head = result["info"], _headline(result, table)
    genes = (f"a file with more than {info['n_genes']:,} keeps its {info['n_genes']:,} most variable" if info["n_genes"]
             else "every gene of the file")
    quick = (f"\n\n```{{warning}}\nThis run trained {info['epochs']} epochs, not the paper's 30: a quick look, "
             f"not the recipe.\n```" if info["epochs_changed"] else "")
    return f"""# Does the paper's method hold on `{info['file']}`?

**{head['sentence']}**{quick}

{info['cells']:,} cells and {info['genes_kept']:,} genes ({genes}), {info['labels']} labels (`{info['label_key'] or 'label'}`), VAE seeds {', '.join(map(str, info['seeds']))}.{_lost(info)}

![Scores and controls](scores.png)

Bars: each method's mean over the VAE seeds (line: s.d.); grey bars are the live baselines. **x**: the
same method and setting on a random embedding of the latent's shape (Gaussian, each dimension with
the latent's mean and s.d.); **|**: the method's own labelling scored against permuted labels.
*Scaled* is the fraction of the way from the random-embedding control (0) to perfect agreement (1).
The baselines are judged by the K-means control at the label count.

{_scores_table(table, info['labels'])}

The controls themselves (percent; *random*: the random embedding, *permuted*: permuted labels):

{_controls_table(table)}

## The paper's claims on these cells

{_claims(result['verdicts'])}

The recipe was fixed before it saw these cells: the paper's settings, the cluster count from the
labels (as the paper takes it), and nothing tuned on the labels. [What ran and what it cost](details.md).
"""


def details_page(result: dict[str, Any], table: pd.DataFrame) -> str:
    """What ran (recipe.json), each stage's time and each method's seconds and memory."""
    info = result["info"]
    stages = ", ".join(f"{k} {v / 60:.1f} min" for k, v in info["stage_seconds"].items())
    lines = ["| method | seconds per fit | peak memory (MB) | added by the fit (MB) |", "|---|---|---|---|"]
    for r in table[table["reading"] != "baseline"].drop_duplicates(["method", "variant"]).to_dict("records"):
        lines.append(f"| {label(r['method'], r['variant'], r['reading'])} | {fmt(r['seconds'], 2)} | "
                     f"{fmt(r.get('peak memory MB'), 0)} | {fmt(r.get('memory added MB'), 0)} |")
    vae = result["rows"].drop_duplicates(["reading", "seed"])["vae_seconds"].dropna()
    train = result["rows"].get("train_seconds", pd.Series(dtype=float)).dropna()
    return f"""# What ran

Run on {info['date']}; stages: {stages}. VAE training {fmt(vae.mean(), 0)} s per seed (30 epochs
unless the warning on the first page says otherwise){'; scVI ' + fmt(train.iloc[0], 0) + ' s' if len(train) else ''}.
Memory is the peak resident memory of the process during one fit of the method on the latent of seed
{info['seeds'][0]} (it includes what the process already held).

{chr(10).join(lines)}

## recipe.json

```json
{json.dumps(info, indent=2)}
```
"""


def build(result: dict[str, Any]) -> Path:
    """Write the pages and figure into ``<folder>/.book.building``, build, and move to ``<folder>/book``."""
    folder = Path(result["folder"])
    table = result["summary"]
    stage = folder / ".book.building"
    shutil.rmtree(stage, ignore_errors=True)
    stage.mkdir(parents=True)
    scores_figure(table, stage / "scores.png")
    (stage / "index.md").write_text(verdict_page(result, table), encoding="utf-8")
    (stage / "details.md").write_text(details_page(result, table), encoding="utf-8")
    (stage / "_toc.yml").write_text("format: jb-book\nroot: index\nchapters:\n- file: details\n", encoding="utf-8")
    (stage / "_config.yml").write_text(
        f"title: \"The recipe on {result['info']['file']}\"\nauthor: replicate\nonly_build_toc_files: true\n"
        "execute:\n  execute_notebooks: 'off'\nsphinx:\n  config:\n    html_show_copyright: false\n", encoding="utf-8")
    code, tail = run_build([jupyter_book(), "build", "--all", "-W", "-n", "--keep-going", str(stage)])
    if code != 0:
        raise ReplicateError(f"jupyter-book build of the recipe's book failed (the previous one, if any, is kept):\n"
                             f"{''.join(tail)[-3000:]}")
    final = folder / "book"
    shutil.rmtree(final, ignore_errors=True)
    stage.replace(final)
    return final / "_build" / "html"

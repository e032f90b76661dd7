"""Write the section notebooks' source cells (run once after editing this file; outputs are not stored).

Keeping the cell text here makes notebook diffs reviewable; `tests/test_notebooks.py` checks that
the committed notebooks match what this script writes.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat as nbf

HERE = Path(__file__).resolve().parents[1] / "notebooks"

DATA_PARAMS = '''dataset = "pbmc68k-reduced"  # registered name (replicate datasets) or a file path
profile = "custom"  # label shown on the page; `replicate run` sets it
label_key = None  # .obs column with true labels, for .h5ad files
target_sum = None  # None: scale each cell to the median total (scDeepCluster); or e.g. 1e4
clip_zscore = None  # None: no clipping (the paper states none); or e.g. 10
output_dir = ""  # folder for tables; empty: write nothing'''

VAE_PARAMS = '''seeds = [0]  # one VAE per seed (the paper trains 10)
epochs = 30  # "30 iterations", read as epochs
learning_rate = 0.004
batch_size = 16
encoder_hidden = [2048]  # "(2048, 32)": 2048 -> latent 32
decoder_hidden = [128]  # "(32, 128)": latent 32 -> 128 -> genes
latent_dim = 32
activation = "relu"  # not stated in the paper
reconstruction = "sum"  # sum: eq. 4 exactly; mean: Keras mse
logvar_clamp = None  # stabiliser: bound log sigma^2 to [-c, c]; None: off
grad_clipnorm = None  # stabiliser: clip each gradient to this L2 norm; None: off
adam_epsilon = 1e-07  # Keras' default, as in TensorFlow 2.4.1
batch_norm = True  # the one deviation from the paper: see the stability study below'''

METHOD_LINE = 'method = "kmeans"  # one of the six, or dbscan / optics (pre-experiments)\n'
CLUSTER_PARAMS = (METHOD_LINE + '''grid = "full"  # full; paper: the paper's setting only; n: every n-th setting plus the paper's
cluster_random_state = 0  # the clusterers' own seed
n_jobs = -1  # grid cells in parallel on this machine (-1: all cores)
scheduler = ""  # a Dask scheduler address runs the cells there; empty: local''')
CHECK_CLUSTER = ("replicate.params.check({extra}grid=grid, cluster_random_state=cluster_random_state, "
                 "n_jobs=n_jobs, scheduler=scheduler);")

CHECK_DATA = "dataset=dataset, profile=profile, label_key=label_key, target_sum=target_sum, clip_zscore=clip_zscore, output_dir=output_dir"
CHECK_VAE = ("seeds=seeds, epochs=epochs, learning_rate=learning_rate, batch_size=batch_size, "
             "encoder_hidden=encoder_hidden, decoder_hidden=decoder_hidden, latent_dim=latent_dim, "
             "activation=activation, reconstruction=reconstruction, logvar_clamp=logvar_clamp, "
             "grad_clipnorm=grad_clipnorm, adam_epsilon=adam_epsilon, batch_norm=batch_norm")

SETUP_DATA = f'''from IPython.display import Markdown, display
import replicate
from replicate import study, plots

params = replicate.params.check({CHECK_DATA})
adata = study.prepare(dataset, label_key=label_key, target_sum=target_sum, clip_zscore=clip_zscore)
display(Markdown(study.run_info_markdown(study.run_info(adata, profile))))'''

SETUP_VAE = f'''from IPython.display import Markdown, display
import replicate
from replicate import study, plots

params = replicate.params.check({CHECK_DATA},
                                {CHECK_VAE})
adata = study.prepare(dataset, label_key=label_key, target_sum=target_sum, clip_zscore=clip_zscore)
display(Markdown(study.run_info_markdown(study.run_info(adata, profile))))
config = study.vae_config(**params)
results = study.train_latents(adata, config, seeds)'''


def md(text: str) -> nbf.NotebookNode:
    return nbf.v4.new_markdown_cell(text.strip())


def code(text: str, tags: list[str] | None = None) -> nbf.NotebookNode:
    cell = nbf.v4.new_code_cell(text.strip())
    if tags:
        cell.metadata["tags"] = tags
    return cell


NOTEBOOKS = {
    "01_data": [
        md("""
# 1. Data and preprocessing

The paper (Sec. IV) clusters 2,100 PBMCs from the 10x "4k" data set, as selected by scDeepCluster,
into 8 cell types. Before the VAE sees them, counts are scaled so every cell has the same total,
log-transformed, and every gene is standardised to mean 0 and variance 1. The paper does not say
to which total, with which pseudo-count, or whether z-scores are clipped: those are parameters
here, defaulting to scDeepCluster's own preprocessing (median total, `log1p`, no clipping).
"""),
        code(DATA_PARAMS, ["parameters"]),
        code(SETUP_DATA),
        md("## The cells and their labels"),
        code('''summary = adata.obs["label"].value_counts().rename_axis("label").reset_index(name="cells")
study.save_table(summary, output_dir, "label_counts")
summary'''),
        code('plots.label_counts(adata);'),
        md("""
## The preprocessed matrix

After preprocessing each gene has mean 0 and standard deviation 1. Without clipping, a gene
expressed in very few cells reaches a large |z|; the VAE section shows why that matters.
"""),
        code('''import pandas as pd
pd.Series(adata.uns["preprocess"]).to_frame("value")'''),
    ],
    "02_vae": [
        md("""
# 2. The variational autoencoder

The paper's VAE (Sec. II) has a Gaussian encoder $q(z\\mid x) = \\mathcal N(\\mu(x), \\operatorname{diag}\\sigma^2(x))$,
one reparameterised sample $z = \\mu + \\sigma \\odot \\varepsilon$, a Gaussian decoder with unit variance, so
the reconstruction term is $\\tfrac12\\lVert x - \\hat x\\rVert^2$ (eq. 4), and the analytic KL divergence to
$\\mathcal N(0, I)$ (eq. 5). Sizes: genes → 2048 → 32 (encoder), 32 → 128 → genes (decoder);
Adam, learning rate 0.004, batch 16, 30 epochs. Only the latent mean $\\mu$ is clustered.

**Deviation, stated plainly.** Taken literally, training diverges to a non-finite loss within
an epoch or two, as it did for the paper's 2,100 cells (SPEC 9). The defaults below add one
thing the paper does not mention: batch normalisation after each hidden layer (`batch_norm`).
The study further down shows why this reading was chosen; set `batch_norm = False` to see the
divergence yourself.

Each seed trains one VAE; trained latents are cached by (data, parameters, seed), so re-running
this notebook, or the next ones, does not retrain.
"""),
        code(DATA_PARAMS + "\n" + VAE_PARAMS, ["parameters"]),
        code(SETUP_VAE),
        md("""
## Which reading of the paper trains?

The stability study (`python -m replicate.stability`, results committed in `results/stability/`)
trained each reading of the stated configuration with three seeds on the paper's 2,100 cells.
*diverged*: the loss became NaN or infinite; *blew up*: it stayed finite but ended above its
first epoch; *collapsed*: KL ≈ 0. The metrics are VAE + K-means against the true labels and are
shown for information only: the default is chosen **without** them, as the reading with the
fewest departures from the paper's text among those where every seed trained.
"""),
        code('''from replicate import stability

summary = stability.committed_summary("pbmc2100-top2000")
print("chosen by the rule:", stability.choose_default(summary))
stability.readable(summary)'''),
        md("## Training curves"),
        code('''history = study.history_frame(results, seeds)
study.save_table(history, output_dir, "vae_history")
plots.loss_curves(history);'''),
        code('''final = history.groupby("seed").tail(1).set_index("seed")[["loss", "reconstruction", "kl", "seconds"]]
final.assign(collapsed=[r.collapsed for r in results], cached=[r.cached for r in results])'''),
        md("## The latent space of the first seed"),
        code('plots.latent_umap(adata);'),
    ],
    "03_clustering": [
        md("""
# 3. Clustering the latent space

The paper clusters the 32-d latent means with six scikit-learn methods (Sec. III-IV) and reports,
for each, the setting that worked best. This section runs one method — the `method` parameter;
`replicate run` executes it once per method — over the paper's whole grid, on the latent of
every VAE seed. Methods given a cluster count get the number of true labels. Today's
scikit-learn is set to behave like the paper's 0.24.1 (`replicate.clustering.SKLEARN_0241`).

Three ways to pick a setting are compared: the paper's, the best in the grid (optimistic: it
looks at the true labels), and a label-free choice (the highest silhouette).
"""),
        code(DATA_PARAMS + "\n" + VAE_PARAMS + "\n" + CLUSTER_PARAMS, ["parameters"]),
        code(SETUP_VAE + "\n" + CHECK_CLUSTER.format(extra="method=method, ")),
        code('''from replicate import clustering, execution

display(Markdown(f"**Method:** `{method}`; the paper's setting: `{clustering.paper_setting(method)}`; "
                 f"grid: {len(clustering.expand_grid(method, study.parse_grid(grid)))} settings ({clustering.grid_label(study.parse_grid(grid))})."))
rows = study.cluster(adata, results, seeds, method, grid=grid, random_state=cluster_random_state,
                     n_jobs=n_jobs, scheduler=scheduler)
study.save_table(rows, output_dir, f"clustering_{method}")
print(execution.describe_run(rows))'''),
        md("## The grid"),
        code('plots.grid_heatmaps(rows, method);'),
        code('study.grid_summary(rows)'),
        md("""
## Which setting?

The paper's setting was chosen by its author; the best-in-grid choice uses the true labels and
is therefore optimistic; the label-free choice uses only the latent space (silhouette).
"""),
        code('execution.settings_table(rows).round(3)'),
        md("## Where the errors are (first VAE seed, the paper's setting)"),
        code('''pred = study.paper_setting_labels(adata, results[0].mu, method, random_state=cluster_random_state)
plots.contingency(adata.obs["label"].astype(str).to_numpy(), pred, title=f"{method}, paper's setting, VAE seed {seeds[0]}");'''),
    ],
    "04_baselines": [
        md("""
# 4. Baselines on the same cells

The paper copies its baselines (PCA+k-means, SIMLR, MPSSC, DEC, scvis, scDeepCluster, AAE-SC)
from the scDeepCluster and AAE-SC papers. Here, on the same cells and the same preprocessing as
the VAE, we *run* the ones that need no extra software: PCA(32)+K-means, K-means on the z-scored
genes, and the scanpy workflow people actually use (highly variable genes, PCA, neighbours,
Leiden) at its default resolution and at the resolution that yields the true number of clusters.
"""),
        code(DATA_PARAMS + "\ncluster_random_state = 0  # the clusterers' own seed", ["parameters"]),
        code(SETUP_DATA + "\nreplicate.params.check(cluster_random_state=cluster_random_state);"),
        code('''rows = study.baselines(adata, random_state=cluster_random_state)
study.save_table(rows, output_dir, "baselines")
rows[["method", "clusters_found", "CA", "NMI", "ARI", "seconds", "status", "message"]].round(3)'''),
        code('plots.metric_bars(rows, "method", title="live baselines");'),
    ],
    "05_table1": [
        md("""
# 5. Table 1

The paper reports CA, NMI and ARI (percent) averaged over 10 VAEs for each clusterer at its
chosen setting, beside baselines copied from earlier papers. Below, every VAE row shows the
paper's value (read from the project's single file of published numbers,
`replicate/data/paper.toml`) and ours as mean ± s.d. over this run's VAE seeds, three ways:
at the paper's setting (the like-for-like comparison), at the best setting in the grid
(optimistic: chosen with the labels) and at a label-free choice. Δ is ours minus the paper.
"""),
        code(DATA_PARAMS + "\n" + VAE_PARAMS + "\n" + CLUSTER_PARAMS.replace(METHOD_LINE, ""), ["parameters"]),
        code(SETUP_VAE + "\n" + CHECK_CLUSTER.format(extra="")),
        code('''from replicate import clustering, report

rows = study.cluster(adata, results, seeds, clustering.PAPER_METHODS, grid=grid,
                     random_state=cluster_random_state, n_jobs=n_jobs, scheduler=scheduler, progress=False)
base = study.baselines(adata, random_state=cluster_random_state)
table = report.table1(rows, base)
study.save_table(table, output_dir, "table1")
report.glue_table1(table, len(seeds))'''),
        code("report.table1_display(table)", ["full-width"]),
        code('plots.table1_bars(table);'),
        md("""
At the paper's setting, VAE + K-means reached CA {glue:text}`kmeans_CA_ours:.2f`, NMI
{glue:text}`kmeans_NMI_ours:.2f` and ARI {glue:text}`kmeans_ARI_ours:.2f` over
{glue:text}`n_seeds:d` VAE seed(s) (paper: {glue:text}`kmeans_CA_paper:.2f`,
{glue:text}`kmeans_NMI_paper:.2f`, {glue:text}`kmeans_ARI_paper:.2f`). Unless the dataset named
at the top is the paper's 2,100 cells, the comparison is of method, not of number.
"""),
    ],
    "06_claims": [
        md("""
# 6. The paper's claims, checked

The paper makes nine claims in its text (C1–C9). Each is checked here against this run's
results with a stated rule (`replicate/data/claims.toml`: the paper's words are vague, so the
rule and its one threshold are ours, fixed before looking at the numbers). A verdict is
*supported*, *not supported*, or *not testable here* (with the reason).

Statistics are over VAE seeds: for a reader who is not a statistician, the 95% interval is the
range in which the mean over seeds would most likely fall if the seeds were drawn again
(bootstrap), and the Wilcoxon p-value says how surprising the paired differences between two
methods, seed by seed, would be if the methods were equally good (small: a real difference;
with 10 seeds the smallest possible two-sided p-value is about 0.002).
"""),
        code(DATA_PARAMS + "\n" + VAE_PARAMS + "\n" + CLUSTER_PARAMS.replace(METHOD_LINE, "")
             + "\nvariant_seeds = [0]  # VAE seeds for the encoder variants of claim C8"
             + "\nencoder_variants = [[1024], [512, 128]]  # the paper's (1024, 32) and (512, 128, 32)",
             ["parameters"]),
        code(SETUP_VAE + "\n" + CHECK_CLUSTER.format(extra="")
             + "\nreplicate.params.check(variant_seeds=variant_seeds, encoder_variants=encoder_variants);"),
        code('''from replicate import claims, clustering

rows = study.cluster(adata, results, seeds, clustering.methods(), grid=grid, random_state=cluster_random_state,
                     n_jobs=n_jobs, scheduler=scheduler, progress=False)
base = study.baselines(adata, random_state=cluster_random_state)
variants = study.encoder_variants(adata, config, variant_seeds, encoder_variants, random_state=cluster_random_state)
checks = claims.check_all(rows, base, variants)
study.save_table(checks, output_dir, "claims")
study.save_table(variants, output_dir, "encoder_variants")
claims.glue_verdicts(checks)
claims.verdict_table(checks)'''),
        md("""
Of the nine claims, {glue:text}`n_supported:d` are supported, {glue:text}`n_not_supported:d` are
not, and {glue:text}`n_not_testable_here:d` cannot be tested here. The rules are in the table
below; the evidence column above gives the numbers each verdict rests on.
"""),
        code('checks[["claim", "rule"]].style.hide(axis="index")'),
        md("## Seed statistics at the paper's settings (percent)"),
        code('''stats = claims.seed_statistics(rows)
study.save_table(stats, output_dir, "seed_statistics")
stats.round(2)'''),
        md("""
## Two sources of variation

The paper averages over VAE seeds. K-means has its own random initialisation too; on a fixed
latent, changing only K-means' `random_state` also moves the scores. Both are shown below for
VAE + K-means.
"""),
        code('''spread = study.variation_sources(adata, results, seeds)
study.save_table(spread, output_dir, "variation_sources")
summary = spread.groupby("source")[["CA", "NMI", "ARI"]].agg(["mean", "std", "min", "max"]) * 100
summary.round(2)'''),
        code('plots.metric_bars(spread, "source", title="VAE + K-means: spread by source of randomness (mean ± s.d.)");'),
        md("## Claim C8: encoder variants, same seeds"),
        code('plots.metric_bars(variants, "encoder", title="VAE + K-means by encoder (mean ± s.d. over seeds)");'),
    ],
    "07_open_points": [
        md("""
# 7. Open points and how much they matter

The paper leaves several choices open (SPEC §8). Each one that matters is measured here: the
VAE's reading (which decides whether it trains at all), the preprocessing, and how a clustering
setting is chosen.

## The VAE reading

The committed stability study (`python -m replicate.stability`) trained 18 readings of the
stated configuration with three seeds on the paper's 2,100 cells. The paper's configuration,
taken literally, diverges; so do most single changes. The default is the reading with the
fewest departures from the text among those where every seed trained, chosen without labels.
"""),
        code(DATA_PARAMS + "\n" + VAE_PARAMS + "\n" + CLUSTER_PARAMS.replace(METHOD_LINE, "")
             + "\nsensitivity_seeds = [0]  # VAE seeds for the preprocessing readings", ["parameters"]),
        code(SETUP_VAE + "\n" + CHECK_CLUSTER.format(extra="")
             + "\nreplicate.params.check(sensitivity_seeds=sensitivity_seeds);"),
        code('''from replicate import stability

summary = stability.committed_summary("pbmc2100-top2000")
print("chosen by the rule:", stability.choose_default(summary))
stability.readable(summary)'''),
        md("""
## Preprocessing (SPEC 8.5)

The paper does not say to which total cells are scaled or whether z-scores are clipped. Below,
VAE + K-means with the default (median total, no clipping) and two alternatives, same VAE seeds.
"""),
        code('''readings = {"median total, no clip (default)": {"target_sum": target_sum, "clip_zscore": clip_zscore},
            "total 10,000": {"target_sum": 1e4, "clip_zscore": clip_zscore},
            "z-scores clipped at 10": {"target_sum": target_sum, "clip_zscore": 10.0}}
sens = study.preprocessing_sensitivity(dataset, config, sensitivity_seeds, readings, label_key=label_key)
study.save_table(sens, output_dir, "preprocessing_sensitivity")
(sens.groupby("reading", sort=False)[["CA", "NMI", "ARI"]].agg(["mean", "std"]) * 100).round(2)'''),
        code('plots.metric_bars(sens, "reading", title="VAE + K-means by preprocessing reading");'),
        md("""
## How a clustering setting is chosen

The paper reports, per method, the setting that worked best on labelled data. The same choice
made by us with the labels (best in grid) is optimistic; a label-free choice (silhouette) is what
a user without labels could do. The gap between them is the price of not knowing the labels.
"""),
        code('''from replicate import clustering, report

rows = study.cluster(adata, results, seeds, clustering.PAPER_METHODS, grid=grid, random_state=cluster_random_state,
                     n_jobs=n_jobs, scheduler=scheduler, progress=False)
table = report.table1(rows)
choice = report.selection_effect(table)
study.save_table(choice.reset_index(), output_dir, "selection_effect")
choice.round(2)'''),
    ],
}


def build() -> dict[str, nbf.NotebookNode]:
    out = {}
    for name, cells in NOTEBOOKS.items():
        nb = nbf.v4.new_notebook(cells=cells)
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nb.metadata["language_info"] = {"name": "python"}
        out[name] = nb
    return out


def main() -> int:
    for name, nb in build().items():
        for i, cell in enumerate(nb.cells):
            cell["id"] = f"{name}-{i}"
        nbf.write(nb, HERE / f"{name}.ipynb")
    return 0


if __name__ == "__main__":
    sys.exit(main())

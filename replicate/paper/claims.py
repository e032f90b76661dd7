"""The paper's claims C1-C9, each checked from the run's results, and the analyses they need.

The rules and their thresholds are data (``replicate/data/claims.toml``); which methods are the
paper's six, which take a cluster count and which are pre-experiments comes from ``grids.toml``.
Every check returns a verdict ("supported", "not supported" or "not testable here"), the numbers
it rests on, and a one-line reason. Statistics are over VAE seeds: bootstrap confidence
intervals of means and paired Wilcoxon signed-rank tests. These checks are the only statement of
each rule: the generalisation study calls them too. The analyses behind C1 ("stably") and C8
(encoder variants) are :mod:`replicate.paper.analyses`; the verdicts' displays are
:mod:`replicate.publish.pages.claims`.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd

from ..grid.selection import best_in_grid, paper_setting_rows
from ..io.facts import load_toml
from ..method.clustering import PAPER_METHODS, PRE_EXPERIMENTS, method_info
from .baselines import LATENT_DIM, PCA_KMEANS
from .stats import bootstrap_ci, paired_test
from .table1 import METRICS, paper_table1

__all__ = ["SUPPORTED", "NOT_SUPPORTED", "NOT_TESTABLE", "SIX", "COUNT_TAKING", "rules", "rule_text", "paper_rows",
           "check_c1", "check_c2", "check_c3", "check_c4", "check_c5", "check_c6", "check_c7", "check_c8",
           "check_c9", "c9_gap", "check_all", "seed_statistics"]

SUPPORTED, NOT_SUPPORTED, NOT_TESTABLE = "supported", "not supported", "not testable here"
SIX = PAPER_METHODS
COUNT_TAKING = tuple(m for m in PAPER_METHODS if method_info(m)["takes_count"])


def rules() -> dict[str, dict[str, Any]]:
    """The claims and our operational rules, C1..C9."""
    return load_toml("claims")


def _rule(cid: str, key: str) -> Any:
    return rules()[cid][key]


def paper_rows(clustering: pd.DataFrame) -> pd.DataFrame:
    """Rows at the paper's setting, one per (method, embedding), metrics in percent: what the checks read."""
    rows = paper_setting_rows(clustering).copy()
    for m in METRICS:
        rows[m] = 100 * rows[m].astype(float)
    return rows


def _means(rows: pd.DataFrame) -> pd.DataFrame:
    return rows.groupby("method")[list(METRICS)].mean()


def _grid_means(clustering: pd.DataFrame, method: str) -> pd.DataFrame:
    rows = clustering[clustering["method"] == method].copy()
    rows["ARI"] = 100 * rows["ARI"].astype(float)
    params = [c for c in rows.columns if c.startswith("param_") and rows[c].notna().any()]
    return rows.groupby(params, dropna=False)["ARI"].mean().reset_index()


def _grid_check(cid: str, clustering: pd.DataFrame, method: str) -> tuple[float, pd.DataFrame]:
    """(the claim's margin, mean ARI per setting of ``method``'s grid; empty when not run)."""
    return float(_rule(cid, "margin")), _grid_means(clustering, method)


def rule_text(cid: str) -> str:
    """The rule of claim ``cid`` with its thresholds filled in."""
    r = rules()[cid]
    return r["rule"].format_map({k: v for k, v in r.items() if k not in ("claim", "rule")})


def _result(cid: str, verdict: str, evidence: str, **numbers: Any) -> dict[str, Any]:
    return {"claim": cid, "statement": rules()[cid]["claim"], "rule": rule_text(cid),
            "verdict": verdict, "evidence": evidence, "numbers": json.dumps(numbers, default=float)}


def check_c1(rows: pd.DataFrame) -> dict[str, Any]:
    means = _means(rows).reindex(list(SIX))
    best_nmi, best_ari = means["NMI"].idxmax(), means["ARI"].idxmax()
    km = rows[rows.method == "kmeans"].set_index("embedding")
    tests = {}
    for other in SIX:
        if other == "kmeans":
            continue
        o = rows[rows.method == other].set_index("embedding").reindex(km.index)
        tests[other] = {m: paired_test(km[m], o[m]) for m in ("NMI", "ARI")}
    ok = best_nmi == "kmeans" and best_ari == "kmeans"
    evidence = (f"highest mean NMI: {best_nmi} ({means.loc[best_nmi, 'NMI']:.2f}); highest mean ARI: {best_ari} "
                f"({means.loc[best_ari, 'ARI']:.2f}); K-means NMI {means.loc['kmeans', 'NMI']:.2f}, "
                f"ARI {means.loc['kmeans', 'ARI']:.2f}, s.d. over seeds {km['ARI'].std(ddof=1):.2f}")
    return _result("C1", SUPPORTED if ok else NOT_SUPPORTED, evidence, wilcoxon_p=tests)


def check_c2(rows: pd.DataFrame) -> dict[str, Any]:
    means = _means(rows).reindex(list(SIX))
    pub = paper_table1().set_index("row")
    excepted = {tuple(pair) for pair in _rule("C2", "excepted")}
    pairs = [(deep, m) for deep in _rule("C2", "compare_with") for m in METRICS if (deep, m) not in excepted]
    fails = []
    for method in SIX:
        for deep, m in pairs:
            if not means.loc[method, m] > pub.loc[deep, m]:
                fails.append(f"{method} {m} {means.loc[method, m]:.2f} <= {deep} {pub.loc[deep, m]:.2f}")
    total = len(SIX) * len(pairs)
    evidence = f"{total - len(fails)} of {total} comparisons hold" + (f"; failing: {'; '.join(fails[:6])}" + (" ..." if len(fails) > 6 else "") if fails else "")
    return _result("C2", SUPPORTED if not fails else NOT_SUPPORTED, evidence, failures=len(fails), comparisons=total)


def check_c3(rows: pd.DataFrame) -> dict[str, Any]:
    margin = _rule("C3", "margin")
    ari = _means(rows)["ARI"].reindex(list(SIX))
    best = ari.max()
    low = {m: round(best - ari[m], 2) for m in COUNT_TAKING if best - ari[m] > margin}
    evidence = f"best mean ARI {best:.2f} ({ari.idxmax()}); " + ", ".join(f"{m} {ari[m]:.2f}" for m in COUNT_TAKING)
    return _result("C3", SUPPORTED if not low else NOT_SUPPORTED, evidence, short_of_best=low)


def check_c4(clustering: pd.DataFrame, rows: pd.DataFrame) -> dict[str, Any]:
    pre = clustering[clustering["method"].isin(PRE_EXPERIMENTS)]
    if pre.empty:
        return _result("C4", NOT_TESTABLE, "DBSCAN/OPTICS were not run in this run (profile `methods`).")
    best = best_in_grid(pre, "ARI").groupby("method")["ARI"].mean() * 100
    floor = _means(rows)["ARI"].reindex(list(SIX)).min()
    ok = bool((best < floor).all())
    evidence = (", ".join(f"{m} best-in-grid ARI {v:.2f}" for m, v in best.items())
                + f"; lowest of the six at the paper's setting {floor:.2f}")
    return _result("C4", SUPPORTED if ok else NOT_SUPPORTED, evidence)


def check_c5(clustering: pd.DataFrame) -> dict[str, Any]:
    margin, g = _grid_check("C5", clustering, "affinity_propagation")
    if g.empty:
        return _result("C5", NOT_TESTABLE, "affinity propagation was not run.")
    damping = float(_rule("C5", "damping"))
    spread, best = g["ARI"].max() - g["ARI"].min(), g["ARI"].max()
    at_damping = g[np.isclose(g["param_damping"].astype(float), damping)]
    near = int((best - at_damping["ARI"] <= margin).sum())
    ok = spread > margin and near >= int(_rule("C5", "min_near_best"))
    evidence = (f"mean ARI over the grid spans {g['ARI'].min():.2f}-{best:.2f}; at damping {damping:g}, {near} of "
                f"{len(at_damping)} preferences are within {margin:g} points of the best")
    return _result("C5", SUPPORTED if ok else NOT_SUPPORTED, evidence)


def check_c6(clustering: pd.DataFrame) -> dict[str, Any]:
    margin, g = _grid_check("C6", clustering, "birch")
    if g.empty:
        return _result("C6", NOT_TESTABLE, "BIRCH was not run.")
    lo, hi = float(_rule("C6", "threshold_low")), float(_rule("C6", "threshold_high"))
    best = g["ARI"].max()
    threshold = g["param_threshold"].astype(float)
    low = g[(threshold >= lo - 1e-9) & (threshold <= hi + 1e-9)]
    near = int((best - low["ARI"] <= margin).sum())
    ok = near == len(low) and len(low) > 0
    evidence = (f"best mean ARI {best:.2f}; thresholds {lo:g}-{hi:g}: {near} of {len(low)} settings within {margin:g} points "
                f"(range {low['ARI'].min():.2f}-{low['ARI'].max():.2f}); thresholds > {hi:g}: "
                f"{g[threshold > hi]['ARI'].mean():.2f} on average")
    return _result("C6", SUPPORTED if ok else NOT_SUPPORTED, evidence)


def check_c7(clustering: pd.DataFrame) -> dict[str, Any]:
    margin, g = _grid_check("C7", clustering, "gmm")
    if g.empty:
        return _result("C7", NOT_TESTABLE, "GMM was not run.")
    spread = g["ARI"].max() - g["ARI"].min()
    rows = clustering[clustering["method"] == "gmm"]
    failed = rows[rows["status"] == "failed"].groupby("param_covariance_type").size()
    evidence = ", ".join(f"{t} {v:.2f}" for t, v in zip(g["param_covariance_type"], g["ARI"])) + f" (spread {spread:.2f})"
    if len(failed):
        evidence += "; failed fits (not averaged): " + ", ".join(f"{t} {n} of {len(rows[rows.param_covariance_type == t])}"
                                                             for t, n in failed.items())
    # a covariance type that fails on most latents does not "perform similarly"
    limit = float(_rule("C7", "max_failed_fraction"))
    ok = spread <= margin and not (failed > limit * rows.groupby("param_covariance_type").size().reindex(failed.index)).any()
    return _result("C7", SUPPORTED if ok else NOT_SUPPORTED, evidence)


def check_c8(variants: pd.DataFrame | None) -> dict[str, Any]:
    """``variants``: one row per (encoder, seed) with ARI (fraction) and ``encoder`` ("default", ...)."""
    if variants is None or variants.empty:
        return _result("C8", NOT_TESTABLE, "the encoder variants were not trained in this run.")
    margin = _rule("C8", "margin")
    ari = variants.assign(ARI=100 * variants["ARI"]).groupby("encoder")["ARI"].mean()
    base = ari["default"]
    diffs = {e: round(v - base, 2) for e, v in ari.items() if e != "default"}
    ok = all(-margin <= d < 0 for d in diffs.values())
    default_rows = variants[variants.encoder == "default"].set_index("seed")["ARI"]
    pvals = {e: paired_test(default_rows, variants[variants.encoder == e].set_index("seed")["ARI"].reindex(default_rows.index))
             for e in diffs}
    evidence = f"default encoder mean ARI {base:.2f}; " + ", ".join(f"{e}: {d:+.2f}" for e, d in diffs.items())
    return _result("C8", SUPPORTED if ok else NOT_SUPPORTED, evidence, wilcoxon_p=pvals)


def c9_gap(rows: pd.DataFrame, baseline_rows: pd.DataFrame) -> tuple[float, float]:
    """(VAE + K-means mean CA minus the live PCA + K-means CA, that PCA CA), points: what C9 weighs."""
    pca = 100 * float(baseline_rows.loc[baseline_rows.method == PCA_KMEANS, "CA"].iloc[0])
    return float(rows[rows.method == "kmeans"]["CA"].mean() - pca), pca


def check_c9(rows: pd.DataFrame, baseline_rows: pd.DataFrame | None) -> dict[str, Any]:
    if baseline_rows is None or PCA_KMEANS not in set(baseline_rows["method"]):
        return _result("C9", NOT_TESTABLE, "the live PCA+K-means baseline was not run.")
    margin = _rule("C9", "margin")
    gap, pca = c9_gap(rows, baseline_rows)
    km = rows[rows.method == "kmeans"]["CA"]
    evidence = (f"VAE+K-means mean CA {km.mean():.2f} vs live PCA({LATENT_DIM})+K-means {pca:.2f}: {gap:+.2f} points; "
                f"{int((km > pca).sum())} of {len(km)} VAE seeds above PCA")
    return _result("C9", SUPPORTED if gap >= margin else NOT_SUPPORTED, evidence)


def check_all(clustering: pd.DataFrame, baseline_rows: pd.DataFrame | None = None,
              variants: pd.DataFrame | None = None) -> pd.DataFrame:
    """All nine checks, one row each: claim, statement, rule, verdict, evidence, numbers."""
    rows = paper_rows(clustering[clustering["method"].isin(SIX)])
    checks = [check_c1(rows), check_c2(rows), check_c3(rows), check_c4(clustering, rows), check_c5(clustering),
              check_c6(clustering), check_c7(clustering), check_c8(variants), check_c9(rows, baseline_rows)]
    return pd.DataFrame(checks)


def seed_statistics(clustering: pd.DataFrame) -> pd.DataFrame:
    """Per method of the six at the paper's setting: mean, s.d. and 95% bootstrap CI over VAE seeds (percent)."""
    out = []
    for method, g in paper_rows(clustering[clustering["method"].isin(SIX)]).groupby("method"):
        rec = {"method": method, "seeds": len(g)}
        for m in METRICS:
            lo, hi = bootstrap_ci(g[m])
            rec[f"{m} mean"], rec[f"{m} s.d."] = g[m].mean(), g[m].std(ddof=1)
            rec[f"{m} 95% CI"] = f"{lo:.1f}–{hi:.1f}"
        out.append(rec)
    return pd.DataFrame(out)

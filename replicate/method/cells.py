"""One clustering cell: fit one setting of a method on an embedding and score it, as one tidy row.

A cell that fails (an exception, Affinity Propagation not converging, a single cluster, the time
limit) is a row with ``status`` and ``message``, never a crash of the grid. Bad input raises
:class:`~replicate.io.errors.ParameterError` before any work starts.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import sklearn
from sklearn.metrics import silhouette_score

from .clustering import check_inputs, check_params, check_seed, fit_labels, method_info
from .metrics import evaluate
from .runtime import capture, single_threaded

__all__ = ["params_json", "labelling_row", "run_cell"]


def _versions() -> dict[str, str]:
    return {"sklearn": sklearn.__version__, "numpy": np.__version__}



def _silhouette(Z: np.ndarray, pred: np.ndarray) -> float:
    """Label-free quality of a labelling (noise, -1, counts as one more cluster); NaN when undefined."""
    k = len(np.unique(pred))
    if not 2 <= k <= Z.shape[0] - 1:
        return float("nan")
    return float(silhouette_score(Z, pred))



def params_json(params: dict[str, Any]) -> str:
    """The canonical text of a setting (sorted keys), as stored in the ``parameters`` column."""
    return json.dumps(params, sort_keys=True)



def _status(pred: np.ndarray | None, caught: list[str], takes_count: bool, n_clusters: int) -> tuple[str, str]:
    notes = list(dict.fromkeys(caught))  # keep order, drop repeats
    if pred is None:
        if any(n.startswith("ResourceError:") for n in notes):  # refused before it ran (method.budget)
            return "skipped", "; ".join(n.removeprefix("ResourceError: ") for n in notes)
        return ("timeout" if any(n.startswith("timeout:") for n in notes) else "failed"), "; ".join(notes)
    found = len(np.unique(pred[pred >= 0]))
    if found == 0:
        return "failed", "; ".join(["no cluster found: every cell labelled -1 (noise or no convergence)", *notes])
    if found == 1:
        return "failed", "; ".join(["only one cluster found", *notes])
    if takes_count and found != n_clusters:
        notes.insert(0, f"found {found} clusters where {n_clusters} were asked for")
    return ("warning" if notes else "ok"), "; ".join(notes)



def labelling_row(Z: np.ndarray, y: np.ndarray | None, pred: np.ndarray | None, *, method: str,
                  params: dict[str, Any], n_clusters: int, takes_count: bool, random_state: int | None,
                  seconds: float, caught: list[str]) -> dict[str, Any]:
    """The tidy row of one labelling (``pred`` None: the fit raised); shared with the baselines.

    ``caught`` holds the warnings and error text of the fit; they decide ``status`` and ``message``.
    """
    nan = float("nan")
    status, message = _status(pred, caught, takes_count, n_clusters)
    row: dict[str, Any] = {"method": method, "parameters": params_json(params),
                           **{f"param_{k}": v for k, v in sorted(params.items())},
                           "n_clusters": n_clusters, "random_state": random_state}
    if pred is None:
        row.update(clusters_found=nan, noise_cells=nan, CA=nan, NMI=nan, ARI=nan, silhouette=nan)
    else:
        row.update(clusters_found=int(len(np.unique(pred[pred >= 0]))), noise_cells=int((pred < 0).sum()))
        row.update(evaluate(y, pred) if y is not None else {"CA": nan, "NMI": nan, "ARI": nan})
        row["silhouette"] = _silhouette(Z, pred)
    row.update(seconds=round(seconds, 4), status=status, message=message, **_versions())
    return row



def run_cell(Z: Any, labels: Any, method: str, params: dict[str, Any], *, n_clusters: int,
             random_state: int = 0, time_limit_s: float | None = None) -> dict[str, Any]:
    """Fit one clusterer on ``Z`` and score it against ``labels``: one tidy row.

    Row: method, ``parameters`` (canonical JSON) and a ``param_<name>`` column per parameter,
    n_clusters, clusters_found (noise excluded), noise_cells, CA/NMI/ARI (fractions, paper's
    metrics), silhouette (label-free, on ``Z``), seconds (the fit), status, message, random_state
    and the sklearn/numpy versions.

    Runs single-threaded (:func:`single_threaded`), stopped after ``time_limit_s`` seconds if
    given (status ``timeout``: metrics NaN, the grid goes on). A setting that would not fit in memory,
    would take over twice ``time_limit_s`` by its cost model, or cannot work, is not started (status
    ``skipped``; ``message`` gives the estimate, what is available and what to do: :mod:`replicate.method.budget`).
    ``status`` is ``ok``; ``warning``
    (scikit-learn warned, e.g. ConvergenceWarning, or a count-taking method found another count:
    the labelling is scored but suspect); or ``failed`` (an exception: metrics NaN; or no/one
    cluster found: metrics of that labelling, which are as poor as they should be). ``message``
    says why. Bad input raises ParameterError before anything is fitted.
    """
    Z, y = check_inputs(Z, labels, n_clusters)
    check_params(method, params, Z.shape[0])
    check_seed(random_state)
    with single_threaded():
        pred, caught, seconds = capture(lambda: fit_labels(
            Z, method, params, n_clusters=n_clusters, random_state=random_state,
            max_seconds=None if time_limit_s is None else 2 * time_limit_s), limit=time_limit_s)
        return labelling_row(Z, y, pred, method=method, params=params, n_clusters=n_clusters,
                             takes_count=method_info(method)["takes_count"], random_state=random_state,
                             seconds=seconds, caught=caught)


"""How a table a notebook shows reads on its page: one rule for every plain DataFrame a section displays.

A reader should see words, not the code's names: a default index (0, 1, 2, ...) is not shown, a named
index (``seed``) becomes the table's first column, snake_case headers and row labels read as words
(``peak_rss_mb`` as "peak memory (MB)"), a method's identifier as its display name
(:mod:`replicate.publish.names`), and a missing value as "—" (never nan, None or inf). Tables that need
more (a reason in place of a missing value) are made readable by their page module before they are shown.
:func:`register` installs the rule in a notebook's kernel; tables saved with ``save_table`` keep their
columns as they are (they are data, not pages).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from IPython import get_ipython

from .names import NAMES

__all__ = ["HEADERS", "readable", "html", "register"]

#: Headers whose words are not just the identifier with spaces.
HEADERS = {"peak_rss_mb": "peak memory (MB)", "kl": "KL", "ca": "CA", "nmi": "NMI", "ari": "ARI",
           "n_clusters": "clusters", "clusters_found": "clusters found", "input_log_normalised": "input log-normalised",
           "target_sum_used": "cell total scaled to", "genes_dropped_all_zero": "genes dropped (all zero)",
           "max_abs_z": "largest |z|"}

#: What a missing value reads as.
MISSING = "—"


def _word(label: Any) -> Any:
    """A header or row label as words: a method's display name, a known header, or the identifier's words."""
    if not isinstance(label, str):
        return label
    if label in NAMES:
        return NAMES[label]
    if label in HEADERS:
        return HEADERS[label]
    return label.replace("_", " ") if "_" in label and " " not in label else label


def readable(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` as a page shows it: a named index as its first column(s), headers, labels and methods as words,
    infinite values missing (:func:`html` shows every missing value as "—")."""
    out = frame.copy()
    if any(name is not None for name in out.index.names):
        out = out.reset_index()
    elif isinstance(out.index, pd.RangeIndex):
        out = out.reset_index(drop=True)
    else:
        out.index = [_word(i) for i in out.index]
    out.columns = [" ".join(str(_word(p)) for p in c if str(p)) if isinstance(c, tuple) else _word(c)
                   for c in out.columns]
    for col in out.columns:
        if col == "method" or str(col).startswith("method"):
            out[col] = out[col].map(_word)
    for col in out.select_dtypes(include=[np.number]).columns:  # inf is no value either: missing
        out[col] = out[col].where(np.isfinite(out[col].astype(float)))
    for col in out.select_dtypes(include=["object"]).columns:  # None is what to_html's na_rep leaves
        out[col] = out[col].where(out[col].notna(), MISSING)
    return out


def html(frame: pd.DataFrame) -> str:
    """The HTML of :func:`readable` ``frame`` (pandas' own table markup and classes)."""
    out = readable(frame)
    shows_index = not isinstance(out.index, pd.RangeIndex)
    return out.to_html(index=shows_index, na_rep=MISSING, border=0,  # as long as pandas would print it
                       max_rows=pd.get_option("display.max_rows"), max_cols=pd.get_option("display.max_columns"))


def register() -> bool:
    """Show every plain DataFrame of this IPython kernel through :func:`html`; False outside IPython."""
    shell = get_ipython()
    if shell is None:
        return False
    shell.display_formatter.formatters["text/html"].for_type(pd.DataFrame, html)
    return True

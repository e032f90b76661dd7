"""The data section's tables: how many cells carry each true label."""

from __future__ import annotations

from typing import Any

import pandas as pd

from . import cells

__all__ = ["tables"]


def tables(params: dict[str, Any]) -> dict[str, pd.DataFrame]:
    """``label_counts``: each true label and its number of cells, most frequent first."""
    counts = cells(params).obs["label"].value_counts()
    return {"label_counts": counts.rename_axis("label").reset_index(name="cells")}

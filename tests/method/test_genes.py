"""Selecting genes of raw counts, as the benchmark files' selections were made."""

from __future__ import annotations

import numpy as np
import pytest

from replicate.io import datasets
from replicate.io.errors import ParameterError
from replicate.method.genes import select_genes

from ..conftest import synthetic_counts, write_h5


def test_select_genes_by_mean_and_by_dispersion(tmp_path):
    X, y = synthetic_counts(n_per=30, n_genes=60)
    X[:, :5] *= 20  # five highly expressed genes
    adata = datasets.load(write_h5(tmp_path / "c.h5", X, y))
    by_mean = select_genes(adata, 5, "mean")
    assert list(by_mean.var_names) == [f"gene{i}" for i in range(5)]
    np.testing.assert_array_equal(by_mean.X, adata.X[:, :5])  # raw counts kept
    assert select_genes(adata, 10, "hvg").n_vars == 10
    with pytest.raises(ParameterError, match="how = 'top' is invalid"):
        select_genes(adata, 5, "top")


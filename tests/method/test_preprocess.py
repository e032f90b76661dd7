import anndata
import numpy as np
import pytest
import scipy.sparse as sp

from replicate.io import datasets
from replicate.io.errors import ParameterError
from replicate.method.preprocess import zscore

from ..conftest import synthetic_counts, write_h5


@pytest.fixture
def raw(tmp_path):
    X, Y = synthetic_counts()
    X[:, 5] = 0  # an all-zero gene
    return datasets.load(write_h5(tmp_path / "p.h5", X, Y))


def test_zscores_every_gene_and_drops_all_zero_genes(raw):
    out = zscore(raw, copy=True)
    assert out.n_vars == raw.n_vars - 1 and out.uns["zscore"]["genes_dropped_all_zero"] == 1
    assert np.allclose(out.X.mean(axis=0), 0, atol=1e-5)
    assert np.allclose(out.X.std(axis=0, ddof=1), 1, atol=1e-4)
    assert raw.X.sum() > 0 and raw.n_vars == 60  # input untouched (copy=True)
    assert out.uns["zscore"]["params"] == {"layer": None, "target_sum": None, "pseudocount": 1.0, "clip": None}


def test_in_place_by_default_like_scanpy(raw):
    assert zscore(raw) is None
    assert raw.n_vars == 59 and "zscore" in raw.uns and raw.X.dtype == np.float32


def test_median_target_sum_equalises_totals_before_log(raw):
    out = zscore(raw, copy=True)
    totals = np.expm1(out.layers["log"]).sum(axis=1)
    assert np.allclose(totals, np.median(raw.X.sum(axis=1)), rtol=1e-4)
    assert out.uns["zscore"]["target_sum_used"] == pytest.approx(np.median(raw.X.sum(axis=1)))
    out2 = zscore(raw, target_sum=1e4, copy=True)
    assert np.allclose(np.expm1(out2.layers["log"]).sum(axis=1), 1e4, rtol=1e-4)


def test_pseudocount_and_clip(raw):
    out = zscore(raw, pseudocount=0.5, clip=1.5, copy=True)
    assert np.abs(out.X).max() <= 1.5 + 1e-6 and out.X.min() < 0
    target = np.median(raw.X.sum(axis=1))
    expected = np.log(raw.X[0] / raw.X[0].sum() * target + 0.5)
    keep = raw.X.sum(axis=0) > 0
    assert np.allclose(out.layers["log"][0], expected[keep], rtol=1e-5)


def test_sparse_input_gives_the_same_numbers_as_dense(raw):
    sparse = raw.copy()
    sparse.X = sp.csr_matrix(raw.X)
    a, b = zscore(raw, copy=True), zscore(sparse, copy=True)
    np.testing.assert_array_equal(a.X, b.X)
    np.testing.assert_array_equal(a.layers["log"], b.layers["log"])


def test_layer_is_read_instead_of_x(raw):
    moved = raw.copy()
    moved.layers["counts"] = moved.X.copy()
    moved.X = np.zeros_like(moved.X)
    out = zscore(moved, layer="counts", copy=True)
    np.testing.assert_array_equal(out.X, zscore(raw, copy=True).X)
    with pytest.raises(ParameterError, match="layer = 'nope' is not a layer"):
        zscore(raw, layer="nope")


def test_scanpy_marker_means_log_normalised_and_it_is_not_normalised_twice():
    adata = datasets.load("pbmc68k-reduced")  # .raw of scanpy's copy: log1p of normalised counts
    assert "log1p" in adata.uns
    out = zscore(adata, copy=True)
    assert out.uns["zscore"]["input_log_normalised"] is True
    assert "uns['log1p']" in out.uns["zscore"]["steps"][0]
    assert any("skipped normalisation" in s for s in out.uns["zscore"]["steps"])
    keep = (adata.X != 0).sum(axis=0) > 0
    assert np.allclose(out.layers["log"], adata.X[:, keep])


def test_values_reveal_log_normalised_input_without_the_marker(raw):
    logged = anndata.AnnData(X=sp.csr_matrix(np.log1p(raw.X / 3)), obs=raw.obs)
    out = zscore(logged, copy=True)
    assert out.uns["zscore"]["input_log_normalised"] is True
    assert "not integers" in out.uns["zscore"]["steps"][0]
    counts = zscore(raw, copy=True)
    assert counts.uns["zscore"]["input_log_normalised"] is False and "raw counts" in counts.uns["zscore"]["steps"][0]


def test_already_scaled_input_is_refused(raw):
    scaled = zscore(raw, copy=True)
    with pytest.raises(ParameterError, match="negative values.*z-scored or scaled already"):
        zscore(scaled)


def test_what_it_did_is_logged(raw, caplog):
    import logging

    logger = logging.getLogger("replicate")
    logger.addHandler(caplog.handler)
    try:
        with caplog.at_level(logging.INFO, logger="replicate"):
            zscore(raw, copy=True)
    finally:
        logger.removeHandler(caplog.handler)
    assert "raw counts" in caplog.text and "scaled every cell" in caplog.text and "z-scored every gene" in caplog.text


@pytest.mark.parametrize("kw", [{"target_sum": 0}, {"pseudocount": -1}, {"clip": -2}])
def test_bad_parameters(raw, kw):
    with pytest.raises(ParameterError, match=list(kw)[0]):
        zscore(raw, **kw)


def test_cells_without_counts_are_named(raw):
    raw.X[3] = 0
    with pytest.raises(ParameterError, match="1 cell\\(s\\) have no counts"):
        zscore(raw)


@pytest.mark.realdata
def test_real_pbmc2100_gives_zscored_2100_by_2000(shared_2100):
    out = zscore(datasets.load(shared_2100), copy=True)
    assert out.shape[0] == 2100 and 1900 <= out.shape[1] <= 2000
    assert np.allclose(out.X.std(axis=0, ddof=1), 1, atol=1e-3)
    assert out.uns["zscore"]["max_abs_z"] > 10  # unclipped rare genes reach large |z|

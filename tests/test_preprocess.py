import numpy as np
import pytest

from replicate import datasets
from replicate.errors import ParameterError
from replicate.preprocess import preprocess

from .conftest import synthetic_counts, write_h5


@pytest.fixture
def raw(tmp_path):
    X, Y = synthetic_counts()
    X[:, 5] = 0  # an all-zero gene
    return datasets.load(write_h5(tmp_path / "p.h5", X, Y))


def test_zscores_every_gene_and_drops_all_zero_genes(raw):
    out = preprocess(raw)
    assert out.n_vars == raw.n_vars - 1 and out.uns["preprocess"]["genes_dropped_all_zero"] == 1
    assert np.allclose(out.X.mean(axis=0), 0, atol=1e-5)
    assert np.allclose(out.X.std(axis=0, ddof=1), 1, atol=1e-4)
    assert raw.X.sum() > 0 and raw.n_vars == 60  # input untouched (copy=True)


def test_median_target_sum_equalises_totals_before_log(raw):
    out = preprocess(raw)
    counts = np.expm1(out.layers["log"])
    totals = counts.sum(axis=1)
    assert np.allclose(totals, np.median(raw.X.sum(axis=1)), rtol=1e-4)
    out2 = preprocess(raw, target_sum=1e4)
    assert np.allclose(np.expm1(out2.layers["log"]).sum(axis=1), 1e4, rtol=1e-4)


def test_pseudocount_and_clip(raw):
    out = preprocess(raw, pseudocount=0.5, clip=1.5)
    assert np.abs(out.X).max() <= 1.5 + 1e-6 and out.X.min() < 0
    target = np.median(raw.X.sum(axis=1))
    expected = np.log(raw.X[0] / raw.X[0].sum() * target + 0.5)
    keep = raw.X.sum(axis=0) > 0
    assert np.allclose(out.layers["log"][0], expected[keep], rtol=1e-5)


def test_log_normalised_data_is_not_normalised_twice():
    adata = datasets.load("pbmc68k-reduced")
    out = preprocess(adata)
    assert out.uns["preprocess"]["skipped_normalise_log"] is True
    keep = (adata.X != 0).sum(axis=0) > 0
    assert np.allclose(out.layers["log"], adata.X[:, keep])


@pytest.mark.parametrize("kw", [{"target_sum": 0}, {"pseudocount": -1}, {"clip": -2}])
def test_bad_parameters(raw, kw):
    with pytest.raises(ParameterError, match=list(kw)[0]):
        preprocess(raw, **kw)


@pytest.mark.realdata
def test_real_pbmc2100_gives_zscored_2100_by_2000(shared_2100):
    out = preprocess(datasets.load(shared_2100))
    assert out.shape[0] == 2100 and 1900 <= out.shape[1] <= 2000
    assert np.allclose(out.X.std(axis=0, ddof=1), 1, atol=1e-3)
    assert out.uns["preprocess"]["max_abs_z"] > 10  # unclipped rare genes (SPEC 9)

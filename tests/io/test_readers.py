"""Readers of expression files: every format into the same AnnData, and one clear error per bad matrix."""

from __future__ import annotations

import h5py
import numpy as np
import pytest
import scipy.io
import scipy.sparse

from replicate.io import datasets
from replicate.io.errors import DatasetError
from replicate.io.readers import LABEL, dense32, read_scdeepcluster_h5

from ..conftest import synthetic_counts, write_h5


def test_scdeepcluster_h5_reads_counts_and_labels(tiny_h5):
    adata = datasets.load(tiny_h5)
    assert adata.shape == (120, 60)
    assert sorted(adata.obs["label"].unique()) == [1, 2, 3]
    assert adata.uns["dataset"]["format"] == "scdeepcluster-h5"
    assert adata.uns["dataset"]["sha256"] == datasets.file_sha256(tiny_h5)



def test_h5ad_with_label_key(tmp_path):
    import anndata as ad

    X, Y = synthetic_counts()
    a = ad.AnnData(X.astype(np.float32))
    a.obs["celltype"] = Y.astype(int).astype(str)
    a.write_h5ad(tmp_path / "x.h5ad")
    adata = datasets.load(tmp_path / "x.h5ad", label_key="celltype")
    assert adata.obs["label"].nunique() == 3
    with pytest.raises(DatasetError, match="label_key 'nope' is not a column"):
        datasets.load(tmp_path / "x.h5ad", label_key="nope")



def test_10x_mtx_folder_loads_without_labels(tmp_path):
    X, _ = synthetic_counts()
    folder = tmp_path / "mtx"
    folder.mkdir()
    scipy.io.mmwrite(folder / "matrix.mtx", scipy.sparse.csr_matrix(X.T.astype(int)))
    (folder / "genes.tsv").write_text("".join(f"G{i}\tgene{i}\n" for i in range(X.shape[1])))
    (folder / "barcodes.tsv").write_text("".join(f"C{i}\n" for i in range(X.shape[0])))
    adata = datasets.load(folder)
    assert adata.shape == X.shape and "label" not in adata.obs



def _bad(tmp_path, X, Y, name="bad.h5"):
    return write_h5(tmp_path / name, np.asarray(X, dtype=float), np.asarray(Y, dtype=float))



@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda X, Y: (X, Y[:-1]), "X has 120 cells .* but Y has 119 labels"),
        (lambda X, Y: (np.where(np.eye(*X.shape) > 0, np.nan, X), Y), "NaN or inf"),
        (lambda X, Y: (np.where(np.eye(*X.shape) > 0, np.inf, X), Y), "NaN or inf"),
        (lambda X, Y: (X - 5, Y), "negative values"),
        (lambda X, Y: (X + 0.5, Y), "non-integer values"),
        (lambda X, Y: (X[:, :0], Y), "empty"),
        (lambda X, Y: (X, np.ones_like(Y)), "at least two"),
    ],
    ids=["length-mismatch", "nan", "inf", "negative", "non-integer", "empty", "one-label"],
)
def test_bad_matrices_get_one_clear_error(tmp_path, mutate, message):
    X, Y = synthetic_counts()
    path = _bad(tmp_path, *mutate(X, Y))
    with pytest.raises(DatasetError, match=message) as err:
        datasets.load(path)
    assert str(path) in str(err.value)



def test_not_hdf5(tmp_path):
    path = tmp_path / "text.h5"
    path.write_text("this is not HDF5")
    with pytest.raises(DatasetError, match="not an HDF5 file"):
        datasets.load(path)



def test_truncated_hdf5(tmp_path, tiny_h5):
    data = tiny_h5.read_bytes()
    cut = tmp_path / "cut.h5"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(DatasetError, match=r"truncated|damaged|not an HDF5"):
        datasets.load(cut)



def test_wrong_layout(tmp_path):
    path = tmp_path / "other.h5"
    with h5py.File(path, "w") as f:
        f["counts"] = np.ones((3, 3))
    with pytest.raises(DatasetError, match="unknown HDF5 layout .*counts"):
        datasets.load(path)



def test_scdeepcluster_reader_names_cells_and_genes_and_keeps_labels(tiny_h5):
    adata = read_scdeepcluster_h5(tiny_h5)
    assert adata.obs_names[0] == "cell0" and adata.var_names[-1] == "gene59"
    assert adata.obs[LABEL].dtype == "category" and adata.obs[LABEL].nunique() == 3
    assert adata.X.dtype == np.float32


def test_dense32_densifies_sparse_input():
    out = dense32(scipy.sparse.csr_matrix(np.eye(3)))
    assert isinstance(out, np.ndarray) and out.dtype == np.float32 and out.trace() == 3


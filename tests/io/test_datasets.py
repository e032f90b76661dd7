from __future__ import annotations

import shutil

import numpy as np
import pytest

from replicate.io import datasets
from replicate.io.errors import DatasetError


def test_registry_entries_are_complete():
    for name, info in datasets.registry().items():
        for key in ("title", "origin", "licence", "format"):
            assert info.get(key), f"{name} lacks {key}"
        if info["format"] != "scanpy-builtin":
            assert info["url"].startswith("https://")
            assert "sha256" in info or "git_blob_sha1" in info, name
            assert info["filename"]
            # pinned to a commit (hex) rather than a branch, so the bytes cannot change under the hash
            assert "/raw/master/" not in info["url"] or name.startswith("paper-"), name


def test_pbmc68k_reduced_loads_offline_as_log_normalised():
    adata = datasets.load("pbmc68k-reduced")
    assert adata.shape == (700, 765)
    assert adata.obs["label"].nunique() == 10
    assert adata.uns["dataset"]["log_normalised"] is True
    assert adata.X.dtype == np.float32 and adata.X.min() >= 0


def test_missing_file(tmp_path):
    with pytest.raises(DatasetError, match="neither a registered name .* nor an existing file"):
        datasets.load(tmp_path / "nope.h5")


def test_unknown_dataset_name_lists_the_registry():
    with pytest.raises(DatasetError, match="pbmc68k-reduced"):
        datasets.entry("pbmc-typo")


# ------------------------------------------------------------------ downloads against 127.0.0.1

@pytest.fixture
def served(http_root, tiny_h5, monkeypatch):
    """A registry whose entries point at a local server holding tiny.h5."""
    www, base = http_root
    shutil.copyfile(tiny_h5, www / "tiny.h5")
    good = {"title": "t", "origin": "o", "licence": "l", "format": "scdeepcluster-h5", "filename": "tiny.h5"}
    reg = {
        "by-sha256": {**good, "url": f"{base}/tiny.h5", "sha256": datasets.file_sha256(tiny_h5)},
        "by-blob": {**good, "url": f"{base}/tiny.h5", "git_blob_sha1": datasets.git_blob_sha1(tiny_h5)},
        "bad-sha256": {**good, "url": f"{base}/tiny.h5", "sha256": "0" * 64},
        "bad-blob": {**good, "url": f"{base}/tiny.h5", "git_blob_sha1": "0" * 40},
        "interrupted": {**good, "url": f"{base}/interrupted.h5", "sha256": "0" * 64},
        "offline": {**good, "url": "http://127.0.0.1:9/tiny.h5", "sha256": "0" * 64},
    }
    monkeypatch.setattr(datasets, "registry", lambda: reg)
    return reg


@pytest.mark.parametrize("name", ["by-sha256", "by-blob"])
def test_download_verifies_and_loads(served, tmp_path, name):
    folder = tmp_path / "dl"
    adata = datasets.load(name, directory=folder)
    assert adata.shape == (120, 60)
    assert (folder / "tiny.h5").is_file()
    # second load is served from the folder even with the server gone
    served[name]["url"] = "http://127.0.0.1:9/gone.h5"
    assert datasets.load(name, directory=folder).shape == (120, 60)


@pytest.mark.parametrize("name, message", [("bad-sha256", "does not match its sha256"),
                                           ("bad-blob", "git blob sha1")])
def test_hash_mismatch_keeps_nothing(served, tmp_path, name, message):
    folder = tmp_path / "dl"
    with pytest.raises(DatasetError, match=message):
        datasets.load(name, directory=folder)
    assert not folder.exists() or list(folder.iterdir()) == []


def test_interrupted_transfer_keeps_nothing(served, tmp_path):
    folder = tmp_path / "dl"
    with pytest.raises(DatasetError, match="interrupted"):
        datasets.load("interrupted", directory=folder)
    assert list(folder.iterdir()) == []


def test_offline_without_copy_says_where_to_put_the_file(served, tmp_path):
    folder = tmp_path / "dl"
    with pytest.raises(DatasetError) as err:
        datasets.load("offline", directory=folder)
    msg = str(err.value)
    assert "unreachable" in msg and str(folder / "tiny.h5") in msg and "http://127.0.0.1:9/tiny.h5" in msg


def test_no_download_flag_says_where_to_put_the_file(served, tmp_path):
    with pytest.raises(DatasetError, match="is not at .*tiny.h5"):
        datasets.load("by-sha256", directory=tmp_path / "empty", download=False)


def test_corrupt_local_copy_is_set_aside_and_replaced(served, tmp_path):
    folder = tmp_path / "dl"
    folder.mkdir()
    (folder / "tiny.h5").write_bytes(b"corrupt")
    assert datasets.load("by-sha256", directory=folder).shape == (120, 60)
    assert (folder / "tiny.h5.corrupt").read_bytes() == b"corrupt"


@pytest.mark.realdata
def test_shared_pbmc2100_verifies(shared_2100):
    adata = datasets.load("pbmc2100-top2000", directory=shared_2100.parent, download=False)
    assert adata.shape == (2100, 2000)
    assert sorted(adata.obs["label"].value_counts().tolist(), reverse=True) == [637, 338, 308, 226, 219, 160, 146, 66]


SHARED_FILES = {  # registered name -> (cells, genes, labels) as the benchmark files' provenance states
    "pbmc2100-top2000": (2100, 2000, 8), "pbmc2100-top2000-scdcc": (2100, 2000, 8),
    "pbmc4k-top2000": (4271, 2000, 8), "worm-2100": (2100, 13488, 10), "worm-4186": (4186, 13488, 10),
    "kidney-top2000": (5685, 2000, 11), "cbmc-top2000": (8617, 2000, 15),
}


@pytest.mark.realdata
@pytest.mark.parametrize("name", sorted(SHARED_FILES))
def test_registered_benchmark_files_load_with_their_hash(name, shared_2100):
    """Each file differs (0-based labels, float32 or float64, CITE-seq's extra ADT_X): all load the same way."""
    folder = shared_2100.parent
    info = datasets.registry()[name]
    if not (folder / info["filename"]).is_file():
        pytest.fail(f"{info['filename']} is missing from {folder}")
    adata = datasets.load(name, directory=folder)
    cells, genes, labels = SHARED_FILES[name]
    assert adata.shape == (cells, genes) and adata.obs["label"].nunique() == labels
    assert adata.X.dtype == np.float32 and adata.uns["dataset"]["sha256"] == info["sha256"]

"""Executable replication of Chi (2021): VAE dimension reduction and clustering of scRNA-seq.

Scanpy-style entry points for one's own AnnData::

    import replicate as rp
    rp.pp.zscore(adata)              # the paper's preprocessing
    model = rp.tl.vae(adata)         # obsm["X_vae"]; model.encode / save / load
    rp.tl.encode(new_cells, model)   # new cells, scaled like the training cells
    rp.tl.cluster(adata, "kmeans")   # obs["kmeans"]
    rp.tl.evaluate(adata, "kmeans")  # CA / NMI / ARI
    rp.tl.umap(adata); rp.pl.latent(adata, color="kmeans")

The package is a map of the method, in folders that follow the data; a lower folder never imports
a higher one:

- ``io``: facts (``data/*.toml``), datasets and readers, content hashes and atomic writes, paths,
  provenance, progress, errors, memory;
- ``method``: preprocessing and gene selection, the VAE (configuration, model, trainer, latent
  store), the clusterers with scikit-learn 0.24.1's settings, one cell, runtime guards, metrics,
  neighbour graphs;
- ``grid``: planning and running many cells (joblib or Dask, resumable), choosing a setting;
- ``paper``: Table 1, the claims C1-C9, the analyses behind two of them, the live baselines
  (PCA, Leiden, scVI), statistics;
- ``studies``: readings of the paper, stability, fingerprints, why we differ (experiments and
  factors), generalisation, uncertainty;
- ``publish``: the steps the notebooks call, their parameters, ``replicate run``, the study graph
  (``dvc.yaml``), ``replicate status`` and ``verify``, the book, the
  browser check, the figures and the page formatters;
- the face: ``pp``, ``tl``, ``pl`` and ``cli``, and ``sections``: a section's tables apart from its page.

The CPU kernels are capped at AVX2 on import (``io.numerics``); an AVX-512 machine still trains other VAEs
than an AVX2 one (measured: ``benchmarks/cpu_family.py``), so the committed study is made on one CPU family
and compared within a tolerance on another.
TensorFlow is imported only when a VAE is built, scvi-tools only for the scVI baseline.
"""

import logging as _logging
from importlib.metadata import PackageNotFoundError, version
from typing import Any as _Any

from .io.numerics import pin as _pin

_pin()  # before numpy loads OpenBLAS: the study's kernels on every CPU family (replicate.io.numerics)

from .io.errors import DatasetError, ParameterError, ReplicateError, TrainingError  # noqa: F401
from .io.paths import record_code as _record_code
from .io.progress import ReportHandler

_record_code()  # only when $REPLICATE_CODE_FILE is set: the code a step loaded (replicate.io.paths)

#: The face, loaded on first use (``rp.tl`` ...): ``import replicate.io.memory`` in a benchmark's child
#: process, or ``replicate datasets``, then costs no scanpy, scikit-learn or matplotlib import.
_LAZY = {"pp": ".pp", "tl": ".tl", "pl": ".pl", "VAEConfig": ".method.vae_config", "VAEModel": ".method.vae_model"}


def __getattr__(name: str) -> _Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'replicate' has no attribute {name!r}")
    # __import__, not importlib.import_module: it raises the audit event that records a step's code
    module = __import__(__name__ + _LAZY[name], fromlist=["__name__"])
    value = module if name in ("pp", "tl", "pl") else getattr(module, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = ["pp", "tl", "pl", "VAEConfig", "VAEModel", "ReplicateError", "DatasetError", "ParameterError",
           "TrainingError"]

try:
    __version__ = version("replicate-vae-scrna")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0+unknown"

# What the tools did ("zscore: skipped normalisation ...") is logged at INFO on standard error,
# as scanpy does (under `replicate run`, on its terminal: replicate.io.progress); silence it with
# logging.getLogger("replicate").setLevel("WARNING").
_log = _logging.getLogger("replicate")
if not _log.handlers:
    _handler = ReportHandler()
    _handler.setFormatter(_logging.Formatter("%(message)s"))
    _log.addHandler(_handler)
    _log.setLevel(_logging.INFO)
    _log.propagate = False

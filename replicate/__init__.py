"""Executable replication of Chi (2021): VAE dimension reduction and clustering of scRNA-seq.

Scanpy-style entry points for one's own AnnData::

    import replicate as rp
    rp.pp.zscore(adata)              # the paper's preprocessing
    model = rp.tl.vae(adata)         # obsm["X_vae"]
    rp.tl.cluster(adata, "kmeans")   # obs["kmeans"]
    rp.tl.evaluate(adata, "kmeans")  # CA / NMI / ARI
    rp.pl.latent(adata, color="kmeans")

The modules behind them: ``datasets`` (registry, downloads, readers), ``preprocess``, ``vae``
(model, trainer, cache), ``clustering`` (the paper's estimators, one grid cell), ``execution``
(many cells, resumable), ``selection`` (choosing a setting), ``metrics``, ``baselines``,
``report`` (Table 1), ``claims`` (C1-C9), ``stability`` (readings of the paper), ``plots``,
``study`` (the steps the notebooks call), ``pipeline`` / ``book`` / ``cli`` (``replicate run``
and ``replicate book``). TensorFlow is imported only when a VAE is built.
"""

import logging as _logging
from importlib.metadata import PackageNotFoundError, version

from . import pl, pp, tl  # noqa: F401

try:
    __version__ = version("replicate-vae-scrna")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0+unknown"

# What the tools did ("zscore: skipped normalisation ...") is logged at INFO on standard error,
# as scanpy does; silence it with logging.getLogger("replicate").setLevel("WARNING").
_log = _logging.getLogger("replicate")
if not _log.handlers:
    _handler = _logging.StreamHandler()
    _handler.setFormatter(_logging.Formatter("%(message)s"))
    _log.addHandler(_handler)
    _log.setLevel(_logging.INFO)
    _log.propagate = False

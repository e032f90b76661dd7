"""Executable replication of Chi (2021): VAE dimension reduction and clustering of PBMC scRNA-seq.

Modules: ``datasets`` (registry, downloads, readers), ``preprocess`` (the paper's preprocessing),
``vae`` (model, trainer, latent cache), ``clustering`` (the six clusterers), ``metrics`` (CA, NMI,
ARI), ``report`` (Table 1), ``study`` (the steps the notebooks call), ``pipeline`` / ``book``
(``replicate run`` / ``replicate book``). TensorFlow is imported only when a VAE is trained.
"""

from importlib.metadata import PackageNotFoundError, version

from . import datasets, metrics, params, preprocess, report, store  # noqa: F401  (light imports)

try:
    __version__ = version("replicate-vae-scrna")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0+unknown"

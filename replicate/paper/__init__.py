"""The paper's results as ours: Table 1 beside its published numbers, the claims C1-C9 checked by
their rules, the live baselines (PCA, Leiden, scVI) and the statistics over VAE seeds. Imports
:mod:`replicate.io`, :mod:`replicate.method` and :mod:`replicate.grid`.
"""

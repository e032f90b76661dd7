"""Running many clustering cells and choosing a setting: plans with content keys, resumable
execution on joblib or Dask, and the three ways of choosing a setting. Imports :mod:`replicate.io`
and :mod:`replicate.method`.
"""

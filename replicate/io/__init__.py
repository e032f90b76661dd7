"""How the package meets the outside world: its facts (``replicate/data/*.toml``), data files,
caches and atomic writes, paths, provenance, progress lines, errors and memory readings.

The lowest folder: it imports nothing else of the package.
"""

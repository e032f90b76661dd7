"""Publishing the study: the steps the section notebooks call, their parameters, ``replicate run``,
the study graph (``dvc.yaml``), ``replicate status`` and ``replicate verify``, the book, the browser
check, the figures and the page formatters (:mod:`replicate.publish.pages`).
Imports every lower folder.
"""

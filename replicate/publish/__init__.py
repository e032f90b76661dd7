"""Publishing the study: the steps the section notebooks call, their parameters, ``replicate run``,
the book, the browser check, the figures and the page formatters (:mod:`replicate.publish.pages`).
Imports every lower folder.
"""

"""The studies behind the book, one module each: readings of the paper (a reading's name,
configuration and training health), the stability study, label-free fingerprints, "why we
differ", the generalisation study and the uncertainty chapter. Each writes its committed tables
under ``results/<study>/``. Imports every lower folder (io, method, grid, paper).
"""

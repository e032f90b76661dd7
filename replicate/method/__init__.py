"""The paper's method: preprocessing, gene selection, the VAE (configuration, model, trainer,
latent store), the clusterers with scikit-learn 0.24.1's settings, one clustering cell, the
metrics and neighbour graphs. Imports only :mod:`replicate.io`.
"""

"""Exceptions with messages meant for people: what, where, and how to fix it."""


class ReplicateError(Exception):
    """Base class for errors this package raises on purpose."""


class DatasetError(ReplicateError, ValueError):
    """A dataset could not be found, downloaded, verified or read."""


class ParameterError(ReplicateError, ValueError):
    """A user-supplied parameter has an invalid value."""


class TrainingError(ReplicateError, RuntimeError):
    """VAE training produced a non-finite loss or an unusable latent space."""

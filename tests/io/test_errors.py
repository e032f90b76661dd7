"""Errors meant for people: each kind is a ReplicateError and the builtin a caller would catch."""

from __future__ import annotations

import pytest

import replicate as rp
from replicate.io.errors import (
    DatasetError,
    ParameterError,
    ReplicateError,
    TrainingError,
)


@pytest.mark.parametrize("kind, builtin", [(DatasetError, ValueError), (ParameterError, ValueError),
                                           (TrainingError, RuntimeError)])
def test_every_error_is_a_replicate_error_and_its_builtin(kind, builtin):
    with pytest.raises(ReplicateError):
        raise kind("x")
    with pytest.raises(builtin):
        raise kind("x")


def test_the_face_exports_them():
    assert rp.ParameterError is ParameterError and rp.ReplicateError is ReplicateError

"""Preprocessing's face: rp.pp is the method's own functions."""

from __future__ import annotations

import replicate as rp
from replicate.method import genes, preprocess


def test_the_face_is_the_method_itself():
    assert rp.pp.zscore is preprocess.zscore and rp.pp.select_genes is genes.select_genes
    assert set(rp.pp.__all__) == {"zscore", "select_genes"}

import math

import numpy as np
import pytest

from replicate.method.metrics import ari, clustering_accuracy, evaluate, nmi


def test_ca_hand_computed():
    # best map: pred 1 -> true 0 (2 cells), pred 0 -> true 1 (2), pred 2 -> true 2 (1): 5 of 6
    assert clustering_accuracy([0, 0, 1, 1, 2, 2], [1, 1, 0, 0, 0, 2]) == pytest.approx(5 / 6)


def test_ca_with_more_clusters_than_classes_counts_unmatched_as_wrong():
    # 4 clusters, 2 classes: only two clusters can be mapped; 2 of 4 cells right
    assert clustering_accuracy([0, 0, 1, 1], [0, 1, 2, 3]) == pytest.approx(0.5)


def test_ca_single_cluster_is_the_largest_class_share():
    assert clustering_accuracy([0, 0, 0, 1], [5, 5, 5, 5]) == pytest.approx(0.75)


def test_nmi_is_normalised_by_the_max_entropy():
    # H(T) = ln 2, H(P) = ln 4, I = ln 2: max-normalised 0.5; arithmetic-mean normalisation would give 2/3
    assert nmi([0, 0, 1, 1], [0, 1, 2, 3]) == pytest.approx(math.log(2) / math.log(4))


def test_single_cluster_has_zero_nmi_and_ari():
    assert nmi([0, 0, 1, 1], [0, 0, 0, 0]) == pytest.approx(0.0)
    assert ari([0, 0, 1, 1], [0, 0, 0, 0]) == pytest.approx(0.0)


def test_ari_hand_computed():
    # contingency [[2,0],[1,1]]: sum C(n_ij,2)=1, a=[2,2]->2, b=[3,1]->3, C(4,2)=6
    # expected = 2*3/6 = 1; max = (2+3)/2 = 2.5; ARI = (1-1)/(2.5-1) = 0
    assert ari([0, 0, 1, 1], [0, 0, 0, 1]) == pytest.approx(0.0)
    # sum C(n_ij,2)=3, a=[2,2,2]->3, b=[2,4]->7, C(6,2)=15: expected 1.4, max 5, ARI = 1.6/3.6
    assert ari([0, 0, 1, 1, 2, 2], [0, 0, 1, 1, 1, 1]) == pytest.approx(4 / 9)


def test_perfect_and_permuted_labellings_score_one():
    rng = np.random.default_rng(0)
    true = rng.integers(0, 5, 200)
    perm = rng.permutation(5)
    scores = evaluate(true, perm[true])
    assert scores == pytest.approx({"CA": 1.0, "NMI": 1.0, "ARI": 1.0})


def test_metrics_are_invariant_to_renaming_both_sides():
    rng = np.random.default_rng(1)
    true, pred = rng.integers(0, 4, 300), rng.integers(0, 6, 300)
    base = evaluate(true, pred)
    renamed = evaluate(np.array(list("abcd"))[true], (pred + 10) * 3)
    assert renamed == pytest.approx(base)


def test_length_mismatch_is_an_error():
    with pytest.raises(ValueError, match="must match"):
        evaluate([0, 1], [0, 1, 1])

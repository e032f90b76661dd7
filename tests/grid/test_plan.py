"""Planning a grid: each method's settings, thinned or whole, and the cells' keys."""


import json

import pytest
from sklearn.datasets import make_blobs

from replicate.grid.plan import expand_grid, grid_label
from replicate.io.errors import ParameterError
from replicate.method.clustering import (
    methods,
    paper_setting,
)


@pytest.mark.parametrize("method, size", [("affinity_propagation", 35), ("agglomerative", 4), ("birch", 49),
                                          ("gmm", 4), ("kmeans", 1), ("spectral", 25), ("dbscan", 12),
                                          ("optics", 9)])
def test_grid_sizes(method, size):
    cells = expand_grid(method)
    assert len(cells) == size
    assert len({json.dumps(c, sort_keys=True) for c in cells}) == size  # no duplicates



def test_spectral_grid_is_union_of_two_subgrids():
    cells = expand_grid("spectral")
    nn = [c for c in cells if c["affinity"] == "nearest_neighbors"]
    rbf = [c for c in cells if c["affinity"] == "rbf"]
    assert len(nn) == 20 and len(rbf) == 5
    assert all("n_neighbors" not in c for c in rbf)



@pytest.mark.parametrize("method", methods())
def test_paper_choice_is_in_grid(method):
    assert paper_setting(method) in expand_grid(method)



def test_thinning_is_labelled_and_keeps_the_paper_choice():
    thinned = expand_grid("birch", thin=3)
    assert len(thinned) < 49
    assert paper_setting("birch") in thinned
    assert grid_label(3) == "thinned:every-3rd+paper"
    assert grid_label(None) == grid_label(1) == "full"
    assert expand_grid("affinity_propagation", thin="paper") == [paper_setting("affinity_propagation")]
    assert grid_label("paper") == "paper-setting"
    with pytest.raises(ParameterError, match="thin"):
        expand_grid("birch", thin=0)



def test_the_grid_parameter_has_one_rule():
    from replicate.grid.plan import parse_grid
    from replicate.publish.params import SPECS

    assert parse_grid("full") is None and parse_grid("paper") == "paper" and parse_grid(3) == 3
    for bad in ("ful", 0, True, 2.5):
        with pytest.raises(ParameterError, match="parameter grid = .* is invalid: expected 'full', 'paper'"):
            parse_grid(bad)
        assert not SPECS["grid"][0](bad)  # the notebooks' check is the same rule
    assert SPECS["grid"][0]("paper") and SPECS["grid"][0](2)


def test_a_cell_key_follows_its_content_not_its_name():
    from replicate.grid.plan import plan

    Z, y = make_blobs(n_samples=60, n_features=4, centers=3, random_state=0)
    a = plan({"first": Z}, y, methods=["kmeans"])
    b = plan({"renamed": Z.copy()}, y, methods=["kmeans"])
    c = plan({"first": Z + 1e-3}, y, methods=["kmeans"])
    d = plan({"first": Z}, y, methods=["kmeans"], random_state=1)
    assert a[0].key == b[0].key and a[0].embedding != b[0].embedding
    assert len({a[0].key, c[0].key, d[0].key}) == 3
    with pytest.raises(ParameterError, match="embeddings is empty"):
        plan({}, y)


def test_a_cell_key_holds_the_code_that_computes_it_and_the_cpu_caps(monkeypatch):
    """An edit of the clusterers (their code hash) or other CPU caps give other keys: a warm cache never answers
    with a cell the code as it is would not make."""
    from replicate.grid import plan as plan_module
    from replicate.grid.plan import plan
    from replicate.io import store

    Z, y = make_blobs(n_samples=60, n_features=4, centers=3, random_state=0)
    key = plan({"first": Z}, y, methods=["kmeans"])[0].key
    assert plan_module.cell_code() == store.code_hash("method.cells")
    monkeypatch.setattr(plan_module, "cell_code", lambda: "edited clusterers")
    edited = plan({"first": Z}, y, methods=["kmeans"])[0].key
    monkeypatch.setenv("XLA_FLAGS", "--xla_cpu_max_isa=AVX512")
    recapped = plan({"first": Z}, y, methods=["kmeans"])[0].key
    assert len({key, edited, recapped}) == 3

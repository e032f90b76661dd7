from replicate.method.clustering import methods
from replicate.publish import names


def test_every_method_has_a_display_name():
    assert all(names.name(m) != m for m in methods())
    assert names.name("affinity_propagation") == "Affinity propagation" and names.name("other") == "other"

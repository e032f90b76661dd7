import pytest

from replicate.errors import ParameterError
from replicate.params import check, parse_value


def test_parse_value_takes_literals_and_keeps_strings():
    assert parse_value("3") == 3
    assert parse_value("[0, 1]") == [0, 1]
    assert parse_value("None") is None
    assert parse_value("pbmc68k-reduced") == "pbmc68k-reduced"
    assert parse_value("__import__('os').getcwd()") == "__import__('os').getcwd()"  # never evaluated


@pytest.mark.parametrize("name, value, fragment", [
    ("epochs", -1, "integer >= 1"),
    ("epochs", 2.5, "integer >= 1"),
    ("dataset", "no-such-data", "registered dataset"),
    ("seeds", [], "non-empty list"),
    ("learning_rate", 0, "number > 0"),
    ("activation", "swish2", "one of relu"),
    ("reconstruction", "median", "'sum'"),
])
def test_bad_values_name_parameter_value_and_allowed(name, value, fragment):
    with pytest.raises(ParameterError) as err:
        check(**{name: value})
    msg = str(err.value)
    assert name in msg and repr(value) in msg and fragment in msg


def test_unknown_parameter_lists_known_ones():
    with pytest.raises(ParameterError, match="unknown parameter 'epoch'.*epochs"):
        check(epoch=3)


def test_valid_values_pass_through():
    ok = dict(dataset="pbmc68k-reduced", seeds=[0, 1], epochs=3, learning_rate=1, logvar_clamp=None)
    assert check(**ok) == ok

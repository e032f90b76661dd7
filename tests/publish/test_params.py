import pytest

from replicate.io.errors import ParameterError
from replicate.publish.params import check, parse_value


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


PARAMS_CELL = 'dataset = "pbmc68k-reduced"  # a comment\nepochs = 30\nseeds = [0]\n'


def test_from_notebook_checks_the_declared_parameters():
    from replicate.publish.params import from_notebook

    ns = {"dataset": "pbmc68k-reduced", "epochs": 3, "seeds": [0, 1]}
    cells = [PARAMS_CELL, "# Parameters\nepochs = 3\nseeds = [0, 1]\n"]
    assert from_notebook(ns, cells) == ns
    with pytest.raises(ParameterError, match="epochs = 0 is invalid"):
        from_notebook({**ns, "epochs": 0}, cells)


def test_from_notebook_refuses_a_misspelled_injected_name_and_suggests_the_declared_one():
    from replicate.publish.params import from_notebook

    ns = {"dataset": "pbmc68k-reduced", "epochs": 30, "seeds": [0], "datset": "pbmc2100-top2000"}
    with pytest.raises(ParameterError, match="'datset' was passed .* Did you mean 'dataset'\\?"):
        from_notebook(ns, [PARAMS_CELL, '# Parameters\ndatset = "pbmc2100-top2000"\n'])
    with pytest.raises(ParameterError, match="'zzz' was passed .*does not declare it. Its parameters are: dataset"):
        from_notebook({**ns, "zzz": 1}, [PARAMS_CELL, "# Parameters\nzzz = 1\n"])


def test_from_notebook_without_papermill_and_without_a_parameters_cell():
    from replicate.publish.params import declared_names, from_notebook

    assert declared_names(PARAMS_CELL) == ["dataset", "epochs", "seeds"]
    assert from_notebook({"dataset": "pbmc68k-reduced", "epochs": 30, "seeds": [0]}, [PARAMS_CELL])["epochs"] == 30
    with pytest.raises(ParameterError, match="cannot find this notebook's parameters cell"):
        from_notebook({}, ["import os\nprint(1)"])

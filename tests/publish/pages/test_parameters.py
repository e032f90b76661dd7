"""The re-run page's parameter table follows the notebooks' parameters cells."""

from __future__ import annotations

from replicate.publish.pages import parameters


def test_every_declared_parameter_has_a_meaning_and_every_meaning_a_parameter():
    by_notebook = parameters.declared()
    declared = {name for names in by_notebook.values() for name in names}
    described = {name for names in parameters.MEANINGS for name in names}
    assert declared == described, (sorted(declared - described), sorted(described - declared))
    for names in parameters.MEANINGS:  # a row's parameters are taken by the same notebooks
        assert len({tuple(nb for nb, d in by_notebook.items() if n in d) for n in names}) == 1, names


def test_the_table_names_where_each_parameter_is_taken(tmp_path):
    import nbformat

    for name, source in (("01_data", "dataset = 'x'\nprofile = ''\noutput_dir = ''"),
                         ("02_vae", "dataset = 'x'\nprofile = ''\noutput_dir = ''\nseeds = [0]"),
                         ("09_generalisation", "profile = ''\noutput_dir = ''"),
                         ("own_data", "h5ad = ''")):
        cell = nbformat.v4.new_code_cell(source, metadata={"tags": ["parameters"]})
        nbformat.write(nbformat.v4.new_notebook(cells=[cell]), tmp_path / f"{name}.ipynb")
    table = parameters.markdown(tmp_path)
    assert "| `dataset` | every section but generalisation |" in table
    assert "| `profile`, `output_dir` | every section |" in table and "| `h5ad` | own data |" in table
    assert "| `seeds` | VAE | one VAE per seed; the paper trains 10 |" in table
    assert "| `samples` |  |" in table  # declared nowhere here: no notebook named

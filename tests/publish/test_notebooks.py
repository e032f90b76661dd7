"""Every section notebook runs on its own under papermill; bad parameters fail in the first cell."""

from __future__ import annotations

from pathlib import Path

import nbformat
import papermill as pm
import pytest

from replicate.method.vae_config import VAEConfig
from replicate.paper.run_tables import table_names
from replicate.publish.pipeline import SECTIONS, notebook_dir, notebook_parameters

TINY_VAE = dict(seeds=[0], epochs=2, encoder_hidden=[32], decoder_hidden=[16], latent_dim=4,
                learning_rate=0.001)


def _params_cell_index(nb) -> int:
    tagged = [i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1
    return tagged[0]


@pytest.mark.parametrize("section", SECTIONS)
def test_one_parameters_cell(section):
    nb = nbformat.read(notebook_dir() / f"{section}.ipynb", as_version=4)
    i = _params_cell_index(nb)
    assert all(c.cell_type == "markdown" for c in nb.cells[:i]), "only narrative before the parameters"


def _cells(nb) -> list[tuple[str, str, list[str]]]:
    return [(c.cell_type, c.source, c.metadata.get("tags", [])) for c in nb.cells]


@pytest.mark.parametrize("section", [*SECTIONS, "own_data"])
def test_notebooks_and_their_text_sources_are_in_sync(section):
    import jupytext

    source = jupytext.read(notebook_dir() / f"{section}.md")
    committed = nbformat.read(notebook_dir() / f"{section}.ipynb", as_version=4)
    assert _cells(committed) == _cells(source), (
        f"notebooks/{section}.ipynb and {section}.md differ: run `jupytext --sync notebooks/{section}.md`")
    assert all(not c.get("outputs") and c.get("execution_count") is None
               for c in committed.cells if c.cell_type == "code"), "commit notebooks without outputs"


def test_every_notebook_is_paired_with_jupytext():
    import jupytext.config

    config = jupytext.config.load_jupytext_config(str(notebook_dir()))
    assert config.formats in ("ipynb,md:myst", ["ipynb,md:myst"])
    assert sorted(p.stem for p in notebook_dir().glob("*.md")) == sorted(p.stem for p in notebook_dir().glob("*.ipynb"))


def test_every_parameter_a_notebook_declares_has_a_spec():
    from replicate.publish.params import SPECS

    for section in SECTIONS:
        assert set(notebook_parameters(section)) <= set(SPECS), section


def test_notebook_defaults_are_the_package_defaults():
    cfg = VAEConfig()
    for section in ("02_vae", "03_clustering", "05_table1", "06_claims", "07_open_points", "08_why", "10_uncertainty"):
        p = notebook_parameters(section)
        assert tuple(p["encoder_hidden"]) == cfg.encoder_hidden and tuple(p["decoder_hidden"]) == cfg.decoder_hidden
        for name in ("latent_dim", "learning_rate", "batch_size", "epochs", "activation", "reconstruction",
                     "logvar_clamp", "grad_clipnorm", "adam_epsilon", "batch_norm", "reconstruction_weight",
                     "kl_warmup_epochs"):
            assert p[name] == getattr(cfg, name), (section, name)
    for section in SECTIONS:
        p = notebook_parameters(section)
        if "dataset" in p:
            assert p["dataset"] == "pbmc68k-reduced" and p["target_sum"] is None and p["clip_zscore"] is None


def _execute(section: str, out: Path, **params):
    return pm.execute_notebook(str(notebook_dir() / f"{section}.ipynb"), str(out), parameters=params,
                               kernel_name="python3", progress_bar=False, cwd=str(out.parent))


@pytest.mark.slow
@pytest.mark.parametrize("section", SECTIONS)
def test_each_notebook_runs_alone_on_a_tiny_dataset(section, tiny_h5_session, tmp_path):
    params = {"dataset": str(tiny_h5_session), "output_dir": str(tmp_path)}
    if section == "09_generalisation":  # renders the committed study; it has no data parameters
        params = {"output_dir": str(tmp_path)}
    elif section not in ("01_data", "04_baselines"):
        params.update(TINY_VAE)
    if section in ("03_clustering", "05_table1", "06_claims", "07_open_points", "08_why"):
        params.update(grid="paper", n_jobs=1)
    if section in ("05_table1", "06_claims", "08_why"):  # a second reading beside the default
        params.update(compare_reading="batch normalisation, lr 0.001")
    if section == "06_claims":
        params.update(variant_seeds=[0], encoder_variants=[[16]])
    if section == "07_open_points":
        params.update(sensitivity_seeds=[0])
    nb = _execute(section, tmp_path / "out.ipynb", **params)
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors
    written = {p.name for p in tmp_path.glob("*.csv")}
    assert {f"{t}.csv" for t in table_names(section, {"method": "kmeans"})} <= written  # every table it declares


@pytest.mark.slow
@pytest.mark.parametrize("section, name, value, fragment", [
    ("01_data", "dataset", "no-such-dataset", "registered dataset"),
    ("02_vae", "epochs", -3, "integer >= 1"),
    ("01_data", "datset", "pbmc2100-top2000", "does not declare it. Did you mean 'dataset'?"),
    ("05_table1", "learning_rat", 0.001, "Did you mean 'learning_rate'?"),
])
def test_invalid_or_misspelled_parameter_fails_in_the_first_cell(section, name, value, fragment, tmp_path):
    with pytest.raises(pm.PapermillExecutionError) as err:
        _execute(section, tmp_path / "bad.ipynb", **{name: value})
    assert err.value.ename == "ParameterError"
    assert repr(name) in err.value.evalue or f"{name} = {value!r}" in err.value.evalue
    assert fragment in err.value.evalue
    nb = nbformat.read(tmp_path / "bad.ipynb", as_version=4)
    code_cells = [c for c in nb.cells if c.cell_type == "code"]
    failed = [i for i, c in enumerate(code_cells) if any(o.get("output_type") == "error" for o in c.outputs)]
    # code cells: parameters, injected-parameters, then the check cell
    assert failed == [2]


def test_the_book_never_re_executes_a_run_notebook():
    # the run's notebooks are executed once by papermill; only the own-data page runs at build time
    import fnmatch

    import yaml

    config = yaml.safe_load((Path(__file__).resolve().parents[2] / "book" / "_config.yml").read_text())
    patterns = config["execute"]["exclude_patterns"]
    for section in SECTIONS:
        assert any(fnmatch.fnmatch(f"{section}.ipynb", p) for p in patterns), section
    assert not any(fnmatch.fnmatch("own_data.md", p) for p in patterns)

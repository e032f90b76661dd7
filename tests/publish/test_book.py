"""The book's pieces that need no build: substitutions, table of contents, page preparation, run info.

Building the book itself is tested with a smoke run (tests/publish/test_pipeline.py), which is slow.
"""

from __future__ import annotations

import json

import nbformat
import pytest
import yaml

from replicate.io.errors import ReplicateError
from replicate.io.facts import paper, profiles, registry
from replicate.publish import book
from replicate.publish.pages.table1 import glue_name
from replicate.studies.fingerprints import targets
from replicate.studies.stability import committed_summary


def test_substitutions_quote_the_papers_facts_and_the_data_files():
    subs = book.substitutions({})
    assert all(isinstance(v, str) for v in subs.values())
    assert subs["paper_genes"] == "16,449" and subs["paper_cells"] == "2,100"
    assert subs["paper_latent"] == str(paper()["model"]["latent_dim"]) == "32"
    assert subs["paper_lr"] == "0.004" and subs["paper_batch"] == "16"
    assert subs["worm_2100_genes"] == "13,488" and subs["worm_2100_cells"] == "2,100"
    assert subs["pbmc2100_top2000_scdcc_genes_differ"] == "195"
    assert subs["kl_spike_factor"] == f"{targets()['training_health']['kl_spike_factor']:g}" == "10"
    # 16,449 x 2,048 + 2,048 to the hidden layer, then 2 x (2,048 x 32 + 32) to mu and log sigma^2
    assert 16449 * 2048 + 2048 + 2 * (2048 * 32 + 32) == 33_820_736
    assert subs["paper_encoder_weights"] == "34 million"
    for name, info in registry().items():
        key = name.replace("-", "_")
        assert subs[f"{key}_cells"] == f"{info['cells']:,}"
        assert ("genes_differ" in info) == (f"{key}_genes_differ" in subs)
    # an empty manifest: no versions to quote
    assert subs["run_tensorflow"] == subs["run_keras"] == subs["run_sklearn"] == "?"
    summary = committed_summary()
    assert subs["n_readings"] == str(len(summary)) and subs["stability_seeds"] == str(int(summary["seeds"].max()))


def test_substitutions_quote_each_readings_outcome_in_the_stability_study():
    subs = book.substitutions({})
    summary = committed_summary()
    keys = [k for k in subs if k.startswith("stability_") and k != "stability_seeds"]
    assert len(keys) == 2 * len(summary)  # every reading's name gives its own two keys
    assert subs["stability_paper_literal"] == "diverged 3"
    assert subs["stability_paper_literal_active"] == "—"  # diverged: no latent to count
    bn = summary.loc["batch normalisation"]
    assert subs["stability_batch_normalisation"] == bn["outcomes"]
    assert subs["stability_batch_normalisation_active"] == f"{bn['active_units']:.0f}"
    for name, row in summary.iterrows():
        assert subs[f"stability_{glue_name(name)}"] == str(row["outcomes"])


def test_substitutions_quote_the_cpu_family_measurement_from_its_record():
    record = json.loads((book.project_root() / "benchmarks" / "results" / "cpu_family-avx2.json").read_text())
    out = book.substitutions({})
    capped = next(r for r in record["trainings"] if r["setting"] == "capped")
    assert out["cpu_avx2_loss"] == f"{capped['final_loss']:.2f}"
    assert out["cpu_avx512_loss"] == f"{record['committed_final_loss_seed0']:.2f}"
    assert out["cpu_capped_same"] in ("no bit changes", "the capped training differs from the native one")


def test_substitutions_profiles_table_lists_every_profile():
    table = book.substitutions({})["profiles_table"].splitlines()
    assert table[0].startswith("| profile | data | VAE seeds x epochs |") and table[1].startswith("|---")
    assert len(table) == 2 + len(profiles())
    for line, (name, prof) in zip(table[2:], profiles().items()):
        params = prof.get("params", {})
        assert line.startswith(f"| `{name}` | `{prof['dataset']}` | {len(params.get('seeds', [0]))} x ")
        assert prof["description"] in line
    smoke = next(line for line in table if line.startswith("| `smoke`"))
    assert "| 1 x 3 | paper |" in smoke


def test_substitutions_read_the_manifests_versions():
    subs = book.substitutions({"versions": {"tensorflow": "2.4.1", "keras": "2.4.0", "scikit-learn": "0.24.1"}})
    assert (subs["run_tensorflow"], subs["run_keras"], subs["run_sklearn"]) == ("2.4.1", "2.4.0", "0.24.1")
    both = book.substitutions({"versions": {"tensorflow": "2.4.1", "tensorflow-cpu": "2.15.0"}})
    assert both["run_tensorflow"] == "2.15.0"


def test_substitutions_without_the_committed_studies(monkeypatch):
    def missing(*args, **kwargs):
        raise ReplicateError("no stability study")

    monkeypatch.setattr(book, "committed_summary", missing)
    monkeypatch.setattr(book, "committed", lambda name: None)
    subs = book.substitutions({})
    assert subs["n_readings"] == subs["stability_seeds"] == subs["readings_seeds"] == "several"
    assert not any(k.startswith("stability_") and k != "stability_seeds" for k in subs)


def test_write_toc_titles_each_clustering_page(tmp_path):
    path = book.write_toc(tmp_path, ["01_data", "03_clustering-kmeans", "03_clustering-affinity_propagation",
                                     "03_clustering-dbscan", "05_table1"])
    assert path == tmp_path / "_toc.yml"
    toc = yaml.safe_load(path.read_text())
    assert toc["format"] == "jb-book" and toc["root"] == "intro"
    files = [c["file"] for c in toc["chapters"]]
    assert files == [*book.BEFORE, "01_data", "03_clustering-kmeans", "03_clustering-affinity_propagation",
                     "03_clustering-dbscan", "05_table1", *book.AFTER]
    titles = {c["file"]: c.get("title") for c in toc["chapters"]}
    assert titles["03_clustering-kmeans"] == "3. Clustering: K-means"
    assert titles["03_clustering-affinity_propagation"] == "3. Clustering: Affinity propagation"
    assert titles["03_clustering-dbscan"] == "3. Clustering: DBSCAN"  # not in Table 1: its name in capitals
    assert titles["01_data"] is None and titles["05_table1"] is None


def _notebook(path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("seeds = [0]", metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell("seeds = [0, 1, 2, 3, 4]", metadata={"tags": ["injected-parameters"]}),
        nbformat.v4.new_markdown_cell("# Clustering\nWhat this page shows."),
        nbformat.v4.new_code_cell("rows = steps.cluster(adata, seeds, method)"),
        nbformat.v4.new_code_cell("import secret", metadata={"tags": ["remove-input"]}),
        nbformat.v4.new_code_cell("table", metadata={"tags": ["hide-input"]}),
        nbformat.v4.new_markdown_cell("# A second heading"),
    ]
    nbformat.write(nb, path)
    return path


def test_prepare_page_reads_result_first(tmp_path):
    path = _notebook(tmp_path / "03_clustering-kmeans.ipynb")
    params = {"dataset": "pbmc2100-top2000", "seeds": [0, 1, 2, 3, 4], "method": "kmeans", "epochs": 5,
              "grid": "full", "output_dir": "/somewhere", "new_param": 1}
    defaults = {"dataset": "pbmc68k-reduced", "seeds": [0], "method": "kmeans", "epochs": 30, "grid": "full",
                "output_dir": ""}
    book.prepare_page(path, params=params, defaults=defaults, title_suffix="K-means")
    cells = nbformat.read(path, as_version=4).cells
    assert len(cells) == 8
    tags = [c.metadata.get("tags", []) for c in cells]
    assert tags[0] == ["parameters", "remove-cell"] and tags[1] == ["injected-parameters", "remove-cell"]
    assert cells[2].source == "# Clustering: K-means\nWhat this page shows."
    assert cells[3].cell_type == "markdown"
    assert cells[3].source == ("**This page ran with** dataset `pbmc2100-top2000`, seeds `0–4`, method `kmeans`; "
                               "changed from the notebook's defaults: `epochs = 5`.")
    assert tags[4] == ["hide-input"]
    assert tags[5] == ["remove-input"]           # already hidden another way: left alone
    assert tags[6] == ["hide-input"]             # not tagged twice
    assert cells[7].source == "# A second heading" and tags[7] == []  # only the title gets the line


def test_prepare_page_without_a_suffix_or_changes(tmp_path):
    path = _notebook(tmp_path / "01_data.ipynb")
    book.prepare_page(path, params={"dataset": "d", "profile": "smoke", "epochs": 30}, defaults={"epochs": 30})
    cells = nbformat.read(path, as_version=4).cells
    assert cells[2].source == "# Clustering\nWhat this page shows."
    assert cells[3].source == ("**This page ran with** dataset `d`, profile `smoke`; every other parameter at the "
                               "notebook's default.")


def test_ran_with_shows_changed_parameters_only():
    line = book._ran_with({"seeds": [0, 2], "profile": "quick", "grid": 4, "n_jobs": 2, "output_dir": "x"},
                          {"grid": "full", "n_jobs": 2, "output_dir": ""})
    # shown in a fixed order; seeds that are not a range of more than three stay a list
    assert line == ("**This page ran with** profile `quick`, seeds `[0, 2]`; changed from the notebook's defaults: "
                    "`grid = 4`.")
    assert book._short_value([3, 4, 5, 6]) == "3–6" and book._short_value([0, 1, 2]) == "[0, 1, 2]"
    assert book._short_value([0, 2, 3, 4]) == "[0, 2, 3, 4]"


def test_write_run_info(tmp_path):
    manifest = {"dataset": "pbmc2100-top2000", "profile": "paper", "date": "2026-01-02",
                "methods": ["kmeans", "birch"], "versions": {"scikit-learn": "1.9.1", "keras": "3.15.1"}}
    path = book.write_run_info(tmp_path, manifest)
    assert path == tmp_path / "_generated" / "run_info.md"
    text = path.read_text()
    assert text.startswith("```{admonition} The run shown in this book\n:class: note\n") and text.endswith("\n```\n")
    assert ("**Run:** dataset `pbmc2100-top2000`, profile `paper`; clustering methods: kmeans, birch, 2026-01-02. "
            "**Versions:** scikit-learn 1.9.1, keras 3.15.1.") in text
    again = book.write_run_info(tmp_path, {})  # the folder exists now; an empty manifest still writes
    assert "dataset `?`" in again.read_text()


def test_build_needs_a_finished_run_folder(tmp_path):
    with pytest.raises(ReplicateError, match="no manifest.json"):
        book.build(tmp_path)
    (tmp_path / "manifest.json").write_text(json.dumps(
        {"order": ["01_data", "02_vae"], "sections": {"01_data": {"status": "done"}, "02_vae": {"status": "failed"}}}))
    with pytest.raises(ReplicateError, match="unfinished sections: 02_vae"):
        book.build(tmp_path)
    (tmp_path / "manifest.json").write_text(json.dumps({"sections": {}}))
    with pytest.raises(ReplicateError, match="unfinished sections: all"):
        book.build(tmp_path)
    assert not (tmp_path / ".book.building").exists() and not (tmp_path / "book").exists()


def test_a_section_goes_before_its_heading_or_at_the_end(tmp_path):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# Table 1"),
                                         nbformat.v4.new_markdown_cell("text\n## How a setting is chosen\nmore")])
    path = tmp_path / "p.ipynb"
    nbformat.write(nb, path)
    book.add_section(path, "## Against chance", before="## How a setting is chosen")
    book.add_section(path, "## Exercise")
    cells = [c.source for c in nbformat.read(path, as_version=4).cells]
    assert cells[1] == "## Against chance" and cells[-1] == "## Exercise" and len(cells) == 4
    assert set(book.ADDED) == {"05_table1", "09_generalisation"}


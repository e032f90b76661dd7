"""What a run was made with, and publishing without the machine's paths."""

from __future__ import annotations

import nbformat

from replicate.io.paths import project_root
from replicate.io.provenance import (
    run_info,
    run_info_markdown,
    scrub_notebook,
    scrub_paths,
    versions,
)


def test_printed_warnings_lose_the_machines_folders(tmp_path):
    warning = "/opt/x/.venv/lib/python3.11/site-packages/tqdm/auto.py:21: TqdmWarning: IProgress not found\n"
    assert scrub_paths(warning) == "site-packages/tqdm/auto.py:21: TqdmWarning: IProgress not found\n"
    assert scrub_paths(f'File "{project_root()}/replicate/tl.py"') == 'File "replicate/tl.py"'
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1", outputs=[
        nbformat.v4.new_output("stream", name="stderr", text=warning),
        nbformat.v4.new_output("error", ename="E", evalue="v", traceback=[f"{project_root()}/replicate/x.py"])])])
    path = tmp_path / "n.ipynb"
    nbformat.write(nb, path)
    assert scrub_notebook(path) and not scrub_notebook(path)
    text = path.read_text()
    assert "/opt/x" not in text and str(project_root()) not in text and "site-packages/tqdm" in text


def test_run_info_names_the_run_and_its_versions():
    info = run_info(dataset="pbmc68k-reduced", cells=700, genes=765, profile="quick", date="2026-12-01",
                    methods=["kmeans"], version_map={"numpy": "2.0"})
    text = run_info_markdown(info)
    assert text == ("**Run:** dataset `pbmc68k-reduced` (700 cells × 765 genes), profile `quick`; clustering methods: "
                    "kmeans, 2026-12-01. **Versions:** numpy 2.0.")
    assert {"python", "numpy", "scikit-learn"} <= set(versions())

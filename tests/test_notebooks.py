"""Every notebook in notebooks/ runs top to bottom (its cells assert what they show)."""

from __future__ import annotations

import glob
import os

import pytest

NOTEBOOKS = sorted(
    glob.glob(os.path.join(os.path.dirname(os.path.dirname(__file__)), "notebooks", "*.ipynb"))
)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=os.path.basename)
def test_notebook_runs(path: str) -> None:
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    nb = nbformat.read(path, as_version=4)
    nbclient.NotebookClient(
        nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": os.path.dirname(path)}}
    ).execute()
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors
    html = [o["data"]["text/html"] for c in nb.cells for o in c.get("outputs", [])
            if "text/html" in o.get("data", {})]
    images = [o for c in nb.cells for o in c.get("outputs", []) if "image/png" in o.get("data", {})]
    if os.path.basename(path) == "fragmentation_v47_v48.ipynb":
        # Three page maps (before, after on v4.8 and v4.7) and the fragmentation plot.
        assert sum(h.startswith("<div><b>Kernel state</b>") for h in html) == 3
        assert len(images) == 1
    if os.path.basename(path) == "zs_free_exploration.ipynb":
        assert len(images) == 2  # the outcome sets side by side, the progress
        # A Run, the kernel state and an Exploration displayed as HTML.
        assert any(h.startswith("<div><b>zs_free_double_isolation</b>") and "CPU0: " in h
                   for h in html)
        assert any(h.startswith("<div><b>Kernel state</b>") and "<svg" in h for h in html)
        assert any("<th>first seen at</th>" in h for h in html)


def test_there_are_notebooks() -> None:
    assert NOTEBOOKS

"""The JupyterLab harness (``tests/jupyter_browser.py``) on a tiny widget notebook.

The slow test starts a real JupyterLab and a headless Chromium, runs a notebook
with an ``ipywidgets`` button and label, clicks the button with real pointer
events and reads the label back: the path a drawing-canvas test will take.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.jupyter_browser import (
    Lab,
    chromium_page,
    find_jupyterlab,
    jupyter_lab,
    run_notebook_in_lab,
    write_notebook,
)

ROOT = Path(__file__).resolve().parents[1]
SCREENSHOTS = ROOT / "_build" / "screenshots"
PROBE_CELL = """\
import ipywidgets as widgets

button = widgets.Button(description="press me")
label = widgets.Label(value="0")
button.add_class("probe-button")
label.add_class("probe-label")


def bump(_):
    label.value = str(int(label.value) + 1)


button.on_click(bump)
widgets.HBox([button, label])"""


def test_lab_urls_open_a_path_with_the_token(tmp_path: Path):
    lab = Lab("http://127.0.0.1:8123/", "t0k", tmp_path / "lab.log")
    assert lab.url("probe.ipynb") == "http://127.0.0.1:8123/lab/tree/probe.ipynb?token=t0k"
    assert lab.url("a b/c#.ipynb") == "http://127.0.0.1:8123/lab/tree/a%20b/c%23.ipynb?token=t0k"
    assert lab.log() == ""
    (tmp_path / "lab.log").write_text("Jupyter Server is running")
    assert lab.log() == "Jupyter Server is running"


@pytest.mark.slow
def test_a_widget_answers_real_clicks_in_jupyterlab(tmp_path: Path, chromium: str):
    """Run a notebook in a live JupyterLab, click its button twice, read its label."""
    if not find_jupyterlab():
        pytest.skip("JupyterLab is not installed in this environment (pip install jupyterlab)")
    write_notebook(tmp_path / "probe.ipynb", PROBE_CELL)
    with jupyter_lab(tmp_path) as lab, chromium_page(chromium) as page:
        shown = "document.querySelector('.probe-label')?.innerText === '0'"
        run_notebook_in_lab(page, lab, "probe.ipynb", done=shown)
        x, y, width, height = page.box(".probe-button")
        page.click(x + width / 2, y + height / 2)
        page.click(x + width / 2, y + height / 2)
        page.wait_for(
            "document.querySelector('.probe-label')?.innerText === '2'", what="the label to read 2"
        )
        assert page.text(".probe-label") == "2"
        shot = page.screenshot(SCREENSHOTS / "jupyter_browser_probe.png")
        assert page.errors == []
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert shot.stat().st_size > 10_000

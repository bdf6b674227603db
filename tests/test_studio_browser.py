"""The drawing studio and the scoring aid in a real browser: a live JupyterLab on 127.0.0.1,
the notebook opened in headless Chromium, real pointer events on the canvas.

Notebook 1 runs as a reader runs it with ``INTERACTIVE = True`` (in the ci profile): a
click on the canvas must add a spot, a drag with the brush must paint a region, and the
grade the page shows must be the one the library computes for the same drawing. The
scoring aid gets an outline traced with the pointer around a simulated image's
synovium. Screenshots go to ``_build/screenshots``. Both tests skip (never pass) where
Chromium or JupyterLab is missing; ``tests/jupyter_browser.py`` is the harness.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import nbformat
import pytest

from synovis_lib import clinic, outline, studio, widgets
from tests.jupyter_browser import (
    Page,
    chromium_page,
    find_jupyterlab,
    jupyter_lab,
    run_notebook_in_lab,
    write_notebook,
)
from tests.notebooks import NOTEBOOK_DIR, parameters_cells

ROOT = Path(__file__).resolve().parents[1]
SCREENSHOTS = ROOT / "_build" / "screenshots"
NOTEBOOK = "01_eular_omeract_scoring.ipynb"
CANVAS = ".synovis-canvas canvas"
STOPWATCH = """(() => {
  const canvas = document.querySelector(SELECTOR);
  const grade = document.querySelector('.synovis-explanation');
  window.__synovis = {released: null, shown: null};
  canvas.addEventListener('pointerup', () => { window.__synovis.released = performance.now(); },
                          {capture: true, once: true});
  new MutationObserver(() => {
    if (window.__synovis.released !== null) window.__synovis.shown = performance.now();
  }).observe(grade, {childList: true, characterData: true, subtree: true});
})()""".replace("SELECTOR", json.dumps(CANVAS))
"""Times the pointer's release and the grade's last change after it (milliseconds); live
updates during a drag change it before the release and do not count."""
ALL_RUN = (
    "window.jupyterapp.shell.currentWidget.sessionContext.session.kernel.status === 'idle'"
    " && ![...document.querySelectorAll('.jp-InputArea-prompt')]"
    ".some(p => p.innerText.includes('*'))"
)
"""Every cell has run: until then JupyterLab scrolls to each cell it finishes, and a canvas
measured before would move from under the pointer."""

pytestmark = pytest.mark.slow


@pytest.fixture
def lab_root(tmp_path: Path) -> Path:
    if not find_jupyterlab():
        pytest.skip("JupyterLab is not installed in this environment (pip install jupyterlab)")
    return tmp_path


def _on_canvas(page: Page, points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Image fractions as page coordinates on the canvas."""
    x, y, width, height = page.box(CANVAS)
    return [(x + fx * width, y + fy * height) for fx, fy in points]


def _wait_for_explanation(page: Page, text: str, what: str) -> str:
    page.wait_for(
        f"document.querySelector('.synovis-explanation')?.innerText.includes({json.dumps(text)})",
        timeout=60,
        what=what,
    )
    return page.text(".synovis-grade")


def _click(page: Page, selector: str) -> None:
    x, y, width, height = page.box(selector)
    page.click(x + width / 2, y + height / 2)


def _counts(result) -> str:
    """The counts part of an explanation: where the pointer's pixels fall can move a
    coverage by a pixel or two, never the counts."""
    return (
        f"{result.n_single} single spot(s), {result.n_confluent} confluent spot(s), "
        f"{result.n_large} large region(s)"
    )


def _stopwatch(page: Page) -> str:
    """How long the page took to show the grade after the pointer's release."""
    times = page.evaluate("window.__synovis")
    if times["shown"] is None:
        return "already shown by a live update before the release"
    return f"{times['shown'] - times['released']:.0f} ms"


def test_a_click_adds_a_spot_and_a_drag_paints_a_region_in_notebook_1(
    lab_root: Path, chromium: str
):
    nb = nbformat.read(NOTEBOOK_DIR / NOTEBOOK, as_version=4)
    (parameters,) = parameters_cells(nb)
    parameters.source += '\nPROFILE = "ci"\nINTERACTIVE = True'
    nbformat.write(nb, lab_root / NOTEBOOK)
    (lab_root / "results").mkdir()

    state = studio.new_state("g1_three_spots")  # the notebook's STUDIO_SCENE
    x, y = studio.free_point(state)
    clicked = studio.place_spot(state, x, y)
    drag = [(x - 0.025 + 0.0025 * i, y) for i in range(21)]
    painted = studio.paint(state, drag, studio.BRUSH)
    expected = [studio.current_grade(s) for s in (state, clicked, painted)]
    assert [r.grade for r in expected] == [1, 2, 2]  # 4 single spots; 1 confluent + 3 single

    with jupyter_lab(lab_root) as lab, chromium_page(chromium) as page:
        ready = f"!!document.querySelector('{CANVAS}') && {ALL_RUN}"
        run_notebook_in_lab(page, lab, NOTEBOOK, done=ready, timeout=240)
        assert page.text(".synovis-grade") == "grade 1"
        assert page.text(".synovis-explanation") == expected[0].explanation

        page.evaluate(STOPWATCH)
        (point,) = _on_canvas(page, [(x, y)])
        page.click(*point)
        assert _wait_for_explanation(page, "4 single spot", "a click to add a spot") == "grade 2"
        click_ms = _stopwatch(page)
        assert _counts(expected[1]) in page.text(".synovis-explanation")
        assert "not the intended grade 1" in page.text(".synovis-warning")

        _click(page, ".synovis-undo")
        _wait_for_explanation(page, "3 single spot", "undo to remove the spot")
        _click(page, ".synovis-tool[data-tool=paint]")
        page.wait_for(
            "document.querySelector('.synovis-tool[data-tool=paint]')"
            ".getAttribute('aria-pressed') === 'true'",
            what="the paint tool to be chosen",
        )
        page.evaluate(STOPWATCH)
        page.drag(_on_canvas(page, drag))
        shown = _wait_for_explanation(page, "1 confluent spot", "a drag to paint a region")
        drag_ms = _stopwatch(page)
        assert shown == "grade 2"
        assert _counts(expected[2]) in page.text(".synovis-explanation")
        shot = page.screenshot(SCREENSHOTS / "studio_canvas.png")
        assert page.errors == []
    print(f"pointer release to grade on the page: click {click_ms}, drag {drag_ms}")
    assert shot.stat().st_size > 20_000


AID_CELL = """\
from synovis_lib import clinic, widgets

cohort = clinic.simulate_cohort(0, size=224, n_patients=1, consensus_counts=(0, 0, 1, 0))
aid = widgets.scoring_aid(cohort.table["image"], cohort.images, save_dir="outlines")
aid"""


def test_an_outline_traced_with_the_pointer_grades_a_clinical_image(lab_root: Path, chromium: str):
    write_notebook(lab_root / "aid.ipynb", AID_CELL)
    cohort = clinic.simulate_cohort(0, size=224, n_patients=1, consensus_counts=(0, 0, 1, 0))
    trace = outline.outline_from_mask(cohort.synovium[0], max_points=40)
    thinned = studio.thin_path([*trace, trace[0]], widgets.OUTLINE_SPACING)
    expected = outline.grade_outline(cohort.images[0], thinned)

    with jupyter_lab(lab_root) as lab, chromium_page(chromium) as page:
        ready = f"!!document.querySelector('{CANVAS}') && {ALL_RUN}"
        run_notebook_in_lab(page, lab, "aid.ipynb", done=ready)
        assert page.text(".synovis-grade") == ""
        page.drag(_on_canvas(page, [*trace, trace[0]]))
        shown = _wait_for_explanation(page, "synovium px", "an outline to be graded")
        assert shown == f"grade {expected.grade}"
        assert _counts(expected) in page.text(".synovis-explanation")
        _click(page, ".synovis-save")
        page.wait_for(
            "document.querySelector('.synovis-message')?.innerText.startsWith('saved')",
            what="the outline to be saved",
        )
        page.screenshot(SCREENSHOTS / "scoring_aid.png")
        assert page.errors == []
    name, points = outline.load_outline(
        outline.outline_path(lab_root / "outlines", cohort.table["image"][0])
    )
    assert name == cohort.table["image"][0] and len(points) == len(thinned)
    shutil.rmtree(lab_root / "outlines")

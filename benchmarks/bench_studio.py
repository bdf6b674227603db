"""How fast the drawing studio regrades: from a pointer event reaching the kernel to the
canvas's new grade, explanation and picture (the goal: within 100 ms at the studio's size).

Run: .venv/bin/python benchmarks/bench_studio.py
Drives :class:`synovis_lib.widgets.DrawingCanvas` with the messages canvas.js sends (a click,
a 60-point paint drag, an erase, a live update mid-drag, a layer drag, a wheel step) on
basic scenes as they ship and after 40 strokes were painted on them, at
``studio.STUDIO_SIZE``. Prints the median and the slowest of each, in ms. The browser's own
share (the comm round trip and drawing the PNG) is not in these figures; the real-browser
test (tests/test_studio_browser.py) prints the whole pointer-to-grade time it sees.
"""

from __future__ import annotations

import statistics
import time

import numpy as np

from synovis_lib import studio, widgets

GOAL_MS = 100
REPEATS = 15
SCENES = ("g1_three_spots", "g3_filled_recess")


def _drag(rng: np.random.Generator, n: int = 60) -> list[list[float]]:
    """A wandering drag of ``n`` pointer events through the middle of the picture."""
    start = rng.uniform(0.3, 0.6, size=2)
    steps = rng.normal(0, 0.004, size=(n, 2)).cumsum(axis=0)
    return np.clip(start + steps, 0, 1).tolist()


def _events(rng: np.random.Generator) -> dict[str, dict]:
    return {
        "click (spot)": {"event": "click", "x": 0.45, "y": 0.5},
        "paint stroke": {"event": "stroke", "tool": "paint", "points": _drag(rng), "final": True},
        "erase stroke": {"event": "stroke", "tool": "erase", "points": _drag(rng), "final": True},
        "live update mid-drag": {
            "event": "stroke",
            "tool": "paint",
            "points": _drag(rng, 30),
            "final": False,
        },
        "layer drag": {"event": "move", "dx": 0.01, "dy": -0.005, "final": True},
        "wheel step": {"event": "wheel", "steps": 1, "rotate": False},
    }


def _canvas(scene_id: str, painted: int, rng: np.random.Generator) -> widgets.DrawingCanvas:
    canvas = widgets.drawing_studio(scene_id)
    for _ in range(painted):
        canvas.apply(studio.paint, [tuple(p) for p in _drag(rng, 20)], 0.01)
    return canvas


def measure(scene_id: str, painted: int, seed: int = 0) -> dict[str, list[float]]:
    """Milliseconds per event kind, each on a fresh copy of the same drawing."""
    rng = np.random.default_rng(seed)
    base = _canvas(scene_id, painted, rng)
    times: dict[str, list[float]] = {}
    for _ in range(REPEATS):
        for name, message in _events(rng).items():
            canvas = widgets.DrawingCanvas(base.state)
            start = time.perf_counter()
            canvas._on_message(canvas, message, [])
            times.setdefault(name, []).append((time.perf_counter() - start) * 1e3)
            assert canvas.grade >= 0 and not canvas.message_is_error, canvas.message
    return times


def main() -> None:
    print(f"studio size {studio.STUDIO_SIZE} px, {REPEATS} repeats, goal {GOAL_MS} ms")
    print(f"{'scene':20s} {'strokes':>7s} {'event':22s} {'median':>8s} {'slowest':>8s}")
    slowest = 0.0
    for scene_id in SCENES:
        for painted in (0, 40):
            for name, values in measure(scene_id, painted).items():
                slowest = max(slowest, max(values))
                print(
                    f"{scene_id:20s} {painted:7d} {name:22s} "
                    f"{statistics.median(values):8.1f} {max(values):8.1f}"
                )
    verdict = "within" if slowest <= GOAL_MS else "OVER"
    print(f"slowest of all: {slowest:.1f} ms, {verdict} the {GOAL_MS} ms goal")


if __name__ == "__main__":
    main()

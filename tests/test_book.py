"""The book builds with warnings as errors from the ci-profile notebook outputs."""

from __future__ import annotations

import pytest

from tests.notebooks import NOTEBOOKS

pytestmark = pytest.mark.slow


def test_book_builds_without_warnings(built_book):
    html, proc = built_book
    assert proc.returncode == 0, (
        f"jupyter-book build -W failed:\n{proc.stdout[-6000:]}\n{proc.stderr[-6000:]}"
    )
    assert (html / "index.html").is_file()
    for path in NOTEBOOKS:
        page = html / "notebooks" / f"{path.stem}.html"
        assert page.is_file(), f"{page.name} missing from the build"
        assert "profile=ci" in page.read_text(encoding="utf-8")


def test_primer_cites_its_sources(built_book):
    html, proc = built_book
    assert proc.returncode == 0
    page = (html / "book" / "scoring_primer.html").read_text(encoding="utf-8")
    assert "D’Agostino" in page or "D'Agostino" in page
    assert "grade 1" in page.lower() or "Grade 1" in page

"""The built book in a real browser: headless Chromium through every page, offline.

The slow test drives the ci-profile book that the suite itself builds (the
``built_book`` fixture in ``conftest.py``), so it runs on every clean checkout
and in CI; it needs Debian's ``chromium``, which the session fixture installs
with apt-get when running as root. The
checks themselves are in ``tests/browser_check.py``; the fast test here feeds
them a tiny hand-written site with known faults.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.browser_check import (
    PROBE,
    Page,
    check_book,
    reader_problems,
    toc_files,
    with_probe,
)

ROOT = Path(__file__).resolve().parents[1]
SCREENSHOTS = ROOT / "_build" / "screenshots"


@pytest.fixture(scope="session")
def book_html(built_book) -> Path:
    """The book as the suite built it (never a stale ``_build/html``)."""
    html, proc = built_book
    if proc.returncode != 0:
        pytest.fail("the book did not build (see tests/test_book.py)")
    return html


@pytest.mark.slow
def test_every_page_reads_well_in_chromium(book_html: Path, chromium: str):
    """The reader's test: every page renders offline, with no build noise, no visible
    solution, captioned figures, outputs that fit and a quiet console."""
    toc = ROOT / "_toc.yml"
    docs = toc_files(toc)
    report = check_book(book_html, toc, chromium, screenshots=SCREENSHOTS)
    print(report.summary())
    assert report.all_problems() == []
    assert [p.path for p in report.pages] == [f"{d}.html" for d in docs]
    assert any(p.math for p in report.pages)
    assert sum(p.figures for p in report.pages) >= 20  # the notebooks' figures, all captioned
    assert sorted(p.name for p in report.screenshots) == sorted(f"{Path(d).name}.png" for d in docs)
    assert all(p.stat().st_size > 10_000 for p in report.screenshots)


# --- the checks themselves, on a hand-written site (no browser) -----------------------------

TOC = """\
format: jb-book
root: book/intro
parts:
  - caption: Part
    chapters:
      - file: notebooks/01_a
      - file: notebooks/02_b
"""

PAGE = """<html><head><title>{title}</title>{head}</head><body>
<nav class="bd-links bd-docs-nav">{nav}</nav><h1 id="top">{title}</h1>{body}</body></html>"""
NAV = '<a href="{up}book/intro.html">Intro</a><a href="{up}notebooks/01_a.html">A</a>'


def write_site(root: Path, rendered: bool) -> Path:
    """intro is clean; 01_a has every fault; 02_b is not in the sidebar.

    ``rendered`` pages carry what MathJax and the widget manager would have added.
    """
    html = root / "html"
    (html / "book").mkdir(parents=True)
    (html / "notebooks").mkdir()
    (html / "_static").mkdir()
    (html / "_static" / "fig.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"0" * 64)
    math = '<span class="math notranslate">\\(x\\)</span>'
    mjx = "<mjx-container></mjx-container>" if rendered else ""
    state = '<script type="application/vnd.jupyter.widget-state+json">{}</script>'
    pages = {
        "book/intro.html": (
            "Intro",
            '<script src="../_static/local.js"></script>',
            f'{math}{mjx}<img src="../_static/fig.png"><a href="../notebooks/01_a.html#top">A</a>',
        ),
        "notebooks/01_a.html": (
            "A",
            f'<script src="https://cdn.example.org/mathjax.js"></script>{state}',
            f'{math}<img src="missing.png"><a href="gone.html">x</a><a href="#nowhere">y</a>'
            '<a href="../book/intro.html#nope">z</a>'
            "<pre>Traceback (most recent call last):\n  ValueError</pre>",
        ),
        "notebooks/02_b.html": ("B", "", f"{math}{mjx}"),
    }
    for path, (title, head, body) in pages.items():
        nav = NAV.format(up="../")
        (html / path).write_text(PAGE.format(title=title, head=head, nav=nav, body=body))
    (html / "index.html").write_text(PAGE.format(title="Intro", head="", nav="", body=""))
    (root / "_toc.yml").write_text(TOC)
    return html


def read_render(html: Path):
    """A stand-in for Chromium: the served file as it is on disk."""

    def render(url: str) -> str:
        path = url.split("/", 3)[3].split("#")[0]
        return (html / path).read_text()

    return render


def test_toc_files_lists_root_then_chapters_in_order(tmp_path: Path):
    (tmp_path / "_toc.yml").write_text(TOC)
    assert toc_files(tmp_path / "_toc.yml") == ["book/intro", "notebooks/01_a", "notebooks/02_b"]


def test_checker_finds_each_fault(tmp_path: Path):
    html = write_site(tmp_path, rendered=False)
    report = check_book(html, tmp_path / "_toc.yml", render=read_render(html), workers=1)
    problems = report.all_problems()
    assert [p.title for p in report.pages] == ["Intro", "A", "B"]
    intro, a, b = report.pages
    assert intro.problems == ["1 maths elements but MathJax rendered none"]
    assert sorted(a.problems) == sorted(
        [
            "broken image missing.png (HTTP 404, no type)",
            "a Python traceback in the page",
            "broken link notebooks/gone.html (HTTP 404)",
            "link book/intro.html#nope: no element with id 'nope'",
            "loads https://cdn.example.org/mathjax.js from the network",
            "1 maths elements but MathJax rendered none",
            "widget state but no local embed-amd.js ([])",
            "widget state but no widget rendered",
        ]
    )
    assert b.problems == ["1 maths elements but MathJax rendered none"]
    assert "notebooks/02_b.html: not linked from the sidebar of book/intro.html" in problems
    assert "no page of the book has rendered maths" in problems
    assert "the browser asked for a missing file: /notebooks/missing.png" in problems


def test_checker_passes_a_clean_rendered_page(tmp_path: Path):
    html = write_site(tmp_path, rendered=True)
    report = check_book(html, tmp_path / "_toc.yml", render=read_render(html), workers=1)
    intro = report.pages[0]
    assert intro.problems == []
    assert (intro.title, intro.images, intro.math) == ("Intro", 1, 1)


def test_page_title_is_the_documents_not_an_svg_icons():
    # The theme's light/dark switch draws SVG icons with <title>s of their own.
    html = (
        "<html><head><title>Intro — synovis</title></head><body><h1>Intro</h1>"
        "<button><svg><title>Light</title></svg><svg><title>Dark</title></svg></button></body></html>"
    )
    assert Page(html).title == "Intro — synovis"


NOISY_DOM = """<html data-synovis-probe="1" data-synovis-height="3000"
data-synovis-console-errors='["Uncaught SyntaxError: x (a.html:3)"]'><body>
<div class="cell_output"><div class="output stderr"><pre>UserWarning</pre></div>
<img src="a.png" alt="../_images/0123456789abcdef0123.png">
<figure><img src="b.png" alt="ROC curves, one per grade">
<figcaption><p><span class="caption-number">Fig. 1 </span>ROC</p></figcaption></figure>
<pre data-synovis-wide="900>700">a long line</pre></div>
<p>written to /home/alice/synovis/results</p>
<p>training:  40%|####      | 4/10 [00:01&lt;00:02, 3.1it/s]</p>
<div class="solution" data-synovis-visible-solution="body"></div>
<div class="cell" data-synovis-visible-solution="cell"></div></body></html>"""


def test_reader_problems_names_each_fault():
    page = Page(NOISY_DOM)
    assert [(i.src, i.numbered) for i in page.output_images] == [("a.png", False), ("b.png", True)]
    assert reader_problems(page, NOISY_DOM, probed=True) == [
        "1 stderr block(s)",
        "a progress bar",
        "machine path(s) in the text: ['/home/alice/']",
        "output figure a.png has no numbered caption",
        "output figure a.png has no alt text (alt='../_images/0123456789abcdef0123.png')",
        "console error: Uncaught SyntaxError: x (a.html:3)",
        "1 solution(s) visible before they are opened",
        "1 code cell(s) after an exercise outside any solution",
        "1 output(s) wider than the column: ['pre. 900>700 px']",
    ]
    widget = '<script type="application/vnd.jupyter.widget-state+json">FloatProgressModel</script>'
    assert reader_problems(Page("<html></html>"), widget, probed=False) == ["a progress bar"]
    assert reader_problems(Page("<html></html>"), "", probed=True) == [
        "the probe script did not finish (page scripts failed?)"
    ]


def test_the_probe_goes_first_in_the_head():
    html = b"<html><head><title>t</title></head><body></body></html>"
    assert with_probe(html).startswith(b"<html><head>" + PROBE.encode() + b"<title>")
    assert with_probe(b"<p>no head</p>").startswith(PROBE.encode())


PROBED_PAGE = """<html><head><title>P</title>
<script>const X = 1;</script><script>const X = 2;</script></head><body>
<article class="bd-article" style="width: 500px"><h1>P</h1>
<div class="cell_output"><pre style="white-space: pre">{long}</pre><pre>short</pre></div>
<div class="exercise">Exercise</div>
<div class="solution dropdown"><p class="admonition-title">Solution</p>
<section><p>the answer, not hidden</p></section></div>
<div class="solution dropdown"><p class="admonition-title">Solution</p>
<section style="display: none"><p>hidden</p></section></div>
<div class="cell"><pre>print(answer)</pre></div>
$x$<mjx-container></mjx-container></article></body></html>"""


@pytest.mark.slow
def test_the_probe_marks_what_a_reader_would_see_wrongly(tmp_path: Path, chromium: str):
    """In real Chromium: a duplicated const, an overflowing output, an open solution and a
    code cell after an exercise are each caught; a hidden solution is not."""
    html = tmp_path / "html"
    (html / "book").mkdir(parents=True)
    (html / "book" / "p.html").write_text(PROBED_PAGE.format(long="x" * 400))
    (tmp_path / "_toc.yml").write_text("format: jb-book\nroot: book/p\n")
    report = check_book(html, tmp_path / "_toc.yml", chromium, screenshots=tmp_path / "shots")
    problems = report.pages[0].problems
    assert len(problems) == 4, problems
    assert problems[0].startswith(
        "console error: Uncaught SyntaxError: Identifier 'X' has already been declared (p.html:"
    )
    assert problems[1:3] == [
        "1 solution(s) visible before they are opened",
        "1 code cell(s) after an exercise outside any solution",
    ]
    assert problems[3].startswith("1 output(s) wider than the column: ['pre. ")
    assert problems[3].endswith(">500 px']")
    assert [s.name for s in report.screenshots] == ["p.png"]

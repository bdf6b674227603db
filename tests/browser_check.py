"""Check a built Jupyter Book in a real, offline, headless Chromium, as a reader sees it.

Used by ``tests/test_browser.py``; also a script for a quick look at a build::

    .venv/bin/python -m tests.browser_check _build/html --toc _toc.yml

The book is served on 127.0.0.1 (a random port) and every page of the table of
contents is loaded in headless Chromium (Debian's ``chromium``; no Playwright)
with ``--dump-dom`` after a virtual-time budget, so MathJax, the widget
manager and the dropdowns' scripts have run. Chromium resolves no host but
127.0.0.1, so a page that still needs a CDN shows up as unrendered maths or
widgets. The server adds one script, :data:`PROBE`, at the top of every page:
it records console errors and, once the page has laid out, marks what a
reader would see wrongly (attributes that ``--dump-dom`` carries back). For
each page:

- it is served (HTTP 200) and has a ``<title>`` and an ``<h1>``;
- every ``<img>`` loads (HTTP 200, an image type), and nothing the browser
  asked the server for was missing (404);
- no Python traceback, no stderr block, no progress bar, no machine path
  (``/home/...``, ``/tmp/...``) in the text;
- no console error (the probe's record);
- no visible solution: a solution's body is hidden until its dropdown is
  opened, and no code cell after the first exercise sits outside a solution;
- every output figure is numbered and captioned, with alt text that is not a
  file name;
- no output wider than its column (text outputs, tables, images);
- every internal link resolves (HTTP 200, and its ``#fragment`` exists);
- scripts and stylesheets are local files;
- a page with maths has MathJax output (``mjx-container``), a page with widget
  state loads the widget manager locally and shows rendered widgets.

Across the book: every ``_toc.yml`` entry is built and linked from the
sidebar, the redirecting ``index.html`` lands on the root page, and at least
one page has maths. A full-page screenshot of every page goes to the folder
given (``_build/screenshots``).
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import http.server
import json
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

import yaml

TRACEBACK = "Traceback (most recent call last)"
MACHINE_PATH = re.compile(
    r"(?<![\w.~])/(?:home|tmp|root|Users|work|var/folders|private|content|mnt)/[\w.+-]+/"
    r"|[A-Za-z]:\\Users\\"
)
"""An absolute path of the machine that built the book (Colab's /content/ included)."""
PROGRESS_TEXT = re.compile(r"\d+%\|.{0,40}\| *\d+/\d+ \[")
"""tqdm's text bar: ``40%|████      | 4/10 [00:01<00:02, ...]``."""
PROGRESS_MODELS = ("FloatProgressModel", "IntProgressModel")
FILE_NAME_ALT = re.compile(r"^[0-9a-f]{16,}\.(png|jpe?g|svg)$|^_images/|\.png$")
PROBE_READY = "data-synovis-probe"
PROBE = """<script>
(function () {
  var errors = [];
  window.addEventListener("error", function (e) {
    if (e instanceof ErrorEvent) {
      errors.push(e.message + (e.filename ? " (" + e.filename.split("/").pop() + ":" + e.lineno + ")" : ""));
    }
  }, true);
  window.addEventListener("unhandledrejection", function (e) { errors.push("unhandled rejection: " + e.reason); });
  var consoleError = console.error;
  console.error = function () {
    errors.push(Array.prototype.map.call(arguments, String).join(" "));
    return consoleError.apply(console, arguments);
  };
  function shown(el) { return el.getClientRects().length > 0 && getComputedStyle(el).visibility !== "hidden"; }
  function mark() {
    var root = document.documentElement;
    root.setAttribute("data-synovis-console-errors", JSON.stringify(errors));
    root.setAttribute("data-synovis-height", String(root.scrollHeight));
    var article = document.querySelector("article.bd-article") || document.body;
    var column = article.getBoundingClientRect();
    document.querySelectorAll("div.cell_output pre, div.cell_output table, div.cell_output img, div.cell_output .output").forEach(function (el) {
      if (!shown(el)) { el.removeAttribute("data-synovis-wide"); return; }
      var box = el.getBoundingClientRect();
      var wide = el.scrollWidth > el.clientWidth + 2 || box.right > column.right + 2;
      if (wide) { el.setAttribute("data-synovis-wide", Math.round(Math.max(el.scrollWidth, box.width)) + ">" + Math.round(Math.min(el.clientWidth || column.width, column.width))); }
      else { el.removeAttribute("data-synovis-wide"); }
    });
    var exercise = document.querySelector("div.exercise");
    document.querySelectorAll("div.solution").forEach(function (sol) {
      var body = sol.querySelectorAll(":scope > :not(.admonition-title), :scope > section > *");
      var open = Array.prototype.some.call(body, shown);
      if (open) { sol.setAttribute("data-synovis-visible-solution", "body"); } else { sol.removeAttribute("data-synovis-visible-solution"); }
    });
    if (exercise) {
      document.querySelectorAll("div.cell").forEach(function (cell) {
        var after = exercise.compareDocumentPosition(cell) & Node.DOCUMENT_POSITION_FOLLOWING;
        if (after && !cell.closest("div.solution") && shown(cell)) { cell.setAttribute("data-synovis-visible-solution", "cell"); }
      });
    }
    root.setAttribute("data-synovis-probe", "1");
  }
  window.addEventListener("load", function () { mark(); setInterval(mark, 500); });
})();
</script>"""
"""Injected first into every page by :class:`Server`: records console errors and marks
wide outputs and visible solutions, re-measured every 500 ms until the DOM is dumped."""
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
WIDGET_MANAGER = "embed-amd.js"
WINDOW = (1280, 1600)
"""The browser window (width, height) pages are laid out in."""
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--hide-scrollbars",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
)
"""CONTRIBUTING.md's Chromium flags, plus a resolver that leaves the browser offline but for 127.0.0.1."""


def toc_files(toc: str | Path) -> list[str]:
    """The documents of a jb-book ``_toc.yml`` in reading order (root first), without suffix."""
    data = yaml.safe_load(Path(toc).read_text(encoding="utf-8"))
    files = [data["root"]]

    def walk(entries: list[Mapping]) -> None:
        for entry in entries or []:
            if "file" in entry:
                files.append(entry["file"])
            for key in ("parts", "chapters", "sections"):
                walk(entry.get(key, []))

    walk([{key: data.get(key, []) for key in ("parts", "chapters")}])
    return [
        str(Path(f).with_suffix("")) if Path(f).suffix in {".md", ".ipynb"} else f for f in files
    ]


@dataclass
class OutputImage:
    """An image in a cell's output, and whether it sits in a numbered, captioned figure."""

    src: str
    alt: str
    numbered: bool = False


class Page(HTMLParser):
    """What the checks need from one HTML document."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.title = ""
        self.h1 = 0
        self.images: list[str] = []
        self.links: list[str] = []
        self.nav_links: list[str] = []
        self.scripts: list[str] = []
        self.stylesheets: list[str] = []
        self.ids: set[str] = set()
        self.math = 0
        self.mathjax = 0
        self.math_errors = 0
        self.widget_state = False
        self.widgets = 0
        self.tracebacks = 0
        self.stderr = 0
        self.output_images: list[OutputImage] = []
        self.wide: list[str] = []
        self.visible_solutions: list[str] = []
        self.console_errors: list[str] = []
        self.height = 0
        self.probed = False
        self.text: list[str] = []
        self._stack: list[str] = []
        self._classes: list[list[str]] = []
        self._figures: list[dict] = []
        self._nav_depth = 0
        self.feed(html)

    def _inside(self, css_class: str) -> bool:
        return any(css_class in classes for classes in self._classes)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        classes = a.get("class", "").split()
        if "id" in a:
            self.ids.add(a["id"])
        if "name" in a and tag == "a":
            self.ids.add(a["name"])
        if tag == "h1":
            self.h1 += 1
        if tag == "img":
            self.images.append(a.get("src", ""))
        if tag == "a" and a.get("href"):
            self.links.append(a["href"])
            if self._nav_depth:
                self.nav_links.append(a["href"])
        if tag == "nav" and "bd-docs-nav" in classes:
            self._nav_depth = 1
        elif tag == "nav" and self._nav_depth:
            self._nav_depth += 1
        if tag == "script":
            if a.get("src"):
                self.scripts.append(a["src"])
            if a.get("type") == WIDGET_STATE:
                self.widget_state = True
        if tag == "link" and "stylesheet" in a.get("rel", "").split():
            self.stylesheets.append(a.get("href", ""))
        if "math" in classes:
            self.math += 1
        if tag == "mjx-container":
            self.mathjax += 1
        if tag == "mjx-merror":
            self.math_errors += 1
        if "jupyter-widgets" in classes:
            self.widgets += 1
        if "traceback" in classes:
            self.tracebacks += 1
        if "stderr" in classes and ("output" in classes or self._inside("cell_output")):
            self.stderr += 1
        if tag == "html":
            self.console_errors = json.loads(a.get("data-synovis-console-errors") or "[]")
            self.height = int(a.get("data-synovis-height") or 0)
            self.probed = PROBE_READY in a
        if "data-synovis-wide" in a:
            self.wide.append(f"{tag}.{'.'.join(classes[:2])} {a['data-synovis-wide']} px")
        if "data-synovis-visible-solution" in a:
            self.visible_solutions.append(a["data-synovis-visible-solution"])
        if tag == "figure":
            self._figures.append({"numbered": False, "images": []})
        if tag == "span" and "caption-number" in classes and self._figures:
            self._figures[-1]["numbered"] = True
        if tag == "img" and self._inside("cell_output"):
            image = OutputImage(a.get("src", ""), a.get("alt", ""))
            self.output_images.append(image)
            if self._figures:
                self._figures[-1]["images"].append(image)
        if tag not in {"img", "br", "hr", "meta", "link", "input", "source", "wbr"}:
            self._stack.append(tag)
            self._classes.append(classes)

    def handle_endtag(self, tag: str) -> None:
        if tag == "nav" and self._nav_depth:
            self._nav_depth -= 1
        if tag == "figure" and self._figures:
            figure = self._figures.pop()
            for image in figure["images"]:
                image.numbered = figure["numbered"]
        if tag in self._stack:
            while self._stack:
                self._classes.pop()
                if self._stack.pop() == tag:
                    break

    def handle_data(self, data: str) -> None:
        if self._stack and self._stack[-1] == "title" and "head" in self._stack:
            self.title += data  # the document's title, not an inline SVG icon's <title>
        if not self._stack or self._stack[-1] not in {"script", "style"}:
            self.text.append(data)

    @property
    def body_text(self) -> str:
        return "".join(self.text)


class _QuietServer(http.server.ThreadingHTTPServer):
    """Chromium drops connections once it has its DOM; that is not an error worth printing."""

    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


def with_probe(html: bytes) -> bytes:
    """``html`` with :data:`PROBE` as the first thing in its ``<head>``."""
    match = re.search(rb"<head[^>]*>", html, re.IGNORECASE)
    at = match.end() if match else 0
    return html[:at] + PROBE.encode() + html[at:]


@dataclass
class Server:
    """A static server of ``root`` on 127.0.0.1 that records every request's status."""

    root: Path
    requests: list[tuple[str, int]] = field(default_factory=list)
    base: str = ""

    @contextlib.contextmanager
    def running(self) -> Iterator[Server]:
        log = self.requests

        class Handler(http.server.SimpleHTTPRequestHandler):
            def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
                log.append((urllib.parse.unquote(self.path.split("?")[0]), int(code)))

            def log_message(self, format: str, *args: object) -> None:  # quiet
                pass

            def do_GET(self) -> None:
                file = Path(self.translate_path(self.path))
                if file.is_dir() and self.path.split("?")[0].endswith("/"):
                    file = file / "index.html"
                if file.suffix != ".html" or not file.is_file():
                    super().do_GET()
                    return
                body = with_probe(file.read_bytes())
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        handler = functools.partial(Handler, directory=str(self.root))
        httpd = _QuietServer(("127.0.0.1", 0), handler)
        self.base = f"http://127.0.0.1:{httpd.server_address[1]}/"
        thread = threading.Thread(target=httpd.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            httpd.shutdown()
            httpd.server_close()
            thread.join()


def fetch_status(url: str) -> tuple[int, str]:
    """HTTP status and content type of ``url`` (only ever 127.0.0.1 here)."""
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status, response.headers.get_content_type()
    except urllib.error.HTTPError as error:
        return error.code, ""


def find_chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def chromium_run(
    chromium: str, url: str, *extra: str, budget_ms: int = 8000, timeout: float = 90
) -> subprocess.CompletedProcess[str]:
    """Run headless Chromium on ``url`` in a fresh profile folder."""
    with tempfile.TemporaryDirectory(prefix="synovis-chromium-") as profile:
        cmd = [
            chromium,
            *CHROMIUM_FLAGS,
            f"--user-data-dir={profile}",
            f"--virtual-time-budget={budget_ms}",
            *extra,
            url,
        ]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)


def chromium_dom(chromium: str, url: str, budget_ms: int = 8000) -> str:
    """The DOM of ``url``, laid out in a :data:`WINDOW`, after ``budget_ms`` of virtual
    time (scripts have run)."""
    size = f"--window-size={WINDOW[0]},{WINDOW[1]}"
    result = chromium_run(chromium, url, "--dump-dom", size, budget_ms=budget_ms)
    if result.returncode != 0 or not result.stdout.strip():
        raise RuntimeError(
            f"chromium --dump-dom {url} failed ({result.returncode}): {result.stderr[-2000:]}"
        )
    return result.stdout


def chromium_screenshot(
    chromium: str, url: str, path: Path, size: tuple[int, int] = WINDOW
) -> Path:
    """A PNG screenshot of ``url`` at ``size`` (width, height)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    chromium_run(chromium, url, f"--screenshot={path}", f"--window-size={size[0]},{size[1]}")
    if not path.exists() or path.read_bytes()[:8] != b"\x89PNG\r\n\x1a\n":
        raise RuntimeError(f"chromium wrote no PNG screenshot of {url} to {path}")
    return path


@dataclass
class PageReport:
    path: str
    title: str = ""
    images: int = 0
    math: int = 0
    widgets: int = 0
    figures: int = 0
    """Output images in a numbered, captioned figure."""
    output_images: int = 0
    problems: list[str] = field(default_factory=list)


@dataclass
class BookReport:
    pages: list[PageReport]
    problems: list[str]
    screenshots: list[Path]

    def all_problems(self) -> list[str]:
        return self.problems + [f"{p.path}: {msg}" for p in self.pages for msg in p.problems]

    def summary(self) -> str:
        lines = [f"{'page':55} {'img':>4} {'fig':>7} {'math':>5} {'widg':>5}  title"]
        lines += [
            f"{p.path:55} {p.images:4} {p.figures:3}/{p.output_images:<3} {p.math:5} "
            f"{p.widgets:5}  {p.title[:40]}"
            for p in self.pages
        ]
        problems = self.all_problems()
        captioned = sum(p.figures for p in self.pages)
        shown = sum(p.output_images for p in self.pages)
        lines.append(
            f"{len(self.pages)} pages, {captioned}/{shown} output figures captioned, "
            f"{len(problems)} problems"
        )
        lines += [f"  - {msg}" for msg in problems]
        return "\n".join(lines)


def _is_external(url: str) -> bool:
    return url.startswith(("http://", "https://", "//")) and not url.startswith("http://127.0.0.1")


def _internal_targets(page_url: str, hrefs: list[str]) -> set[str]:
    targets = set()
    for href in hrefs:
        scheme = urllib.parse.urlsplit(href).scheme
        if scheme in {"mailto", "javascript", "data"} or _is_external(href) or href.startswith("#"):
            continue
        targets.add(urllib.parse.urljoin(page_url, href))
    return targets


class Checker:
    """Shared state for one book: the server, a status cache, the HTML of local pages."""

    def __init__(
        self,
        html_dir: Path,
        server: Server,
        render: Callable[[str], str],
        probed: bool = True,
        screenshot: Callable[[str, Path, tuple[int, int]], Path] | None = None,
        screenshots: Path | None = None,
    ) -> None:
        self.html_dir = html_dir
        self.server = server
        self.render = render
        self.probed = probed
        """Whether ``render`` runs the pages' scripts (Chromium) so :data:`PROBE` marks them."""
        self.screenshot = screenshot
        self.screenshots = screenshots
        self.shots: list[Path] = []
        self._status: dict[str, tuple[int, str]] = {}
        self._lock = threading.Lock()

    def status(self, url: str) -> tuple[int, str]:
        with self._lock:
            if url in self._status:
                return self._status[url]
        result = fetch_status(url)
        with self._lock:
            self._status[url] = result
        return result

    def local_file(self, url: str) -> Path | None:
        path = urllib.parse.unquote(urllib.parse.urlsplit(url).path)
        if not url.startswith(self.server.base):
            return None
        file = self.html_dir / path.removeprefix("/")
        return file / "index.html" if file.is_dir() else file

    def check_page(self, rel: str) -> PageReport:
        report = PageReport(rel)
        url = urllib.parse.urljoin(self.server.base, rel)
        status, _ = self.status(url)
        if status != 200:
            report.problems.append(f"HTTP {status}")
            return report
        raw_html = (self.html_dir / rel).read_text(encoding="utf-8")
        raw = Page(raw_html)
        dom = Page(self.render(url))
        report.title = " ".join(dom.title.split())
        report.images, report.math, report.widgets = len(dom.images), dom.mathjax, dom.widgets
        problems = report.problems
        if not report.title:
            problems.append("no <title>")
        if not dom.h1:
            problems.append("no <h1> heading")
        for src in dom.images:
            if not src:
                problems.append("an <img> without src")
            elif not src.startswith("data:"):
                img_status, kind = self.status(urllib.parse.urljoin(url, src))
                if img_status != 200 or not kind.startswith("image/"):
                    problems.append(f"broken image {src} (HTTP {img_status}, {kind or 'no type'})")
        if TRACEBACK in dom.body_text or dom.tracebacks:
            problems.append("a Python traceback in the page")
        for target in sorted(_internal_targets(url, dom.links)):
            file_url, _, fragment = target.partition("#")
            shown = target.removeprefix(self.server.base)
            link_status, _ = self.status(file_url)
            if link_status != 200:
                problems.append(f"broken link {shown} (HTTP {link_status})")
                continue
            file = self.local_file(file_url)
            if fragment and file and file.suffix == ".html":
                ids = Page(file.read_text(encoding="utf-8")).ids
                if urllib.parse.unquote(fragment) not in ids:
                    problems.append(f"link {shown}: no element with id {fragment!r}")
        for asset in raw.scripts + raw.stylesheets:
            if _is_external(asset):
                problems.append(f"loads {asset} from the network")
        if raw.math and not dom.mathjax:
            problems.append(f"{raw.math} maths elements but MathJax rendered none")
        if dom.math_errors:
            problems.append(f"{dom.math_errors} MathJax errors")
        if raw.widget_state:
            managers = [s for s in raw.scripts if WIDGET_MANAGER in s]
            if not managers or any(_is_external(s) for s in managers):
                problems.append(f"widget state but no local {WIDGET_MANAGER} ({managers})")
            if not dom.widgets:
                problems.append("widget state but no widget rendered")
        problems += reader_problems(dom, raw_html, self.probed)
        report.output_images = len(dom.output_images)
        report.figures = sum(image.numbered for image in dom.output_images)
        if self.screenshot and self.screenshots:
            name = Path(rel).with_suffix(".png").name
            height = min(max(dom.height, WINDOW[1]), 30_000)
            shot = self.screenshot(url, self.screenshots / name, (WINDOW[0], height))
            with self._lock:
                self.shots.append(shot)
        return report


def reader_problems(dom: Page, raw_html: str, probed: bool) -> list[str]:
    """What a reader would see wrongly on a page: build noise, visible solutions,
    uncaptioned or unreadable outputs, console errors (``probed``: :data:`PROBE` ran)."""
    problems = []
    if dom.stderr:
        problems.append(f"{dom.stderr} stderr block(s)")
    if PROGRESS_TEXT.search(dom.body_text) or any(m in raw_html for m in PROGRESS_MODELS):
        problems.append("a progress bar")
    paths = sorted({m.group(0) for m in MACHINE_PATH.finditer(dom.body_text)})
    if paths:
        problems.append(f"machine path(s) in the text: {paths[:3]}")
    for image in dom.output_images:
        if not image.numbered:
            problems.append(f"output figure {image.src} has no numbered caption")
        if not image.alt.strip() or FILE_NAME_ALT.search(image.alt.strip()):
            problems.append(f"output figure {image.src} has no alt text (alt={image.alt!r})")
    if not probed:
        return problems
    if not dom.probed:
        problems.append("the probe script did not finish (page scripts failed?)")
    problems += [f"console error: {error}" for error in dom.console_errors]
    bodies = dom.visible_solutions.count("body")
    cells = dom.visible_solutions.count("cell")
    if bodies:
        problems.append(f"{bodies} solution(s) visible before they are opened")
    if cells:
        problems.append(f"{cells} code cell(s) after an exercise outside any solution")
    if dom.wide:
        problems.append(f"{len(dom.wide)} output(s) wider than the column: {dom.wide[:3]}")
    return problems


def check_book(
    html_dir: str | Path,
    toc: str | Path,
    chromium: str | None = None,
    screenshots: str | Path | None = None,
    render: Callable[[str], str] | None = None,
    workers: int = 2,
    budget_ms: int = 8000,
) -> BookReport:
    """Load every toc page of the build in ``html_dir`` in headless Chromium and check it.

    ``render(url) -> html`` replaces Chromium (for tests of the checks
    themselves; the probe's checks are then skipped). With ``chromium`` and
    ``screenshots``, a full-page screenshot of every page is saved there as
    ``<page name>.png``.
    """
    html_dir = Path(html_dir)
    probed = render is None
    if render is None:
        if chromium is None:
            raise ValueError("check_book needs chromium (a path) or a render function")
        render = functools.partial(chromium_dom, chromium, budget_ms=budget_ms)
    shoot = functools.partial(chromium_screenshot, chromium) if chromium and screenshots else None
    pages = [f"{doc}.html" for doc in toc_files(toc)]
    problems: list[str] = []
    server = Server(html_dir)
    with server.running():
        folder = Path(screenshots) if screenshots else None
        checker = Checker(html_dir, server, render, probed, shoot, folder)
        with ThreadPoolExecutor(max_workers=workers) as pool:
            reports = list(pool.map(checker.check_page, pages))
        root = Page(render(urllib.parse.urljoin(server.base, pages[0])))
        nav = {
            urllib.parse.urljoin(server.base + pages[0], h).split("#")[0] for h in root.nav_links
        }
        for page in pages[1:]:
            if urllib.parse.urljoin(server.base, page) not in nav:
                problems.append(f"{page}: not linked from the sidebar of {pages[0]}")
        if (html_dir / "index.html").exists():
            landing = Page(render(server.base + "index.html"))
            root_title = reports[0].title
            if " ".join(landing.title.split()) != root_title:
                problems.append(
                    f"index.html lands on {landing.title.strip()!r}, not the root page {root_title!r}"
                )
        if not any(r.math for r in reports):
            problems.append("no page of the book has rendered maths")
        missing = sorted(
            {path for path, code in server.requests if code == 404 and path != "/favicon.ico"}
        )
        problems += [f"the browser asked for a missing file: {path}" for path in missing]
    return BookReport(reports, problems, sorted(checker.shots))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("html_dir", type=Path, help="the build, e.g. _build/html")
    parser.add_argument("--toc", type=Path, default=Path("_toc.yml"))
    parser.add_argument("--screenshots", type=Path, default=None)
    args = parser.parse_args(argv)
    chromium = find_chromium()
    if chromium is None:
        print("chromium not found (Debian: apt-get install -y chromium)")
        return 2
    shots = args.screenshots or args.html_dir.parent / "screenshots"
    report = check_book(args.html_dir, args.toc, chromium, shots)
    print(report.summary())
    print(f"screenshots: {len(report.screenshots)} pages in {shots}")
    return 1 if report.all_problems() else 0


if __name__ == "__main__":
    sys.exit(main())

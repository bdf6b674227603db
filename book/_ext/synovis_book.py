"""The book's own Sphinx extension: its stylesheet, and one fix to the theme's scripts.

- ``synovis.css`` (``book/static``) makes text outputs wrap instead of
  scrolling and pads table cells.
- sphinx-thebe 0.3.1 registers its inline configuration script from an event
  that runs after the HTML builder has read the registry, so Sphinx 7 writes it
  twice on every page; the second ``const THEBE_JS_URL`` throws a SyntaxError in
  the reader's console. :func:`unique_scripts` writes each script once.
- The theme's light/dark mode defaults to ``light`` (:func:`light_by_default`):
  with no default, a first visit logs "Got invalid theme mode" to the console,
  and the figures (white backgrounds) read best on a light page.
"""

from __future__ import annotations

from typing import Any

from sphinx.application import Sphinx


def unique_scripts(app: Sphinx, pagename: str, templatename: str, context: dict, doctree) -> None:
    """Drop repeated ``<script>`` entries (same file, same inline body) from a page."""
    seen: set[tuple[str, str]] = set()
    unique = []
    for script in context.get("script_files", []):
        body = getattr(script, "attributes", {}).get("body", "")
        filename = getattr(script, "filename", script) or ""  # an inline script's is "" or None
        key = (str(filename), str(body))  # the priorities of the two copies differ
        if key not in seen:
            seen.add(key)
            unique.append(script)
    context["script_files"] = unique


def light_by_default(app: Sphinx, config) -> None:
    """Give the theme a default mode (pydata-sphinx-theme reads ``html_context``) unless
    the book's configuration chose one."""
    config.html_context = {"default_mode": "light", **(config.html_context or {})}


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_css_file("synovis.css")
    app.connect("config-inited", light_by_default)
    app.connect("html-page-context", unique_scripts, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}

"""What a reader must see, shown as a note on the page rather than as a stderr block.

The library warns (``warnings.warn``) when something deserves the reader's
attention: ImageNet weights that could not be had, a training set that lacks
a grade, a cache entry that was damaged. In a terminal those stay Python
warnings. In a notebook, :func:`show_warnings_as_notices` (called in every
notebook's setup cell) displays synovis' own warnings as a :class:`Notice`,
which the book renders as a styled admonition and JupyterLab as a titled
paragraph, so no page shows a raw stderr block with a kernel's file paths.
Other libraries' warnings are left to Python. Taught in every notebook's setup
section; the offline-weights notice is discussed in
``notebooks/05_vgg16_transfer_learning.ipynb``.
"""

from __future__ import annotations

import html
import warnings
from dataclasses import dataclass
from typing import Any

KINDS = ("note", "warning", "important")


class SynovisWarning(UserWarning):
    """A warning of synovis' own, for the reader (shown as a :class:`Notice` in notebooks).

    Subclasses set ``title``, the notice's heading.
    """

    title = "Note from synovis"


class DataWarning(SynovisWarning):
    """Something in a user's data that synovis ignored or could not score."""

    title = "About your data"


@dataclass(frozen=True)
class Notice:
    """A titled note: ``kind`` is the admonition's class (``note``, ``warning``, ``important``)."""

    title: str
    text: str
    kind: str = "warning"

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"Notice kind must be one of {KINDS}, not {self.kind!r}")

    def _repr_html_(self) -> str:
        return (
            f'<div class="admonition {self.kind}">'
            f'<p class="admonition-title">{html.escape(self.title)}</p>'
            f"<p>{html.escape(self.text)}</p></div>"
        )

    def __str__(self) -> str:
        return f"{self.title}: {self.text}"


def _displaying(original: Any) -> Any:
    def showwarning(message, category, filename, lineno, file=None, line=None) -> None:
        if not issubclass(category, SynovisWarning):
            original(message, category, filename, lineno, file, line)
            return
        from IPython.display import display

        display(Notice(category.title, str(message)))

    showwarning.synovis_original = original
    return showwarning


def show_warnings_as_notices() -> None:
    """In an IPython kernel, display synovis' warnings as :class:`Notice` admonitions.

    Safe to call again (a re-run setup cell installs nothing twice). Outside IPython
    nothing changes.
    """
    try:
        from IPython import get_ipython
    except ImportError:
        return
    if get_ipython() is None:
        return
    current = warnings.showwarning
    if not hasattr(current, "synovis_original"):
        warnings.showwarning = _displaying(current)


__all__ = ["KINDS", "DataWarning", "Notice", "SynovisWarning", "show_warnings_as_notices"]

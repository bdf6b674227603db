"""synovis' warnings become notes on the page in a notebook, and stay warnings elsewhere."""

from __future__ import annotations

import warnings

import IPython
import IPython.display
import pytest

from synovis_lib import notices
from synovis_lib.cache import CacheWarning
from synovis_lib.model import OfflineWeightsWarning
from synovis_lib.notices import DataWarning, Notice, SynovisWarning, show_warnings_as_notices


def test_a_notice_renders_as_an_escaped_admonition():
    notice = Notice("No <weights>", "a & b", kind="note")
    assert notice._repr_html_() == (
        '<div class="admonition note"><p class="admonition-title">No &lt;weights&gt;</p>'
        "<p>a &amp; b</p></div>"
    )
    assert str(notice) == "No <weights>: a & b"
    with pytest.raises(ValueError, match="kind must be one of"):
        Notice("t", "x", kind="danger!")


def test_synovis_warnings_share_a_base_and_have_titles():
    for category in (OfflineWeightsWarning, CacheWarning, DataWarning):
        assert issubclass(category, SynovisWarning) and issubclass(category, UserWarning)
    assert len({c.title for c in (OfflineWeightsWarning, CacheWarning, DataWarning)}) == 3


def test_outside_ipython_nothing_changes(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(IPython, "get_ipython", lambda: None)
    with warnings.catch_warnings():
        before = warnings.showwarning
        show_warnings_as_notices()
        assert warnings.showwarning is before


def test_in_a_kernel_synovis_warnings_are_displayed_and_others_are_not(
    monkeypatch: pytest.MonkeyPatch,
):
    shown: list[object] = []
    monkeypatch.setattr(IPython, "get_ipython", lambda: object())
    monkeypatch.setattr(IPython.display, "display", shown.append)
    with warnings.catch_warnings(record=True) as passed_on:
        warnings.simplefilter("always")
        before = warnings.showwarning
        show_warnings_as_notices()
        installed = warnings.showwarning
        assert installed is not before
        show_warnings_as_notices()  # a re-run setup cell wraps nothing twice
        assert warnings.showwarning is installed
        warnings.warn("no weights here", OfflineWeightsWarning, stacklevel=1)
        warnings.warn("someone else's", UserWarning, stacklevel=1)
    assert shown == [Notice(OfflineWeightsWarning.title, "no weights here")]
    assert [str(w.message) for w in passed_on] == ["someone else's"]
    assert notices.KINDS == ("note", "warning", "important")

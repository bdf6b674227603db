"""Figures and tables laid out like the paper's: confusion tables, ROC curves, paper vs ours.

Every function draws on the Axes it is given (or a new one) and returns it;
nothing here calls ``plt.show()`` or picks a backend, so figures render in
notebooks and in the book alike. Taught in
notebooks/04_statistics_from_the_paper.ipynb.
"""

from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from synovis_lib.metrics import RocResult, as_table, round_half_up

COLUMN_PX = 720
"""The book's content column, in CSS pixels: a wider figure is scaled down to fit it."""
INLINE_DPI = 100
"""The dots per inch of a figure drawn inline in a notebook (matplotlib's default)."""
MIN_TEXT_PX = 9
"""The smallest text a reader should meet on a page, as displayed."""


def smallest_text_px(fig: plt.Figure, column_px: int = COLUMN_PX) -> float:
    """The height, in displayed pixels, of the smallest visible text of ``fig`` on a page
    ``column_px`` wide (``inf`` if it has none).

    A figure ``w`` inches wide is drawn at :data:`INLINE_DPI` and shrunk to the
    column when wider, so a ``s``-point label shows at ``s * dpi/72 * min(1,
    column/(w*dpi))`` pixels; a wide figure with the default fonts can end up
    unreadable. The test suite checks every figure the library draws against
    :data:`MIN_TEXT_PX`.
    """
    from matplotlib.text import Text

    width = fig.get_figwidth() * INLINE_DPI
    scale = min(1.0, column_px / width) * INLINE_DPI / 72
    sizes = [
        t.get_fontsize()
        for t in fig.findobj(Text)
        if t.get_visible() and t.get_text().strip() and t.figure is fig
    ]
    return min(sizes) * scale if sizes else float("inf")


def _axes(ax: Axes | None, size: tuple[float, float]) -> Axes:
    if ax is not None:
        return ax
    _, new = plt.subplots(figsize=size, layout="constrained")
    return new


def plot_confusion(
    confusion: Any,
    title: str | None = None,
    ax: Axes | None = None,
    output_label: str = "Model output grade",
    cmap: str = "Blues",
) -> Axes:
    """A confusion table as in the paper's Tables 2/3: rows true grade, columns output.

    Each cell shows its count; the colour is the share of that true grade's
    images (row-normalised), so rare grades such as grade 3 stay readable.
    """
    table = as_table(confusion)
    k = table.shape[0]
    ax = _axes(ax, (4.2, 3.6))
    rows = table.sum(axis=1, keepdims=True)
    share = np.divide(table, rows, out=np.zeros(table.shape), where=rows > 0)
    ax.imshow(share, cmap=cmap, vmin=0, vmax=1)
    for (i, j), count in np.ndenumerate(table):
        colour = "white" if share[i, j] > 0.6 else "black"
        ax.text(j, i, f"{count}", ha="center", va="center", color=colour, fontsize=11)
    names = [f"Grade {g}" for g in range(k)]
    ax.set_xticks(range(k), names)
    ax.set_yticks(range(k), names)
    ax.xaxis.set_label_position("top")
    ax.xaxis.tick_top()
    ax.set_xlabel(output_label)
    ax.set_ylabel("True grade")
    if title:
        ax.set_title(title, pad=12)
    return ax


def plot_roc(
    roc_results: list[RocResult], ax: Axes | None = None, title: str | None = None
) -> Axes:
    """One-vs-rest ROC curves of all grades, AUC and CI in the legend (the paper's Figures 4/5)."""
    ax = _axes(ax, (4.6, 4.4))
    for r in roc_results:
        if r.fpr.size:
            ax.plot(r.fpr, r.tpr, lw=1.5, label=r.label())
        else:
            ax.plot([], [], label=r.label())
    ax.plot([0, 1], [0, 1], ls="--", color="grey", lw=1, label="chance")
    ax.set(xlim=(-0.01, 1.01), ylim=(-0.01, 1.01), aspect="equal")
    ax.set_xlabel("1 - specificity (false positive rate)")
    ax.set_ylabel("Sensitivity (recall)")
    method = f"CI: {roc_results[0].method}" if roc_results else None
    ax.legend(loc="lower right", fontsize="small", title=method, title_fontsize="small")
    if title:
        ax.set_title(title)
    return ax


def plot_grade_cis(cis: pd.DataFrame, statistic: str = "recall", ax: Axes | None = None) -> Axes:
    """Per-grade proportion with CI error bars and n annotated (``metrics.grade_proportion_cis``)."""
    ax = _axes(ax, (4.6, 3.2))
    value, low, high = cis[statistic], cis[f"{statistic}_low"], cis[f"{statistic}_high"]
    x = np.arange(len(cis))
    ax.errorbar(x, value, yerr=[value - low, high - value], fmt="o", capsize=4)
    for xi, v, n in zip(x, value, cis[f"{statistic}_n"], strict=True):
        ax.annotate(f"n={n}", (xi, v), textcoords="offset points", xytext=(8, -4), fontsize=9)
    ax.set_xticks(x, [f"Grade {g}" for g in cis.index])
    ax.set(xlim=(-0.5, len(cis) - 0.2), ylim=(0, 1.02))
    level = cis.attrs.get("level", 0.95)
    method = cis.attrs.get("method", "")
    ax.set_ylabel(f"{statistic} ({level:.0%} CI, {method})")
    return ax


def _long(values: Any) -> pd.Series:
    if isinstance(values, pd.DataFrame):
        return values.stack(future_stack=True)
    return values if isinstance(values, pd.Series) else pd.Series(values)


def paper_vs_ours(
    paper: dict | pd.Series | pd.DataFrame, ours: pd.Series | pd.DataFrame
) -> pd.DataFrame:
    """Published values beside ours, with ``match`` at two decimals.

    ``paper`` and ``ours`` are dicts, Series or DataFrames (a DataFrame is read
    cell by cell, keyed by (row, column)). Only the keys in ``paper`` are
    compared. Columns: paper, ours, ours_2dp (ours rounded half up, as the
    paper rounds) and match (False where ours is missing).
    """
    published = _long(paper).astype(float)
    mine = _long(ours).reindex(published.index).astype(float)
    table = pd.DataFrame({"paper": published, "ours": mine})
    table["ours_2dp"] = mine.map(round_half_up)
    table["match"] = table["ours_2dp"].eq(published.map(round_half_up)) & mine.notna()
    return table


def compact_comparison(comparison: pd.DataFrame) -> pd.DataFrame:
    """A :func:`paper_vs_ours` table folded to one row per item and one column per statistic:
    our value to two decimals, with the paper's beside it where the two differ
    (``"0.63 ≠ 0.62"``), and ``"–"`` where we have no value. Forty-six long rows become a
    table a reader can take in at once. Taught in notebooks 04 and 06.
    """
    text = comparison["ours_2dp"].map(lambda v: "–" if pd.isna(v) else f"{v:.2f}")
    differs = ~comparison["match"].astype(bool)
    paper = comparison.loc[differs, "paper"].map(lambda v: f"{v:.2f}")
    text[differs] = text[differs] + " ≠ " + paper
    order = pd.unique(comparison.index.get_level_values("statistic"))
    items = pd.unique(comparison.index.droplevel("statistic"))
    wide = text.unstack("statistic").reindex(columns=order).fillna("")
    return wide.reindex(items)

"""How well a model grades: confusion tables, per-grade metrics, kappa, ROC/AUC, McNemar.

Everything the paper's Results section reports follows from its confusion
tables (rows = true grade, columns = model output) except the AUCs, which need
the model's probabilities. The published numbers ship as data
(``synovis_lib/data/paper_results.json``, see :func:`paper_results`) so the
book can recompute them side by side. Taught in
notebooks/04_statistics_from_the_paper.ipynb.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from importlib import resources
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.metrics import confusion_matrix, roc_curve
from statsmodels.stats.contingency_tables import mcnemar as _sm_mcnemar
from statsmodels.stats.proportion import proportion_confint

from synovis_lib.grading import N_GRADES

Weights = Literal["linear", "quadratic"] | None
REPORT_COLUMNS = ("accuracy", "precision", "recall", "f1", "specificity", "support")
MODELS = ("initial", "second")
EXACT_MCNEMAR_BELOW = 25
"""McNemar uses the exact binomial test when fewer discordant pairs than this."""


# --------------------------------------------------------------------------- validation


def grade_labels(values: Any, name: str = "labels", n_grades: int = N_GRADES) -> np.ndarray:
    """``values`` as an int64 array of grades, or a ValueError naming the bad value and position.

    Accepts lists, NumPy arrays and pandas Series (including nullable ``Int64``);
    missing values, non-integers and grades outside ``0..n_grades-1`` are errors.
    """
    series = values.reset_index(drop=True) if isinstance(values, pd.Series) else None
    if series is None:
        arr = np.asarray(values, dtype=object)
        if arr.ndim != 1:
            raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}")
        series = pd.Series(arr, dtype=object)
    missing = np.flatnonzero(series.isna().to_numpy())
    if missing.size:
        raise ValueError(f"{name} is missing at position(s) {_positions(missing)}")
    numeric = pd.to_numeric(series, errors="coerce")
    ok = numeric.notna() & numeric.isin(range(n_grades))
    bad = np.flatnonzero(~ok.to_numpy())
    if bad.size:
        i = int(bad[0])
        more = f" (and {bad.size - 1} more)" if bad.size > 1 else ""
        raise ValueError(
            f"{name}[{i}] = {series.iloc[i]!r} is not a grade in 0..{n_grades - 1}{more}"
        )
    return numeric.to_numpy(dtype=np.int64)


def _positions(idx: np.ndarray, limit: int = 10) -> str:
    shown = ", ".join(str(int(i)) for i in idx[:limit])
    return shown + (f", ... ({idx.size} in all)" if idx.size > limit else "")


def _same_length(**arrays: np.ndarray) -> None:
    lengths = {name: len(a) for name, a in arrays.items()}
    if len(set(lengths.values())) > 1:
        raise ValueError(f"inputs differ in length: {lengths}")


def as_table(confusion: Any) -> np.ndarray:
    """A validated square table of non-negative integer counts (int64)."""
    table = np.asarray(confusion, dtype=float)
    if table.ndim != 2 or table.shape[0] != table.shape[1]:
        raise ValueError(f"a confusion table must be square (k x k), got shape {table.shape}")
    if table.shape[0] < 2:
        raise ValueError("a confusion table needs at least 2 grades")
    if not np.all(np.isfinite(table)) or np.any(table < 0) or np.any(table != np.round(table)):
        r, c = np.argwhere(~np.isfinite(table) | (table < 0) | (table != np.round(table)))[0]
        raise ValueError(f"confusion[{r}, {c}] = {table[r, c]} is not a non-negative count")
    if table.sum() == 0:
        raise ValueError("the confusion table is empty (all counts are 0)")
    return table.astype(np.int64)


# --------------------------------------------------------------------------- confusion + per grade


def confusion(y_true: Any, y_pred: Any, n_grades: int = N_GRADES) -> np.ndarray:
    """Counts with rows = true grade and columns = predicted grade (all grades, even unused)."""
    t = grade_labels(y_true, "y_true", n_grades)
    p = grade_labels(y_pred, "y_pred", n_grades)
    _same_length(y_true=t, y_pred=p)
    return confusion_matrix(t, p, labels=list(range(n_grades))).astype(np.int64)


def grade_counts(confusion: Any) -> pd.DataFrame:
    """One-vs-rest counts per grade: tp, fp, fn, tn (index ``grade``)."""
    table = as_table(confusion)
    tp = np.diag(table)
    fp = table.sum(axis=0) - tp
    fn = table.sum(axis=1) - tp
    tn = table.sum() - tp - fp - fn
    return pd.DataFrame(
        {"tp": tp, "fp": fp, "fn": fn, "tn": tn},
        index=pd.RangeIndex(len(tp), name="grade"),
    )


def grade_report(confusion: Any) -> pd.DataFrame:
    """One-vs-rest accuracy, precision, recall, F1, specificity and support per grade.

    As in the paper, each grade is scored as "this grade vs all others":
    accuracy = (TP+TN)/N, precision = TP/(TP+FP), recall = TP/(TP+FN),
    F1 = 2TP/(2TP+FP+FN) (the harmonic mean of precision and recall),
    specificity = TN/(TN+FP), support = TP+FN (true images of the grade).

    A ratio with a zero denominator is NaN, never 0: the reason is written in
    the ``notes`` column of that grade and collected in
    ``report.attrs["undefined"]`` (a list of strings, empty when all is defined).
    """
    c = grade_counts(confusion)
    tp, fp, fn, tn = (c[k].to_numpy(dtype=float) for k in ("tp", "fp", "fn", "tn"))
    ratios = {
        "accuracy": (tp + tn, tp + fp + fn + tn, "no images"),
        "precision": (tp, tp + fp, "the model never output this grade (TP+FP = 0)"),
        "recall": (tp, tp + fn, "no true images of this grade (TP+FN = 0)"),
        "f1": (2 * tp, 2 * tp + fp + fn, "grade absent from truth and output (2TP+FP+FN = 0)"),
        "specificity": (tn, tn + fp, "every image is truly this grade (TN+FP = 0)"),
    }
    report = pd.DataFrame(index=c.index)
    notes: list[list[str]] = [[] for _ in c.index]
    for name, (num, den, reason) in ratios.items():
        with np.errstate(invalid="ignore", divide="ignore"):
            report[name] = np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)
        for g in np.flatnonzero(den == 0):
            notes[g].append(f"{name} undefined: {reason}")
    report["support"] = (tp + fn).astype(np.int64)
    report["notes"] = ["; ".join(n) for n in notes]
    report.attrs["undefined"] = [f"grade {g}: {m}" for g, n in enumerate(notes) for m in n]
    return report


def overall_accuracy(table_or_true: Any, y_pred: Any = None, n_grades: int = N_GRADES) -> float:
    """Fraction of images on the diagonal; pass a confusion table, or ``y_true, y_pred``."""
    table = (
        as_table(table_or_true) if y_pred is None else confusion(table_or_true, y_pred, n_grades)
    )
    return float(np.trace(table) / table.sum())


def macro_f1(table_or_true: Any, y_pred: Any = None, n_grades: int = N_GRADES) -> float:
    """Unweighted mean of the per-grade F1 over grades where F1 is defined.

    Pass a confusion table, or ``y_true, y_pred``. A grade absent from both the
    truth and the output has no F1 and is left out (see ``grade_report``).
    """
    table = (
        as_table(table_or_true) if y_pred is None else confusion(table_or_true, y_pred, n_grades)
    )
    return float(np.nanmean(grade_report(table)["f1"].to_numpy()))


def grade_proportion_cis(
    confusion: Any, method: str = "wilson", level: float = 0.95
) -> pd.DataFrame:
    """Per-grade recall and precision with binomial confidence intervals.

    A proportion from 5 images (grade 3 in the paper) has a CI spanning most of
    [0, 1]; this table makes that visible. ``method`` is any method of
    :func:`statsmodels.stats.proportion.proportion_confint` ("wilson",
    "beta" = Clopper-Pearson, ...). Columns: recall, recall_low, recall_high,
    recall_n (= TP+FN) and the same for precision (n = TP+FP); NaN where n is 0.
    """
    c = grade_counts(confusion)
    out = pd.DataFrame(index=c.index)
    for name, n in (("recall", c.tp + c.fn), ("precision", c.tp + c.fp)):
        k, n = c.tp.to_numpy(), n.to_numpy()
        safe = np.where(n > 0, n, 1)
        low, high = proportion_confint(k, safe, alpha=1 - level, method=method)
        out[name] = np.where(n > 0, k / safe, np.nan)
        out[f"{name}_low"] = np.where(n > 0, low, np.nan)
        out[f"{name}_high"] = np.where(n > 0, high, np.nan)
        out[f"{name}_n"] = n
    out.attrs["method"] = method
    out.attrs["level"] = level
    return out


# --------------------------------------------------------------------------- kappa


@dataclass(frozen=True)
class KappaResult:
    """A (weighted) kappa with its large-sample SE and a normal-approximation CI."""

    kappa: float
    se: float
    ci_low: float
    ci_high: float
    weights: str | None
    n: int
    level: float = 0.95
    note: str = ""

    def text(self, digits: int = 2) -> str:
        """The paper's style, e.g. ``"0.62 (95% CI 0.52 to 0.71)"`` (rounded half up)."""
        fmt = lambda x: f"{round_half_up(x, digits):.{digits}f}"  # noqa: E731
        return f"{fmt(self.kappa)} ({self.level:.0%} CI {fmt(self.ci_low)} to {fmt(self.ci_high)})"


def kappa_weights(n_grades: int = N_GRADES, weights: Weights = "linear") -> np.ndarray:
    """Agreement weights w_ij: linear 1-|i-j|/(k-1), quadratic 1-((i-j)/(k-1))^2, None: identity."""
    if weights not in ("linear", "quadratic", None):
        raise ValueError(f"weights must be 'linear', 'quadratic' or None, got {weights!r}")
    i, j = np.indices((n_grades, n_grades))
    if weights is None:
        return (i == j).astype(float)
    d = np.abs(i - j) / (n_grades - 1)
    return 1 - d if weights == "linear" else 1 - d**2


def weighted_kappa(confusion: Any, weights: Weights = "linear", level: float = 0.95) -> KappaResult:
    """Cohen's (weighted) kappa of a k x k table with the SE MedCalc reports.

    kappa = (p_o - p_e) / (1 - p_e) with p_o = sum w_ij p_ij and
    p_e = sum w_ij p_i. p_.j (weights from :func:`kappa_weights`). The SE is the
    large-sample standard error of Fleiss, Cohen & Everitt (1969), the variance
    *not* under the null hypothesis:

        var = [sum_ij p_ij (w_ij - (wbar_i. + wbar_.j)(1 - kappa))^2
               - (kappa - p_e (1 - kappa))^2] / (n (1 - p_e)^2)

    with wbar_i. = sum_j p_.j w_ij and wbar_.j = sum_i p_i. w_ij. The CI is
    kappa +/- z SE (z = 1.96 for 95 %), clipped to [-1, 1]. Written out because
    ``statsmodels.stats.inter_rater.cohens_kappa`` (same numbers otherwise, see
    the tests) returns a NaN SE for perfect agreement, where rounding makes the
    variance a hair below 0. Where p_e = 1 (a single grade in both margins)
    kappa is undefined: NaN with a note.
    """
    table = as_table(confusion)
    w = kappa_weights(table.shape[0], weights)
    n = int(table.sum())
    p = table / n
    rows, cols = p.sum(axis=1), p.sum(axis=0)
    p_o = float((w * p).sum())
    p_e = float((w * np.outer(rows, cols)).sum())
    if np.isclose(p_e, 1.0):
        nan = float("nan")
        note = "kappa undefined: chance agreement is 1 (a single grade in both margins)"
        return KappaResult(nan, nan, nan, nan, weights, n, level, note)
    kappa = (p_o - p_e) / (1 - p_e)
    w_bar = (w @ cols)[:, None] + (rows @ w)[None, :]
    spread = (p * (w - w_bar * (1 - kappa)) ** 2).sum() - (kappa - p_e * (1 - kappa)) ** 2
    se = float(np.sqrt(max(spread, 0.0) / (n * (1 - p_e) ** 2)))
    z = float(stats.norm.ppf(0.5 + level / 2))
    low, high = max(-1.0, kappa - z * se), min(1.0, kappa + z * se)
    return KappaResult(float(kappa), se, low, high, weights, n, level)


def weighted_kappa_from_labels(
    a: Any, b: Any, weights: Weights = "linear", n_grades: int = N_GRADES, level: float = 0.95
) -> KappaResult:
    """:func:`weighted_kappa` of two label vectors (``a`` as rows, ``b`` as columns)."""
    return weighted_kappa(confusion(a, b, n_grades), weights, level)


# --------------------------------------------------------------------------- ROC / AUC


@dataclass(frozen=True)
class RocResult:
    """One grade's one-vs-rest ROC curve, AUC and CI (NaN with a note when undefined)."""

    grade: int
    fpr: np.ndarray
    tpr: np.ndarray
    thresholds: np.ndarray
    auc: float
    ci_low: float
    ci_high: float
    method: str
    n_pos: int
    n_neg: int
    level: float = 0.95
    note: str = ""

    def label(self, digits: int = 2) -> str:
        """Legend text, e.g. ``"grade 0: AUC 0.87 (95% CI 0.80-0.93)"``."""
        if np.isnan(self.auc):
            return f"grade {self.grade}: AUC undefined"
        lo, hi = (f"{x:.{digits}f}" for x in (self.ci_low, self.ci_high))
        return f"grade {self.grade}: AUC {self.auc:.{digits}f} ({self.level:.0%} CI {lo}\u2013{hi})"


def delong_auc(y_binary: Any, scores: Any) -> tuple[float, float]:
    """AUC and its DeLong variance for one binary problem (DeLong et al. 1988).

    Uses the midrank form (Sun & Xu 2014): the placement values
    V10_i = (rank of positive i among all - its rank among positives) / n_neg and
    V01_j = 1 - (rank of negative j among all - its rank among negatives) / n_pos;
    AUC = mean(V10), var = s^2(V10)/n_pos + s^2(V01)/n_neg. Ties count one half,
    so the AUC equals ``sklearn.metrics.roc_auc_score``. Written by hand because
    neither scikit-learn nor statsmodels offers DeLong's variance.
    """
    y = np.asarray(y_binary, dtype=bool)
    s = np.asarray(scores, dtype=float)
    pos, neg = s[y], s[~y]
    m, n = pos.size, neg.size
    if m == 0 or n == 0:
        raise ValueError(f"AUC needs positives and negatives, got {m} and {n}")
    ranks = stats.rankdata(np.concatenate([pos, neg]))
    v10 = (ranks[:m] - stats.rankdata(pos)) / n
    v01 = 1 - (ranks[m:] - stats.rankdata(neg)) / m
    var = (np.var(v10, ddof=1) / m if m > 1 else 0.0) + (np.var(v01, ddof=1) / n if n > 1 else 0.0)
    return float(v10.mean()), float(var)


def _rank_auc(y: np.ndarray, s: np.ndarray) -> float:
    m = int(y.sum())
    n = y.size - m
    if m == 0 or n == 0:
        return float("nan")
    ranks = stats.rankdata(s)
    return float((ranks[y].sum() - m * (m + 1) / 2) / (m * n))


def _bootstrap_aucs(
    y_true: np.ndarray,
    probs: np.ndarray,
    patient_ids: np.ndarray | None,
    n_boot: int,
    seed: int,
) -> np.ndarray:
    """(n_boot, n_grades) AUCs from resampled images, or resampled patients (all their images)."""
    rng = np.random.default_rng(seed)
    if patient_ids is None:
        members = [np.array([i]) for i in range(y_true.size)]
    else:
        _, inverse = np.unique(patient_ids, return_inverse=True)
        members = [np.flatnonzero(inverse == k) for k in range(inverse.max() + 1)]
    out = np.full((n_boot, probs.shape[1]), np.nan)
    for b in range(n_boot):
        picks = rng.integers(0, len(members), len(members))
        idx = np.concatenate([members[k] for k in picks])
        for g in range(probs.shape[1]):
            out[b, g] = _rank_auc(y_true[idx] == g, probs[idx, g])
    return out


def roc_per_grade(
    y_true: Any,
    probs: Any,
    patient_ids: Any = None,
    ci: Literal["delong", "bootstrap"] = "delong",
    n_boot: int = 2000,
    seed: int = 0,
    level: float = 0.95,
) -> list[RocResult]:
    """One-vs-rest ROC curve, AUC and CI for each grade (a list of :class:`RocResult`).

    ``probs`` is (N, n_grades), column g the model's probability of grade g.
    ``ci="delong"``: AUC +/- z sqrt(DeLong variance), clipped to [0, 1]; it
    treats images as independent. ``ci="bootstrap"``: percentile CI over
    ``n_boot`` resamples; with ``patient_ids`` whole patients are resampled
    (images of one patient are correlated; the study had 156 images from 74
    patients). A grade with no positive or no negative images gets NaN and a
    note. :func:`roc_table` turns the list into a DataFrame.
    """
    p = np.asarray(probs, dtype=float)
    if p.ndim != 2 or p.shape[1] < 2:
        raise ValueError(f"probs must be (N, n_grades), got shape {p.shape}")
    if not np.all(np.isfinite(p)):
        r, c = np.argwhere(~np.isfinite(p))[0]
        raise ValueError(f"probs[{r}, {c}] is not finite")
    y = grade_labels(y_true, "y_true", p.shape[1])
    _same_length(y_true=y, probs=p)
    if ci not in ("delong", "bootstrap"):
        raise ValueError(f"ci must be 'delong' or 'bootstrap', got {ci!r}")
    groups = None
    if patient_ids is not None:
        groups = pd.Series(patient_ids).reset_index(drop=True)
        if groups.isna().any():
            raise ValueError(
                f"patient_ids missing at position(s) {_positions(np.flatnonzero(groups.isna()))}"
            )
        _same_length(y_true=y, patient_ids=groups)
        groups = groups.astype(str).to_numpy()
    boot = _bootstrap_aucs(y, p, groups, n_boot, seed) if ci == "bootstrap" else None
    z = float(stats.norm.ppf(0.5 + level / 2))
    method = (
        "DeLong"
        if ci == "delong"
        else ("patient" if groups is not None else "image") + " bootstrap"
    )
    results = []
    for g in range(p.shape[1]):
        yg = y == g
        n_pos, n_neg = int(yg.sum()), int((~yg).sum())
        if n_pos == 0 or n_neg == 0:
            empty = np.array([])
            note = f"AUC undefined: {n_pos} images of grade {g}, {n_neg} of other grades"
            nan = float("nan")
            results.append(
                RocResult(g, empty, empty, empty, nan, nan, nan, method, n_pos, n_neg, level, note)
            )
            continue
        fpr, tpr, thr = roc_curve(yg, p[:, g])
        auc, var = delong_auc(yg, p[:, g])
        note = ""
        if boot is None:
            lo, hi = max(0.0, auc - z * np.sqrt(var)), min(1.0, auc + z * np.sqrt(var))
            if groups is not None:
                note = "DeLong treats images as independent; use ci='bootstrap' for patients"
        else:
            valid = boot[:, g][~np.isnan(boot[:, g])]
            if valid.size:
                lo, hi = np.quantile(valid, [0.5 - level / 2, 0.5 + level / 2])
            else:
                lo = hi = float("nan")
            if valid.size < n_boot:
                note = (
                    f"{n_boot - valid.size} of {n_boot} resamples lacked a class and were skipped"
                )
        results.append(
            RocResult(
                g, fpr, tpr, thr, auc, float(lo), float(hi), method, n_pos, n_neg, level, note
            )
        )
    return results


def roc_table(results: list[RocResult]) -> pd.DataFrame:
    """AUC, CI, class sizes, method and note per grade (index ``grade``)."""
    rows = [
        {
            "grade": r.grade,
            "auc": r.auc,
            "ci_low": r.ci_low,
            "ci_high": r.ci_high,
            "n_pos": r.n_pos,
            "n_neg": r.n_neg,
            "method": r.method,
            "note": r.note,
        }
        for r in results
    ]
    return pd.DataFrame(rows).set_index("grade")


def scores_consistent_with(
    confusion: Any, signal: float = 1.0, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Labels, predictions and probabilities whose argmax reproduces ``confusion`` exactly.

    Each image gets random logits, its true grade's logit raised by
    ``signal`` (how much the model "knows"), then the logit of its predicted
    grade lifted to the top, so the argmax table is ``confusion`` for every
    ``signal`` while the AUCs change with it: a confusion table does not
    determine the AUCs. Returns ``(y_true, y_pred, probs)``, images in table
    order. Taught in notebooks/04_statistics_from_the_paper.ipynb.
    """
    table = as_table(confusion)
    k = table.shape[0]
    true_grade, pred_grade = np.indices(table.shape)
    y_true = np.repeat(true_grade.ravel(), table.ravel())
    y_pred = np.repeat(pred_grade.ravel(), table.ravel())
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(y_true.size, k)) + signal * np.eye(k)[y_true]
    rows = np.arange(y_true.size)
    others = np.where(np.eye(k, dtype=bool)[y_pred], -np.inf, logits).max(axis=1)
    logits[rows, y_pred] = others + rng.exponential(0.5, y_true.size)
    probs = np.exp(logits - logits.max(axis=1, keepdims=True))
    return y_true, y_pred, probs / probs.sum(axis=1, keepdims=True)


# --------------------------------------------------------------------------- McNemar


@dataclass(frozen=True)
class McNemarResult:
    """McNemar's test of two models on the same images."""

    table: pd.DataFrame
    statistic: float
    pvalue: float
    exact: bool
    n_discordant: int


def mcnemar_table(table: Any, exact: bool | None = None) -> McNemarResult:
    """McNemar's test of a 2x2 correct/incorrect table (rows model A, columns model B).

    Only the discordant cells b = table[0, 1] (A right, B wrong) and
    c = table[1, 0] (A wrong, B right) matter. ``exact=None`` chooses the exact
    binomial test when b + c < 25 and the continuity-corrected chi-square
    otherwise (statsmodels' ``mcnemar``: exact statistic min(b, c), chi-square
    statistic (|b - c| - 1)^2 / (b + c)).
    """
    counts = np.asarray(table)
    if counts.shape != (2, 2):
        raise ValueError(f"McNemar needs a 2x2 table, got shape {counts.shape}")
    counts = as_table(counts)
    discordant = int(counts[0, 1] + counts[1, 0])
    use_exact = discordant < EXACT_MCNEMAR_BELOW if exact is None else exact
    res = _sm_mcnemar(counts, exact=use_exact, correction=True)
    frame = pd.DataFrame(counts, index=["A correct", "A wrong"], columns=["B correct", "B wrong"])
    return McNemarResult(
        frame, float(res.statistic), float(res.pvalue), bool(use_exact), discordant
    )


def mcnemar(y_true: Any, pred_a: Any, pred_b: Any, exact: bool | None = None) -> McNemarResult:
    """Did models A and B get different images right? (McNemar 1947; see :func:`mcnemar_table`)."""
    t = grade_labels(y_true, "y_true")
    a = grade_labels(pred_a, "pred_a")
    b = grade_labels(pred_b, "pred_b")
    _same_length(y_true=t, pred_a=a, pred_b=b)
    ok_a, ok_b = a == t, b == t
    counts = [
        [np.sum(ok_a & ok_b), np.sum(ok_a & ~ok_b)],
        [np.sum(~ok_a & ok_b), np.sum(~ok_a & ~ok_b)],
    ]
    return mcnemar_table(counts, exact)


# --------------------------------------------------------------------------- the paper's numbers


def round_half_up(x: float, digits: int = 2) -> float:
    """Round like Excel's ROUND and like the paper: 0.725 -> 0.73 (Python's round gives 0.72).

    0.725 is stored as 0.72499999...; rounding the shortest decimal repr
    (``repr(0.725) == '0.725'``) half up gives the published value.
    """
    if not np.isfinite(x):
        return float(x)
    q = Decimal(1).scaleb(-digits)
    return float(Decimal(repr(float(x))).quantize(q, rounding=ROUND_HALF_UP))


def paper_results() -> dict[str, Any]:
    """The published numbers of Fukae et al. (a fresh dict from ``data/paper_results.json``).

    Keys: ``source``, ``test_set`` (156 images, 74 patients, grade counts, the
    raters' kappa) and ``models`` -> ``initial`` / ``second`` -> ``confusion``,
    ``grades`` (per-grade accuracy, precision, recall, f1, specificity, auc)
    and ``weighted_kappa``.
    """
    text = resources.files("synovis_lib").joinpath("data/paper_results.json").read_text("utf-8")
    return json.loads(text)


def _check_model(model: str) -> None:
    if model not in MODELS:
        raise ValueError(f"model must be one of {MODELS}, got {model!r}")


def paper_confusion(model: str = "initial") -> np.ndarray:
    """The paper's Table 2 (``"initial"``) or Table 3 (``"second"``) as an int64 array."""
    _check_model(model)
    return as_table(paper_results()["models"][model]["confusion"])


def paper_values(model: str = "initial", include_auc: bool = False) -> pd.Series:
    """The Results section's numbers for one model, indexed (item, statistic).

    Items are ``"grade 0"`` .. ``"grade 3"`` (accuracy, precision, recall, f1,
    specificity and, with ``include_auc``, auc) and ``"weighted kappa"`` (kappa,
    ci_low, ci_high). The same layout as :func:`results_values`.
    """
    _check_model(model)
    published = paper_results()["models"][model]
    values: dict[tuple[str, str], float] = {}
    for grade, row in published["grades"].items():
        for stat, value in row.items():
            if stat != "auc" or include_auc:
                values[(f"grade {grade}", stat)] = value
    for stat in ("kappa", "ci_low", "ci_high"):
        values[("weighted kappa", stat)] = published["weighted_kappa"][stat]
    return _long_series(values)


def results_values(confusion: Any, weights: Weights = "linear") -> pd.Series:
    """Our numbers from a confusion table, in the layout of :func:`paper_values`."""
    report = grade_report(confusion)
    values: dict[tuple[str, str], float] = {}
    for grade, row in report.iterrows():
        for stat in REPORT_COLUMNS[:-1]:
            values[(f"grade {grade}", stat)] = float(row[stat])
    k = weighted_kappa(confusion, weights)
    for stat in ("kappa", "ci_low", "ci_high"):
        values[("weighted kappa", stat)] = getattr(k, stat)
    return _long_series(values)


def _long_series(values: dict[tuple[str, str], float]) -> pd.Series:
    index = pd.MultiIndex.from_tuples(list(values), names=["item", "statistic"])
    return pd.Series(list(values.values()), index=index, dtype=float)


def evaluation_verdict(
    confusion: Any, rocs: list[RocResult] | None = None, model: str = "initial"
) -> str:
    """What an evaluation shows beside the study's ``model``, in sentences built from the
    numbers: kappa with CI and whether the two intervals overlap, accuracy, the
    best- and worst-recalled grade, the grade-1 AUC (from ``rocs``) and how many
    errors are one grade off. Taught in notebook 06.
    """
    _check_model(model)
    table = as_table(confusion)
    ours = weighted_kappa(table, "linear")
    paper = paper_results()["models"][model]
    theirs = paper["weighted_kappa"]
    if ours.ci_high < theirs["ci_low"]:
        relation = "entirely below the study's"
    elif ours.ci_low > theirs["ci_high"]:
        relation = "entirely above the study's"
    else:
        relation = "overlapping the study's"
    report = grade_report(table)
    recall = report["recall"].where(report["support"] > 0).dropna()
    best, worst = int(recall.idxmax()), int(recall.idxmin())
    errors = int(table.sum() - np.trace(table))
    i, j = np.indices(table.shape)
    adjacent = int(table[np.abs(i - j) == 1].sum())
    sentences = [
        f"On the {ours.n} scored images our model's linear weighted kappa against the "
        f"raters' consensus was {ours.text()}, an interval {relation} "
        f"({theirs['kappa']:.2f}, {theirs['ci_low']:.2f} to {theirs['ci_high']:.2f}).",
        f"It graded {overall_accuracy(table):.0%} of the images right; recall was highest "
        f"for grade {best} ({recall[best]:.2f}) and lowest for grade {worst} "
        f"({recall[worst]:.2f}), where the study's model recalled "
        f"{paper['grades'][str(worst)]['recall']:.2f}.",
    ]
    if rocs is not None:
        sentences.append(
            f"The grade-1 AUC was {rocs[1].auc:.2f} (the study's: "
            f"{paper['grades']['1']['auc']:.2f})."
        )
    if errors:
        sentences.append(
            f"{adjacent} of its {errors} errors ({adjacent / errors:.0%}) are one grade off, "
            "which linear weights partly forgive."
        )
    return " ".join(sentences)


__all__ = [
    "EXACT_MCNEMAR_BELOW",
    "MODELS",
    "REPORT_COLUMNS",
    "KappaResult",
    "McNemarResult",
    "RocResult",
    "as_table",
    "confusion",
    "delong_auc",
    "evaluation_verdict",
    "grade_counts",
    "grade_labels",
    "grade_proportion_cis",
    "grade_report",
    "kappa_weights",
    "macro_f1",
    "mcnemar",
    "mcnemar_table",
    "overall_accuracy",
    "paper_confusion",
    "paper_results",
    "paper_values",
    "results_values",
    "roc_per_grade",
    "roc_table",
    "round_half_up",
    "scores_consistent_with",
    "weighted_kappa",
    "weighted_kappa_from_labels",
]


# --------------------------------------------------------------------------- a model on images


NO_REFERENCE = "no reference grade"
"""The reason :func:`evaluate` records for an unscored image when it is given none."""


@dataclass
class Evaluation:
    """A model's grades for a set of images against a reference grade (e.g. the consensus).

    Every image is predicted. Those with a reference grade are *scored*
    (``probs``, ``y_true``, ``y_pred`` at positions ``index``); the others are
    *unscored*: their positions, probabilities and the reason they have no
    grade are kept, so that a results file lists them instead of dropping
    them. :attr:`confusion` and :meth:`headline` count scored images only.
    """

    probs: np.ndarray
    """(N, 4) probabilities of the images that have a reference grade."""
    y_true: np.ndarray
    y_pred: np.ndarray
    index: np.ndarray
    """Positions of these images in the set passed to :func:`evaluate`."""
    unscored: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    """Positions of the images without a reference grade (NA)."""
    unscored_probs: np.ndarray = field(default_factory=lambda: np.zeros((0, N_GRADES)))
    """Their (M, 4) probabilities: predicted anyway, they are useful."""
    unscored_reasons: tuple[str, ...] = ()
    """Why each has no reference grade (e.g. ``"raters 1 and 2 differ, no rater_3"``)."""

    @property
    def excluded(self) -> int:
        """How many images are left out of the scores (no reference grade)."""
        return len(self.unscored)

    @property
    def n_images(self) -> int:
        """All images evaluated: scored plus unscored."""
        return len(self.index) + len(self.unscored)

    @property
    def confusion(self) -> np.ndarray:
        return confusion(self.y_true, self.y_pred)

    def headline(self) -> dict[str, float]:
        """Overall accuracy, macro F1 and the linear weighted kappa with its 95 % CI
        (scored images only)."""
        kappa = weighted_kappa(self.confusion, "linear")
        return {
            "accuracy": overall_accuracy(self.confusion),
            "macro_f1": macro_f1(self.confusion),
            "kappa": kappa.kappa,
            "kappa_ci_low": kappa.ci_low,
            "kappa_ci_high": kappa.ci_high,
        }

    def reason_counts(self) -> dict[str, int]:
        """Unscored images per reason, most frequent first (ties: first seen first)."""
        return dict(Counter(self.unscored_reasons).most_common())

    def unscored_summary(self, grade: str = "reference grade") -> str:
        """One line, e.g. ``"24 of 156 images have no consensus grade (raters 1 and 2
        differ, no rater_3: 24)"`` with ``grade="consensus grade"``; ``""`` if all are scored."""
        if not self.excluded:
            return ""
        why = "; ".join(f"{reason}: {n}" for reason, n in self.reason_counts().items())
        return f"{self.excluded} of {self.n_images} images have no {grade} ({why})"

    def per_image(self) -> pd.DataFrame:
        """One row per image, in the order given to :func:`evaluate`: ``reference`` (Int64,
        NA where unscored), ``predicted``, ``p_grade_0`` .. ``p_grade_3`` and ``reason``
        (empty for scored images)."""
        probs = np.empty((self.n_images, self.probs.shape[1]))
        probs[self.index], probs[self.unscored] = self.probs, self.unscored_probs
        reference = pd.array([pd.NA] * self.n_images, dtype="Int64")
        reference[self.index] = self.y_true
        reason = np.full(self.n_images, "", dtype=object)
        reason[self.unscored] = self.unscored_reasons
        frame = pd.DataFrame({"reference": reference, "predicted": probs.argmax(1)})
        for g in range(probs.shape[1]):
            frame[f"p_grade_{g}"] = probs[:, g]
        frame["reason"] = reason
        return frame


def evaluate(
    trained: Any, images: np.ndarray, y_true: Any, reasons: Sequence[str] | None = None
) -> Evaluation:
    """Predict ``images`` with ``trained`` (anything with ``.predict(images) -> (N, 4)``,
    e.g. a :class:`synovis_lib.train.TrainedModel`) and compare with ``y_true`` (nullable
    grades). Images whose grade is NA are predicted too but not scored; ``reasons`` (one
    per image, e.g. :func:`synovis_lib.clinic.no_consensus_reasons`) says why, otherwise
    they are recorded as :data:`NO_REFERENCE`.

    Taught in ``notebooks/06_evaluating_the_initial_model.ipynb``.
    """
    truth = pd.array(y_true, dtype="Int64")
    if len(truth) != len(images):
        raise ValueError(f"{len(images)} images but {len(truth)} reference grades")
    if reasons is not None and len(reasons) != len(truth):
        raise ValueError(f"{len(truth)} reference grades but {len(reasons)} reasons")
    missing = np.asarray(truth.isna())
    index, unscored = np.flatnonzero(~missing), np.flatnonzero(missing)
    probs = trained.predict(images)
    why = tuple((reasons[i] if reasons is not None else "") or NO_REFERENCE for i in unscored)
    return Evaluation(
        probs[index],
        truth[index].to_numpy(dtype=np.int64),
        probs[index].argmax(1),
        index,
        unscored,
        probs[unscored],
        why,
    )

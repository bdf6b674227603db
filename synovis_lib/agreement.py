"""Agreement between raters and the study's adjudication rule.

In the study two experts graded every image; a third expert graded only the
images where the first two differed, and the test label is the grade given by
at least two of the three. Images with no majority are reported, never
silently dropped. Taught in notebooks/04_statistics_from_the_paper.ipynb and
used by notebooks/03_clinical_images_and_raters.ipynb.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from statsmodels.stats.inter_rater import aggregate_raters
from statsmodels.stats.inter_rater import fleiss_kappa as _sm_fleiss_kappa

from synovis_lib.metrics import KappaResult, Weights, grade_labels, weighted_kappa_from_labels


def rater_kappa(
    r1: Any, r2: Any, weights: Weights = "linear", n_grades: int = 4, level: float = 0.95
) -> KappaResult:
    """Weighted kappa between two raters with its CI (see ``metrics.weighted_kappa``).

    Both raters must have graded every image (missing values raise a ValueError
    naming the positions).
    """
    return weighted_kappa_from_labels(r1, r2, weights=weights, n_grades=n_grades, level=level)


def fleiss_kappa(ratings: Any, n_grades: int = 4) -> float:
    """Fleiss' kappa of an (n_items x n_raters) array of grades (every cell filled).

    Uses ``statsmodels.stats.inter_rater.fleiss_kappa`` on the per-item counts.
    Unweighted: it treats grade 0 vs 3 like 0 vs 1.
    """
    frame = pd.DataFrame(ratings)
    if frame.ndim != 2 or frame.shape[1] < 2 or frame.shape[0] == 0:
        raise ValueError(f"ratings must be (n_items x n_raters >= 2), got shape {frame.shape}")
    columns = [
        grade_labels(frame.iloc[:, j], f"ratings column {frame.columns[j]!r}", n_grades)
        for j in range(frame.shape[1])
    ]
    counts, _ = aggregate_raters(np.column_stack(columns), n_cat=n_grades)
    return float(_sm_fleiss_kappa(counts, method="fleiss"))


@dataclass(frozen=True)
class AdjudicationResult:
    """The consensus grades and what it took to reach them.

    ``consensus``: Int64 Series (the index of ``rater_1`` if it was a Series),
    NA where there is no majority or the third rating is pending.
    ``needs_third``: bool array, True where raters 1 and 2 differ.
    ``no_majority``: row positions where all three raters gave different grades.
    ``pending``: row positions that need a third rating but have none yet
    (only when ``rater_3`` was not given).
    """

    consensus: pd.Series
    needs_third: np.ndarray
    no_majority: np.ndarray
    pending: np.ndarray
    n_disagreements: int

    def summary(self) -> str:
        """One line a report can print."""
        n = len(self.consensus)
        text = (
            f"{n} images; raters 1 and 2 differ on {self.n_disagreements}; "
            f"consensus for {int(self.consensus.notna().sum())}"
        )
        if self.no_majority.size:
            text += f"; no majority (reported, not dropped) at rows {self.no_majority.tolist()}"
        if self.pending.size:
            text += f"; {self.pending.size} await a third rating"
        return text


def adjudicate(
    rater_1: Any, rater_2: Any, rater_3: Any = None, n_grades: int = 4
) -> AdjudicationResult:
    """The study's rule: consensus = the grade given by at least two raters.

    Raters 1 and 2 must grade every image. ``rater_3`` is consulted only where
    they differ; there it must be present, otherwise a ValueError names the
    rows. Elsewhere it may be missing (NA) and is ignored. Without ``rater_3``
    the result says which images still need the third rater (``needs_third``,
    ``pending``) and their consensus is NA.
    """
    r1 = grade_labels(rater_1, "rater_1", n_grades)
    r2 = grade_labels(rater_2, "rater_2", n_grades)
    if r1.size != r2.size:
        raise ValueError(f"rater_1 has {r1.size} ratings, rater_2 has {r2.size}")
    index = rater_1.index if isinstance(rater_1, pd.Series) else pd.RangeIndex(r1.size)
    needs_third = r1 != r2
    consensus = pd.array(np.where(needs_third, 0, r1), dtype="Int64")
    consensus[needs_third] = pd.NA
    no_majority = np.array([], dtype=np.int64)
    pending = np.flatnonzero(needs_third)
    if rater_3 is not None:
        r3 = pd.Series(np.asarray(rater_3, dtype=object))
        if r3.size != r1.size:
            raise ValueError(f"rater_3 has {r3.size} ratings, raters 1 and 2 have {r1.size}")
        missing = np.flatnonzero(needs_third & r3.isna().to_numpy())
        if missing.size:
            raise ValueError(
                f"rater_3 is missing at rows {missing.tolist()}, where raters 1 and 2 differ"
            )
        r3 = grade_labels(r3.where(r3.notna(), 0), "rater_3", n_grades)
        rows = np.flatnonzero(needs_third)
        for row in rows:
            if r3[row] in (r1[row], r2[row]):
                consensus[row] = r3[row]
        no_majority = rows[pd.isna(consensus[rows])]
        pending = np.array([], dtype=np.int64)
    return AdjudicationResult(
        consensus=pd.Series(consensus, index=index, name="consensus"),
        needs_third=needs_third,
        no_majority=no_majority,
        pending=pending,
        n_disagreements=int(needs_third.sum()),
    )

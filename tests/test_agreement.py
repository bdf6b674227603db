import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.inter_rater import aggregate_raters
from statsmodels.stats.inter_rater import fleiss_kappa as sm_fleiss

from synovis_lib import agreement, metrics


def test_adjudicate_agreement_needs_no_third_rater():
    res = agreement.adjudicate([0, 1, 2, 3], [0, 1, 2, 3])
    assert res.consensus.tolist() == [0, 1, 2, 3]
    assert str(res.consensus.dtype) == "Int64"
    assert not res.needs_third.any() and res.n_disagreements == 0
    assert res.no_majority.size == 0 and res.pending.size == 0


def test_adjudicate_resolves_disagreements_and_reports_no_majority():
    r1 = pd.Series([0, 1, 2, 3, 1], index=[10, 11, 12, 13, 14], dtype="Int64")
    r2 = [0, 2, 2, 1, 3]
    r3 = pd.array([pd.NA, 2, pd.NA, 0, 1], dtype="Int64")  # only rows 1, 3, 4 asked
    res = agreement.adjudicate(r1, r2, r3)
    assert res.needs_third.tolist() == [False, True, False, True, True]
    assert res.n_disagreements == 3
    assert res.consensus.index.tolist() == [10, 11, 12, 13, 14]
    assert res.consensus.iloc[[0, 1, 2, 4]].tolist() == [0, 2, 2, 1]
    assert pd.isna(res.consensus.iloc[3])  # 3, 1, 0: no two agree
    assert res.no_majority.tolist() == [3]
    assert "no majority" in res.summary() and "rows [3]" in res.summary()


def test_adjudicate_without_third_rater_marks_pending():
    res = agreement.adjudicate([0, 1, 2], [0, 2, 2])
    assert res.consensus.isna().tolist() == [False, True, False]
    assert res.pending.tolist() == [1] and res.no_majority.size == 0
    assert "await a third rating" in res.summary()


def test_adjudicate_errors_name_the_rows():
    with pytest.raises(ValueError, match=r"rater_3 is missing at rows \[1, 2\]"):
        agreement.adjudicate([0, 1, 2], [0, 2, 3], [None, None, np.nan])
    with pytest.raises(ValueError, match=r"rater_1\[1\] = 4"):
        agreement.adjudicate([0, 4], [0, 1])
    with pytest.raises(ValueError, match=r"rater_2 is missing at position\(s\) 0"):
        agreement.adjudicate([0, 1], pd.array([None, 1], dtype="Int64"))
    with pytest.raises(ValueError, match=r"rater_3\[1\] = 9"):
        agreement.adjudicate([0, 1], [0, 2], [None, 9])
    with pytest.raises(ValueError, match="rater_3 has 1 ratings"):
        agreement.adjudicate([0, 1], [0, 2], [1])


def test_rater_kappa_reuses_weighted_kappa():
    rng = np.random.default_rng(0)
    r1 = rng.integers(0, 4, 156)
    r2 = np.where(rng.random(156) < 0.8, r1, rng.integers(0, 4, 156))
    k = agreement.rater_kappa(r1, r2)
    assert k == metrics.weighted_kappa(metrics.confusion(r1, r2), "linear")
    assert k.ci_low < k.kappa < k.ci_high
    assert agreement.rater_kappa(r1, r2, weights=None).kappa < k.kappa + 0.2


def test_fleiss_kappa_matches_statsmodels_and_validates():
    rng = np.random.default_rng(1)
    truth = rng.integers(0, 4, 50)
    ratings = np.column_stack(
        [np.where(rng.random(50) < 0.7, truth, rng.integers(0, 4, 50)) for _ in range(3)]
    )
    counts, _ = aggregate_raters(ratings, n_cat=4)
    assert agreement.fleiss_kappa(ratings) == pytest.approx(sm_fleiss(counts))
    assert agreement.fleiss_kappa(np.column_stack([truth] * 3)) == pytest.approx(1.0)
    frame = pd.DataFrame({"a": [0, 1], "b": [0, 1], "c": pd.array([0, None], dtype="Int64")})
    with pytest.raises(ValueError, match="ratings column 'c' is missing at position"):
        agreement.fleiss_kappa(frame)
    with pytest.raises(ValueError, match="n_raters >= 2"):
        agreement.fleiss_kappa(np.zeros((3, 1), dtype=int))

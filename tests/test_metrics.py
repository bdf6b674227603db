import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy import stats
from sklearn.metrics import cohen_kappa_score, confusion_matrix, f1_score, roc_auc_score
from statsmodels.stats.inter_rater import cohens_kappa

from synovis_lib import metrics

TABLE_2 = [[33, 1, 9, 0], [3, 8, 30, 0], [0, 0, 65, 2], [0, 0, 3, 2]]
TABLE_3 = [[37, 2, 4, 0], [6, 21, 14, 0], [3, 5, 58, 1], [0, 0, 4, 1]]
STATS = ["accuracy", "precision", "recall", "f1", "specificity"]


def _two_decimals(x: float) -> str:
    return f"{metrics.round_half_up(x, 2):.2f}"


# ----------------------------------------------------------------------- the paper's numbers


def test_paper_data_holds_the_published_tables():
    np.testing.assert_array_equal(metrics.paper_confusion("initial"), TABLE_2)
    np.testing.assert_array_equal(metrics.paper_confusion("second"), TABLE_3)
    test_set = metrics.paper_results()["test_set"]
    assert test_set["images"] == 156 == np.sum(TABLE_2) == np.sum(TABLE_3)
    assert test_set["grade_counts"] == np.sum(TABLE_2, axis=1).tolist() == [43, 41, 67, 5]


@pytest.mark.parametrize("model", ["initial", "second"])
def test_every_per_grade_value_matches_the_paper(model):
    report = metrics.grade_report(metrics.paper_confusion(model))
    published = metrics.paper_results()["models"][model]["grades"]
    for grade in range(4):
        for stat in STATS:
            ours = _two_decimals(report.loc[grade, stat])
            assert ours == f"{published[str(grade)][stat]:.2f}", (model, grade, stat)
    assert report["support"].tolist() == [43, 41, 67, 5]
    assert report.attrs["undefined"] == []


@pytest.mark.parametrize(
    ("table", "kappa", "low", "high"),
    [(TABLE_2, "0.616", "0.52", "0.71"), (TABLE_3, "0.691", "0.60", "0.78")],
)
def test_weighted_kappa_and_ci_match_the_paper(table, kappa, low, high):
    k = metrics.weighted_kappa(table, "linear")
    assert f"{k.kappa:.3f}" == kappa
    assert (_two_decimals(k.ci_low), _two_decimals(k.ci_high)) == (low, high)
    assert k.ci_low == pytest.approx(k.kappa - 1.959964 * k.se)
    assert k.n == 156 and k.weights == "linear"
    assert k.text() == f"{_two_decimals(k.kappa)} (95% CI {low} to {high})"


def test_results_values_match_paper_values_in_layout_and_value():
    for model in metrics.MODELS:
        ours = metrics.results_values(metrics.paper_confusion(model))
        paper = metrics.paper_values(model)
        assert ours.index.equals(paper.index)
        assert ours.map(metrics.round_half_up).eq(paper).all()
    with_auc = metrics.paper_values("second", include_auc=True)
    assert with_auc[("grade 1", "auc")] == 0.73
    with pytest.raises(ValueError, match="model must be one of"):
        metrics.paper_values("third")


def test_round_half_up_rounds_like_the_paper():
    assert metrics.round_half_up(58 / 80) == 0.73  # Table 3, grade 2 precision
    assert round(58 / 80, 2) == 0.72
    assert metrics.round_half_up(0.444444) == 0.44
    assert np.isnan(metrics.round_half_up(float("nan")))


# ----------------------------------------------------------------------- confusion + report


def test_confusion_counts_rows_true_and_keeps_unused_grades():
    table = metrics.confusion([0, 0, 1, 2], [0, 1, 1, 1])
    np.testing.assert_array_equal(table, [[1, 1, 0, 0], [0, 1, 0, 0], [0, 1, 0, 0], [0, 0, 0, 0]])
    assert table.dtype == np.int64


def test_confusion_rejects_bad_labels_by_value_and_position():
    with pytest.raises(ValueError, match=r"y_true\[2\] = 4 is not a grade in 0\.\.3"):
        metrics.confusion([0, 1, 4], [0, 1, 2])
    with pytest.raises(ValueError, match=r"y_pred\[0\] = -1"):
        metrics.confusion([0], [-1])
    with pytest.raises(ValueError, match=r"y_true\[1\] = 1\.5"):
        metrics.confusion([0, 1.5], [0, 1])
    with pytest.raises(ValueError, match="missing at position"):
        metrics.confusion(pd.array([0, None], dtype="Int64"), [0, 1])
    with pytest.raises(ValueError, match="differ in length"):
        metrics.confusion([0, 1], [0])


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ([[1, 2, 3], [4, 5, 6]], "square"),
        ([1, 2, 3], "square"),
        ([[1, -1], [0, 2]], r"confusion\[0, 1\] = -1"),
        ([[1, 0.5], [0, 2]], "non-negative count"),
        ([[0, 0], [0, 0]], "empty"),
    ],
)
def test_bad_tables_raise(bad, message):
    with pytest.raises(ValueError, match=message):
        metrics.weighted_kappa(bad)
    with pytest.raises(ValueError, match=message):
        metrics.grade_report(bad)


def test_undefined_ratios_are_nan_with_reason():
    report = metrics.grade_report([[5, 0, 0, 0], [2, 0, 0, 0], [0, 0, 3, 0], [0, 0, 0, 0]])
    assert np.isnan(report.loc[1, "precision"])  # never output grade 1
    assert report.loc[1, "recall"] == 0.0 and report.loc[1, "f1"] == 0.0
    assert report.loc[3, ["precision", "recall", "f1"]].isna().all()
    assert report.loc[3, "specificity"] == 1.0
    assert "precision undefined" in report.loc[1, "notes"]
    assert any(s.startswith("grade 3: recall undefined") for s in report.attrs["undefined"])
    assert report.loc[0, "notes"] == ""


def test_report_matches_sklearn_on_random_data():
    rng = np.random.default_rng(1)
    y, p = rng.integers(0, 4, 300), rng.integers(0, 4, 300)
    table = metrics.confusion(y, p)
    np.testing.assert_array_equal(table, confusion_matrix(y, p, labels=range(4)))
    report = metrics.grade_report(table)
    np.testing.assert_allclose(report["f1"], f1_score(y, p, labels=range(4), average=None))
    assert metrics.macro_f1(y, p) == pytest.approx(f1_score(y, p, average="macro"))
    assert metrics.macro_f1(table) == metrics.macro_f1(y, p)
    assert metrics.overall_accuracy(y, p) == pytest.approx(np.mean(y == p))
    assert metrics.overall_accuracy(TABLE_2) == pytest.approx(108 / 156)


def test_proportion_cis_show_how_wide_grade_3_is():
    cis = metrics.grade_proportion_cis(TABLE_2, method="wilson")
    assert cis.loc[3, "recall"] == 0.4 and cis.loc[3, "recall_n"] == 5
    width = cis["recall_high"] - cis["recall_low"]
    assert width[3] > 0.6 > width[0] and width.idxmax() == 3
    exact = metrics.grade_proportion_cis(TABLE_2, method="beta")
    assert exact.loc[3, "recall_low"] == pytest.approx(stats.beta.ppf(0.025, 2, 4))
    empty = metrics.grade_proportion_cis([[2, 0], [1, 0]])
    assert np.isnan(empty.loc[1, "precision"]) and np.isnan(empty.loc[1, "precision_low"])


# ----------------------------------------------------------------------- kappa


@pytest.mark.parametrize("weights", ["linear", "quadratic", None])
def test_kappa_matches_sklearn_and_statsmodels(weights):
    rng = np.random.default_rng(2)
    a = rng.integers(0, 4, 200)
    b = np.clip(a + rng.integers(-1, 2, 200), 0, 3)
    ours = metrics.weighted_kappa_from_labels(a, b, weights=weights)
    assert ours.kappa == pytest.approx(cohen_kappa_score(a, b, weights=weights, labels=range(4)))
    sm = cohens_kappa(metrics.confusion(a, b), wt=weights or None)
    assert ours.kappa == pytest.approx(sm.kappa)
    assert ours.se == pytest.approx(sm.std_kappa)
    assert ours.ci_low == pytest.approx(sm.kappa_low)


def test_kappa_weights_and_bad_weights():
    np.testing.assert_allclose(metrics.kappa_weights(4, "linear")[0], [1, 2 / 3, 1 / 3, 0])
    np.testing.assert_allclose(metrics.kappa_weights(4, "quadratic")[0], [1, 8 / 9, 5 / 9, 0])
    np.testing.assert_array_equal(metrics.kappa_weights(3, None), np.eye(3))
    with pytest.raises(ValueError, match="weights must be"):
        metrics.weighted_kappa(TABLE_2, weights="cubic")


def test_kappa_of_a_single_grade_is_undefined_not_a_crash():
    k = metrics.weighted_kappa([[5, 0], [0, 0]])
    assert np.isnan(k.kappa) and "undefined" in k.note


tables = arrays(np.int64, (4, 4), elements=st.integers(0, 30)).filter(
    lambda t: t.sum() > 0 and t.sum(axis=1).max() < t.sum()
)


@settings(max_examples=60, deadline=None)
@given(tables, st.sampled_from(["linear", "quadratic", None]))
def test_kappa_properties(table, weights):
    k = metrics.weighted_kappa(table, weights)
    kt = metrics.weighted_kappa(table.T, weights)
    assert -1 - 1e-9 <= k.kappa <= 1 + 1e-9
    assert k.kappa == pytest.approx(kt.kappa, abs=1e-12)
    # the variance is symmetric; compare it, not its square root, which turns a rounding
    # error of 1e-16 in a variance that is exactly 0 into 1e-8
    assert k.se**2 == pytest.approx(kt.se**2, abs=1e-12)
    assert -1 <= k.ci_low <= k.kappa + 1e-12 <= k.ci_high + 2e-12 <= 1 + 2e-12


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(0, 3), min_size=2, max_size=60).filter(lambda x: len(set(x)) > 1))
def test_kappa_is_one_for_perfect_agreement(labels):
    for weights in ("linear", "quadratic", None):
        k = metrics.weighted_kappa_from_labels(labels, labels, weights)
        assert k.kappa == pytest.approx(1.0)
        assert k.se == pytest.approx(0.0, abs=1e-6)


# ----------------------------------------------------------------------- ROC / AUC


def _scores(n, seed, signal=1.0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 4, n)
    logits = rng.normal(size=(n, 4)) + signal * np.eye(4)[y]
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return y, probs


def test_delong_auc_equals_sklearn_and_its_known_variance():
    y, probs = _scores(150, 3)
    for g in range(4):
        auc, _ = metrics.delong_auc(y == g, probs[:, g])
        assert auc == pytest.approx(roc_auc_score(y == g, probs[:, g]))
    # Ties count one half. By hand: V10 = (1, .75), V01 = (.75, 1), each s^2 = 1/32, / 2.
    auc, var = metrics.delong_auc([1, 1, 0, 0], [0.9, 0.5, 0.5, 0.1])
    assert auc == pytest.approx(0.875)
    assert var == pytest.approx(1 / 64 + 1 / 64)


def test_delong_variance_equals_the_pairwise_definition():
    y, probs = _scores(80, 7)
    pos, neg = probs[y == 2, 2], probs[y != 2, 2]
    psi = (pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :])
    v10, v01 = psi.mean(axis=1), psi.mean(axis=0)
    expected = v10.var(ddof=1) / pos.size + v01.var(ddof=1) / neg.size
    auc, var = metrics.delong_auc(y == 2, probs[:, 2])
    assert (auc, var) == pytest.approx((psi.mean(), expected))


def test_roc_per_grade_curves_auc_and_ci():
    y, probs = _scores(200, 4)
    results = metrics.roc_per_grade(y, probs)
    assert [r.grade for r in results] == [0, 1, 2, 3]
    for r in results:
        assert r.auc == pytest.approx(roc_auc_score(y == r.grade, probs[:, r.grade]))
        assert r.fpr[0] == 0 and r.tpr[-1] == 1 and np.all(np.diff(r.fpr) >= 0)
        assert 0 <= r.ci_low < r.auc < r.ci_high <= 1
        assert r.n_pos + r.n_neg == 200 and r.method == "DeLong"
    table = metrics.roc_table(results)
    assert list(table.columns[:3]) == ["auc", "ci_low", "ci_high"]
    assert "AUC" in results[0].label()


def test_delong_ci_narrows_with_n():
    widths = []
    for n in (60, 240, 960):
        y, probs = _scores(n, 5)
        r = metrics.roc_per_grade(y, probs)[0]
        widths.append(r.ci_high - r.ci_low)
    assert widths[0] > widths[1] > widths[2]


def test_bootstrap_resamples_patients_and_is_reproducible():
    y, probs = _scores(120, 6, signal=1.5)
    patients = np.repeat(np.arange(40), 3)
    a = metrics.roc_per_grade(y, probs, patient_ids=patients, ci="bootstrap", n_boot=200, seed=1)
    b = metrics.roc_per_grade(y, probs, patient_ids=patients, ci="bootstrap", n_boot=200, seed=1)
    assert [r.ci_low for r in a] == [r.ci_low for r in b]
    assert a[0].method == "patient bootstrap"
    for r in a:
        assert r.ci_low < r.auc < r.ci_high
    # With one patient holding every image, a patient resample is the whole set: no spread.
    same = metrics.roc_per_grade(y, probs, patient_ids=np.zeros(120), ci="bootstrap", n_boot=20)
    assert same[0].ci_low == same[0].ci_high == pytest.approx(same[0].auc)


def test_bootstrap_ci_is_nan_with_a_note_when_no_resample_has_both_classes():
    # Two patients, one with every grade-1 image: a one-resample bootstrap that draws the same
    # patient twice has a single class. Among seeds 0-19 some do; they must not crash.
    y = np.array([1, 1, 0, 0, 0])
    probs = np.column_stack([1 - np.linspace(1, 0, 5), np.linspace(1, 0, 5)])
    patients = np.array([0, 0, 1, 1, 1])
    runs = [
        metrics.roc_per_grade(y, probs, patient_ids=patients, ci="bootstrap", n_boot=1, seed=s)[1]
        for s in range(20)
    ]
    failed = [r for r in runs if "1 of 1 resamples lacked a class" in r.note]
    assert failed and all(np.isnan(r.ci_low) and np.isnan(r.ci_high) for r in failed)
    assert all(r.auc == 1.0 for r in runs)


def test_roc_undefined_grade_and_bad_input():
    probs = np.full((4, 4), 0.25)
    results = metrics.roc_per_grade([0, 1, 1, 0], probs)
    assert np.isnan(results[3].auc) and "undefined" in results[3].note
    with pytest.raises(ValueError, match="probs must be"):
        metrics.roc_per_grade([0, 1], np.zeros(2))
    with pytest.raises(ValueError, match=r"y_true\[1\] = 5"):
        metrics.roc_per_grade([0, 5], np.zeros((2, 4)))
    with pytest.raises(ValueError, match="ci must be"):
        metrics.roc_per_grade([0, 1], np.zeros((2, 4)), ci="wald")
    with pytest.raises(ValueError, match="differ in length"):
        metrics.roc_per_grade([0, 1], np.zeros((2, 4)), patient_ids=[1])


def test_scores_consistent_with_reproduce_the_table_but_not_the_auc():
    y, pred, probs = metrics.scores_consistent_with(TABLE_2, signal=0.0, seed=0)
    np.testing.assert_array_equal(metrics.confusion(y, probs.argmax(axis=1)), TABLE_2)
    np.testing.assert_array_equal(pred, probs.argmax(axis=1))
    np.testing.assert_allclose(probs.sum(axis=1), 1)
    _, _, sharp = metrics.scores_consistent_with(TABLE_2, signal=3.0, seed=0)
    np.testing.assert_array_equal(metrics.confusion(y, sharp.argmax(axis=1)), TABLE_2)
    weak = metrics.roc_per_grade(y, probs)[1].auc
    strong = metrics.roc_per_grade(y, sharp)[1].auc
    assert strong > weak + 0.05


# ----------------------------------------------------------------------- McNemar


def test_mcnemar_exact_on_a_constructed_example():
    # 10 images both right, A right/B wrong on 1, A wrong/B right on 9, 5 both wrong.
    y = np.zeros(25, dtype=int)
    a = np.r_[np.zeros(11), np.ones(14)].astype(int)
    b = np.r_[np.zeros(10), np.ones(1), np.zeros(9), np.ones(5)].astype(int)
    res = metrics.mcnemar(y, a, b)
    np.testing.assert_array_equal(res.table.to_numpy(), [[10, 1], [9, 5]])
    assert res.exact and res.n_discordant == 10
    assert res.statistic == 1
    assert res.pvalue == pytest.approx(22 / 1024)  # 2 * P(X <= 1), X ~ Bin(10, 1/2)


def test_mcnemar_chi_square_for_many_discordant_pairs():
    y = np.zeros(40, dtype=int)
    a = np.r_[np.zeros(10), np.ones(30)].astype(int)  # A right on the first 10 only
    b = np.r_[np.ones(10), np.zeros(30)].astype(int)  # B right on the other 30
    res = metrics.mcnemar(y, a, b)
    assert not res.exact and res.n_discordant == 40
    assert res.statistic == pytest.approx((30 - 10 - 1) ** 2 / 40)
    assert res.pvalue == pytest.approx(stats.chi2.sf(res.statistic, 1))


def test_mcnemar_table_validates_and_agrees_with_labels():
    assert metrics.mcnemar_table([[10, 1], [9, 5]]).pvalue == pytest.approx(22 / 1024)
    assert metrics.mcnemar_table([[10, 1], [9, 5]], exact=False).exact is False
    with pytest.raises(ValueError, match="2x2"):
        metrics.mcnemar_table(TABLE_2)


def test_evaluation_verdict_on_the_studys_own_table_states_its_numbers():
    """Fed Table 2 itself, the sentences must give back the paper's figures."""
    text = metrics.evaluation_verdict(metrics.paper_confusion("initial"))
    assert "On the 156 scored images" in text
    assert "0.62 (95% CI 0.52 to 0.71), an interval overlapping the study's" in text
    assert "graded 69% of the images right" in text  # 108 of 156 on the diagonal
    assert "highest for grade 2 (0.97) and lowest for grade 1 (0.20)" in text
    assert "39 of its 48 errors (81%) are one grade off" in text


def test_evaluation_verdict_says_when_the_intervals_do_not_overlap():
    perfect = np.diag([40, 40, 60, 10])
    assert "entirely above the study's" in metrics.evaluation_verdict(perfect)
    assert "errors" not in metrics.evaluation_verdict(perfect)
    chance = np.full((4, 4), 10)
    text = metrics.evaluation_verdict(chance)
    assert "entirely below the study's" in text
    with pytest.raises(ValueError, match="model must be one of"):
        metrics.evaluation_verdict(chance, model="third")

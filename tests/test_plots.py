import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from synovis_lib import metrics, plots


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def test_plot_confusion_lays_out_rows_true_columns_output():
    ax = plots.plot_confusion(metrics.paper_confusion("initial"), title="Table 2")
    texts = [t.get_text() for t in ax.texts]
    assert texts[:4] == ["33", "1", "9", "0"] and texts[-1] == "2" and len(texts) == 16
    assert ax.get_ylabel() == "True grade" and "output" in ax.get_xlabel()
    assert [t.get_text() for t in ax.get_xticklabels()] == [f"Grade {g}" for g in range(4)]
    assert ax.get_title() == "Table 2"


def test_plot_confusion_draws_on_a_given_axes():
    _fig, axes = plt.subplots(1, 2)
    assert plots.plot_confusion([[1, 0], [0, 1]], ax=axes[1]) is axes[1]
    assert len(axes[0].texts) == 0


def test_plot_roc_puts_auc_and_ci_in_the_legend():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 4, 80)
    probs = rng.dirichlet(np.ones(4), 80)
    results = metrics.roc_per_grade(y, probs)
    ax = plots.plot_roc(results)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels[0] == results[0].label() and "95% CI" in labels[0]
    assert labels[-1] == "chance" and len(ax.lines) == 5
    np.testing.assert_allclose(ax.lines[0].get_xdata(), results[0].fpr)


def test_plot_grade_cis_marks_each_grade():
    cis = metrics.grade_proportion_cis(metrics.paper_confusion("initial"))
    ax = plots.plot_grade_cis(cis)
    assert [t.get_text() for t in ax.texts] == ["n=43", "n=41", "n=67", "n=5"]


def test_paper_vs_ours_matches_at_two_decimals():
    table = plots.paper_vs_ours(
        {"a": 0.5, "b": 0.73, "c": 0.3}, pd.Series({"a": 0.4999, "b": 0.725})
    )
    assert table.columns.tolist() == ["paper", "ours", "ours_2dp", "match"]
    assert table["match"].tolist() == [True, True, False]  # c is missing in ours
    frame = pd.DataFrame({"recall": [0.77, 0.2]})
    ours = metrics.grade_report(metrics.paper_confusion("initial"))
    assert plots.paper_vs_ours(frame, ours)["match"].all()
    assert not plots.paper_vs_ours({"a": 0.62}, {"a": 0.614})["match"].any()


def test_compact_comparison_folds_the_46_values_into_one_row_per_item():
    tables = {m: metrics.paper_confusion(m) for m in ("initial", "second")}
    long = pd.concat(
        {
            m: plots.paper_vs_ours(metrics.paper_values(m), metrics.results_values(t))
            for m, t in tables.items()
        },
        names=["model"],
    )
    wide = plots.compact_comparison(long)
    assert len(long) == 46 and wide.shape == (10, 8)
    assert list(wide.columns[:5]) == ["accuracy", "precision", "recall", "f1", "specificity"]
    assert wide.loc[("initial", "weighted kappa"), "kappa"] == "0.62"
    assert wide.loc[("second", "grade 1"), "recall"] == "0.51"
    assert wide.loc[("initial", "grade 0"), "kappa"] == ""  # not a statistic of a grade
    assert not wide.stack().str.contains("≠").any()  # the paper's own tables match everywhere


def test_compact_comparison_shows_the_paper_beside_a_value_that_differs():
    other = np.array([[30, 5, 0, 0], [10, 20, 5, 0], [0, 10, 40, 2], [0, 0, 1, 3]])
    long = plots.paper_vs_ours(metrics.paper_values("initial"), metrics.results_values(other))
    wide = plots.compact_comparison(long)
    assert wide.loc["weighted kappa", "kappa"] == "0.73 ≠ 0.62"
    assert list(wide.index) == ["grade 0", "grade 1", "grade 2", "grade 3", "weighted kappa"]

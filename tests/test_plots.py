"""FitHistoryDisplay and PruningReport.plot: the figures' artists, not their pixels."""

import matplotlib

matplotlib.use("Agg")

import sys

import matplotlib.pyplot as plt
import numpy as np
import pytest
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_ecprune import (
    ECPrunedMLPClassifier,
    ECPrunedMLPRegressor,
    FitHistoryDisplay,
    GradualMagnitudePruning,
    LayerReport,
    PruningReport,
)

FAST = dict(max_epochs=20, random_state=0)


@pytest.fixture(scope="module")
def validated(iris_raw):
    """An interleaved fit that holds rows out: dense, then three pruning events."""
    return ECPrunedMLPClassifier(early_stopping=True, **FAST).fit(*iris_raw)


@pytest.fixture(scope="module")
def unvalidated(iris_raw):
    return ECPrunedMLPClassifier(early_stopping=False, **FAST).fit(*iris_raw)


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def span_range(span):
    """The x extent of an axvspan (a Rectangle or, before matplotlib 3.9, a Polygon)."""
    xs = span.get_patch_transform().transform(span.get_path().vertices)[:, 0]
    return float(xs.min()), float(xs.max())


def phase_runs(history):
    """(phase, first epoch, last epoch) of each run of consecutive epochs in one phase."""
    runs = []
    for row in history:
        if runs and runs[-1][0] == row["phase"]:
            runs[-1][2] = row["epoch"]
        else:
            runs.append([row["phase"], row["epoch"], row["epoch"]])
    return [tuple(run) for run in runs]


def events(history):
    return [(row["epoch"], row["sparsity"]) for row in history if "sparsity" in row]


def test_validated_fit_draws_both_losses_phases_and_events(validated):
    display = FitHistoryDisplay.from_estimator(validated)
    history = validated.history_
    n_events = len(events(history))
    assert n_events == 3  # interleaved pruning: events at the fine-tuning's first epochs
    ax = display.ax_
    assert display.figure_ is ax.figure
    # training loss, validation loss and one vertical line per pruning event
    assert len(ax.lines) == 2 + n_events
    assert display.valid_line_ is not None and display.valid_line_ in ax.lines
    np.testing.assert_allclose(display.train_line_.get_xdata(), history[:, "epoch"])
    np.testing.assert_allclose(display.train_line_.get_ydata(), history[:, "train_loss"])
    np.testing.assert_allclose(display.valid_line_.get_ydata(), history[:, "valid_loss"])
    labels = ax.get_legend_handles_labels()[1]
    expected = {"training loss", "validation loss", "dense training", "fine-tuning"}
    assert expected | {"pruning event"} == set(labels)
    assert display.estimator_name == "ECPrunedMLPClassifier" == ax.get_title()


def test_phase_spans_cover_each_phase_epochs(validated):
    display = FitHistoryDisplay.from_estimator(validated)
    runs = phase_runs(validated.history_)
    assert [run[0] for run in runs] == ["dense", "fine_tune"]
    assert len(display.phase_spans_) == len(runs)
    for span, (_, first, last) in zip(display.phase_spans_, runs, strict=True):
        assert span_range(span) == pytest.approx((first - 0.5, last + 0.5))
    assert [span.get_label() for span in display.phase_spans_] == [
        "dense training",
        "fine-tuning",
    ]


def test_one_marker_per_pruning_event_annotated_with_its_sparsity(validated):
    display = FitHistoryDisplay.from_estimator(validated)
    expected = events(validated.history_)
    assert len(display.pruning_lines_) == len(display.pruning_texts_) == len(expected)
    for line, text, (epoch, sparsity) in zip(
        display.pruning_lines_, display.pruning_texts_, expected, strict=True
    ):
        # The fine-tuning's events prune at the start of their epoch.
        assert line.get_xdata()[0] == pytest.approx(epoch - 0.5)
        assert f"{sparsity:.1%}" in text.get_text()
        assert text in display.ax_.texts
    assert display.pruning_texts_[-1].get_text() == f"{validated.sparsity_:.1%}"


def test_no_validation_line_without_a_hold_out(unvalidated):
    assert "valid_loss" not in unvalidated.history_[-1]
    display = FitHistoryDisplay.from_estimator(unvalidated)
    assert display.valid_line_ is None
    assert len(display.ax_.lines) == 1 + len(events(unvalidated.history_))
    assert "validation loss" not in display.ax_.get_legend_handles_labels()[1]


def test_pruning_before_fine_tuning_is_marked_after_the_last_dense_epoch(iris_raw):
    clf = ECPrunedMLPClassifier(pruning_schedule="before", early_stopping=False, **FAST)
    clf.fit(*iris_raw)
    display = FitHistoryDisplay.from_estimator(clf)
    last_dense = max(row["epoch"] for row in clf.history_ if row["phase"] == "dense")
    assert [line.get_xdata()[0] for line in display.pruning_lines_] == [last_dense + 0.5]
    assert [text.get_text() for text in display.pruning_texts_] == [f"{clf.sparsity_:.1%}"]


def test_a_callback_recording_sparsity_each_epoch_marks_only_changes(iris_raw):
    gmp = GradualMagnitudePruning(final_sparsity=0.9, initial_sparsity=0.0)
    clf = ECPrunedMLPClassifier(
        sparsity=0, early_stopping=False, n_iter_no_change=20, callbacks=[("gmp", gmp)],
        **FAST,
    ).fit(*iris_raw)  # fmt: skip
    recorded = [row["sparsity"] for row in clf.history_]
    changes = [
        s for previous, s in zip([0.0, *recorded[:-1]], recorded, strict=True) if s != previous
    ]
    assert 0 < len(changes) < len(recorded)
    display = FitHistoryDisplay.from_estimator(clf)
    assert [t.get_text() for t in display.pruning_texts_] == [f"{s:.1%}" for s in changes]


def test_pipeline_uses_its_last_step_and_draws_on_the_given_axes(iris_raw):
    pipe = make_pipeline(StandardScaler(), ECPrunedMLPRegressor(**FAST))
    X = iris_raw[0]
    pipe.fit(X[:, :3], X[:, 3])
    fig, ax = plt.subplots()
    display = FitHistoryDisplay.from_estimator(pipe, ax=ax, name="petal width")
    assert display.ax_ is ax and display.figure_ is fig
    assert ax.get_title() == "petal width"
    assert display.estimator_name == "ECPrunedMLPRegressor"
    np.testing.assert_allclose(display.train_line_.get_ydata(), pipe[-1].history_[:, "train_loss"])
    assert len(display.pruning_lines_) == len(events(pipe[-1].history_)) > 0


def test_unfitted_estimator_raises_not_fitted_error():
    with pytest.raises(NotFittedError, match="ECPrunedMLPClassifier"):
        FitHistoryDisplay.from_estimator(ECPrunedMLPClassifier())
    with pytest.raises(NotFittedError):
        FitHistoryDisplay.from_estimator(make_pipeline(StandardScaler(), ECPrunedMLPClassifier()))


def test_estimator_without_history_raises_type_error(iris_raw):
    pipe = make_pipeline(StandardScaler(), LogisticRegression()).fit(*iris_raw)
    with pytest.raises(TypeError, match="history_"):
        FitHistoryDisplay.from_estimator(pipe)


def test_display_from_numbers():
    display = FitHistoryDisplay(
        [1, 2, 3, 4, 5],
        [1.0, 0.8, 0.7, 0.6, 0.5],
        phases=["partial_fit", "partial_fit", "dense", "fine_tune", "fine_tune"],
        pruning_epochs=[3.5],
        pruning_sparsities=[0.5],
    ).plot(train_kw={"color": "black"})
    assert [span_range(s) for s in display.phase_spans_] == [(0.5, 2.5), (2.5, 3.5), (3.5, 5.5)]
    assert display.train_line_.get_color() == "black"
    assert [t.get_text() for t in display.pruning_texts_] == ["50.0%"]
    assert display.ax_.get_title() == ""


def test_missing_matplotlib_says_how_to_install_it(monkeypatch, validated):
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match="pip install matplotlib"):
        FitHistoryDisplay.from_estimator(validated)
    with pytest.raises(ImportError, match="pip install matplotlib"):
        validated.pruning_report_.plot()


# ------------------------------------------------------------- PruningReport.plot
def test_report_plot_one_bar_group_per_layer_with_the_report_numbers(validated):
    report = validated.pruning_report_
    axes = report.plot()
    assert len(axes) == 2
    weights_ax, shift_ax = axes
    kept, removed = weights_ax.containers
    assert len(kept) == len(removed) == len(report.layers) == 2
    assert kept.datavalues.tolist() == [row.n_kept for row in report.layers]
    assert removed.datavalues.tolist() == [row.n_weights - row.n_kept for row in report.layers]
    # removed bars sit on the kept ones: each stack is the layer's weights
    assert [bar.get_y() + bar.get_height() for bar in removed] == [
        row.n_weights for row in report.layers
    ]
    (shifts,) = shift_ax.containers
    assert shifts.datavalues.tolist() == pytest.approx(
        [row.mean_abs_bias_shift for row in report.layers]
    )
    ticks = [label.get_text() for label in weights_ax.get_xticklabels()]
    assert ticks == [f"{row.name}\n{row.shape[0]}x{row.shape[1]}" for row in report.layers]
    sparsity_labels = [text.get_text() for text in weights_ax.texts]
    assert sparsity_labels == [f"{row.sparsity:.1%}" for row in report.layers]
    assert "3 events" in shift_ax.get_title()


def test_report_plot_draws_on_given_axes_and_checks_them():
    report = PruningReport(
        [LayerReport("a", (2, 3), 6, 6, 0.0), LayerReport("b", (1, 2), 2, 0, 0.25),
         LayerReport("c", (1, 1), 1, 1, 0.5)],
        "ecp",
        0.3,
    )  # fmt: skip
    _, pair = plt.subplots(2, 1)
    axes = report.plot(ax=pair)
    assert list(axes) == list(pair)
    assert pair[0].containers[0].datavalues.tolist() == [6, 0, 1]
    assert pair[1].containers[0].datavalues.tolist() == [0.0, 0.25, 0.5]
    with pytest.raises(ValueError, match="two matplotlib Axes"):
        report.plot(ax=pair[0])

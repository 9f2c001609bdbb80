"""Sweeps over the estimators, their tables and their figures."""

import itertools
import subprocess
import sys

import matplotlib
import numpy as np
import pytest
from sklearn.metrics import log_loss

import sklearn_ecprune.sweep
from sklearn_ecprune.sweep import (
    DEFAULT_CONFIGURATION,
    SWEEP_CONFIGURATIONS,
    SweepData,
    make_pipeline_for,
    markdown_tables,
    plot_sweep,
    results_text,
    run_sweep,
    win_table,
)

matplotlib.use("Agg")
pd = pytest.importorskip("pandas")

CONFIGS = ["default", "magnitude", "random", "default-5step"]
SPARSITIES = [0.5, 0.9]
PARAMS = {"hidden_layer_sizes": (16, 8), "max_epochs": 40, "lr": 0.01}


def blobs(n=160, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, size=n)
    X = rng.normal(size=(n, 4)) + 4.0 * np.eye(3, 4)[y] + 10.0  # shifted, unscaled
    return X, y


@pytest.fixture(scope="module")
def frame():
    X, y = blobs()
    return run_sweep(
        SweepData(X[:120], y[:120], X[120:], y[120:], task="classification", name="blobs"),
        configurations=CONFIGS,
        sparsities=SPARSITIES,
        seeds=[0, 1],
        fine_tune_epochs=2,
        estimator_params=PARAMS,
    )


def test_every_configuration_is_a_valid_set_of_estimator_parameters():
    for config in SWEEP_CONFIGURATIONS.values():
        for task in ("classification", "regression"):
            net = make_pipeline_for(task, **config.params)[-1]
            net._check_params()  # raises for a parameter the estimator rejects
    assert SWEEP_CONFIGURATIONS[DEFAULT_CONFIGURATION].params == {}
    assert SWEEP_CONFIGURATIONS["ecp"].params == {"pruning": "ecp", "n_steps": 1}


def test_frame_has_one_row_per_fit(frame):
    # (configs x sparsities x 2 fine-tuning states + 2 dense rows) per seed.
    assert len(frame) == 2 * (len(CONFIGS) * len(SPARSITIES) * 2 + 2)
    assert set(frame["architecture"]) == {"16-8"}
    assert frame["loss"].notna().all() and (frame["loss"] >= 0).all()
    assert frame["score"].between(0, 1).all()
    pruned = frame[frame["method"] != "dense"]
    np.testing.assert_allclose(pruned["achieved_sparsity"], pruned["sparsity"], atol=2e-3)


def test_the_sweep_reports_what_a_user_of_the_estimator_gets(frame):
    X, y = blobs()
    pipe = make_pipeline_for("classification", **PARAMS, random_state=1)
    pipe.set_params(net__sparsity=0.9, net__fine_tune_epochs=2, net__pruning="magnitude")
    pipe.set_params(net__n_steps=1).fit(X[:120], y[:120])
    expected = log_loss(y[120:], pipe.predict_proba(X[120:]), labels=pipe[-1].classes_)
    row = frame[
        (frame["method"] == "magnitude")
        & (frame["seed"] == 1)
        & (frame["sparsity"] == 0.9)
        & frame["fine_tuned"]
    ]
    assert row["loss"].item() == pytest.approx(expected, rel=1e-12)


def test_pruned_fits_start_from_the_same_dense_network(frame):
    # At sparsity 0.5 with fine-tuning every method recovers; without it, the default
    # (which refits) stays closest to the dense network it pruned.
    dense = frame[frame["method"] == "dense"].groupby("seed")["loss"].first()
    raw = frame[(frame["sparsity"] == 0.5) & ~frame["fine_tuned"]]
    for seed, group in raw.groupby("seed"):
        by_method = group.set_index("method")["loss"]
        assert abs(by_method["default"] - dense[seed]) < abs(by_method["random"] - dense[seed])


def test_regression_losses_are_relative_to_the_target_variance():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3))
    y = 1000.0 + 300.0 * X[:, 0]  # large units: the loss must not depend on them
    frame = run_sweep(
        SweepData(X[:150], y[:150], X[150:], y[150:], task="regression"),
        configurations=["magnitude"],
        sparsities=[0.5],
        seeds=[0],
        estimator_params=PARAMS,
    )
    dense = frame[frame["method"] == "dense"].iloc[0]
    assert dense["loss"] < 0.2 and dense["score"] > 0.8
    assert dense["loss"] == pytest.approx((1 - dense["score"]) * np.var(y[150:]) / np.var(y[:150]))


def test_architecture_is_the_estimators_default_unless_given():
    X, y = blobs(n=80)
    frame = run_sweep(
        SweepData(X[:60], y[:60], X[60:], y[60:], task="classification"),
        configurations=["magnitude"],
        sparsities=[0.5],
        seeds=[0],
        estimator_params={"max_epochs": 2},
    )
    default = make_pipeline_for("classification")[-1].hidden_layer_sizes
    assert set(frame["architecture"]) == {"-".join(map(str, default))}


@pytest.mark.parametrize("task", ["classifier", None])
def test_sweep_data_rejects_an_unknown_task(task):
    X, y = blobs(n=20)
    with pytest.raises(ValueError, match="task must be one of"):
        SweepData(X, y, X, y, task=task)


def test_every_public_name_is_listed_and_documented():
    package = sklearn_ecprune.sweep
    assert set(package.__all__) <= set(dir(package))
    for name in package.__all__:
        value = getattr(package, name)
        if callable(value):
            assert "Examples\n    --------" in value.__doc__, name


def test_importing_the_sweep_loads_nothing_heavy():
    code = (
        "import sys, sklearn_ecprune.sweep\n"
        "print([m for m in ('torch', 'sklearn', 'skorch', 'pandas', 'matplotlib') "
        "if m in sys.modules])\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    )
    assert result.stdout.strip() == "[]", result.stdout + result.stderr


def test_win_table_counts_each_cell_once_and_leaves_out_ablations(frame):
    wins = win_table(frame)
    assert "default-5step" not in wins.index  # an ablation of the default
    assert wins.loc[:, False].sum() == len(SPARSITIES) == wins.attrs["cells"][False]
    high = win_table(frame, min_sparsity=0.8, methods=["magnitude", "random"])
    assert high.loc[:, False].sum() == 1
    assert set(high.index) == {"magnitude", "random"}


def test_markdown_tables_have_one_wins_table_per_comparison(frame):
    text = markdown_tables(frame)
    assert text.count("### Wins among the methods") == 1
    assert text.count("### Wins of `default` against the baselines") == 1
    assert "blobs, hidden 16-8, no fine-tuning" in text
    assert "blobs, hidden 16-8, masked fine-tuning" in text
    assert "| **default** |" in text
    assert "| default-5step |" in text  # shown in the cells, not in the wins


def test_results_text_marks_the_best_value_of_each_column(frame):
    text = results_text(frame)
    means = frame[~frame["fine_tuned"]].groupby(["method", "sparsity"])["loss"].mean()
    best = means.drop("dense", level="method").groupby(level="sparsity").idxmin()
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("test loss"))
    table = lines[start + 3 : start + 3 + len(CONFIGS)]
    starred = {line.split("|")[1].strip() for line in table if "*" in line}
    assert {method for method, _ in best} == starred


# --- plot_sweep: one function for the benchmark's grids and the CLI's rows -------------


def synthetic_frame(datasets=("a", "b", "c"), seeds=(0,), methods=("random", "magnitude")):
    """A run_sweep-shaped frame without training anything."""
    methods = [*methods, DEFAULT_CONFIGURATION]
    rows = []
    for d, seed in itertools.product(datasets, seeds):
        rows.append((d, seed, "dense", 0.0, 0.1 + 0.01 * seed, 0.99))
        for m, method in enumerate(methods):
            for s in SPARSITIES:
                rows.append((d, seed, method, s, 0.2 + m + s + 0.05 * seed, 0.9 - 0.1 * m))
    columns = ["dataset", "seed", "method", "sparsity", "loss", "score"]
    out = pd.DataFrame(rows, columns=columns)
    return out.assign(architecture="8", fine_tuned=False, metric="accuracy")


@pytest.fixture
def saved(monkeypatch):
    """The figure plot_sweep made, kept open for inspection instead of closed."""
    import matplotlib.pyplot as plt

    figures = []
    monkeypatch.setattr(plt, "close", figures.append)
    yield figures
    monkeypatch.undo()
    plt.close("all")


def test_plot_sweep_draws_each_group_and_metric(tmp_path, saved):
    plot_sweep(synthetic_frame(), tmp_path / "p.png", ncols=2, metrics=("loss", "score"))
    (figure,) = saved
    axes = [ax for ax in figure.axes if ax.axison]
    # 3 groups in 2 columns, once for the loss and once for the score.
    assert len(axes) == 6
    titles = sorted(ax.get_title() for ax in axes)
    # Each panel says its data set and what it shows; so does the figure's title.
    assert titles == [f"{d}: {what}" for d in "abc" for what in ("accuracy", "log-loss")]
    assert figure._suptitle.get_text().startswith("Test loss and accuracy against sparsity")
    assert {ax.get_ylabel() for ax in axes} >= {"test log-loss", "test accuracy"}
    assert (tmp_path / "p.png").stat().st_size > 0


def test_plot_sweep_one_group_puts_loss_and_score_side_by_side(tmp_path, saved):
    plot_sweep(synthetic_frame(("d",)), tmp_path / "p.png", metrics=("loss", "score"))
    (figure,) = saved
    loss, score = figure.axes
    assert loss.get_yscale() == "log" and score.get_yscale() == "linear"
    assert loss.get_position().y0 == pytest.approx(score.get_position().y0)


def test_plot_sweep_legend_marks_the_default_and_the_dense_network(tmp_path, saved):
    plot_sweep(synthetic_frame(seeds=(0, 1)), tmp_path / "p.png")
    (figure,) = saved
    labels = [t.get_text() for t in figure.legends[0].get_texts()]
    assert labels == ["random", "magnitude", "default", "dense (unpruned)"]
    # Error bars (one per method and panel) only with several seeds.
    assert any(len(ax.collections) for ax in figure.axes)


def test_plot_sweep_without_rows_for_fine_tuning_raises(tmp_path):
    with pytest.raises(ValueError, match="fine_tuned=True"):
        plot_sweep(synthetic_frame(), tmp_path / "p.png", fine_tuned=True)

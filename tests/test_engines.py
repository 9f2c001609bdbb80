"""Engines and trackers around a fit: searches on ray's joblib backend sharing one
``memory=`` folder, and skorch's TensorBoard callback logging both phases of a fit."""

import os
from pathlib import Path

import _networks
import joblib
import numpy as np
import pytest

from sklearn_ecprune import ECPrunedMLPClassifier

FAST = dict(max_epochs=15, lr=0.01, n_steps=3, fine_tune_epochs=1, random_state=0)


# --- ray ------------------------------------------------------------------------------


@pytest.fixture
def ray_on_two_cpus(monkeypatch):
    """A local ray instance of two CPUs whose workers can import ``_networks``."""
    ray = pytest.importorskip("ray")
    from ray.util.joblib import register_ray

    monkeypatch.setenv("RAY_USAGE_STATS_ENABLED", "0")  # no network access from a test
    # The workers are processes of their own: the tests folder is not on their path.
    path = os.pathsep.join(
        filter(None, [str(Path(__file__).parent), os.environ.get("PYTHONPATH")])
    )
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        runtime_env={"env_vars": {"PYTHONPATH": path}},
    )
    register_ray()
    try:
        yield ray
    finally:
        ray.shutdown()


@pytest.mark.slow
def test_grid_search_on_ray_equals_the_serial_one(ray_on_two_cpus, digits, tmp_path):
    X, y = digits
    X, y = X[:600], y[:600]
    serial = _networks.counted_grid_search(X, y, None, tmp_path / "serial", **FAST)
    with joblib.parallel_backend("ray"):
        on_ray = _networks.counted_grid_search(X, y, tmp_path / "cache", tmp_path / "ray", **FAST)
    np.testing.assert_array_equal(
        on_ray.cv_results_["mean_test_score"], serial.cv_results_["mean_test_score"]
    )
    assert on_ray.best_params_ == serial.best_params_
    # One dense network per fold, shared by the three sparsities, and one for the refit.
    assert _networks.dense_trainings(tmp_path / "ray") == 3 + 1
    np.testing.assert_array_equal(on_ray.predict(X), serial.predict(X))


# --- TensorBoard ------------------------------------------------------------------------


def test_tensorboard_callback_logs_every_epoch_of_both_phases(digits, tmp_path):
    tensorboard = pytest.importorskip("torch.utils.tensorboard")
    accumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")
    from skorch.callbacks import TensorBoard

    X, y = digits
    writer = tensorboard.SummaryWriter(log_dir=str(tmp_path / "run"))
    net = ECPrunedMLPClassifier(
        **{**FAST, "max_epochs": 6, "fine_tune_epochs": 3},
        hidden_layer_sizes=(32,),
        sparsity=0.8,
        # ``phase`` is text, which SummaryWriter.add_scalar cannot log.
        callbacks=[("tensorboard", TensorBoard(writer, keys_ignored="phase"))],
    ).fit(X, y)

    assert list((tmp_path / "run").glob("events.out.tfevents.*"))
    events = accumulator.EventAccumulator(str(tmp_path / "run")).Reload()
    history = net.history_
    epochs = [row["epoch"] for row in history]
    assert {row["phase"] for row in history} == {"dense", "fine_tune"}
    for key, tag in [("train_loss", "Loss/train_loss"), ("valid_loss", "Loss/valid_loss")]:
        scalars = events.Scalars(tag)
        assert [s.step for s in scalars] == epochs
        np.testing.assert_allclose([s.value for s in scalars], history[:, key], rtol=1e-6)
    # The pruning events: the epochs whose row has the sparsity reached.
    pruned = [(row["epoch"], row["sparsity"]) for row in history if "sparsity" in row]
    assert pruned and pruned[-1][1] == pytest.approx(net.sparsity_, abs=1e-6)
    logged = [(s.step, s.value) for s in events.Scalars("sparsity")]
    assert [step for step, _ in logged] == [epoch for epoch, _ in pruned]
    np.testing.assert_allclose([v for _, v in logged], [v for _, v in pruned], rtol=1e-6)

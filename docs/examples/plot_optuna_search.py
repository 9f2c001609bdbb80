"""
Searching the pruning with Optuna, training each dense network once
===================================================================

:class:`optuna_integration.OptunaSearchCV` is a drop-in replacement for
:class:`~sklearn.model_selection.GridSearchCV` whose candidates come from an Optuna
study: each trial samples the hyper-parameters from distributions and is scored by
cross-validation. Here it searches how to prune an ``ECPrunedMLPClassifier``: the
sparsity (any value between 0.5 and 0.95) and the pruning method (``"ecp-cg"``, the
default, or plain ``"magnitude"``).

Both act only *after* the dense training. With ``memory=`` the estimator caches its
dense phase on disk, keyed by everything that affects it (the training parameters,
the data, the seed), so every trial restores the dense network of its fold instead of
training it again: 12 trials with 3 folds train 3 dense networks (one per fold), plus
one for the final refit on all the training rows, instead of 12 x 3 + 1 = 37.

Optuna is not a dependency of this package: ``pip install optuna optuna-integration``.
"""

# %%
# The data and the pipeline
# -------------------------
# The digits: 1797 images of 8x8 pixels, 10 classes. The estimator is the last step
# of a pipeline after a ``StandardScaler``. It trains densely until the accuracy on a
# held-out tenth of the rows stops improving (at most ``max_epochs=200`` epochs),
# removes the fraction ``sparsity`` of its weights, then fine-tunes the pruned network
# for 2 epochs.
# ``memory`` needs an integer ``random_state``: a fit without one is never the same
# twice, so there would be nothing to reuse.

import shutil
import tempfile
import warnings
from pathlib import Path

import matplotlib.pyplot as plt
import optuna
from optuna.distributions import CategoricalDistribution, FloatDistribution
from optuna_integration import OptunaSearchCV
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_ecprune import ECPrunedMLPClassifier

X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, stratify=y, random_state=0)

memory = tempfile.mkdtemp(prefix="ecprune-example-")
pipe = Pipeline(
    [
        ("scale", StandardScaler()),
        (
            "net",
            ECPrunedMLPClassifier(
                hidden_layer_sizes=(64,),
                fine_tune_epochs=2,
                lr=3e-3,
                random_state=0,
                memory=memory,
            ),
        ),
    ]
)

# %%
# The search
# ----------
# Twelve trials, each a 3-fold cross-validation, sampled by Optuna's default TPE
# sampler (seeded by ``random_state``; its first ten trials sample at random, the
# next ones where the earlier trials scored best). The parameters of a pipeline's step are named
# ``<step>__<parameter>``, as in any scikit-learn search.
#
# The search space holds only parameters that the dense phase does not depend on:
# ``sparsity``, ``pruning``, and also ``n_steps``, ``scope``, ``compensate``,
# ``fine_tune_epochs`` and the other pruning parameters (the estimator's
# documentation of ``memory`` lists them). A parameter of the dense training, such as
# ``lr``, ``alpha`` or ``hidden_layer_sizes``, changes the cache key: each new value
# trains new dense networks, and only trials that repeat a value reuse them (with a
# continuous distribution, none do). To tune those too, search them first with
# ``sparsity=0``, then search the pruning of the chosen dense network as here.

optuna.logging.set_verbosity(optuna.logging.WARNING)  # no line per trial
# Optuna marks OptunaSearchCV as experimental (its interface may change) and warns at
# each search; optuna-integration 5 still reports the fold scores through the
# deprecated optuna.terminator module, which warns at each trial. Neither is about
# this example.
warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
warnings.filterwarnings("ignore", message=".*optuna.terminator", category=FutureWarning)
search = OptunaSearchCV(
    pipe,
    {
        "net__sparsity": FloatDistribution(0.5, 0.95),
        "net__pruning": CategoricalDistribution(["ecp-cg", "magnitude"]),
    },
    cv=3,
    n_trials=12,
    random_state=0,
)
search.fit(X_train, y_train)

print("best parameters:", search.best_params_)
print(f"best cross-validated accuracy: {search.best_score_:.3f}")
print(f"test accuracy of the refitted pipeline: {search.score(X_test, y_test):.3f}")

# %%
# The trials
# ----------
# ``trials_dataframe()`` lists the sampled parameters and the mean cross-validated
# accuracy of each trial.

trials = search.trials_dataframe()
trials = trials[["number", "params_net__sparsity", "params_net__pruning", "value"]]
trials.sort_values("value", ascending=False)

# %%
# The figure shows the accuracy of each trial against its sparsity: the more weights
# go, the lower the accuracy, and at a given sparsity ECP's refit of the kept weights
# (``"ecp-cg"``) tends to lose less than removing the smallest weights
# (``"magnitude"``) without compensation. The search maximises the accuracy alone, so
# it favours low sparsities; to prefer the sparsest model within the noise of the
# cross-validation, see the grid search example with
# :func:`~sklearn_ecprune.sparsest_within_one_standard_error`.

fig, ax = plt.subplots(figsize=(6, 4))
for method, marker in [("ecp-cg", "o"), ("magnitude", "s")]:
    rows = trials[trials["params_net__pruning"] == method]
    ax.scatter(rows["params_net__sparsity"], rows["value"], marker=marker, label=method)
ax.set_xlabel("sparsity")
ax.set_ylabel("mean cross-validated accuracy")
ax.set_title("Optuna trials on the digits, 3-fold CV")
ax.legend(title="pruning")
fig.tight_layout()

# %%
# How many dense networks were trained
# ------------------------------------
# ``memory`` holds one entry per dense network that was trained: one per fold (the
# three folds are the same in every trial) and one for the refit on all the training
# rows. Every other fit of the search restored one of them.

dense_networks = len(list(Path(memory).rglob("output.pkl")))
fits = len(search.trials_) * 3 + 1  # 3 folds per trial, and the refit
print(f"{fits} fits, {dense_networks} dense networks trained")

# %%
# The cache folder can be deleted once the search is done.

shutil.rmtree(memory)

"""
Choosing the sparsity of a pruned MLP with a grid search
========================================================

A typical tabular workflow: a pandas DataFrame with numeric and categorical columns,
a :class:`~sklearn.compose.ColumnTransformer` that scales the numeric columns and
one-hot encodes the categorical one, and an ``ECPrunedMLPClassifier`` at the end of a
:class:`~sklearn.pipeline.Pipeline`. :class:`~sklearn.model_selection.GridSearchCV`
then picks the sparsity, which is an ordinary hyper-parameter of the estimator: with
``refit=sparsest_within_one_standard_error`` it keeps the sparsest model whose
cross-validated score is within one standard error of the best one, and
:class:`~sklearn_ecprune.SparsityScoreDisplay` plots the choice. ``memory=`` makes
each fold's dense network train once for all the sparsities.
"""

# %%
# A DataFrame with a categorical column
# -------------------------------------
# A synthetic binary classification problem. One informative feature is replaced by a
# coarse categorical version of it, ``"level"``, so that the categorical column carries
# part of the signal.

import shutil
import tempfile

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.datasets import make_classification
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from sklearn_ecprune import (
    ECPrunedMLPClassifier,
    SparsityScoreDisplay,
    sparsest_within_one_standard_error,
)

X, y = make_classification(
    n_samples=600, n_features=8, n_informative=5, n_redundant=1, random_state=0
)
df = pd.DataFrame(X[:, 1:], columns=[f"x{i}" for i in range(1, 8)])
df["level"] = pd.cut(X[:, 0], bins=[-np.inf, -0.5, 0.5, np.inf], labels=["low", "mid", "high"])
df["level"] = df["level"].astype(str)

X_train, X_test, y_train, y_test = train_test_split(df, y, test_size=0.25, random_state=0)
X_train.head()

# %%
# The pipeline
# ------------
# The network has two hidden layers. ``fit`` trains it densely for at most
# ``max_epochs`` epochs (stopping early on a held-out validation score), then
# fine-tunes it for ``fine_tune_epochs`` epochs, during the first of which it removes
# the fraction ``sparsity`` of its weights in three events with the default pruning
# method, ``"ecp-cg"`` (ECP's ranking, then a least-squares refit of every neuron's
# kept weights and bias by conjugate gradients); the pruned weights stay at zero.
#
# ``memory`` is a folder where the estimator caches its dense phase, as
# ``Pipeline(memory=...)`` caches transformers: a fit that differs from an earlier one
# only in the pruning parameters restores the trained dense network instead of
# training it again, with the same result. It needs an integer ``random_state``.

memory = tempfile.mkdtemp(prefix="ecprune-example-")
numeric = [c for c in df.columns if c != "level"]
preprocess = ColumnTransformer(
    [
        ("num", StandardScaler(), numeric),
        ("cat", OneHotEncoder(handle_unknown="ignore", sparse_output=False), ["level"]),
    ]
)
pipe = Pipeline(
    [
        ("prep", preprocess),
        (
            "net",
            ECPrunedMLPClassifier(
                hidden_layer_sizes=(64, 32),
                fine_tune_epochs=5,
                max_epochs=20,
                batch_size=64,
                lr=3e-3,
                random_state=0,
                memory=memory,
            ),
        ),
    ]
)

# %%
# Grid search over the sparsity
# -----------------------------
# Each candidate prunes and fine-tunes its own network on each fold. The dense network
# they start from is the same for all candidates of a fold, so with ``memory`` it is
# trained once per fold (and once more for the final refit), not once per candidate.
#
# ``refit=sparsest_within_one_standard_error`` replaces "the best mean score" by "the
# sparsest candidate whose mean score is at least the best one minus its standard
# error": the differences between the top candidates are usually within the noise of
# cross-validation, and the sparser model is smaller and faster.

sparsities = [0.0, 0.5, 0.8, 0.9, 0.95, 0.98, 0.995]
search = GridSearchCV(
    pipe,
    {"net__sparsity": sparsities},
    cv=3,
    refit=sparsest_within_one_standard_error,
)
search.fit(X_train, y_train)

results = pd.DataFrame(search.cv_results_)
results[["param_net__sparsity", "mean_test_score", "std_test_score", "rank_test_score"]]

# %%
# The choice, plotted
# -------------------
# :meth:`SparsityScoreDisplay.from_search <sklearn_ecprune.SparsityScoreDisplay.from_search>`
# plots the mean score at each sparsity with one-standard-error bars (the standard
# deviation over the folds divided by the square root of their number), the band below
# the best score, and the sparsity that the refit rule chose.
# :meth:`~sklearn_ecprune.SparsityScoreDisplay.from_estimator` runs such a search
# itself.

display = SparsityScoreDisplay.from_search(search)
display.ax_.set_title("ECPrunedMLPClassifier in a pipeline, 3-fold CV")
print("chosen sparsity:", display.chosen_sparsity_)

# %%
# The chosen model
# ----------------
# ``GridSearchCV`` refits the chosen candidate on the whole training set. The fitted
# estimator reports how many weights each layer kept; its predictions run on a
# compacted copy of the network with sparse layers where that is faster
# (``inference="auto"``).

best = search.best_estimator_
net = best["net"]
print("chosen sparsity:", search.best_params_["net__sparsity"])
print("achieved sparsity:", round(net.sparsity_, 4))
print("test accuracy:", best.score(X_test, y_test))
net.pruning_report_.to_frame()

# %%
# The cache folder can be deleted once the search is done.

shutil.rmtree(memory)

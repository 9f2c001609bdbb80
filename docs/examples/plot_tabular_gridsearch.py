"""
Choosing the sparsity of a pruned MLP with a grid search
========================================================

A typical tabular workflow: a pandas DataFrame with numeric and categorical columns,
a :class:`~sklearn.compose.ColumnTransformer` that scales the numeric columns and
one-hot encodes the categorical one, and an ``ECPrunedMLPClassifier`` at the end of a
:class:`~sklearn.pipeline.Pipeline`. :class:`~sklearn.model_selection.GridSearchCV`
then picks the sparsity, which is an ordinary hyper-parameter of the estimator.
"""

# %%
# A DataFrame with a categorical column
# -------------------------------------
# A synthetic binary classification problem. One informative feature is replaced by a
# coarse categorical version of it, ``"level"``, so that the categorical column carries
# part of the signal.

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.datasets import make_classification
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from sklearn_ecprune import ECPrunedMLPClassifier

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
# ``max_epochs`` epochs, removes the fraction ``sparsity`` of its weights with the
# default pruning method, ``"ecp-ls"`` in ``n_steps=10`` steps (the ECP ranking with a
# least-squares refit of the kept weights), then fine-tunes the remaining weights for
# ``fine_tune_epochs`` epochs with the pruned ones held at zero.

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
                verbose=0,
            ),
        ),
    ]
)

# %%
# Grid search over the sparsity
# -----------------------------
# Each candidate prunes and fine-tunes its own network on each fold. The dense network
# they start from is the same for all candidates of a fold: with an integer
# ``random_state`` the estimator keeps it (``cache_dense=True``, the default), so it is
# trained once per fold, with the same results as training it again.

sparsities = [0.0, 0.5, 0.8, 0.9, 0.95]
search = GridSearchCV(pipe, {"net__sparsity": sparsities}, cv=3)
search.fit(X_train, y_train)

results = pd.DataFrame(search.cv_results_)
results[["param_net__sparsity", "mean_test_score", "std_test_score", "rank_test_score"]]

# %%
# The chosen model
# ----------------
# ``GridSearchCV`` refits the best candidate on the whole training set. The fitted
# estimator reports how many weights each layer kept.

best = search.best_estimator_
net = best["net"]
print("best sparsity:", search.best_params_["net__sparsity"])
print("achieved sparsity:", net.sparsity_)
print("test accuracy:", best.score(X_test, y_test))
net.pruning_report_.to_frame()

# %%
# Cross-validated accuracy against sparsity
# -----------------------------------------

fig, ax = plt.subplots(figsize=(6, 4))
curve = results.sort_values("param_net__sparsity")
ax.errorbar(
    curve["param_net__sparsity"].astype(float),
    curve["mean_test_score"],
    yerr=curve["std_test_score"],
    marker="o",
    capsize=3,
)
ax.set_xlabel("sparsity (fraction of weights removed)")
ax.set_ylabel("mean CV accuracy (3 folds)")
ax.set_title("ECPrunedMLPClassifier in a pipeline")
fig.tight_layout()

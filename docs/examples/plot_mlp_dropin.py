"""
A drop-in for scikit-learn's MLPClassifier: early stopping and sample weights
=============================================================================

``ECPrunedMLPClassifier`` takes the parameters of scikit-learn's
:class:`~sklearn.neural_network.MLPClassifier` that have a meaning for it and exposes
the same fitted attributes (``loss_curve_``, ``validation_scores_``,
``best_validation_score_``, ``n_iter_``, ``coefs_``, ...). This example fits both on an
imbalanced problem, with early stopping on a held-out validation set and with sample
weights that balance the classes, and compares their training curves. The pruned
network keeps a fifth of the weights of the dense one.
"""

# %%
# An imbalanced problem
# ---------------------
# Nine samples in ten belong to class 0. Balanced sample weights (each class weighs as
# much as the other in the loss) are scikit-learn's
# :func:`~sklearn.utils.class_weight.compute_sample_weight`.

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import make_classification
from sklearn.metrics import balanced_accuracy_score, recall_score
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import StandardScaler
from sklearn.utils.class_weight import compute_sample_weight

from sklearn_ecprune import ECPrunedMLPClassifier

X, y = make_classification(
    n_samples=2000,
    n_features=20,
    n_informative=6,
    weights=[0.9, 0.1],
    flip_y=0.02,
    random_state=0,
)
X_train, X_test, y_train, y_test = train_test_split(X, y, stratify=y, random_state=0)
scaler = StandardScaler().fit(X_train)
X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
weights = compute_sample_weight("balanced", y_train)
print("class counts:", np.bincount(y_train), "weights:", np.unique(weights).round(2))

# %%
# The same parameters for both
# ----------------------------
# ``early_stopping=True`` (scikit-learn's default is ``False``, the estimators' is
# ``True``) holds out ``validation_fraction`` of the training rows (stratified) and
# stops when the validation score has not improved by ``tol`` for
# ``n_iter_no_change`` epochs, in both estimators. ``max_iter`` of scikit-learn is
# ``max_epochs`` here and ``learning_rate_init`` is ``lr``; ``hidden_layer_sizes``,
# ``alpha``, ``batch_size``, ``tol``, ``n_iter_no_change``, ``validation_fraction`` and
# ``random_state`` have the same names. On top of that, ``fit`` prunes 80 % of the
# weights (``sparsity=0.8``, the default) during a fine-tuning of ``fine_tune_epochs``
# epochs (by default a fifth of the dense epochs).

common = dict(
    hidden_layer_sizes=(32,),
    alpha=1e-4,
    batch_size=200,
    early_stopping=True,
    validation_fraction=0.1,
    n_iter_no_change=10,
    tol=1e-4,
    random_state=0,
)
sk = MLPClassifier(**common, max_iter=200, learning_rate_init=1e-3)
ours = ECPrunedMLPClassifier(**common, max_epochs=200, lr=1e-3)

results = {}
for name, model in [("MLPClassifier", sk), ("ECPrunedMLPClassifier", ours)]:
    for weighted in (False, True):
        model.fit(X_train, y_train, sample_weight=weights if weighted else None)
        pred = model.predict(X_test)
        results[name, weighted] = {
            "balanced accuracy": balanced_accuracy_score(y_test, pred),
            "recall of class 1": recall_score(y_test, pred),
            "epochs": len(model.loss_curve_),
            # scikit-learn's curves; the pruned estimator's history also has the
            # fine-tuning's epochs (its loss_curve_ stops with the dense training).
            "loss": list(model.loss_curve_ if model is sk else model.history_[:, "train_loss"]),
            "score": list(
                model.validation_scores_ if model is sk else model.history_[:, "valid_score"]
            ),
        }

for (name, weighted), r in results.items():
    print(
        f"{name:<22} {'balanced weights' if weighted else 'no weights':<16} "
        f"balanced accuracy {r['balanced accuracy']:.3f}, "
        f"recall of class 1 {r['recall of class 1']:.3f}, {r['epochs']} epochs"
    )

# %%
# With the balanced weights both models trade some accuracy on the majority class for
# a higher recall of the rare class. The weights also weigh the validation loss and
# score that early stopping watches, in both estimators.
#
# Training curves
# ---------------
# ``loss_curve_`` and ``validation_scores_`` are the training loss and the accuracy on
# the held-out rows of every training epoch, as in scikit-learn; for the pruned
# estimator they are those of the dense training (``n_iter_`` epochs), and its skorch
# ``history_`` goes on through the fine-tuning (``n_fine_tune_iter_`` epochs), during
# whose first epochs the network is pruned in three events. The rows stay held out for
# the whole fit; each row of the history has its ``phase``.

n_dense = ours.n_iter_
print(f"dense epochs: {n_dense}, fine-tuning epochs: {ours.n_fine_tune_iter_}")

fig, axes = plt.subplots(1, 2, figsize=(10, 4))
for name, style in [("MLPClassifier", "--"), ("ECPrunedMLPClassifier", "-")]:
    r = results[name, True]
    for ax, curve in zip(axes, (r["loss"], r["score"]), strict=True):
        ax.plot(np.arange(1, len(curve) + 1), curve, style, label=name)
axes[0].axvline(n_dense + 0.5, color="0.6", linewidth=1)
axes[0].annotate(
    "pruning and\nfine-tuning",
    xy=(n_dense + 0.5, 1.0),
    xycoords=("data", "axes fraction"),
    xytext=(-4, -4),
    textcoords="offset points",
    ha="right",
    va="top",
)
for ax in axes:
    ax.set_xlabel("epoch")
    ax.legend(loc="center right")
axes[0].set_ylabel("training loss")
axes[1].set_ylabel("validation accuracy")
fig.suptitle("Balanced sample weights, early stopping")
fig.tight_layout()

# %%
# The training loss jumps when the pruning starts, and falls again as the masked
# training recovers between and after the pruning events.
#
# Early stopping: the same rule
# -----------------------------
# Both stop the dense training on the validation *score* and restore the weights of
# the epoch with the best score (the estimators break ties between equal scores by
# the validation loss). ``best_validation_score_`` is the best score of the whole fit,
# often the dense network's, before pruning. Without ``early_stopping`` both stop when
# the training loss has not improved by ``tol`` for ``n_iter_no_change`` epochs, and
# ``best_loss_`` is the lowest training loss (``None`` with early stopping, as in
# scikit-learn).

print(f"best_validation_score_: {ours.best_validation_score_:.3f}")
print("best_loss_ with early stopping:", ours.best_loss_)

# %%
# The fitted network
# ------------------
# ``coefs_`` and ``intercepts_`` have scikit-learn's layout (``coefs_[i]`` of shape
# ``(n_in, n_out)``); the pruned weights are exact zeros. ``sparsity_`` is the share of
# zeros and ``pruning_report_`` the per-layer table.

print("layers:", ours.n_layers_, "output activation:", ours.out_activation_)
print("coefs_ shapes:", [c.shape for c in ours.coefs_])
print("zeros in coefs_:", [float(np.mean(c == 0).round(3)) for c in ours.coefs_])
print("sparsity_:", round(ours.sparsity_, 3))
print(ours.pruning_report_)
print("predict_log_proba:", ours.predict_log_proba(X_test[:2]).round(3))

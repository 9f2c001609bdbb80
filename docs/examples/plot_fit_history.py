"""
What a fit did: its training curves and its pruning report
==========================================================

``fit`` of an ``ECPrunedMLPClassifier`` is one training run in phases: dense training,
pruning events, then fine-tuning with the pruned weights held at zero. Every epoch of
it is a row of ``history_``. :class:`~sklearn_ecprune.FitHistoryDisplay` draws these
rows (the training loss, the validation loss when the fit held rows out, each phase
shaded and each pruning event marked with the sparsity it reached), and
:meth:`PruningReport.plot <sklearn_ecprune.PruningReport.plot>` draws the per-layer
table of ``pruning_report_``.
"""

# %%
# A pruned network on the digits
# ------------------------------
# Nine in ten weights go (``sparsity=0.9``). ``early_stopping=True`` holds out a tenth
# of the training rows: the dense training stops when their accuracy stops improving,
# and their loss is drawn too. ``fine_tune_epochs=20`` gives the pruned network 20
# epochs to recover. The estimator is the last step of a pipeline; ``from_estimator``
# plots that step's history.

import matplotlib.pyplot as plt
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_ecprune import ECPrunedMLPClassifier, FitHistoryDisplay

X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, stratify=y, random_state=0)

params = dict(
    hidden_layer_sizes=(64,),
    lr=1e-2,
    sparsity=0.9,
    early_stopping=True,
    max_epochs=100,
    fine_tune_epochs=20,
    random_state=0,
)
clf = make_pipeline(StandardScaler(), ECPrunedMLPClassifier(**params))
clf.fit(X_train, y_train)
net = clf[-1]
print(f"test accuracy: {clf.score(X_test, y_test):.3f}, sparsity: {net.sparsity_:.1%}")

# %%
# The fit's history
# -----------------
# The training and validation losses fall during the dense phase. The fine-tuning
# starts with the pruning, in three events at the start of its first epochs (the
# default ``pruning_schedule="interleaved"``): the training loss jumps at the events
# and the fine-tuning brings it back down. The display's axes are ordinary matplotlib
# axes: a log scale shows the small losses of the end of the fit.

display = FitHistoryDisplay.from_estimator(clf)
display.ax_.set_yscale("log")

# %%
# The same fit with ``pruning_schedule="before"`` prunes once, after the last dense
# epoch, so the whole jump comes at once. Both histories on one figure, through
# ``ax=``:

before = make_pipeline(
    StandardScaler(), ECPrunedMLPClassifier(**params, pruning_schedule="before")
).fit(X_train, y_train)
print(f"pruned before fine-tuning, test accuracy: {before.score(X_test, y_test):.3f}")

fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True, layout="constrained")
FitHistoryDisplay.from_estimator(clf, ax=axes[0], name='pruning_schedule="interleaved"')
FitHistoryDisplay.from_estimator(before, ax=axes[1], name='pruning_schedule="before"')
axes[0].set_yscale("log")

# %%
# The pruning report
# ------------------
# ``pruning_report_`` prints as a table, one row per layer. Its plot shows the kept
# and removed weights of each layer, with the layer's sparsity above the bar: the
# weights are ranked across layers, so the layers end at different sparsities (here
# the large first layer loses more than the output layer). The second panel is the
# mean absolute change of each layer's biases, the compensation that pruning added
# to them, summed over the three events.

print(net.pruning_report_)
axes = net.pruning_report_.plot()
plt.show()

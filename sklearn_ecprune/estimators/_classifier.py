"""The classifier: an MLP classifier trained, pruned and fine-tuned inside ``fit``."""

from __future__ import annotations

from types import MappingProxyType

import numpy as np
import torch
from scipy.special import expit
from sklearn.preprocessing import LabelEncoder
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import check_is_fitted, column_or_1d
from skorch import NeuralNetClassifier

from ._base import ECPrunedMixin, stochastic_solver
from ._docs import ATTRIBUTES_DOC, FIT_DOC, PARAMS_DOC

__all__ = ["ECPrunedMLPClassifier"]


def _identity(x: torch.Tensor) -> torch.Tensor:
    return x


class MultilabelLogLoss(torch.nn.BCEWithLogitsLoss):
    """scikit-learn's multilabel log-loss: per sample, the sum over the labels.

    ``BCEWithLogitsLoss`` whose unreduced loss is summed over the labels (torch's
    mean over every element would divide the gradients by the number of labels).
    """

    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        loss = super().forward(input, target)
        return loss.sum(dim=-1) if self.reduction == "none" else loss


class ECPrunedMLPClassifier(ECPrunedMixin, NeuralNetClassifier):
    __doc__ = f"""Multilayer perceptron classifier pruned with elimination-compensation.

{FIT_DOC}
    Parameters
    ----------{PARAMS_DOC.replace("{criterion}", "torch.nn.CrossEntropyLoss")}
    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The class labels, of any type (strings, integers, booleans).{ATTRIBUTES_DOC}
    See Also
    --------
    ECPrunedMLPRegressor : The regressor.
    prune_mlp : The pruning engine for any torch module.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from sklearn_ecprune import ECPrunedMLPClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = make_pipeline(StandardScaler(), ECPrunedMLPClassifier(
    ...     sparsity=0.8, early_stopping=False, random_state=0))
    >>> clf.fit(X, y).score(X, y) > 0.9
    True
    >>> round(clf[-1].sparsity_, 2)
    0.8
    """

    _y_validation = MappingProxyType({"multi_output": True})
    _is_classifier = True

    @property
    def _multilabel(self) -> bool:
        return getattr(self, "_multilabel_", False)

    @property
    def _default_criterion(self) -> type[torch.nn.Module]:
        # Multilabel targets: an independent sigmoid per label, as scikit-learn's MLP.
        return MultilabelLogLoss if self._multilabel else torch.nn.CrossEntropyLoss

    def _get_predict_nonlinearity(self):
        if self._multilabel and self.predict_nonlinearity == "auto":
            return _identity  # the logits: predict_proba takes their sigmoid in float64
        return super()._get_predict_nonlinearity()

    @property
    def out_activation_(self) -> str:
        """``"softmax"`` (the outputs are the classes' logits), ``"logistic"`` if multilabel."""
        check_is_fitted(self)
        return "logistic" if self._multilabel else "softmax"

    def _validation_score(self, y_true, output, weights) -> float:
        if self._multilabel:  # scikit-learn's subset accuracy: every label right
            right = ((output > 0) == (y_true > 0.5)).all(axis=1)
        else:
            right = output.argmax(axis=1) == y_true
        return float(np.average(right, weights=weights))

    @property
    def classes_(self) -> np.ndarray:
        """The class labels seen at fit, in the order of ``predict_proba``'s columns."""
        return self._label_encoder_.classes_

    def _encode_target(self, y, *, reset: bool) -> np.ndarray:
        check_classification_targets(y)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        multilabel = type_of_target(y) == "multilabel-indicator"
        if reset:
            self._multilabel_ = multilabel
        if multilabel or self._multilabel:
            return self._encode_multilabel(y, reset=reset)
        if reset:
            encoder = LabelEncoder()
            preset = getattr(self, "_preset_classes_", None)
            encoder.fit(preset if preset is not None else y)
            self._preset_classes_ = None
            # One class is allowed, as in scikit-learn's MLP: a single logit, whose
            # softmax is 1 (the loss is 0, and every prediction that class).
            self._label_encoder_ = encoder
            self.n_outputs_ = len(encoder.classes_)
        unseen = np.setdiff1d(np.unique(y), self.classes_)
        if unseen.size:
            raise ValueError(
                f"y contains labels not seen at the first fit: {unseen.tolist()}; "
                f"known classes are {self.classes_.tolist()}."
            )
        return self._label_encoder_.transform(y).astype(np.int64)

    def _encode_multilabel(self, y, *, reset: bool) -> np.ndarray:
        """Multilabel targets (a 0/1 indicator matrix) as float32; ``classes_`` = columns."""
        if reset:
            self._preset_classes_ = None
            self._label_encoder_ = LabelEncoder().fit(np.arange(y.shape[1]))
            self.n_outputs_ = y.shape[1]
        if type_of_target(y) != "multilabel-indicator" or y.shape[1] != self.n_outputs_:
            raise ValueError(
                f"{type(self).__name__} was fitted on multilabel targets with "
                f"{self.n_outputs_} labels; y must be a 0/1 indicator matrix of as many "
                "columns."
            )
        return np.asarray(y, dtype=np.float32)

    def _fit_metadata_from_sizes(self, n_features: int, n_outputs: int) -> None:
        import warnings

        warnings.warn(
            "The class labels are not part of the saved parameters: classes_ is "
            f"0 .. {n_outputs - 1}. Pickle or joblib the estimator to keep the labels.",
            UserWarning,
            stacklevel=4,
        )
        self.n_features_in_ = n_features
        self._label_encoder_ = LabelEncoder().fit(np.arange(n_outputs))
        self.n_outputs_ = n_outputs

    def _check_same_classes(self, classes, *, warm_start: bool = False) -> None:
        classes = np.unique(np.asarray(classes))
        if np.array_equal(classes, self.classes_):
            return
        if warm_start:  # scikit-learn's words
            raise ValueError(
                "warm_start can only be used where `y` has the same classes as in the "
                f"previous call to fit. Previously got {self.classes_}, `y` has {classes}"
            )
        raise ValueError(
            f"classes={classes.tolist()} is not the same as on the first call to "
            f"partial_fit ({self.classes_.tolist()})."
        )

    @available_if(stochastic_solver)
    def partial_fit(self, X, y, sample_weight=None, classes=None, **fit_params):
        """Train one more epoch with the masks kept.

        On an unfitted estimator the network is initialised, trained one epoch and
        pruned, so that after any call the network is at its target sparsity; a
        fitted one prunes again only if ``sparsity`` was raised since its last prune.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training inputs.
        y : array-like of shape (n_samples,)
            Labels.
        sample_weight : array-like of shape (n_samples,), default=None
            Weights of the samples in the training loss.
        classes : array-like of shape (n_classes,), default=None
            All the classes, needed on the first call if ``y`` lacks some; later
            calls must give the same classes (or none).
        **fit_params : dict
            Passed on to skorch's training loop.

        Returns
        -------
        self : object
            The estimator.

        Examples
        --------
        >>> from sklearn.datasets import load_iris
        >>> from sklearn_ecprune import ECPrunedMLPClassifier
        >>> X, y = load_iris(return_X_y=True)
        >>> clf = ECPrunedMLPClassifier(sparsity=0.8, random_state=0)
        >>> for _ in range(3):
        ...     clf = clf.partial_fit(X, y, classes=[0, 1, 2])
        >>> len(clf.loss_curve_), clf.n_iter_, round(clf.sparsity_, 2)
        (3, 1, 0.8)
        """
        return self._partial_fit(X, y, classes=classes, sample_weight=sample_weight, **fit_params)

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities, columns in the order of ``classes_``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Inputs.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Probabilities (float64, rows sum to one); for multilabel targets each
            label's own probability.

        Examples
        --------
        >>> from sklearn.datasets import load_iris
        >>> from sklearn_ecprune import ECPrunedMLPClassifier
        >>> X, y = load_iris(return_X_y=True)
        >>> clf = ECPrunedMLPClassifier(max_epochs=20, random_state=0).fit(X, y)
        >>> proba = clf.predict_proba(X[:2])
        >>> proba.shape, bool(abs(proba.sum(axis=1) - 1).max() < 1e-9)
        ((2, 3), True)
        """
        proba = self._forward_numpy(X).astype(np.float64)
        if self._multilabel and self.predict_nonlinearity == "auto":
            return expit(proba)  # one probability per label (in float64: none is 0)
        if self._multilabel:
            return proba
        return proba / proba.sum(axis=1, keepdims=True)

    def predict_log_proba(self, X) -> np.ndarray:
        """Logarithm of the class probabilities, columns in the order of ``classes_``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Inputs.

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
            ``log(predict_proba(X))``.

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn.datasets import load_iris
        >>> from sklearn_ecprune import ECPrunedMLPClassifier
        >>> X, y = load_iris(return_X_y=True)
        >>> clf = ECPrunedMLPClassifier(max_epochs=20, random_state=0).fit(X, y)
        >>> bool(np.allclose(np.exp(clf.predict_log_proba(X[:5])), clf.predict_proba(X[:5])))
        True
        """
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    def predict(self, X) -> np.ndarray:
        """Predicted class labels, of the type seen at fit.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), or a torch Dataset
            Inputs. A torch ``Dataset`` (what skorch's scoring callbacks pass while
            training) holds the encoded targets, so for it, and for any input while
            ``fit`` runs (what a scoring callback sees), the class indices
            ``0 .. n_classes - 1`` are returned, as skorch's own classifier does.

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_labels)
            Labels from ``classes_`` (indices for a torch Dataset); for multilabel
            targets the 0/1 indicator matrix.

        Examples
        --------
        >>> from sklearn.datasets import load_iris
        >>> from sklearn_ecprune import ECPrunedMLPClassifier
        >>> X, y = load_iris(return_X_y=True)
        >>> names = load_iris().target_names[y]
        >>> clf = ECPrunedMLPClassifier(max_epochs=20, random_state=0).fit(X, names)
        >>> clf.predict(X[:1]).dtype.kind, clf.classes_.tolist()
        ('U', ['setosa', 'versicolor', 'virginica'])
        """
        if self._multilabel:  # the indicator matrix, as scikit-learn's MLP predicts it
            return (self.predict_proba(X) > 0.5).astype(np.int64)
        index = self.predict_proba(X).argmax(axis=1)
        # skorch's scoring callbacks compare with the encoded targets of the training
        # data: while fitting, and for a torch Dataset, the answer is in their terms.
        plan = getattr(self, "_plan_", None)
        if isinstance(X, torch.utils.data.Dataset) or (plan is not None and plan.training):
            return index
        return self.classes_[index]

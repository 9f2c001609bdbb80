"""Predictions: the fitted network built once for ``inference``, run in large chunks."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np
import torch
from sklearn.utils.validation import check_is_fitted
from skorch.dataset import Dataset
from skorch.utils import to_numpy
from torch.utils.data import DataLoader

from ..engine._deploy import inference_module, padded_forward
from ..engine._validation import Options, check_param
from ._data import dense_rows
from ._threads import threads_for, torch_threads

__all__ = ["InferenceMixin"]

# Rows per forward pass when predicting on in-memory data.
_PREDICT_CHUNK = 4096


class _Inference(NamedTuple):
    """What predictions run on, built once the weights are final (``_inference_``)."""

    layout: str  # the ``inference`` it was built for
    module: torch.nn.Module
    device: torch.device  # where the network is (walking it costs more than one row)
    nonlinearity_for: Any  # the ``predict_nonlinearity`` that ``nonlinearity`` resolves
    nonlinearity: Callable


class InferenceMixin:
    """``predict``'s network (compacted, CSR where faster) and ``to_torch``."""

    def _forward_numpy(self, X) -> np.ndarray:
        """The network's output on X (after the predict non-linearity), as numpy.

        In-memory data go straight through the network in large chunks; skorch's
        DataLoader path is kept for a torch ``Dataset`` and for a custom ``dataset`` or
        ``iterator_valid``.
        """
        check_is_fitted(self)
        cached = getattr(self, "_inference_", None)
        if cached is not None and cached.nonlinearity_for is self.predict_nonlinearity:
            nonlinearity = cached.nonlinearity  # resolved when the network was built
        else:
            nonlinearity = self._get_predict_nonlinearity()
        if isinstance(X, torch.utils.data.Dataset):  # e.g. skorch's own scoring callbacks
            return np.concatenate(
                [to_numpy(nonlinearity(out)) for out in self.forward_iter(X, training=False)]
            )
        if isinstance(X, dict) and "X" in X:  # training data with sample weights
            X = X["X"]
        X = self._validate_X(X, reset=False)
        if self.dataset is not Dataset or self.iterator_valid is not DataLoader:
            return np.concatenate(
                [to_numpy(nonlinearity(out)) for out in self.forward_iter(X, training=False)]
            )
        module = self._inference_module()
        # Where the network is: recorded when it was built (``set_params(device=...)``
        # acts at the next fit), since walking the module would cost more than a
        # one-row prediction.
        if cached is not None and cached.module is module:
            device = cached.device
        else:
            device = next(module.parameters()).device
        # The inference copy is built in eval mode; only module_ (during fit) needs the
        # switch, which walks every submodule and costs more than a one-row prediction.
        was_training = module.training
        if was_training:
            module.eval()
        outputs = []
        rows = min(X.shape[0], _PREDICT_CHUNK)
        try:
            with torch.inference_mode(), torch_threads(self._threads(rows)):
                for start in range(0, X.shape[0], _PREDICT_CHUNK):
                    chunk = dense_rows(X[start : start + _PREDICT_CHUNK])
                    output = nonlinearity(padded_forward(module, chunk, device))
                    on_cpu = output.device.type == "cpu"
                    outputs.append(output.numpy() if on_cpu else to_numpy(output))
        finally:
            if was_training:
                module.train()
        return outputs[0] if len(outputs) == 1 else np.concatenate(outputs)

    def _threads(self, rows: int) -> int | None:
        """torch's threads for products of ``rows`` rows through the network."""
        plan = getattr(self, "_plan_", None)
        n_weights = plan.dense_n_weights if plan is not None else 0
        return threads_for(self.n_threads, rows, n_weights)

    def _inference_module(self) -> torch.nn.Module:
        """The network that predictions run on, built for ``inference`` and cached.

        While training (no masks yet, or a fit in progress) it is ``module_`` itself.
        Otherwise ``"dense"`` is a copy of ``module_``; ``"auto"`` and ``"sparse"``
        start from a compacted copy (constant and unused hidden neurons removed,
        exactly) and store the Linear layers that are sparse enough (``"auto"``, by
        the measured rule of :func:`~sklearn_ecprune.engine.prefers_sparse`) or all
        of them (``"sparse"``) as CSR matrices. Dense layers are padded to aligned
        widths (:class:`~sklearn_ecprune.engine._deploy.AlignedNet`).
        """
        plan = getattr(self, "_plan_", None)
        if not hasattr(self, "masks_") or (plan is not None and plan.training):
            return self.module_
        cached = getattr(self, "_inference_", None)
        if cached is not None and cached.layout == self.inference:
            return cached.module
        return inference_module(self.module_, self.inference)  # (predict changes nothing)

    def _refresh_inference(self) -> None:
        """Build the inference network once the weights are final (end of fit, load)."""
        module = inference_module(self.module_, self.inference)
        # The predict non-linearity is resolved here once (skorch resolves it per call).
        self._inference_ = _Inference(
            self.inference,
            module,
            next(self.module_.parameters()).device,
            self.predict_nonlinearity,
            self._get_predict_nonlinearity(),
        )

    def _invalidate_inference(self) -> None:
        """Forget the inference network: the weights are about to change."""
        vars(self).pop("_inference_", None)

    def to_torch(self, layout: str = "compact") -> torch.nn.Module:
        """The fitted network as a standalone torch module, for deployment.

        Parameters
        ----------
        layout : {"compact", "dense", "sparse"}, default="compact"
            ``"compact"``: dense ``nn.Linear`` layers with the constant and unused
            hidden neurons removed (exactly; after ``pruning_unit="neuron"`` the
            network is already smaller), which ``torch.export``, ONNX export and
            TorchScript handle. ``"dense"``: a copy of ``module_``, zeros included.
            ``"sparse"``: sparse layers stored as CSR (:class:`SparseLinear` with
            torch's kernel), for inference in torch.

        Returns
        -------
        module : torch.nn.Module
            A copy in eval mode, on the estimator's device, that maps float32 inputs
            (already preprocessed, ``n_features_in_`` columns) to the network's raw
            outputs: the logits of a classifier, the predicted targets of a regressor
            of shape (n_samples, n_outputs) in the target's units (a regressor trained
            with ``standardize_target`` ends in a :class:`~torch.nn.Module` that undoes
            the standardisation).

        Examples
        --------
        >>> import torch
        >>> from sklearn.datasets import load_iris
        >>> from sklearn_ecprune import ECPrunedMLPClassifier
        >>> X, y = load_iris(return_X_y=True)
        >>> clf = ECPrunedMLPClassifier(sparsity=0.9, max_epochs=20, random_state=0).fit(X, y)
        >>> net = clf.to_torch()
        >>> exported = torch.export.export(net, (torch.randn(2, 4),))
        >>> logits = net(torch.as_tensor(X[:3], dtype=torch.float32))
        >>> bool((logits.argmax(1).numpy() == clf.predict(X[:3])).all())
        True

        An export is fixed at the example's batch size unless the batch dimension is
        declared dynamic (the same ``dynamic_shapes`` goes to ``torch.onnx.export``;
        to convert a whole pipeline to ONNX, see :mod:`sklearn_ecprune.onnx`):

        >>> batch = torch.export.Dim("batch")
        >>> program = torch.export.export(net, (torch.randn(2, 4),), dynamic_shapes=({0: batch},))
        >>> program.module()(torch.randn(7, 4)).shape
        torch.Size([7, 3])
        """
        check_is_fitted(self)
        check_param("layout", layout, [Options(str, {"compact", "dense", "sparse"})], "to_torch")
        layout = "torch-sparse" if layout == "sparse" else layout
        return self._deployed(inference_module(self.module_, layout, align=False))

    def _deployed(self, module: torch.nn.Module) -> torch.nn.Module:
        """The regressor appends its target scaling; see its override."""
        return module

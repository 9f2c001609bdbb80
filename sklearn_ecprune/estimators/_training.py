"""The training step: the optimizer as scikit-learn's MLP sets it up, and the loss with L2."""

from __future__ import annotations

import functools

import torch
from skorch.utils import to_tensor

__all__ = ["LBFGS_SETTINGS", "TrainingStepMixin"]

# solver="lbfgs": torch's L-BFGS run one iteration per step, as scipy's L-BFGS-B in
# scikit-learn's MLP (10 correction pairs, a line search; no learning rate of its own).
LBFGS_SETTINGS = {
    "lr": 1.0,
    "max_iter": 1,
    "max_eval": 25,
    "history_size": 10,
    "tolerance_change": 0.0,
    "line_search_fn": "strong_wolfe",
}


@functools.cache
def _fused_adam_on_cpu() -> bool:
    """Whether this torch has the fused CPU Adam (2.4 and later): about 2.5x faster steps."""
    try:
        torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))], fused=True)
    except (RuntimeError, TypeError, ValueError):
        return False
    return True


class TrainingStepMixin:
    """skorch's optimizer and loss hooks: fused Adam, scikit-learn's solvers, the L2 term."""

    def get_params_for_optimizer(self, prefix, named_parameters):
        """skorch's optimizer arguments: ``solver``'s settings, fused Adam on the CPU.

        ``learning_rate_init`` (else ``lr``), Adam's ``beta_1``, ``beta_2`` and
        ``epsilon``, SGD's ``momentum`` and ``nesterovs_momentum`` (with
        ``solver="sgd"``), L-BFGS's (``LBFGS_SETTINGS``, ``tol`` as its gradient
        tolerance, with ``solver="lbfgs"``), each unless given as ``optimizer__*``;
        Adam runs fused on the CPU (about 2.5 times faster steps) unless
        ``optimizer__foreach`` or ``__fused`` says otherwise.
        """
        args, kwargs = super().get_params_for_optimizer(prefix, named_parameters)
        if prefix != "optimizer":
            return args, kwargs
        optimizer = self._optimizer_class
        if self.solver == "lbfgs":
            # One L-BFGS iteration per epoch on the whole training set (see get_iterator),
            # with scipy's memory of 10 pairs and a Wolfe line search, as scikit-learn's.
            given = self.get_params_for("optimizer")
            return args, {**kwargs, **LBFGS_SETTINGS, "tolerance_grad": self.tol, **given}
        if "lr" not in self.get_params_for("optimizer"):
            kwargs["lr"] = self._learning_rate
        # scikit-learn's settings of its two solvers, unless given the skorch way.
        if optimizer in (torch.optim.Adam, torch.optim.AdamW):
            kwargs.setdefault("betas", (self.beta_1, self.beta_2))
            kwargs.setdefault("eps", self.epsilon)
        elif optimizer is torch.optim.SGD and self.solver == "sgd":
            kwargs.setdefault("momentum", self.momentum)
            kwargs.setdefault("nesterov", bool(self.nesterovs_momentum and self.momentum > 0))
        if (
            optimizer in (torch.optim.Adam, torch.optim.AdamW)
            and not {"fused", "foreach", "differentiable"} & set(kwargs)
            and torch.device(self.device or "cpu").type == "cpu"
            and _fused_adam_on_cpu()
        ):
            kwargs["fused"] = True
        return args, kwargs

    def get_loss(self, y_pred, y_true, X=None, training=False):
        """Mean training loss (weighted by ``sample_weight``), plus the L2 penalty.

        As in scikit-learn's MLP: ``alpha / 2 * sum of squared weights / batch weight``
        is added while training (biases are not penalised), as a value; its gradient
        is added to the weights' gradients in ``on_grad_computed``.
        """
        if not isinstance(y_true, torch.Tensor) or y_true.device != y_pred.device:
            y_true = to_tensor(y_true, device=self.device)
        per_sample = self.criterion_(y_pred, y_true)
        weights = X.get("sample_weight") if isinstance(X, dict) else None
        if weights is None:  # every row has as many loss terms: the mean of all is theirs
            loss, total = per_sample.mean(), float(len(per_sample))
        else:
            if per_sample.ndim > 1:
                per_sample = per_sample.reshape(len(y_pred), -1).mean(dim=1)
            weights = to_tensor(weights, device=self.device).to(per_sample.dtype)
            total = float(weights.sum())
            loss = (per_sample * weights).sum() / max(total, 1e-12)
        if training and self.alpha:
            # The penalty's value, for the loss reported; its gradient is added by
            # on_grad_computed, without autograd through the penalty.
            plan = self._plan_
            plan.l2_scale = self.alpha / max(total, 1e-12)
            with torch.no_grad():
                squares = sum(torch.vdot(w.view(-1), w.view(-1)) for w in self._penalised())
            loss = loss + 0.5 * plan.l2_scale * squares
        return loss

    def on_grad_computed(self, net, named_parameters, X=None, y=None, training=False, **kwargs):
        """Add the L2 penalty's gradient, ``alpha * W / batch weight``, to the weights'.

        The same gradient as autograd through the penalty term of ``get_loss``, which a
        small network's step spends a fifth of its time on.
        """
        scale = getattr(self._plan_, "l2_scale", None) if training and self.alpha else None
        if not scale:
            return
        with torch.no_grad():
            for weight in self._penalised():
                if weight.grad is not None:
                    weight.grad.add_(weight, alpha=scale)

    def _penalised(self) -> list[torch.Tensor]:
        """The Linear layers' weights, looked up once per network and set of masks."""
        plan, masks = self._plan_, getattr(self, "masks_", None)
        cached = plan.penalised
        if cached is None or cached[0] is not self.module_ or cached[1] is not masks:
            weights = [m.weight for m in self._linear_layers(check=False)]
            plan.penalised = cached = (self.module_, masks, weights)
        return cached[2]

    def initialize_optimizer(self, triggered_directly=None):
        """skorch's optimizer, of ``solver``'s class when given (see ``_optimizer_class``)."""
        named_parameters = self.get_all_learnable_params()
        args, kwargs = self.get_params_for_optimizer("optimizer", named_parameters)
        self.optimizer_ = self._optimizer_class(*args, **kwargs)
        return self

"""The training step: the optimizer as scikit-learn's MLP sets it up, and the loss with L2."""

from __future__ import annotations

import functools

import torch
from skorch.utils import to_tensor

__all__ = ["TrainingStepMixin"]

# Marks the optimizer's parameter group of the Linear weights (the L2 penalty's).
_L2_GROUP = "sklearn_ecprune_l2"


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
        """skorch's optimizer arguments; Adam is fused on the CPU unless told otherwise.

        With Adam or SGD and no weight decay or parameter groups of the user's, the
        Linear weights get a group of their own, through whose weight decay
        ``get_loss`` applies the L2 penalty's gradient (see there).
        """
        args, kwargs = super().get_params_for_optimizer(prefix, named_parameters)
        if prefix != "optimizer":
            return args, kwargs
        optimizer = self._optimizer_class
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
        (groups,) = args
        plain = len(groups) == 1 and set(groups[0]) == {"params"} and "weight_decay" not in kwargs
        if plain and optimizer in (torch.optim.Adam, torch.optim.SGD):
            linear = [m for m in self.module_.modules() if isinstance(m, torch.nn.Linear)]
            weights = {id(m.weight) for m in linear}
            params = groups[0]["params"]
            decayed = [p for p in params if id(p) in weights]
            groups = [{"params": decayed, "weight_decay": 0.0, _L2_GROUP: True}]
            groups += [{"params": [p for p in params if id(p) not in weights]}]
            args = ([g for g in groups if g["params"]],)
        return args, kwargs

    def get_loss(self, y_pred, y_true, X=None, training=False):
        """Mean training loss (weighted by ``sample_weight``), plus the L2 penalty.

        As in scikit-learn's MLP: ``alpha / 2 * sum of squared weights / batch weight``
        is added while training (biases are not penalised). Where the optimizer has the
        weights' group of ``get_params_for_optimizer``, the penalty's gradient,
        ``alpha * W / batch weight``, is that group's weight decay for this step (the
        same update, without autograd through the penalty: a fifth of a small
        network's step) and the penalty's value is added to the loss as a constant.
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
            penalised, group = self._penalised_weights()
            scale = self.alpha / max(total, 1e-12)
            if group is None:
                return loss + 0.5 * scale * sum(w.square().sum() for w in penalised)
            group["weight_decay"] = scale
            with torch.no_grad():
                squares = sum(torch.vdot(w.view(-1), w.view(-1)) for w in penalised)
            loss = loss + 0.5 * scale * squares
        return loss

    def _penalised_weights(self) -> tuple[list[torch.Tensor], dict | None]:
        """The Linear layers' weights, and the optimizer's group that holds them.

        Looked up once per network, set of masks and optimizer.
        """
        plan, masks = self._plan_, getattr(self, "masks_", None)
        key = (self.module_, masks, self.optimizer_)
        cached = plan.penalised
        if cached is None or any(a is not b for a, b in zip(cached[0], key, strict=True)):
            weights = [m.weight for m in self.module_.modules() if isinstance(m, torch.nn.Linear)]
            groups = [g for g in self.optimizer_.param_groups if g.get(_L2_GROUP)]
            group = groups[0] if groups else None
            if group is not None and {id(p) for p in group["params"]} != {id(w) for w in weights}:
                group = None
            plan.penalised = cached = (key, weights, group)
        return cached[1], cached[2]

    def initialize_optimizer(self, triggered_directly=None):
        """skorch's optimizer, of ``solver``'s class when given (see ``_optimizer_class``)."""
        named_parameters = self.get_all_learnable_params()
        args, kwargs = self.get_params_for_optimizer("optimizer", named_parameters)
        self.optimizer_ = self._optimizer_class(*args, **kwargs)
        return self

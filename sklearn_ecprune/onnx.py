"""ONNX conversion of the estimators with skl2onnx.

Importing this module registers :class:`~sklearn_ecprune.ECPrunedMLPClassifier` and
:class:`~sklearn_ecprune.ECPrunedMLPRegressor` with skl2onnx (see
:func:`register_converters`), so that ``skl2onnx.to_onnx`` converts any scikit-learn
pipeline that contains them. It needs ``skl2onnx`` (and ``onnxruntime`` to run the
result): ``pip install "sklearn-ecprune[onnx]"``; ``import sklearn_ecprune`` does not.

The graph is the one skl2onnx writes for scikit-learn's ``MLPClassifier`` and
``MLPRegressor`` (its own converter and forward pass are reused), built from the
compacted network of :meth:`~sklearn_ecprune.ECPrunedMLPClassifier.to_torch` (the
pruned weights are zeros in dense ``MatMul`` initialisers; hidden neurons that were
pruned away entirely are removed):

- a classifier outputs ``label`` and ``probabilities`` (by default through a
  ``ZipMap``, a list of ``{class: probability}`` dicts; the option ``zipmap=False``
  keeps the ``(n_samples, n_classes)`` tensor), as ``predict`` and ``predict_proba``.
  The network's two logits of a binary problem become one (their difference, whose
  sigmoid is the softmax's second column), as in scikit-learn's MLP; a multilabel
  classifier outputs the 0/1 indicator matrix and a probability per label;
- a regressor outputs ``variable`` of shape ``(n_samples, n_outputs)``, the target's
  standardisation (``standardize_target=True``) folded into the last layer and, with
  ``loss="poisson"``, the exponential of the network's output.

Only networks made of ``nn.Linear`` layers with one elementwise activation
(``"relu"``, ``"tanh"``, ``"logistic"``, ``"identity"``) between them, the default
:class:`~sklearn_ecprune.MLPModule`, are converted; a classifier must have
``predict_nonlinearity="auto"`` and, unless multilabel, a cross-entropy criterion.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

try:
    import skl2onnx  # noqa: F401
except ImportError as error:  # pragma: no cover
    raise ImportError(
        "sklearn_ecprune.onnx needs skl2onnx (and onnxruntime to run the models): "
        "pip install 'sklearn-ecprune[onnx]'."
    ) from error
from skl2onnx import update_registered_converter
from skl2onnx.common._apply_operation import apply_cast, apply_identity, apply_reshape
from skl2onnx.common.data_types import (
    BooleanTensorType,
    DoubleTensorType,
    FloatTensorType,
    Int64TensorType,
    guess_proto_type,
)
from skl2onnx.common.shape_calculator import calculate_linear_classifier_output_shapes
from skl2onnx.common.utils import check_input_and_output_numbers, check_input_and_output_types
from skl2onnx.common.utils_classifier import get_label_classes
from skl2onnx.operator_converters.multilayer_perceptron import (
    _predict,
    convert_sklearn_mlp_classifier,
)
from skl2onnx.proto import onnx_proto
from torch import nn

from .estimators import ECPrunedMLPClassifier, ECPrunedMLPRegressor
from .estimators._module import TargetScale

__all__ = ["register_converters"]

# The options skl2onnx declares for scikit-learn's MLPClassifier.
_CLASSIFIER_OPTIONS = {
    "zipmap": [True, False, "columns"],
    "output_class_labels": [False, True],
    "nocl": [True, False],
}

# The activations skl2onnx's MLP forward pass knows, by torch module.
_ACTIVATIONS = {
    nn.ReLU: "relu",
    nn.Tanh: "tanh",
    nn.Sigmoid: "logistic",
    nn.Identity: "identity",
}

_registered = False


def register_converters() -> None:
    """Register the estimators' shape calculators and converters with skl2onnx.

    Called when :mod:`sklearn_ecprune.onnx` is imported; calling it again does
    nothing. Afterwards ``skl2onnx.to_onnx`` (and ``convert_sklearn``) convert a
    fitted :class:`~sklearn_ecprune.ECPrunedMLPClassifier` or
    :class:`~sklearn_ecprune.ECPrunedMLPRegressor`, alone or inside a pipeline, as
    they convert scikit-learn's ``MLPClassifier`` and ``MLPRegressor``: the classifier
    accepts skl2onnx's options ``zipmap`` (``True``, ``False``, ``"columns"``),
    ``output_class_labels`` and ``nocl``.

    Returns
    -------
    None

    See Also
    --------
    sklearn_ecprune.ECPrunedMLPClassifier.to_torch : The network as a torch module.

    Examples
    --------
    >>> import numpy as np
    >>> import onnxruntime as ort
    >>> from skl2onnx import to_onnx
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from sklearn_ecprune import ECPrunedMLPClassifier
    >>> from sklearn_ecprune.onnx import register_converters
    >>> register_converters()  # done on import already; does no harm
    >>> X, y = load_iris(return_X_y=True)
    >>> X = X.astype(np.float32)
    >>> pipe = make_pipeline(StandardScaler(), ECPrunedMLPClassifier(
    ...     hidden_layer_sizes=(16,), max_epochs=20, random_state=0)).fit(X, y)
    >>> onx = to_onnx(pipe, X[:1], options={id(pipe[-1]): {"zipmap": False}})
    >>> session = ort.InferenceSession(onx.SerializeToString(),
    ...                                providers=["CPUExecutionProvider"])
    >>> label, proba = session.run(None, {"X": X[:5]})
    >>> bool((label == pipe.predict(X[:5])).all())
    True
    >>> bool(np.allclose(proba, pipe.predict_proba(X[:5]), atol=1e-5))
    True
    """
    global _registered
    if _registered:
        return
    update_registered_converter(
        ECPrunedMLPClassifier,
        "SklearnECPrunedMLPClassifier",
        _classifier_output_shapes,
        _convert_classifier,
        options=_CLASSIFIER_OPTIONS,
    )
    update_registered_converter(
        ECPrunedMLPRegressor,
        "SklearnECPrunedMLPRegressor",
        _regressor_output_shapes,
        _convert_regressor,
    )
    _registered = True


# ---------------------------------------------------------------- the network
def _leaves(module: nn.Module):
    """The modules of nested ``nn.Sequential`` containers, in order."""
    if isinstance(module, nn.Sequential):
        for child in module.children():
            yield from _leaves(child)
    else:
        yield module


def _network(estimator) -> SimpleNamespace:
    """The compact network as scikit-learn's MLP attributes, in float64.

    ``coefs_``, ``intercepts_``, ``n_layers_`` and ``activation`` (one, shared by the
    hidden layers) as skl2onnx's MLP converter reads them, and the regressor's
    ``TargetScale`` (``None`` without one).
    """
    name = type(estimator).__name__
    coefs, intercepts, activations, target_scale = [], [], [], None
    for layer in _leaves(estimator.to_torch("compact")):
        if target_scale is not None:
            raise NotImplementedError(
                f"ONNX conversion of {name}: the target scaling must end the network."
            )
        if isinstance(layer, nn.Linear):
            if len(activations) < len(coefs):  # two Linear layers in a row
                activations.append("identity")
            weight = layer.weight.detach().cpu().double().numpy()
            bias = layer.bias
            coefs.append(weight.T.copy())
            intercepts.append(
                np.zeros(layer.out_features)
                if bias is None
                else bias.detach().cpu().double().numpy().copy()
            )
        elif type(layer) in _ACTIVATIONS and len(activations) < len(coefs):
            activations.append(_ACTIVATIONS[type(layer)])
        elif isinstance(layer, nn.Dropout):
            continue  # the identity at inference
        elif isinstance(layer, TargetScale):
            target_scale = layer
        else:
            raise NotImplementedError(
                f"ONNX conversion of {name} supports networks of nn.Linear layers with one "
                "relu, tanh, logistic or identity activation between them (the default "
                f"MLPModule); this network has {layer!r} where it cannot be converted."
            )
    if not coefs or len(activations) != len(coefs) - 1:
        raise NotImplementedError(
            f"ONNX conversion of {name}: the network must end with an nn.Linear layer."
        )
    if len(set(activations)) > 1:
        raise NotImplementedError(
            f"ONNX conversion of {name} needs the same activation after every hidden "
            f"layer (as scikit-learn's MLP); the network has {activations}."
        )
    return SimpleNamespace(
        coefs_=coefs,
        intercepts_=intercepts,
        n_layers_=len(coefs) + 1,
        activation=activations[0] if activations else "identity",
        target_scale=target_scale,
    )


# ---------------------------------------------------------------- classifier
def _check_classifier(estimator) -> None:
    criterion = getattr(estimator, "criterion_", None)
    softmax = len(estimator._criteria) == 1 and isinstance(criterion, nn.CrossEntropyLoss)
    if estimator.predict_nonlinearity != "auto" or not (estimator._multilabel or softmax):
        raise NotImplementedError(
            "ONNX conversion of ECPrunedMLPClassifier needs predict_nonlinearity='auto' "
            "and, unless the targets are multilabel, a torch.nn.CrossEntropyLoss criterion "
            "(the default), whose probabilities are the softmax of the network's outputs; "
            f"got predict_nonlinearity={estimator.predict_nonlinearity!r} and criterion "
            f"{type(criterion).__name__}."
        )


def _classifier_output_shapes(operator) -> None:
    """skl2onnx's shape calculator for classifiers; multilabel labels are a matrix."""
    estimator = operator.raw_operator
    calculate_linear_classifier_output_shapes(operator)
    if estimator._multilabel:
        n_samples = operator.inputs[0].get_first_dimension()
        operator.outputs[0].set_type(Int64TensorType([n_samples, estimator.n_outputs_]))


def _convert_classifier(scope, operator, container) -> None:
    """skl2onnx's ``MLPClassifier`` converter, on the network seen as one."""
    estimator = operator.raw_operator
    _check_classifier(estimator)
    network = _network(estimator)
    if estimator._multilabel:
        network.out_activation_ = "logistic"
        _convert_multilabel(scope, operator, container, network)
        return
    network.out_activation_ = "softmax"
    if estimator.n_outputs_ == 2:
        # softmax([z0, z1])[1] = sigmoid(z1 - z0): scikit-learn's single logistic output.
        last_coef, last_intercept = network.coefs_[-1], network.intercepts_[-1]
        network.coefs_[-1] = last_coef[:, 1:] - last_coef[:, :1]
        network.intercepts_[-1] = last_intercept[1:] - last_intercept[:1]
        network.out_activation_ = "logistic"
    network.classes_ = np.asarray(get_label_classes(scope, estimator))
    network._label_binarizer = SimpleNamespace(y_type_="multiclass")
    operator.raw_operator = network
    try:
        convert_sklearn_mlp_classifier(scope, operator, container)
    finally:
        operator.raw_operator = estimator


def _convert_multilabel(scope, operator, container, network) -> None:
    """A probability per label, and the labels whose probability is above 0.5."""
    proto_dtype = _proto_dtype(operator)
    proba = _predict(scope, operator.inputs[0].full_name, container, network, proto_dtype)
    apply_identity(scope, proba, operator.outputs[1].full_name, container)
    binarized = scope.get_unique_variable_name("binariser_output")
    container.add_node(
        "Binarizer",
        proba,
        binarized,
        threshold=0.5,
        op_domain="ai.onnx.ml",
        name=scope.get_unique_operator_name("Binarizer"),
    )
    apply_cast(
        scope, binarized, operator.outputs[0].full_name, container, to=onnx_proto.TensorProto.INT64
    )


# ---------------------------------------------------------------- regressor
def _regressor_output_shapes(operator) -> None:
    """``(n_samples, n_outputs)``, of the input's float type (float32 otherwise)."""
    check_input_and_output_numbers(operator, input_count_range=1, output_count_range=1)
    check_input_and_output_types(
        operator,
        good_input_types=[BooleanTensorType, DoubleTensorType, FloatTensorType, Int64TensorType],
    )
    input_type = operator.inputs[0].type
    tensor_type = type(input_type) if isinstance(input_type, DoubleTensorType) else FloatTensorType
    n_samples = operator.inputs[0].get_first_dimension()
    operator.outputs[0].set_type(tensor_type([n_samples, operator.raw_operator.n_outputs_]))


def _convert_regressor(scope, operator, container) -> None:
    """skl2onnx's ``MLPRegressor`` forward pass, with the target's units folded in."""
    estimator = operator.raw_operator
    network = _network(estimator)
    network.out_activation_ = "identity"
    scale = network.target_scale
    mean = std = None
    if scale is not None:
        mean = scale.mean.detach().cpu().double().numpy()
        std = scale.scale.detach().cpu().double().numpy()
        if not scale.log_link:  # z * std + mean, in the last layer's weights
            network.coefs_[-1] = network.coefs_[-1] * std
            network.intercepts_[-1] = network.intercepts_[-1] * std + mean
            mean = std = None
    proto_dtype = _proto_dtype(operator)
    output = _predict(scope, operator.inputs[0].full_name, container, network, proto_dtype)
    if scale is not None and scale.log_link:  # loss="poisson": exp(z) (* std + mean)
        exp = scope.get_unique_variable_name("exp_output")
        container.add_node("Exp", output, exp, name=scope.get_unique_operator_name("Exp"))
        output = exp
        if not (np.all(std == 1) and np.all(mean == 0)):
            output = _affine(scope, container, output, std, mean, proto_dtype)
    apply_reshape(
        scope,
        output,
        operator.outputs[0].full_name,
        container,
        desired_shape=(-1, estimator.n_outputs_),
    )


def _affine(scope, container, name, scale, shift, proto_dtype) -> str:
    """``name * scale + shift``, per column."""
    scale_name = scope.get_unique_variable_name("target_scale")
    shift_name = scope.get_unique_variable_name("target_mean")
    container.add_initializer(scale_name, proto_dtype, [1, len(scale)], scale)
    container.add_initializer(shift_name, proto_dtype, [1, len(shift)], shift)
    scaled = scope.get_unique_variable_name("scaled_output")
    result = scope.get_unique_variable_name("target_output")
    container.add_node(
        "Mul", [name, scale_name], scaled, name=scope.get_unique_operator_name("Mul")
    )
    container.add_node(
        "Add", [scaled, shift_name], result, name=scope.get_unique_operator_name("Add")
    )
    return result


def _proto_dtype(operator) -> int:
    """Double for double inputs, float otherwise (as skl2onnx's MLP converters)."""
    proto_dtype = guess_proto_type(operator.inputs[0].type)
    return (
        proto_dtype
        if proto_dtype == onnx_proto.TensorProto.DOUBLE
        else onnx_proto.TensorProto.FLOAT
    )


register_converters()

"""Collection settings for the whole checkout (the tests and the package's doctests)."""

import importlib.util

# The doctests of the optional integrations need their extras (``onnx``, ``skops``;
# both are in the ``test`` extra): without them, skip those modules rather than fail
# to collect them.
collect_ignore = [
    path
    for path, needs in (
        ("sklearn_ecprune/onnx.py", "skl2onnx"),
        ("sklearn_ecprune/skops.py", "skops"),
    )
    if importlib.util.find_spec(needs) is None
]

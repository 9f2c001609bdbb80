"""Settings and data fixtures shared by every test file.

The data fixtures are module-scoped, as the copies they replace were: the tests of a
module share the arrays (and must not change them), no two modules do.
"""

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits, load_iris
from sklearn.preprocessing import StandardScaler

# The networks under test are tiny: one thread avoids oversubscribing the cores
# (much faster on a loaded 2-core machine) and keeps timings stable.
torch.set_num_threads(1)


@pytest.fixture(scope="module")
def iris():
    """Iris with standardized features (float64) and integer labels."""
    X, y = load_iris(return_X_y=True)
    return StandardScaler().fit_transform(X), y


@pytest.fixture(scope="module")
def iris_raw():
    """Iris as scikit-learn loads it: unscaled features, integer labels."""
    return load_iris(return_X_y=True)


@pytest.fixture(scope="module")
def digits():
    """Digits with standardized float32 features: 1797 rows of 64 pixels, 10 classes."""
    X, y = load_digits(return_X_y=True)
    return StandardScaler().fit_transform(X).astype(np.float32), y

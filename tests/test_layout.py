"""The package's layout: a pure-torch engine, lazy imports, one public namespace."""

import subprocess
import sys
import textwrap

import pytest

import sklearn_ecprune
import sklearn_ecprune.engine


def run_python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=120
    )


def test_the_engine_prunes_without_scikit_learn_or_skorch():
    result = run_python(
        """
        import sys

        class Unimportable:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in ("sklearn", "skorch"):
                    raise ImportError(f"{name} is made unimportable for this test")

        sys.meta_path.insert(0, Unimportable())
        import torch
        from sklearn_ecprune.engine import prune_mlp, prune_neurons, to_sparse_module

        torch.manual_seed(0)
        net = torch.nn.Sequential(torch.nn.Linear(6, 16), torch.nn.ReLU(), torch.nn.Linear(16, 2))
        X = torch.randn(64, 6)
        print("sparsity", prune_mlp(net, X, 0.75).sparsity)
        print(type(to_sparse_module(net, min_sparsity=0.5)[0]).__name__)
        prune_neurons(net, X, 0.5)
        print("hidden", net[0].out_features)
        """
    )
    assert result.returncode == 0, result.stderr
    assert "sparsity 0.75" in result.stdout
    assert "SparseLinear" in result.stdout
    assert "hidden 8" in result.stdout


def test_importing_the_package_loads_nothing_heavy():
    result = run_python(
        """
        import sys
        import sklearn_ecprune, sklearn_ecprune.engine, sklearn_ecprune.cli
        print([m for m in ("torch", "sklearn", "skorch", "pandas") if m in sys.modules])
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


@pytest.mark.parametrize("package", [sklearn_ecprune, sklearn_ecprune.engine])
def test_every_public_name_is_importable_and_listed(package):
    for name in package.__all__:
        assert getattr(package, name) is not None
    assert set(package.__all__) <= set(dir(package))
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        package.nope  # noqa: B018


def test_the_top_level_names_are_the_subpackages_objects():
    from sklearn_ecprune.engine import prune_mlp
    from sklearn_ecprune.estimators import ECPrunedMLPClassifier

    assert sklearn_ecprune.prune_mlp is prune_mlp
    assert sklearn_ecprune.ECPrunedMLPClassifier is ECPrunedMLPClassifier

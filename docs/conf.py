"""Sphinx configuration of the sklearn-ecprune documentation.

Build with (warnings are errors)::

    python -m sphinx -W --keep-going -b html docs docs/_build/html

Some pages depend on what exists when the docs are built, so this file writes a few
small include files into ``docs/generated/`` (next to the autosummary stubs) before
Sphinx reads any page:

* ``generated/_api_list.inc``: the API tables, from ``sklearn_ecprune.__all__``,
  ``sklearn_ecprune.datasets.__all__`` and ``sklearn_ecprune.sweep.__all__`` (new public
  names appear automatically);
* ``generated/_api_scan.rst``: the same tables for autosummary's stub generator
  (which does not follow ``.. include::``);
* ``generated/_methods_table.inc``: the table of :data:`PRUNING_METHODS`;
* ``generated/_benchmarks.inc``: the benchmark tables (``benchmarks/*.md``) and
  figures (``benchmarks/*.png``) that exist, or a note when there are none; results
  written by an earlier version of a benchmark script (see ``_CURRENT_RESULTS``) are
  replaced by a "rerun pending" note.

Environment variables
---------------------
ECPRUNE_DOCS_SKIP_ESTIMATORS
    If set to a non-empty value other than ``0``, the gallery examples that need the
    scikit-learn estimators are not built (for local builds while they are missing).
    Never set it in CI.
ECPRUNE_DOCS_NO_GALLERY
    If set, the gallery examples are collected but not run (quick local builds).
ECPRUNE_DOCS_TORCH_THREADS
    PyTorch threads used while running the gallery examples (default 1).
"""

from __future__ import annotations

import inspect
import os
import re
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(ROOT))

import sklearn_ecprune  # noqa: E402

# -- Project -----------------------------------------------------------------

project = "sklearn-ecprune"
author = "sklearn-ecprune developers"
copyright = "2026, sklearn-ecprune developers"
release = sklearn_ecprune.__version__
version = ".".join(release.split(".")[:2])

# -- General -----------------------------------------------------------------

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "myst_parser",
    "sphinx_gallery.gen_gallery",
]

templates_path = ["_templates"]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = [
    "_build",
    "Thumbs.db",
    ".DS_Store",
    # Include files written below; they are not pages of their own.
    "generated/_*",
    # Markdown tables written by the benchmark scripts; included by benchmarks/index.
    "benchmarks/*.md",
    # Sources of the gallery (sphinx-gallery renders them into auto_examples/).
    "examples",
]

# The docs are built without network access: no intersphinx.
default_role = "literal"

# -- autodoc / autosummary / numpydoc -----------------------------------------

GENERATED = "generated"
(DOCS / GENERATED).mkdir(exist_ok=True)

# autosummary does not follow ``.. include::``: it scans the generated copy of the
# API tables instead (see _write_api_files).
autosummary_generate = [f"{GENERATED}/_api_scan.rst"]
autosummary_generate_overwrite = True
autosummary_imported_members = True
autodoc_default_options = {"member-order": "bysource"}
autodoc_typehints = "none"  # the numpydoc "Parameters" sections carry the types

# Members documented on a class page: its own, and those it inherits from this
# package's private mixins, but not the many it inherits from skorch, scikit-learn,
# PyTorch or Python (autodoc stops at the first base named here).
_EXTERNAL_BASES = [
    "NeuralNetClassifier",
    "NeuralNetRegressor",
    "NeuralNet",
    "ClassifierMixin",
    "RegressorMixin",
    "MetaEstimatorMixin",
    "BaseEstimator",
    "Callback",
    "Sequential",
    "Module",
    "tuple",
    "dict",
    "object",
]
autodoc_default_options["inherited-members"] = ",".join(_EXTERNAL_BASES)

# skorch hooks overridden by the estimators, and scikit-learn's metadata-routing
# setters (generated per class; their docstrings point into scikit-learn's docs).
_SKIPPED_MEMBERS = re.compile(r"^(initialize\w*|get_iterator|set_\w+_request|get_metadata_routing)$")


def _skip_member(app, what, name, obj, skip, options):
    if what == "class" and _SKIPPED_MEMBERS.match(name):
        return True
    # Fields of a NamedTuple are listed in its Attributes section already.
    if (getattr(obj, "__doc__", None) or "").startswith("Alias for field number"):
        return True
    return None


def setup(app):
    app.connect("autodoc-skip-member", _skip_member)


numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
numpydoc_validation_checks: set[str] = set()

# -- MyST ------------------------------------------------------------------------

myst_enable_extensions = ["dollarmath"]
myst_heading_anchors = 3

# -- HTML ------------------------------------------------------------------------

html_theme = "alabaster"
html_title = f"sklearn-ecprune {release}"
html_static_path: list[str] = []
html_theme_options = {
    "description": "Elimination-compensation pruning for scikit-learn neural networks",
    "fixed_sidebar": True,
    "page_width": "1100px",
    "sidebar_width": "240px",
}
html_sidebars = {"**": ["about.html", "navigation.html", "relations.html", "searchbox.html"]}

# -- sphinx-gallery ----------------------------------------------------------------

# The examples run inside this process. On small shared CI machines PyTorch's default
# intra-op thread pool can be many times slower than one thread for these tiny networks
# (threads spin while waiting for cores), so the gallery runs single-threaded unless
# ECPRUNE_DOCS_TORCH_THREADS says otherwise.
import torch  # noqa: E402

torch.set_num_threads(int(os.environ.get("ECPRUNE_DOCS_TORCH_THREADS", "1")))


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "") not in ("", "0")


# Examples that need ECPrunedMLPClassifier / ECPrunedMLPRegressor.
ESTIMATOR_EXAMPLES = [
    "plot_mlp_dropin",
    "plot_tabular_gridsearch",
    "plot_fit_history",
    "plot_optuna_search",
]

_ignore = [r"__init__\.py"]
suppress_warnings: list[str] = []
if _env_flag("ECPRUNE_DOCS_SKIP_ESTIMATORS"):
    _ignore += [rf"{name}\.py" for name in ESTIMATOR_EXAMPLES]
    # The pages link to the skipped examples.
    suppress_warnings.append("ref.ref")

sphinx_gallery_conf = {
    "examples_dirs": "examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "ignore_pattern": "|".join(_ignore),
    "plot_gallery": "False" if _env_flag("ECPRUNE_DOCS_NO_GALLERY") else "True",
    "download_all_examples": True,
    "remove_config_comments": True,
    "abort_on_example_error": True,
    "only_warn_on_example_error": False,
    "matplotlib_animations": False,
    "image_scrapers": ("matplotlib",),
    "reset_modules": ("matplotlib", "seaborn"),
    "within_subsection_order": "FileNameSortKey",
}

# -- Generated include files ---------------------------------------------------------


def _write_if_changed(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` unless it already holds it (keeps rebuilds incremental)."""
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")


def _first_line(obj) -> str:
    doc = inspect.getdoc(obj) or ""
    return doc.strip().splitlines()[0] if doc.strip() else ""


def _api_groups() -> list[tuple[str, str, list[str]]]:
    """(title, module, names) of every public name, grouped for the API page."""
    from sklearn.base import BaseEstimator
    from skorch.callbacks import Callback
    from torch import nn

    names = [n for n in sklearn_ecprune.__all__ if not n.startswith("_")]
    # PRUNING_METHODS is a dict, documented by hand on the API page.
    names = [n for n in names if n != "PRUNING_METHODS"]
    objs = {n: getattr(sklearn_ecprune, n) for n in names}

    def is_class(name: str, *bases: type) -> bool:
        return inspect.isclass(objs[name]) and issubclass(objs[name], bases)

    estimators = [n for n in names if is_class(n, BaseEstimator)]
    blocks = [n for n in names if is_class(n, Callback, nn.Module) and n not in estimators]
    # Choosing a sparsity: defined next to the estimators (estimators/_selection.py).
    selection = [
        n for n in names if getattr(objs[n], "__module__", "").endswith("estimators._selection")
    ]
    plots = [n for n in names if n.endswith("Display") and n not in selection]
    errors = [n for n in names if is_class(n, Warning, Exception)]
    reports = [
        n
        for n in names
        if n in ("LayerReport", "LayerStatistics", "PruningReport", "PruningResult")
    ]
    methods = [n for n in names if n in ("PruningMethod", "register_method")]
    taken = {*estimators, *blocks, *selection, *plots, *errors, *reports, *methods}
    functions = [n for n in names if inspect.isfunction(objs[n]) and n not in taken]
    other = [n for n in names if n not in {*taken, *functions}]

    groups = [
        ("Estimators", "sklearn_ecprune", estimators),
        ("Choosing a sparsity", "sklearn_ecprune", selection),
        ("Plots", "sklearn_ecprune", plots),
        ("Building blocks of the estimators", "sklearn_ecprune", blocks),
        ("Pruning engine (PyTorch)", "sklearn_ecprune", functions),
        ("Pruning criteria", "sklearn_ecprune", methods),
        ("Results and statistics", "sklearn_ecprune", reports),
        ("Errors and warnings", "sklearn_ecprune", errors),
        ("Other", "sklearn_ecprune", other),
    ]
    # Names of the engine that the top level does not re-export (DEFAULT_METHOD is a
    # string, documented by hand on the API page).
    from sklearn_ecprune import engine

    engine_only = [
        n
        for n in engine.__all__
        if not n.startswith("_") and n not in sklearn_ecprune.__all__ and n != "DEFAULT_METHOD"
    ]
    groups.append(("Only in sklearn_ecprune.engine", "sklearn_ecprune.engine", engine_only))
    try:
        from sklearn_ecprune import datasets
    except ImportError:
        pass
    else:
        ds_names = [n for n in getattr(datasets, "__all__", []) if not n.startswith("_")]
        groups.append(("Datasets", "sklearn_ecprune.datasets", ds_names))
    from sklearn_ecprune import cli, sweep

    groups.append(("Sweeps", "sklearn_ecprune.sweep", list(sweep.__all__)))
    groups.append(("Command line", "sklearn_ecprune.cli", list(cli.__all__)))
    return [(title, module, sorted(group)) for title, module, group in groups if group]


def _api_tables(toctree: str) -> str:
    lines: list[str] = []
    for title, module, names in _api_groups():
        lines += [title, "-" * len(title), "", f".. currentmodule:: {module}", ""]
        lines += [".. autosummary::", f"   :toctree: {toctree}", ""]
        lines += [f"   {name}" for name in names]
        lines.append("")
    return "\n".join(lines)


def _write_api_files() -> None:
    # Included from api.rst (a page at the top level): stubs live in generated/.
    _write_if_changed(DOCS / GENERATED / "_api_list.inc", _api_tables(GENERATED))
    # Scanned by autosummary's generator, which resolves :toctree: relative to this
    # file's folder (generated/): "." is the same folder.
    header = ":orphan:\n\n.. This file is generated by docs/conf.py; do not edit.\n\n"
    _write_if_changed(DOCS / GENERATED / "_api_scan.rst", header + _api_tables("."))


def _compensation(cls) -> str:
    compensator = cls.compensator
    label = f"``{type(compensator).__name__}``: {_first_line(type(compensator))}"
    if not compensator.optional:
        return f"yes, always: {label}"
    return f"yes: {label}" if cls.compensates else "no (``compensate=True``: the bias shift)"


def _needs(cls) -> str:
    parts = (cls, cls.compensator) if cls.compensates else (cls,)
    needs = []
    if any(getattr(part, "needs_statistics", False) for part in parts):
        needs.append("S0, S1, S2")
    if getattr(cls, "needs_inputs", False):
        needs.append("mean squared inputs")
    if getattr(cls, "needs_loss_gradient", False):
        needs.append("labelled data (``y``)")
    if any(getattr(part, "needs_sensitivities", False) for part in parts):
        needs.append("per-sample sensitivities")
    if getattr(cls.compensator, "needs_reference", False) and cls.compensates:
        needs.append("the reference pre-activations")
    return ", ".join(needs) or "the weights only"


def _methods_table() -> str:
    from sklearn_ecprune.engine import DEFAULT_METHOD

    rows = [("Name", "Class", "Criterion", "Needs", "Compensation by default")]
    for name, cls in sklearn_ecprune.PRUNING_METHODS.items():
        label = f"``{name!r}``".replace("'", '"')
        if name == DEFAULT_METHOD:
            label += " (default)"
        row = (label, f"``{cls.__name__}``", _first_line(cls), _needs(cls), _compensation(cls))
        rows.append(row)
    out = [".. list-table::", "   :header-rows: 1", "   :widths: 12 18 40 15 15", ""]
    for row in rows:
        out.append(f"   * - {row[0]}")
        out += [f"     - {cell}" for cell in row[1:]]
    return "\n".join(out) + "\n"


# Results in the format of the current benchmark scripts carry these markers; results
# written by an earlier version of a script (other configurations, other defaults) are
# not shown, so that the pages never quote numbers the current code did not produce.
# bench_quality.py fits the estimators since the estimators became the benchmark's
# subject, and says so in its setup line.
_CURRENT_RESULTS = {"quality": "ECPrunedMLP"}


def _is_current(table: Path) -> bool:
    marker = _CURRENT_RESULTS.get(table.stem)
    return marker is None or marker in table.read_text(encoding="utf-8")


def _benchmarks_include() -> str:
    """Include directives for the benchmark results that exist right now."""
    bench = DOCS / "benchmarks"
    found = sorted(bench.glob("*.md")) if bench.is_dir() else []
    images = sorted(bench.glob("*.png")) if bench.is_dir() else []
    stale = [table for table in found if not _is_current(table)]
    tables = [table for table in found if table not in stale]
    # quality.md first, then the others alphabetically.
    tables.sort(key=lambda p: (p.stem != "quality", p.name))
    # Figures of stale results (same stem) are not shown either.
    images = [
        image
        for image in images
        if not any(image.stem == t.stem or image.stem.startswith(t.stem + "_") for t in stale)
    ]
    out: list[str] = []
    if stale:
        names = ", ".join(f"``{table.name}``" for table in stale)
        out += [
            ".. note::",
            "",
            f"   Rerun pending: the committed {names} (and the figures and CSV file",
            "   beside it) were written by an earlier version of the benchmark script and",
            "   are not shown here. Running the script (see above) replaces them.",
            "",
        ]
    if not tables and not images:
        if not stale:
            out += [
                ".. note::",
                "",
                "   No benchmark results were found when these pages were built. Run the",
                "   scripts of ``benchmarks/`` (see above) to write",
                "   ``docs/benchmarks/quality.md`` and its figures, then rebuild the",
                "   documentation.",
                "",
            ]
        return "\n".join(out) + "\n"
    shown: set[Path] = set()
    for table in tables:
        text = table.read_text(encoding="utf-8")
        # A section title of our own, unless the Markdown file starts with one.
        first = next((line for line in text.splitlines() if line.strip()), "")
        if not first.startswith("#"):
            title = table.stem.replace("_", " ").capitalize()
            out += [title, "~" * len(title), ""]
        # Figures the table embeds itself (``![...](name.png)``) are shown by it.
        shown.update(
            image
            for image in images
            if re.search(r"!\[[^\]]*\]\(" + re.escape(image.name) + r"\)", text)
        )
        # The figures it links to (a plain link only offers a download) are shown here,
        # before the table, whose headings would otherwise swallow them; a table that
        # links to none gets the figures named after it.
        linked = [image for image in images if f"]({image.name})" in text]
        if not linked:
            linked = [
                image
                for image in images
                if image.stem == table.stem or image.stem.startswith(table.stem + "_")
            ]
        for image in linked:
            if image not in shown:
                out += _image(image)
                shown.add(image)
        out += [f".. include:: /benchmarks/{table.name}", "   :parser: myst_parser.sphinx_", ""]
    rest = [
        image
        for image in images
        if image not in shown
        and not any(image.stem.startswith(table.stem + "_") for table in tables)
    ]
    if rest:
        out += ["Figures", "~~~~~~~", ""]
        for image in rest:
            out += _image(image)
    return "\n".join(out) + "\n"


def _image(path: Path) -> list[str]:
    caption = path.stem.replace("_", " ")
    return [
        f".. figure:: /benchmarks/{path.name}",
        "   :width: 100%",
        f"   :alt: {caption}",
        "",
        f"   ``{path.name}``",
        "",
    ]


_write_api_files()
_write_if_changed(DOCS / GENERATED / "_methods_table.inc", _methods_table())
_write_if_changed(DOCS / GENERATED / "_benchmarks.inc", _benchmarks_include())

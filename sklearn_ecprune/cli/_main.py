"""The ``ecprune`` command: its parser, argument checks and entry point.

Nothing here imports torch: ``ecprune --help`` and argument errors answer at once;
the commands themselves (``_commands``) load the estimators when they run.
"""

from __future__ import annotations

import argparse
import math
import numbers
import sys
import textwrap
from collections.abc import Sequence
from typing import Any

from .. import __version__
from ..datasets import DATASET_NAMES
from ..engine._validation import (
    POSITIVE_INT,
    SEED,
    SPARSITY,
    Interval,
    InvalidParameterError,
    check_param,
)
from ..estimators._constraints import HIDDEN_LAYER_SIZES, NON_NEGATIVE_INT
from ..sweep import SWEEP_CONFIGURATIONS
from ._options import (
    DEMO_METHODS,
    HIDDEN,
    MAX_EPOCHS,
    PROG,
    SPARSITIES,
    SWEEP_METHODS,
    TEST_SIZE,
    CommandError,
)

_TEST_SIZE = [Interval(numbers.Real, 0, 1, closed="neither")]

__all__ = ["CommandError", "build_parser", "main"]


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        # One line, like every other error of the command (argparse prints two).
        self.exit(2, f"{PROG}: error: {message} (see '{self.prog} --help')\n")


class _Formatter(argparse.RawDescriptionHelpFormatter):
    def __init__(self, prog: str) -> None:
        super().__init__(prog, max_help_position=32)


# --- Checks: the package's parameter constraints, with the option's name ------------


def check_option(option: str, name: str, value: Any, constraints: Sequence[Any]) -> Any:
    """``value`` if the constraints of parameter ``name`` accept it, else CommandError."""
    try:
        return check_param(name, value, constraints)
    except InvalidParameterError as exc:
        raise CommandError(f"argument {option}: {exc.brief()}") from None


def check_arguments(args: argparse.Namespace) -> None:
    """Check every option against the constraint of the parameter it sets."""
    unknown = [m for m in args.methods if m != "all" and m not in SWEEP_CONFIGURATIONS]
    if unknown:
        raise CommandError(
            f"argument --methods: unknown method{'s' if len(unknown) > 1 else ''} "
            f"{', '.join(repr(n) for n in unknown)}; valid methods: all, "
            f"{', '.join(SWEEP_CONFIGURATIONS)}"
        )
    for s in args.sparsities:
        check_option("--sparsities", "sparsity", s, SPARSITY)
    check_option("--hidden", "hidden_layer_sizes", tuple(args.hidden), HIDDEN_LAYER_SIZES)
    check_option("--max-epochs", "max_epochs", args.max_epochs, POSITIVE_INT)
    check_option("--threads", "threads", args.threads, POSITIVE_INT)
    if args.command == "demo":
        check_option("--seed", "random_state", args.seed, SEED)
        return
    check_option("--seeds", "seeds", args.seeds, POSITIVE_INT)
    check_option("--fine-tune-epochs", "fine_tune_epochs", args.fine_tune_epochs, NON_NEGATIVE_INT)
    check_option("--test-size", "test_size", args.test_size, _TEST_SIZE)
    check_option("--random-state", "random_state", args.random_state, SEED)
    if args.n_jobs == 0:
        raise CommandError(
            "argument --n-jobs: a number of processes >= 1, or -1 for one per CPU "
            "(-2 for all but one, ...), got 0"
        )
    for noise in args.noise or ():
        if not (math.isfinite(noise) and noise >= 0):
            raise CommandError(f"argument --noise: levels must be finite and >= 0, got {noise:g}")


# --- Parser -----------------------------------------------------------------------


def _methods_help() -> str:
    width = max(len(name) for name in SWEEP_CONFIGURATIONS)
    lines = []
    for name, config in SWEEP_CONFIGURATIONS.items():
        settings = ", ".join(f"{k}={v}" for k, v in config.params.items())
        what = config.description + (f" ({settings})" if settings else "")
        lines.append(f"  {name:<{width}}  {config.kind:<8}  {what}")
    return "\n".join(lines)


def _spaced(values: Sequence[Any]) -> str:
    return " ".join(f"{v:g}" if isinstance(v, float) else str(v) for v in values)


def _wrap(text: str) -> str:
    # The raw formatter keeps the epilog's lists; paragraphs are wrapped here.
    return textwrap.fill(text, width=88)


def _add_values(
    parser: argparse.ArgumentParser,
    option: str,
    kind: type,
    default: Sequence[Any],
    metavar: str,
    what: str,
) -> None:
    """An option that takes one or more values, with its defaults in its help."""
    parser.add_argument(
        option,
        nargs="+",
        type=kind,
        default=list(default),
        metavar=metavar,
        help=f"{what} (default: {_spaced(default)})",
    )


def _add_common(parser: argparse.ArgumentParser, *, methods: Sequence[str]) -> None:
    _add_values(parser, "--methods", str, methods, "M", "configurations to compare, or 'all'")
    _add_values(
        parser, "--sparsities", float, SPARSITIES, "S", "fractions of the weights to remove"
    )
    _add_values(parser, "--hidden", int, HIDDEN, "H", "hidden layer widths of the MLP")
    parser.add_argument(
        "--max-epochs",
        type=int,
        default=MAX_EPOCHS,
        metavar="N",
        help="upper bound on the dense training epochs; early stopping usually "
        "ends training sooner (default: %(default)s)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        metavar="N",
        help="CPU threads for PyTorch; small networks run fastest on one (default: 1)",
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar on stderr")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``ecprune`` (used by :func:`main` and the docs).

    Examples
    --------
    >>> from sklearn_ecprune.cli import build_parser
    >>> args = build_parser().parse_args(["sweep", "--data", "wine", "--seeds", "2"])
    >>> args.command, args.data, args.seeds
    ('sweep', 'wine', 2)
    """
    parser = _Parser(
        prog=PROG,
        formatter_class=_Formatter,
        description=_wrap(
            "Compare elimination-compensation pruning (ECP) of MLPs with other "
            "pruning methods through the scikit-learn estimators: train one dense "
            "network per seed, prune it to several sparsities with each configuration, "
            "and report the test loss and score."
        ),
        epilog=f"Run '{PROG} COMMAND --help' for the options of a command.\n\n"
        f"Examples:\n  {PROG} demo\n  {PROG} sweep --data wine --methods default ecp magnitude\n"
        f"  {PROG} sweep --data diffusion-sorption --seeds 3\n"
        f"  {PROG} sweep --data measurements.csv --target yield",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")

    demo = commands.add_parser(
        "demo",
        formatter_class=_Formatter,
        help="comparison on the digits data in well under a minute (no arguments needed)",
        description=_wrap(
            "Fit ECPrunedMLPClassifier on scikit-learn's digits (8x8 images, 10 "
            "classes; 75/25 stratified split) at each sparsity with each configuration "
            "(all prune the same dense network, without fine-tuning), print the test "
            "log-loss and accuracy, and save a plot of both against sparsity."
        ),
        epilog=f"Methods:\n{_methods_help()}\n\nExample:\n  {PROG} demo --out demo.png",
    )
    demo.add_argument(
        "--out",
        default="ecprune-demo.png",
        metavar="PNG",
        help="where to save the plot (default: %(default)s)",
    )
    demo.add_argument(
        "--seed", type=int, default=0, help="seed of the split and the network (default: 0)"
    )
    _add_common(demo, methods=DEMO_METHODS)

    sweep = commands.add_parser(
        "sweep",
        formatter_class=_Formatter,
        help="compare methods on a named dataset or your CSV file; write results to a folder",
        description=_wrap(
            "Fit the estimator on a dataset at each sparsity with each configuration "
            "(one dense network per seed, shared by all configurations), optionally "
            "with masked fine-tuning, and write results.csv (one row per fit), "
            "results.md (markdown tables) and loss_vs_sparsity.png (test loss and "
            "score against sparsity, one panel per noise level; "
            "loss_vs_sparsity_fine_tuned.png too with --fine-tune-epochs) to the "
            "output folder."
        ),
        epilog=f"Methods:\n{_methods_help()}\n\n"
        + _wrap(
            "CSV files: the target is the last column unless --target says otherwise. It "
            "is a classification target if it is text, boolean or integer-valued with few "
            "distinct values, else a regression target (force with --task). Numeric "
            "features get median imputation and scaling, the others most-frequent "
            "imputation and one-hot encoding; rows without a target are dropped."
        )
        + "\n\n"
        f"Examples:\n  {PROG} sweep --data wine --methods default ecp magnitude --seeds 3\n"
        f"  {PROG} sweep --data diffusion-sorption --noise 0 0.1 --fine-tune-epochs 5\n"
        f"  {PROG} sweep --data diamonds --seeds 3 --n-jobs 4\n"
        f"  {PROG} sweep --data measurements.csv --target yield --out results",
    )
    sweep.add_argument(
        "--data",
        required=True,
        metavar="NAME_OR_CSV",
        help=f"a dataset name ({', '.join(DATASET_NAMES)}) or the path of a CSV file",
    )
    sweep.add_argument(
        "--target", metavar="COLUMN", help="CSV only: the column to predict (default: the last)"
    )
    sweep.add_argument(
        "--task",
        choices=("auto", "classification", "regression"),
        default="auto",
        help="CSV only: the kind of target (default: auto, inferred from the target)",
    )
    _add_common(sweep, methods=SWEEP_METHODS)
    sweep.add_argument(
        "--fine-tune-epochs",
        type=int,
        default=0,
        metavar="N",
        help="also fit with N epochs of masked fine-tuning; 0 measures the pruning alone "
        "(default: 0)",
    )
    sweep.add_argument(
        "--seeds",
        type=int,
        default=3,
        metavar="N",
        help="number of dense networks (seeds 0..N-1) to average over (default: 3)",
    )
    sweep.add_argument(
        "--noise",
        nargs="+",
        type=float,
        metavar="X",
        help="noise levels of the synthetic datasets, one panel each: relative to the "
        "target's std for diffusion-sorption (default: 0 0.05 0.1), absolute for "
        "friedman (default: 1)",
    )
    sweep.add_argument(
        "--test-size",
        type=float,
        default=TEST_SIZE,
        metavar="F",
        help="share of the rows held out for testing (default: %(default)s)",
    )
    sweep.add_argument(
        "--random-state",
        type=int,
        default=0,
        metavar="N",
        help="seed of the train/test split and of the synthetic data (default: 0)",
    )
    sweep.add_argument(
        "--n-jobs",
        type=int,
        default=1,
        metavar="N",
        help="fits to run at once, each in a joblib worker process with --threads "
        "PyTorch threads; -1: one per CPU. The results are those of N=1 (default: 1)",
    )
    sweep.add_argument(
        "--out", metavar="DIR", help="output folder (default: ecprune-sweep-<data name>)"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``ecprune`` command line.

    Parameters
    ----------
    argv : sequence of str, default=None
        The arguments without the program name; ``None`` reads ``sys.argv[1:]``.

    Returns
    -------
    status : int
        The exit code: 0 on success, 2 for a usage or data error (reported as one
        ``ecprune: error: ...`` line on stderr), 130 when interrupted.

    Examples
    --------
    >>> from sklearn_ecprune.cli import main
    >>> main(["--version"])  # doctest: +SKIP
    ecprune 0.2.0
    0
    >>> main(["demo", "--sparsities", "0.5", "0.9", "--out", "demo.png"])  # doctest: +SKIP
    0
    """
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version and usage errors
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    args.argv = argv
    try:
        check_arguments(args)
        from ._commands import DataError, run_command  # loads torch and the estimators

        try:
            return run_command(args)
        except DataError as exc:
            raise CommandError(str(exc)) from None
    except CommandError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130

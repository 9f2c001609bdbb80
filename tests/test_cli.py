"""The ``ecprune`` command line: help, demo, sweeps on named data and CSV files, errors.

Everything runs with tiny networks and few epochs (``--hidden 8 --max-epochs 5``), so
the whole file takes seconds.
"""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from sklearn_ecprune.cli import main
from sklearn_ecprune.cli._csv import load_csv
from sklearn_ecprune.cli._options import DEFAULT_NOISE, DEMO_METHODS

pd = pytest.importorskip("pandas")

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
FAST = ["--hidden", "8", "--max-epochs", "5", "-q"]


def assert_png(path):
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC
    assert len(data) > 10_000  # axes, lines and legend, not an empty canvas
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def assert_one_line_error(code, err, *fragments):
    assert code == 2
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("ecprune: error: ")
    for fragment in fragments:
        assert fragment in lines[0]


@pytest.fixture(autouse=True)
def in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # default output paths land in the test's folder


@pytest.fixture
def mixed_csv(tmp_path):
    """A user's table: numeric, text and boolean columns, gaps, a text target."""
    rng = np.random.default_rng(0)
    n = 200
    frame = pd.DataFrame(
        {
            "age": rng.normal(40, 10, n),
            "city": rng.choice(["paris", "rome", "oslo"], n),
            "member": rng.choice([True, False], n),
            "score": rng.integers(0, 100, n).astype(float),
        }
    )
    frame.loc[rng.choice(n, 15, replace=False), "age"] = np.nan
    frame.loc[rng.choice(n, 10, replace=False), "city"] = np.nan
    frame["label"] = np.where(frame["city"].eq("paris") | (frame["score"] > 70), "yes", "no")
    frame["price"] = 2.0 * frame["score"] + rng.normal(0, 5, n)
    frame.loc[[3, 7], "label"] = np.nan
    path = tmp_path / "table.csv"
    frame.to_csv(path, index=False)
    return path


# --- help ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--help"], ["demo", "sweep", "Examples"]),
        (["demo", "--help"], ["--out", "--methods", "ecprune-demo.png"]),
        (
            ["sweep", "--help"],
            ["--data", "--target", "--noise", "diffusion-sorption", "default", "--n-jobs"],
        ),
    ],
)
def test_help(capsys, argv, expected):
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: ecprune")
    for word in expected:
        assert word in out


def test_python_m_help():
    result = subprocess.run(
        [sys.executable, "-m", "sklearn_ecprune", "--help"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: ecprune")


@pytest.mark.parametrize(
    "argv",
    [["--help"], ["sweep", "--help"], ["demo", "--sparsities", "2"], ["sweep", "--bogus"]],
)
def test_help_and_argument_errors_do_not_load_torch(argv):
    code = (
        "import sys\n"
        "from sklearn_ecprune.cli import main\n"
        f"status = main({argv!r})\n"
        "loaded = [m for m in ('torch', 'sklearn', 'skorch', 'pandas') if m in sys.modules]\n"
        "print('LOADED', loaded)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    )
    assert "LOADED []" in result.stdout, result.stdout + result.stderr


def test_hidden_and_max_epochs_default_to_the_estimators_defaults():
    from sklearn_ecprune import ECPrunedMLPClassifier, ECPrunedMLPRegressor
    from sklearn_ecprune.cli import build_parser

    for command in (["demo"], ["sweep", "--data", "wine"]):
        args = build_parser().parse_args(command)
        for estimator in (ECPrunedMLPClassifier(), ECPrunedMLPRegressor()):
            assert tuple(args.hidden) == estimator.hidden_layer_sizes
            assert args.max_epochs == estimator.max_epochs


def test_no_command_prints_help_and_fails(capsys):
    assert main([]) == 2
    assert "usage: ecprune" in capsys.readouterr().err


# --- demo ----------------------------------------------------------------------------


def test_demo_compares_the_default_with_the_baselines(capsys):
    assert main(["demo", "--sparsities", "0.9", *FAST]) == 0
    text = capsys.readouterr().out
    assert_png(Path("ecprune-demo.png"))  # the default output, in the current folder
    rows = [line.split("|")[1].strip() for line in text.splitlines() if line.startswith("| ")]
    for method in DEMO_METHODS:
        assert rows.count(method) == 2  # in the loss and in the accuracy table
    assert "default" in DEMO_METHODS and "ecp" in DEMO_METHODS


def test_demo_prints_table_and_saves_png(tmp_path, capsys):
    out = tmp_path / "plots" / "demo.png"
    argv = ["demo", "--out", str(out), "--methods", "ecp", "magnitude", "--sparsities", "0.5"]
    assert main([*argv, "0.9", *FAST]) == 0
    text = capsys.readouterr().out
    assert_png(out)
    assert f"saved the plot of test loss and accuracy against sparsity to {out}" in text
    assert "dense network: test log-loss" in text
    header = next(line for line in text.splitlines() if line.startswith("| method"))
    assert [cell.strip() for cell in header.strip("|").split("|")] == [
        "method / sparsity",
        "0.5",
        "0.9",
    ]
    rows = [line for line in text.splitlines() if line.startswith(("| ecp ", "| magnitude "))]
    assert len(rows) == 4  # two methods, in the loss and the accuracy table
    assert any("%" in row for row in rows)


# --- sweep on named datasets ---------------------------------------------------------


def test_sweep_wine_writes_csv_markdown_and_plot(tmp_path, capsys):
    out = tmp_path / "wine-results"
    methods, sparsities, seeds = ["ecp", "magnitude", "random"], ["0.5", "0.9"], 2
    argv = ["sweep", "--data", "wine", "--methods", *methods, "--sparsities", *sparsities]
    assert main([*argv, "--seeds", str(seeds), "--out", str(out), *FAST]) == 0
    frame = pd.read_csv(out / "results.csv")
    expected = {"dataset", "task", "noise", "seed", "method", "sparsity", "loss", "score"}
    assert expected <= set(frame.columns)
    pruned = frame[frame["method"] != "dense"]
    assert len(pruned) == len(methods) * len(sparsities) * seeds
    assert set(pruned["method"]) == set(methods)
    assert sorted(pruned["sparsity"].unique()) == [0.5, 0.9]
    assert (frame["method"] == "dense").sum() == seeds
    assert (frame["task"] == "classification").all()
    assert set(frame["metric"]) == {"accuracy"}
    markdown = (out / "results.md").read_text()
    assert markdown.startswith("# Pruning sweep: wine")
    assert "| magnitude |" in markdown
    assert_png(out / "loss_vs_sparsity.png")
    assert not (out / "loss_vs_sparsity_fine_tuned.png").exists()
    assert f"wrote {out / 'results.csv'}" in capsys.readouterr().out


def test_sweep_fine_tuning_adds_rows_and_a_plot(tmp_path):
    out = tmp_path / "ft"
    argv = ["sweep", "--data", "breast_cancer", "--methods", "ecp", "--sparsities", "0.8"]
    assert main([*argv, "--seeds", "1", "--fine-tune-epochs", "1", "--out", str(out), *FAST]) == 0
    frame = pd.read_csv(out / "results.csv")
    assert sorted(frame.loc[frame["method"] == "ecp", "fine_tuned"]) == [False, True]
    assert_png(out / "loss_vs_sparsity_fine_tuned.png")


def test_sweep_in_parallel_processes_gives_the_results_of_one_process(tmp_path, capfd):
    argv = ["sweep", "--data", "wine", "--methods", "ecp", "magnitude", "--sparsities", "0.5"]
    argv += ["0.9", "--seeds", "2", "--fine-tune-epochs", "1", *FAST]
    assert main([*argv, "--out", str(tmp_path / "one")]) == 0
    capfd.readouterr()
    assert main([*argv, "--n-jobs", "2", "--out", str(tmp_path / "two")]) == 0
    # The workers' warnings (the 5-epoch dense trainings stop at --max-epochs) are
    # said by the command, not written to the terminal by the workers.
    assert "Warning" not in capfd.readouterr().err
    one = pd.read_csv(tmp_path / "one" / "results.csv").drop(columns="seconds")
    two = pd.read_csv(tmp_path / "two" / "results.csv").drop(columns="seconds")
    assert len(one) == 2 * (1 + 2 * 2 * 2) + 2  # dense rows once per fine-tuning state
    pd.testing.assert_frame_equal(two, one)


def test_sweep_diffusion_sorption_defaults_to_several_noise_levels(tmp_path):
    assert len(DEFAULT_NOISE["diffusion-sorption"]) >= 3
    out = tmp_path / "ds"
    argv = ["sweep", "--data", "diffusion-sorption", "--methods", "magnitude", "ecp"]
    assert main([*argv, "--sparsities", "0.5", "--seeds", "1", "--out", str(out), *FAST]) == 0
    frame = pd.read_csv(out / "results.csv")
    assert sorted(frame["noise"].unique()) == sorted(DEFAULT_NOISE["diffusion-sorption"])
    assert frame["dataset"].nunique() == len(DEFAULT_NOISE["diffusion-sorption"])
    assert (frame["task"] == "regression").all()
    assert_png(out / "loss_vs_sparsity.png")


def test_progress_bars_on_stderr_unless_quiet(tmp_path, capsys):
    argv = ["sweep", "--data", "wine", "--methods", "magnitude", "--sparsities", "0.5"]
    argv += ["--seeds", "1", "--hidden", "8", "--max-epochs", "3"]
    assert main([*argv, "--out", str(tmp_path / "loud")]) == 0
    err = capsys.readouterr().err
    assert "fits" in err and "wine" in err
    assert main([*argv, "--out", str(tmp_path / "quiet"), "-q"]) == 0
    assert capsys.readouterr().err == ""


def test_sweep_default_output_folder(capsys):
    argv = ["sweep", "--data", "friedman", "--noise", "0", "2", "--methods", "magnitude"]
    assert main([*argv, "--sparsities", "0.5", "--seeds", "1", *FAST]) == 0
    capsys.readouterr()
    frame = pd.read_csv("ecprune-sweep-friedman/results.csv")
    assert sorted(frame["noise"].unique()) == [0.0, 2.0]


# --- sweep on CSV files ----------------------------------------------------------------


def test_csv_with_text_target_is_classification(mixed_csv, tmp_path, capsys):
    out = tmp_path / "csv-cls"
    argv = ["sweep", "--data", str(mixed_csv), "--target", "label", "--methods", "ecp"]
    assert main([*argv, "--sparsities", "0.5", "--seeds", "1", "--out", str(out), *FAST]) == 0
    captured = capsys.readouterr()
    assert "classification (inferred" in captured.out
    assert "ecprune: note: dropped 2 rows with a missing 'label'" in captured.err
    frame = pd.read_csv(out / "results.csv")
    assert (frame["task"] == "classification").all()
    assert (frame["dataset"] == "table").all()


def test_csv_last_column_numeric_target_is_regression(mixed_csv, tmp_path, capsys):
    out = tmp_path / "csv-reg"
    argv = ["sweep", "--data", str(mixed_csv), "--methods", "magnitude", "--sparsities", "0.5"]
    assert main([*argv, "--seeds", "1", "--out", str(out), *FAST]) == 0
    assert "predicting 'price', regression" in capsys.readouterr().out
    frame = pd.read_csv(out / "results.csv")
    assert (frame["task"] == "regression").all()
    assert set(frame["metric"]) == {"r2"}


def test_task_can_be_forced(tmp_path, capsys):
    rng = np.random.default_rng(1)
    frame = pd.DataFrame({"x": rng.normal(size=120), "grade": rng.integers(0, 3, size=120)})
    path = tmp_path / "grades.csv"
    frame.to_csv(path, index=False)
    argv = ["sweep", "--data", str(path), "--methods", "ecp", "--sparsities", "0.5", "--seeds"]
    for task, expected in (("auto", "classification"), ("regression", "regression")):
        out = tmp_path / task
        assert main([*argv, "1", "--task", task, "--out", str(out), *FAST]) == 0
        assert (pd.read_csv(out / "results.csv")["task"] == expected).all()
    assert "regression (forced)" in capsys.readouterr().out


def test_csv_preprocessing(mixed_csv):
    data = load_csv(str(mixed_csv), target="label")
    # age, score, price scaled; city one-hot (3); member one-hot (2).
    assert data.X_train.shape[1] == 8
    assert np.isfinite(data.X_train).all() and np.isfinite(data.X_test).all()
    assert len(data.y_train) + len(data.y_test) == 198  # two rows without a target
    assert set(data.y_train) == {"yes", "no"}
    # Stratified: both splits keep the class balance.
    share = [np.mean(part == "yes") for part in (data.y_train, data.y_test)]
    assert abs(share[0] - share[1]) < 0.05


def test_semicolon_separated_csv_is_sniffed(tmp_path):
    path = tmp_path / "semi.csv"
    pd.DataFrame({"a": np.arange(40.0), "b": [0, 1] * 20}).to_csv(path, sep=";", index=False)
    data = load_csv(str(path))
    assert data.target_name == "b" and data.task == "classification"


# --- errors: one line, exit code 2, no traceback ---------------------------------------


def write(tmp_path, name, frame):
    path = tmp_path / name
    frame.to_csv(path, index=False)
    return str(path)


@pytest.mark.parametrize(
    ("case", "fragments"),
    [
        ("missing-file", ["file not found", "nope.csv"]),
        ("unknown-name", ["neither a dataset name", "diffusion-sorption"]),
        ("missing-target", ["'nope' not found", "available columns: 'age', 'city'"]),
        ("one-class", ["single class", "'x'"]),
        ("empty", ["is empty"]),
        ("infinite", ["infinite values", "'a'"]),
        ("text-regression", ["not numeric", "--task classification"]),
        ("no-features", ["no usable feature columns"]),
        ("unknown-method", ["unknown methods 'foo', 'bar'", "valid methods:", "default"]),
        ("bad-sparsity", ["--sparsities: sparsity must be a float in the range [0, 1)"]),
        ("test-size", ["cannot split the rows"]),
        ("negative-seed", ["--random-state: random_state must be", "Got -5"]),
        ("huge-seed", ["--random-state: random_state must be", "4.29497e+09"]),
        ("only-a-target", ["single column ('y')", "at least one feature column"]),
        ("noise-on-real-data", ["--noise applies only"]),
        ("bad-option", ["unrecognized arguments: --bogus"]),
        ("zero-jobs", ["--n-jobs: a number of processes >= 1", "got 0"]),
    ],
)
def test_errors(case, fragments, tmp_path, mixed_csv, capsys):
    data = {
        "missing-file": "nope.csv",
        "unknown-name": "mnist",
        "missing-target": str(mixed_csv),
        "one-class": write(tmp_path, "one.csv", pd.DataFrame({"a": range(20), "b": "x"})),
        "empty": write(tmp_path, "empty.csv", pd.DataFrame()),
        "infinite": write(tmp_path, "inf.csv", pd.DataFrame({"a": [1.0, np.inf] * 10, "b": 1.5})),
        "text-regression": str(mixed_csv),
        "no-features": write(tmp_path, "nof.csv", pd.DataFrame({"e": np.nan, "y": range(20)})),
        "only-a-target": write(tmp_path, "y.csv", pd.DataFrame({"y": range(20)})),
    }.get(case, "wine")
    argv = ["sweep", "--data", data, "--methods", "ecp", "--sparsities", "0.5", *FAST]
    extra = {
        "missing-target": ["--target", "nope"],
        "text-regression": ["--target", "label", "--task", "regression"],
        "unknown-method": ["--methods", "ecp", "foo", "bar"],
        "bad-sparsity": ["--sparsities", "1.5", "0.5"],
        "test-size": ["--test-size", "0.99"],
        "negative-seed": ["--random-state", "-5"],
        "huge-seed": ["--random-state", "99999999999"],
        "noise-on-real-data": ["--noise", "0.1"],
        "bad-option": ["--bogus"],
        "zero-jobs": ["--n-jobs", "0"],
    }.get(case, [])
    code = main([*argv, *extra])
    assert_one_line_error(code, capsys.readouterr().err, *fragments)


def test_error_exit_code_from_the_console(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "sklearn_ecprune", "sweep", "--data", str(tmp_path / "x.csv")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert_one_line_error(result.returncode, result.stderr, "file not found")


def test_non_utf8_csv_is_read_as_latin1(tmp_path):
    rng = np.random.default_rng(2)
    frame = pd.DataFrame(
        {"café": rng.normal(size=40), "ville": rng.choice(["Zürich", "Genève"], 40)}
    )
    frame["prix"] = rng.normal(size=40)
    path = tmp_path / "export.csv"
    frame.to_csv(path, index=False, encoding="cp1252")
    data = load_csv(str(path))
    assert data.target_name == "prix" and data.task == "regression"
    assert any("Latin-1" in note for note in data.notes)
    assert "ville_Zürich" in " ".join(data.feature_names)


def test_version(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("ecprune ")


def test_warnings_are_said_once_after_the_progress_bar(tmp_path, capsys):
    # A tiny network pruned to 0.999 empties layers; the run stops at --max-epochs.
    code = main(["demo", "--hidden", "4", "--max-epochs", "2", "--sparsities", "0.999",
                 "--methods", "magnitude", "--out", str(tmp_path / "demo.png")])  # fmt: skip
    assert code == 0
    err = capsys.readouterr().err
    notes = [line for line in err.splitlines() if line.startswith("ecprune: warning: ")]
    assert any("left a layer without weights" in line and "--sparsities" in line for line in notes)
    assert "min_density" not in err and "Warning:" not in err

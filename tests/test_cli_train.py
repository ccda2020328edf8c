"""``chainrule train``: defaults that work, --json, the checkpoint (it loads back and gives the
same accuracy), curves, determinism, and bad arguments (one line, exit 2, nothing trained)."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import needs_matplotlib

import chainrule as cr
from chainrule.cli import main
from chainrule.train import DATASETS, build_model, evaluate, load_data

HAS_MATPLOTLIB = importlib.util.find_spec("matplotlib") is not None


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["train", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, Any]:
    code, out, err = run(capsys, "--json", *argv)
    assert code == 0, err
    assert err == ""  # no progress bar, no notes
    result: dict[str, Any] = json.loads(out)
    return result


@pytest.fixture(autouse=True)
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_help(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--help")
    assert code == 0
    for option in (
        "--dataset",
        "--model",
        "--epochs",
        "--batch-size",
        "--lr",
        "--optimizer",
        "--seed",
        "--checkpoint",
        "--curves",
        "--json",
    ):
        assert option in out
    for choice in (*DATASETS, "mlp", "cnn", "sgd", "adam", "adamw"):
        assert choice in out
    main(["--help"])
    assert "train" in capsys.readouterr().out


def test_default_run_text(capsys: pytest.CaptureFixture[str], in_tmp: Path) -> None:
    """No arguments: the MLP on the digits, 20 epochs, a checkpoint in the current folder."""
    code, out, err = run(capsys)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].startswith("training mlp on scikit-learn's 8×8 digits")
    assert sum(line.startswith("epoch ") for line in lines) == 20
    assert "wrote checkpoint chainrule-digits-mlp.safetensors" in lines
    last = lines[-1]
    assert last.startswith("final test accuracy: ") and last.endswith("after 20 epochs")
    assert float(last.split()[3]) >= 97.0
    assert err == ""  # stderr is not a terminal here: no progress bar
    assert (in_tmp / "chainrule-digits-mlp.safetensors").is_file()


def test_json_and_checkpoint_round_trip(capsys: pytest.CaptureFixture[str], in_tmp: Path) -> None:
    result = run_json(capsys, "--epochs", "4", "--checkpoint", "mine.safetensors")
    assert result["config"] == {
        "dataset": "digits",
        "model": "mlp",
        "epochs": 4,
        "batch_size": 32,
        "lr": 0.01,
        "optimizer": "adam",
        "schedule": "onecycle",
        "weight_decay": None,
        "seed": 0,
    }
    assert [e["epoch"] for e in result["epochs"]] == [1, 2, 3, 4]
    assert set(result["epochs"][0]) == {
        "epoch",
        "train_loss",
        "train_accuracy",
        "test_loss",
        "test_accuracy",
        "lr",
        "seconds",
    }
    assert (
        result["test_accuracy"]
        == result["final"]["test_accuracy"]
        == result["epochs"][-1]["test_accuracy"]
    )
    assert result["final"]["test_size"] == 359
    assert result["checkpoint"] == "mine.safetensors" and result["curves"] is None
    # the checkpoint loads into the same architecture and gives the same accuracy
    model = build_model("digits", "mlp")
    model.load_state_dict(cr.load(in_tmp / "mine.safetensors"))
    _, accuracy, correct = evaluate(model, *load_data("digits").test)
    assert accuracy == result["test_accuracy"]
    assert correct == result["final"]["test_correct"]


def test_cnn_checkpoint_round_trip(capsys: pytest.CaptureFixture[str], in_tmp: Path) -> None:
    result = run_json(capsys, "--model", "cnn", "--epochs", "1", "--batch-size", "64")
    assert result["parameters"] == 19_354
    assert result["checkpoint"] == "chainrule-digits-cnn.safetensors"
    model = build_model("digits", "cnn")
    model.load_state_dict(cr.load(in_tmp / result["checkpoint"]))
    accuracy = evaluate(model, *load_data("digits", images=True).test)[1]
    assert accuracy == result["test_accuracy"] > 0.5


@pytest.mark.parametrize("dataset", ["xor", "moons", "spirals"])
def test_toy_datasets(capsys: pytest.CaptureFixture[str], dataset: str) -> None:
    result = run_json(capsys, "--dataset", dataset, "--no-checkpoint")
    assert result["checkpoint"] is None
    assert result["test_accuracy"] >= 0.97
    assert result["config"]["dataset"] == dataset


def test_same_seed_same_numbers(capsys: pytest.CaptureFixture[str]) -> None:
    def numbers(seed: str) -> list[list[float]]:
        result = run_json(
            capsys,
            "--dataset",
            "moons",
            "--epochs",
            "3",
            "--no-checkpoint",
            "--seed",
            seed,
            "--optimizer",
            "sgd",
        )
        return [
            [e[k] for k in ("train_loss", "test_loss", "test_accuracy", "lr")]
            for e in result["epochs"]
        ]

    assert numbers("5") == numbers("5")
    assert numbers("5") != numbers("6")


def test_options_reach_the_training(capsys: pytest.CaptureFixture[str]) -> None:
    result = run_json(
        capsys,
        "--dataset",
        "xor",
        "--epochs",
        "2",
        "--batch-size",
        "2",
        "--lr",
        "0.2",
        "--optimizer",
        "adamw",
        "--schedule",
        "constant",
        "--weight-decay",
        "0.5",
        "--no-checkpoint",
    )
    assert result["config"]["batch_size"] == 2 and result["config"]["weight_decay"] == 0.5
    assert [e["lr"] for e in result["epochs"]] == [0.2, 0.2]


@pytest.mark.skipif(not HAS_MATPLOTLIB, reason="needs matplotlib")
def test_curves(capsys: pytest.CaptureFixture[str], in_tmp: Path) -> None:
    code, out, err = run(
        capsys, "--dataset", "moons", "--epochs", "3", "--no-checkpoint", "--curves", "curves.png"
    )
    assert code == 0, err
    assert "wrote curves curves.png" in out
    assert (in_tmp / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    result = run_json(
        capsys, "--dataset", "xor", "--epochs", "2", "--no-checkpoint", "--curves", "c.svg"
    )
    assert result["curves"] == "c.svg" and (in_tmp / "c.svg").read_text().count("<svg") == 1


def test_curves_without_matplotlib(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, in_tmp: Path
) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "matplotlib" else real(name, *a),
    )
    code, out, err = run(capsys, "--curves", "c.png")
    assert code == 2 and out == ""
    assert err.startswith("chainrule: error: --curves: the curves need matplotlib")
    assert list(in_tmp.iterdir()) == []  # failed before training: no checkpoint either


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--dataset", "mnist"], "argument --dataset: invalid choice: 'mnist'"),
        (["--model", "resnet"], "argument --model: invalid choice: 'resnet'"),
        (["--optimizer", "lbfgs"], "argument --optimizer: invalid choice: 'lbfgs'"),
        (["--epochs", "0"], "argument --epochs: must be at least 1, got '0'"),
        (["--epochs", "ten"], "argument --epochs: invalid whole number: 'ten'"),
        (["--batch-size", "-3"], "argument --batch-size: must be at least 1"),
        (["--lr", "nan"], "argument --lr: must be a finite number"),
        (["--lr", "0"], "argument --lr: must be > 0"),
        (["--weight-decay", "-1"], "argument --weight-decay: must be >= 0"),
        (["--seed", "-1"], "argument --seed: must be at least 0"),
        (["--model", "cnn", "--dataset", "spirals"], "--model cnn is for the digits images"),
        (["--checkpoint", "nowhere/m.safetensors"], "the directory nowhere does not exist"),
        (["--checkpoint", "m.pt"], "the checkpoint must end in .safetensors or .npz"),
        (["--curves", "c.jpg"], "the curves must end in .png, .svg or .pdf"),
        pytest.param(
            ["--curves", "nowhere/c.png", "--no-checkpoint"],
            "the directory nowhere does not exist",
            marks=needs_matplotlib,  # without it, --curves is refused for that first
        ),
        (["--bogus"], "unrecognized arguments: --bogus"),
    ],
)
def test_bad_arguments(
    capsys: pytest.CaptureFixture[str], in_tmp: Path, argv: list[str], message: str
) -> None:
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == ""
    assert err.startswith("chainrule: error: ") and err.count("\n") == 1, err
    assert message in err
    assert list(in_tmp.iterdir()) == []  # nothing trained, nothing written


def test_bad_argument_from_the_shell(in_tmp: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "chainrule.cli", "train", "--epochs", "-2"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr == (
        "chainrule: error: argument --epochs: must be at least 1, got '-2' "
        "(see 'chainrule train --help')\n"
    )


@pytest.mark.parametrize("extra", [[], ["--optimizer", "sgd"], ["--json"]])
def test_diverging_training_says_so_and_exits_1(
    capsys: pytest.CaptureFixture[str], in_tmp: Path, extra: list[str]
) -> None:
    code, out, err = run(capsys, "--dataset", "xor", "--lr", "1e6", *extra)
    assert code == 1
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("chainrule: error: training diverged at epoch ")
    assert "try a smaller --lr (now 1e+06)" in err
    assert list(in_tmp.iterdir()) == []  # no checkpoint of a broken model
    if "--json" in extra:
        assert out == ""


def test_train_and_gradcheck_need_no_scikit_learn(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from chainrule.datasets import sklearn_digits

    sklearn_digits._load.cache_clear()
    monkeypatch.setitem(sys.modules, "sklearn", None)
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    try:
        code, out, err = run(capsys, "--epochs", "1", "--no-checkpoint")
        assert code == 0 and err == "" and "final test accuracy" in out
        assert main(["gradcheck", "--samples", "2", "--max-elements", "4"]) == 0
        assert "passed" in capsys.readouterr().out
    finally:
        sklearn_digits._load.cache_clear()


# ---- checkpoints on the command line: evaluate, --resume, the summary, file errors ------------
def test_train_prints_the_models_summary_before_the_first_epoch(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = run(capsys, "--dataset", "xor", "--epochs", "1", "--no-checkpoint")
    lines = out.splitlines()
    assert code == 0 and lines[0].startswith("training mlp on XOR")
    assert "Layer (type)" in lines[2] and "Total params: 42" in out
    assert out.index("Total params") < out.index("epoch 1/1")


def test_evaluate_reads_back_what_train_wrote(
    capsys: pytest.CaptureFixture[str], in_tmp: Path
) -> None:
    trained = run_json(capsys, "--dataset", "moons", "--epochs", "2", "--checkpoint", "m.npz")
    assert (in_tmp / "m.optimizer.npz").is_file()
    assert main(["evaluate", "m.npz", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["test_accuracy"] == trained["test_accuracy"]
    assert result["test_correct"] == trained["final"]["test_correct"]
    assert result["epochs_done"] == 2 and result["config"]["dataset"] == "moons"
    assert main(["evaluate", "m.npz"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("m.npz: mlp on two moons") and "trained 2 epochs" in out
    assert f"({trained['final']['test_correct']}/400)" in out


def test_resume_continues_weights_optimizer_and_epoch_count(
    capsys: pytest.CaptureFixture[str], in_tmp: Path
) -> None:
    first = run_json(capsys, "--dataset", "moons", "--epochs", "2", "--checkpoint", "m.safetensors")
    second = run_json(
        capsys, "--resume", "m.safetensors", "--epochs", "3", "--checkpoint", "n.safetensors"
    )
    assert [e["epoch"] for e in second["epochs"]] == [3, 4, 5]
    assert second["config"]["dataset"] == "moons" and second["resumed_from"] == "m.safetensors"
    # the weights carried over: the first resumed epoch starts where the last one ended
    assert second["epochs"][0]["train_loss"] < first["epochs"][0]["train_loss"]
    # Adam's step count carried over: 13 batches an epoch, 2 + 3 epochs
    state = cr.load(in_tmp / "n.optimizer.safetensors")["state"]
    assert float(state[0]["step"]) == 13 * 5
    assert main(["evaluate", "n.safetensors", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["epochs_done"] == 5


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--model", "cnn"], "can't resume with --model cnn"),
        (["--dataset", "xor"], "can't resume with --dataset xor"),
        (["--optimizer", "sgd"], "can't resume with --optimizer sgd"),
    ],
)
def test_resume_refuses_a_checkpoint_of_another_run(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    assert run(capsys, "--dataset", "moons", "--epochs", "1", "--checkpoint", "m.npz")[0] == 0
    code, out, err = run(capsys, "--resume", "m.npz", *argv)
    assert code == 2 and out == "" and err.count("\n") == 1
    assert (
        err.startswith("chainrule: error: m.npz is a checkpoint of the moons mlp")
        and message in err
    )


def test_resume_refuses_weights_of_another_model(
    capsys: pytest.CaptureFixture[str], in_tmp: Path
) -> None:
    from chainrule.train import CONFIG_KEY

    settings = json.dumps({"dataset": "digits", "model": "mlp", "epochs": 1})
    cr.save(build_model("moons").state_dict(), in_tmp / "w.npz", metadata={CONFIG_KEY: settings})
    for argv in (["train", "--resume", "w.npz"], ["evaluate", "w.npz"]):
        assert main(argv) == 2
        captured = capsys.readouterr()
        assert captured.out == "" and captured.err.count("\n") == 1
        assert captured.err.startswith("chainrule: error: w.npz: doesn't fit the digits mlp")


@pytest.mark.parametrize("command", ["evaluate", "resume"])
def test_checkpoint_errors_name_the_path_typed(
    capsys: pytest.CaptureFixture[str], in_tmp: Path, command: str
) -> None:
    (in_tmp / "junk.safetensors").write_bytes(b"not a checkpoint")
    (in_tmp / "folder.safetensors").mkdir()
    cr.save({"w": cr.zeros(2)}, in_tmp / "plain.safetensors")
    cases = {
        "missing.safetensors": "missing.safetensors: no such checkpoint file",
        "junk.safetensors": "junk.safetensors: ",
        "folder.safetensors": "folder.safetensors",
        "plain.safetensors": "plain.safetensors: has no 'chainrule train' settings",
    }
    for path, message in cases.items():
        argv = ["evaluate", path] if command == "evaluate" else ["train", "--resume", path]
        assert main(argv) == 2, path
        captured = capsys.readouterr()
        assert captured.out == "" and captured.err.count("\n") == 1, captured.err
        assert captured.err.startswith(f"chainrule: error: {message}"), captured.err
        assert "Traceback" not in captured.err


def test_an_unwritable_folder_fails_before_training(
    capsys: pytest.CaptureFixture[str], in_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tempfile

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise PermissionError(13, "Permission denied", str(in_tmp / "tmpab12cd"))

    (in_tmp / "out").mkdir()
    monkeypatch.setattr(tempfile, "TemporaryFile", refuse)
    code, out, err = run(capsys, "--dataset", "xor", "--checkpoint", "out/m.safetensors")
    assert code == 2 and out == "" and err.count("\n") == 1
    assert "can't write out/m.safetensors: the folder out is not writable" in err
    assert "tmpab12cd" not in err and list((in_tmp / "out").iterdir()) == []


def test_a_failed_save_names_the_checkpoint_not_a_temporary_file(
    capsys: pytest.CaptureFixture[str], in_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chainrule import serialization

    def fail(obj: Any, f: Any, metadata: Any = None) -> None:
        raise OSError(28, "No space left on device", ".m.safetensors.123.chainrule-partial")

    monkeypatch.setattr(serialization, "save", fail)
    code, out, err = run(
        capsys, "--dataset", "xor", "--epochs", "1", "--checkpoint", "m.safetensors"
    )
    assert code == 2 and err.count("\n") == 1
    assert "can't write m.safetensors" in err and "No space left on device" in err
    assert "partial" not in err

"""Training end to end on the bundled data (issue 3): the digits MLP and CNN reach their
accuracy bars, XOR, moons and spirals are solved, every run repeats exactly under a seed; plus
the pieces of chainrule.train (models, fit, evaluate, History, progress bar, curves)."""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
from typing import Any

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.train import (
    DATASETS,
    DEFAULTS,
    History,
    ProgressBar,
    TrainConfig,
    build_model,
    digits_cnn,
    evaluate,
    fit,
    history_figure,
    load_data,
    mlp_for,
    train,
)

HAS_TORCH = importlib.util.find_spec("torch") is not None
HAS_MATPLOTLIB = importlib.util.find_spec("matplotlib") is not None


@pytest.fixture(scope="module")
def digits_mlp() -> tuple[nn.Module, History]:
    return train(TrainConfig(dataset="digits", model="mlp", seed=0))


def _one_blas_thread() -> Any:
    """The CNN's matrix products are small (inner dimension ≤ 288), so a second BLAS thread
    doesn't speed them up; on a loaded shared machine OpenBLAS's waiting threads did slow
    epochs from 0.3 s to 2-5 s."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(1)


@pytest.fixture(scope="module")
def digits_cnn_run() -> tuple[nn.Module, History]:
    with _one_blas_thread():
        return train(TrainConfig(dataset="digits", model="cnn", seed=0))


def _weights(model: nn.Module) -> dict[str, np.ndarray]:
    return {k: v.numpy().copy() for k, v in model.state_dict().items()}


# ---- the accuracy bars -----------------------------------------------------------------------
def test_digits_mlp_reaches_97_percent(digits_mlp: tuple[nn.Module, History]) -> None:
    model, history = digits_mlp
    assert history.config["epochs"] == 20
    assert history.final.test_accuracy >= 0.97, history.final
    assert history.test_size == 359
    assert history.test_correct == round(history.final.test_accuracy * 359)
    # and the number is the model's: evaluate it afresh
    x, y = load_data("digits").test
    assert evaluate(model, x, y)[1] == history.final.test_accuracy


@pytest.mark.slow
def test_digits_cnn_reaches_98_percent(digits_cnn_run: tuple[nn.Module, History]) -> None:
    model, history = digits_cnn_run
    assert history.parameters < 20_000
    assert history.config["epochs"] == 10
    assert history.final.test_accuracy >= 0.98, history.final
    x, y = load_data("digits", images=True).test
    assert evaluate(model, x, y)[1] == history.final.test_accuracy


@pytest.mark.parametrize(("dataset", "bar"), [("xor", 1.0), ("moons", 0.97), ("spirals", 0.98)])
def test_toy_problems_are_solved(dataset: str, bar: float) -> None:
    _, history = train(TrainConfig(dataset=dataset, seed=0))
    assert history.final.test_accuracy >= bar, (dataset, history.final)
    assert history.final.train_accuracy >= bar


@pytest.mark.parametrize("optimizer", ["sgd", "adamw"])
def test_other_optimizers_solve_moons(optimizer: str) -> None:
    _, history = train(TrainConfig(dataset="moons", optimizer=optimizer, seed=1))
    assert history.final.test_accuracy >= 0.97
    assert history.config["lr"] == (0.1 if optimizer == "sgd" else 0.01)


# ---- determinism -----------------------------------------------------------------------------
def test_same_seed_repeats_exactly(digits_mlp: tuple[nn.Module, History]) -> None:
    model, history = digits_mlp
    again, history_again = train(TrainConfig(dataset="digits", model="mlp", seed=0))
    strip = [
        (r.train_loss, r.train_accuracy, r.test_loss, r.test_accuracy, r.lr) for r in history.epochs
    ]
    assert strip == [
        (r.train_loss, r.train_accuracy, r.test_loss, r.test_accuracy, r.lr)
        for r in history_again.epochs
    ]
    for key, value in _weights(model).items():
        np.testing.assert_array_equal(value, _weights(again)[key], err_msg=key)


def test_replayed_training_equals_eager_training(digits_mlp: tuple[nn.Module, History]) -> None:
    """fit() replays each batch's forward+backward (chainrule.autograd.replay): bit for bit
    the eager run's numbers."""
    model, history = digits_mlp
    data = load_data("digits")
    config = TrainConfig(dataset="digits", model="mlp", seed=0).resolved()
    cr.manual_seed(0)
    eager = build_model("digits", "mlp")
    eager_history = fit(
        eager,
        data.train,
        data.test,
        epochs=config.epochs or 1,
        batch_size=config.batch_size or 1,
        lr=config.lr or 0.0,
        seed=0,
        replay=False,
    )
    assert [r.train_loss for r in eager_history.epochs] == [r.train_loss for r in history.epochs]
    for key, value in _weights(model).items():
        np.testing.assert_array_equal(value, _weights(eager)[key], err_msg=key)


def test_dropout_run_repeats_and_other_seed_differs() -> None:
    """The CNN draws dropout masks from the global generator: seeded, they repeat too."""
    data = load_data("digits", images=True)
    small = (data.train[0][:128], data.train[1][:128])

    def run(seed: int) -> dict[str, np.ndarray]:
        cr.manual_seed(seed)
        model = digits_cnn()
        fit(model, small, data.test, epochs=1, batch_size=32, seed=seed)
        return _weights(model)

    first, second, other = run(3), run(3), run(4)
    for key in first:
        np.testing.assert_array_equal(first[key], second[key], err_msg=key)
    assert not np.array_equal(first["0.weight"], other["0.weight"])


# ---- models ----------------------------------------------------------------------------------
def test_cnn_architecture() -> None:
    model = digits_cnn()
    kinds = [type(m) for m in model]
    for kind in (
        nn.Conv2d,
        nn.BatchNorm2d,
        nn.ReLU,
        nn.Dropout,
        nn.MaxPool2d,
        nn.AdaptiveAvgPool2d,
        nn.Linear,
    ):
        assert kind in kinds, kind
    assert sum(p.numel() for p in model.parameters()) == 19_354
    out = model.eval()(cr.zeros(2, 1, 8, 8))
    assert out.shape == (2, 10)


def test_mlp_for_and_build_model() -> None:
    model = mlp_for(5, 3, hidden=(7, 4))
    assert [tuple(p.shape) for p in model.parameters()] == [
        (7, 5),
        (7,),
        (4, 7),
        (4,),
        (3, 4),
        (3,),
    ]
    for dataset in DATASETS:
        data = load_data(dataset)
        logits = build_model(dataset, "mlp")(data.test[0])
        assert logits.shape == (len(data.test[1]), data.classes)
    with pytest.raises(ValueError, match="the CNN is for the digits"):
        build_model("moons", "cnn")
    with pytest.raises(ValueError, match="unknown dataset 'mnist'"):
        build_model("mnist", "mlp")


def test_data_splits_are_fixed_and_disjoint() -> None:
    moons = load_data("moons")
    assert moons.train[0].shape == (400, 2) and moons.test[0].shape == (400, 2)
    assert not np.allclose(moons.train[0].numpy(), moons.test[0].numpy())
    np.testing.assert_array_equal(
        load_data("spirals").test[0].numpy(), load_data("spirals").test[0].numpy()
    )
    assert load_data("digits", images=True).input_shape == (1, 8, 8)
    assert load_data("digits").input_shape == (64,)
    with pytest.raises(ValueError, match="unknown dataset"):
        load_data("cifar")


def test_defaults_cover_every_dataset() -> None:
    assert {d for d, _ in DEFAULTS} == set(DATASETS)
    resolved = TrainConfig(dataset="spirals", optimizer="sgd", epochs=3).resolved()
    assert (resolved.epochs, resolved.batch_size, resolved.lr) == (3, 32, 0.1)
    with pytest.raises(ValueError, match="the CNN is for the digits"):
        TrainConfig(dataset="xor", model="cnn").resolved()


# ---- fit, evaluate, History ------------------------------------------------------------------
def test_fit_records_and_callbacks() -> None:
    data = load_data("moons")
    cr.manual_seed(0)
    model = build_model("moons")
    batches: list[tuple[int, int, int]] = []
    epochs: list[int] = []
    history = fit(
        model,
        data.train,
        data.test,
        epochs=3,
        batch_size=100,
        lr=0.01,
        schedule="constant",
        on_batch=lambda e, b, n, loss: batches.append((e, b, n)),
        on_epoch=lambda r: epochs.append(r.epoch),
    )
    assert epochs == [1, 2, 3]
    assert batches == [(e, b, 4) for e in (1, 2, 3) for b in (1, 2, 3, 4)]
    assert [r.lr for r in history.epochs] == [0.01] * 3
    assert history.final is history.epochs[-1]
    record = json.loads(json.dumps(history.to_dict()))
    assert record["final"]["test_accuracy"] == history.final.test_accuracy
    assert len(record["epochs"]) == 3 and record["parameters"] == history.parameters
    # test numbers are the model's in eval mode afterwards
    loss, accuracy, correct = evaluate(model, *data.test)
    assert (loss, accuracy) == (history.final.test_loss, history.final.test_accuracy)
    assert correct == history.test_correct


def test_onecycle_and_cosine_schedules_end_low() -> None:
    """Both anneal to (nearly) zero by the last batch. (OneCycleLR's last step, like
    PyTorch's, lies just past its final phase, so it is a little above the minimum.)"""
    data = load_data("xor")
    for schedule in ("onecycle", "cosine"):
        cr.manual_seed(0)
        history = fit(
            build_model("xor"), data.train, epochs=50, batch_size=4, lr=0.05, schedule=schedule
        )
        assert max(r.lr for r in history.epochs) > 0.01, schedule
        assert history.final.lr < 0.01 * 0.05, schedule


def test_evaluate_restores_train_mode_and_batches() -> None:
    data = load_data("digits", images=True)
    cr.manual_seed(0)
    model = digits_cnn().train()
    x, y = data.test
    whole = evaluate(model, x, y)
    assert model.training
    pieces = evaluate(model, x, y, batch_size=50)
    assert pieces[2] == whole[2]
    assert pieces[0] == pytest.approx(whole[0], rel=1e-5)


def test_fit_rejects_bad_settings() -> None:
    data = load_data("xor")
    model = build_model("xor")
    with pytest.raises(ValueError, match="epochs"):
        fit(model, data.train, epochs=0)
    with pytest.raises(ValueError, match="unknown optimizer 'lbfgs'"):
        fit(model, data.train, optimizer="lbfgs")
    with pytest.raises(ValueError, match="unknown schedule 'step'"):
        fit(model, data.train, schedule="step")


# ---- progress bar and curves -----------------------------------------------------------------
def test_progress_bar_draws_only_when_enabled() -> None:
    stream = io.StringIO()
    bar = ProgressBar(2, stream=stream, enabled=True, width=10)
    bar.update(1, 5, 5, 0.25)
    bar.clear()
    text = stream.getvalue()
    assert text.startswith("\repoch 1/2 [##########] 5/5 loss 0.2500")
    assert text.endswith("\r\033[K")
    quiet = io.StringIO()
    bar = ProgressBar(2, stream=quiet)  # a StringIO is not a terminal
    bar.update(1, 5, 5, 0.25)
    bar.clear()
    assert quiet.getvalue() == ""


@pytest.mark.skipif(not HAS_MATPLOTLIB, reason="needs matplotlib")
def test_history_figure(digits_mlp: tuple[nn.Module, History], tmp_path: Any) -> None:
    from chainrule.explain.curves import save_figure

    figure = history_figure(digits_mlp[1])
    left, right = figure.axes
    assert [line.get_label() for line in left.get_lines()] == ["train", "test"]
    assert list(right.get_lines()[1].get_ydata()) == [r.test_accuracy for r in digits_mlp[1].epochs]
    path = save_figure(figure, tmp_path / "curves.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# ---- checkpoints: back into chainrule and into PyTorch -------------------------------------------
def test_checkpoint_round_trip(digits_mlp: tuple[nn.Module, History], tmp_path: Any) -> None:
    model, history = digits_mlp
    path = tmp_path / "mlp.safetensors"
    cr.save(model.state_dict(), path)
    fresh = build_model("digits", "mlp")
    fresh.load_state_dict(cr.load(path))
    assert evaluate(fresh, *load_data("digits").test)[1] == history.final.test_accuracy


@pytest.mark.torch
@pytest.mark.slow
@pytest.mark.skipif(not HAS_TORCH, reason="needs torch")
def test_trained_cnn_loads_into_pytorch(
    digits_cnn_run: tuple[nn.Module, History], tmp_path: Any
) -> None:
    import torch
    from safetensors.torch import load_file

    model, history = digits_cnn_run
    path = tmp_path / "cnn.safetensors"
    cr.save(model.state_dict(), path)
    tnn = torch.nn
    twin = tnn.Sequential(
        tnn.Conv2d(1, 16, 3, padding=1),
        tnn.BatchNorm2d(16),
        tnn.ReLU(),
        tnn.Conv2d(16, 32, 3, padding=1),
        tnn.BatchNorm2d(32),
        tnn.ReLU(),
        tnn.MaxPool2d(2),
        tnn.Dropout(0.1),
        tnn.Conv2d(32, 48, 3, padding=1),
        tnn.BatchNorm2d(48),
        tnn.ReLU(),
        tnn.AdaptiveAvgPool2d(1),
        tnn.Flatten(),
        tnn.Linear(48, 10),
    )
    twin.load_state_dict(load_file(str(path)))
    x, y = load_data("digits", images=True).test
    with torch.no_grad():
        theirs = twin.eval()(torch.from_numpy(x.numpy().copy())).numpy()
    with cr.no_grad():
        ours = model.eval()(x).numpy()
    np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-4)
    accuracy = float(np.mean(theirs.argmax(1) == y.numpy()))
    assert accuracy == history.final.test_accuracy


@pytest.mark.parametrize(
    ("optimizer", "reason"), [("sgd", "loss is nan"), ("adam", "loss blew up to")]
)
def test_fit_raises_when_training_diverges(optimizer: str, reason: str) -> None:
    from chainrule.train import TrainingDivergedError

    data = load_data("moons")
    cr.manual_seed(0)
    with pytest.raises(TrainingDivergedError) as caught, np.errstate(all="ignore"):
        fit(build_model("moons"), data.train, data.test, epochs=3, lr=1e6, optimizer=optimizer)
    error = caught.value
    assert error.epoch == 1 and error.lr == 1e6 and error.epochs == ()
    assert str(error).startswith(f"training diverged at epoch 1: {reason}")


def test_a_run_that_learns_does_not_count_as_diverged() -> None:
    data = load_data("moons")
    cr.manual_seed(0)
    history = fit(build_model("moons"), data.train, data.test, epochs=3, lr=10, optimizer="sgd")
    assert len(history.epochs) == 3


def test_train_saves_a_checkpoint_that_resumes(tmp_path: Any) -> None:
    from chainrule.train import CheckpointMismatchError, load_checkpoint

    path = tmp_path / "xor.safetensors"
    model, history = train(TrainConfig(dataset="xor", epochs=3), checkpoint=path)
    saved = load_checkpoint(path)
    assert saved.epochs_done == 3 and saved.optimizer_state is not None and saved.note is None
    rebuilt = saved.build()
    assert evaluate(rebuilt, *load_data("xor").test) == evaluate(model, *load_data("xor").test)
    _, more = train(TrainConfig(dataset="xor", epochs=2), resume=saved)
    assert [r.epoch for r in more.epochs] == [4, 5]
    with pytest.raises(CheckpointMismatchError, match="can't resume a run with optimizer sgd"):
        train(TrainConfig(dataset="xor", epochs=1, optimizer="sgd"), resume=saved)
    (tmp_path / "xor.optimizer.safetensors").unlink()
    assert "optimizer starts afresh" in str(load_checkpoint(path).note)

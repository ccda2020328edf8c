"""``chainrule train``: train a model on bundled data, with progress, checkpoint and curves."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from chainrule import cli  # write_via is looked up where a test may patch it
from chainrule.cli.common import (
    EXIT_DIVERGED,
    PROG,
    CLIError,
    check_suffix,
    dumps_strict,
    nonnegative_float,
    nonnegative_int,
    positive_float,
    positive_int,
)


def arguments(parser: argparse.ArgumentParser) -> None:
    from chainrule.train import DATASETS, DEFAULTS, OPTIMIZERS, SCHEDULES

    defaults = "; ".join(f"{d} {m}: {e}" for (d, m), (e, _, _) in DEFAULTS.items())
    parser.add_argument(
        "--dataset",
        choices=DATASETS,
        default=None,
        help="bundled data, no download (default: digits, scikit-learn's 8x8 "
        "images: 1,438 train, 359 test; with --resume, the checkpoint's)",
    )
    parser.add_argument(
        "--model",
        choices=("mlp", "cnn"),
        default=None,
        help="mlp (default), or cnn for the digits: three conv-BatchNorm-ReLU "
        "blocks, max pooling, dropout, global average pooling, linear "
        "(19,354 parameters)",
    )
    parser.add_argument(
        "--resume",
        type=Path,
        metavar="CHECKPOINT",
        help="continue the training a checkpoint of 'chainrule train' saved: its weights, "
        "optimizer state and settings, --epochs more epochs numbered on from its count "
        "(the learning-rate schedule runs afresh over them)",
    )
    parser.add_argument(
        "--epochs",
        type=positive_int,
        metavar="N",
        help=f"passes over the training data (default: {defaults})",
    )
    parser.add_argument(
        "--batch-size",
        type=positive_int,
        metavar="N",
        help="samples per step (default: 32; 4 for xor)",
    )
    parser.add_argument(
        "--lr",
        type=positive_float,
        metavar="ETA",
        help="peak learning rate (default: 0.01 for adam/adamw, 0.1 for sgd; 0.05 and 0.5 for xor)",
    )
    parser.add_argument(
        "--optimizer",
        choices=OPTIMIZERS,
        default=None,
        help="adam (default), adamw, or sgd with momentum 0.9",
    )
    parser.add_argument(
        "--schedule",
        choices=SCHEDULES,
        default="onecycle",
        help="learning-rate schedule, stepped every batch: onecycle (default), cosine, or constant",
    )
    parser.add_argument(
        "--weight-decay",
        type=nonnegative_float,
        metavar="L2",
        help="weight decay (default: the optimizer's, as PyTorch: 0, or 0.01 for adamw)",
    )
    parser.add_argument(
        "--seed",
        type=nonnegative_int,
        default=0,
        help="seeds the initial weights, the shuffling and dropout (default 0): "
        "the same seed repeats a run exactly",
    )
    parser.add_argument(
        "--checkpoint",
        type=Path,
        metavar="FILE",
        help="where to save the trained weights, .safetensors or .npz "
        "(default: chainrule-DATASET-MODEL.safetensors); the optimizer's state goes "
        "beside it, in NAME.optimizer.safetensors, for --resume",
    )
    parser.add_argument("--no-checkpoint", action="store_true", help="don't save the weights")
    parser.add_argument(
        "--curves",
        type=Path,
        metavar="FILE",
        help="draw loss and accuracy per epoch, train and test, to FILE (.png, "
        ".svg or .pdf; needs matplotlib)",
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help="print the settings, every epoch's metrics and the final accuracy "
        "as JSON (and no progress bar)",
    )
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = (
        "examples:\n"
        "  chainrule train                        MLP on the digits (about 98-99 % test accuracy)\n"
        "  chainrule train --model cnn --curves curves.png\n"
        "  chainrule train --dataset spirals --optimizer sgd\n"
        "  chainrule train --json --no-checkpoint | jq .final\n"
        "  chainrule train --resume chainrule-digits-mlp.safetensors --epochs 5\n"
        "  chainrule evaluate chainrule-digits-mlp.safetensors\n"
        "\nexit status: 0 when training finishes, 1 when it diverges (the loss became nan or "
        "inf, or\nblew up; nothing is saved), 2 for bad arguments or files.\n"
        "\nThe checkpoint loads back with model.load_state_dict(chainrule.load(FILE)) into\n"
        "chainrule.train.build_model(DATASET, MODEL), and into the same PyTorch model."
    )


def _train_files(args: argparse.Namespace) -> tuple[Path | None, Path | None]:
    """The checkpoint and curves paths, checked before any training is spent on them."""
    import importlib.util

    checkpoint = None
    if not args.no_checkpoint:
        checkpoint = args.checkpoint or Path(f"chainrule-{args.dataset}-{args.model}.safetensors")
        check_suffix(checkpoint, (".safetensors", ".npz"), "the checkpoint")
    curves = args.curves
    if curves is not None:
        check_suffix(curves, (".png", ".svg", ".pdf"), "the curves")
        if importlib.util.find_spec("matplotlib") is None:
            from chainrule.explain.curves import MATPLOTLIB_MISSING

            raise CLIError(f"--curves: {MATPLOTLIB_MISSING}")
    for path in (checkpoint, curves):
        if path is not None:
            _check_writable(path)
    return checkpoint, curves


def _check_writable(path: Path) -> None:
    """Fail now, not after the training, when ``path`` can't be written."""
    import tempfile

    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise CLIError(f"can't write {path}: the directory {folder} does not exist")
    if path.is_dir():
        raise CLIError(f"{path} is a directory")
    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as error:
        reason = error.strerror or type(error).__name__
        raise CLIError(
            f"can't write {path}: the folder {folder} is not writable ({reason})"
        ) from None


def _epoch_line(record: Any, epochs: int) -> str:
    width = len(str(epochs))
    return (
        f"epoch {record.epoch:>{width}}/{epochs}  train loss {record.train_loss:.4f} "
        f"acc {100 * record.train_accuracy:6.2f} %  test loss {record.test_loss:.4f} "
        f"acc {100 * record.test_accuracy:6.2f} %  lr {record.lr:.3g}  "
        f"{record.seconds:.2f} s"
    )


def read_checkpoint(path: Path) -> Any:
    """load_checkpoint, its errors in one line that names the path as typed."""
    from chainrule.train import load_checkpoint

    try:
        return load_checkpoint(path)
    except FileNotFoundError:
        raise CLIError(f"{path}: no such checkpoint file") from None
    except IsADirectoryError:
        raise CLIError(f"{path} is a folder, not a checkpoint file") from None
    except OSError as error:
        raise CLIError(f"can't read {path}: {error.strerror or error}") from None


def _train_config(args: argparse.Namespace, resume: Any) -> Any:
    """The TrainConfig of the arguments; with --resume, the checkpoint's settings fill in the
    ones not given, and a different --dataset, --model or --optimizer is refused."""
    from chainrule.train import TrainConfig

    saved = resume.config if resume is not None else {}
    for key in ("dataset", "model", "optimizer"):
        given = getattr(args, key)
        if resume is not None and given is not None and given != saved.get(key):
            raise CLIError(
                f"{args.resume} is a checkpoint of the {resume.dataset} {resume.model} trained "
                f"with {saved.get('optimizer')}: it can't resume with --{key} {given} "
                "(leave it out to use the checkpoint's)"
            )

    def pick(key: str, default: Any = None) -> Any:
        value = getattr(args, key)
        return value if value is not None else saved.get(key, default)

    dataset, model = pick("dataset", "digits"), pick("model", "mlp")
    if model == "cnn" and dataset != "digits":
        raise CLIError(
            f"--model cnn is for the digits images; {dataset} has 2-D points (use --model mlp)"
        )
    return TrainConfig(
        dataset,
        model,
        args.epochs,
        pick("batch_size"),
        pick("lr"),
        pick("optimizer", "adam"),
        args.schedule,
        pick("weight_decay"),
        args.seed,
    ).resolved()


def run(args: argparse.Namespace) -> int:
    from chainrule.summary import summary
    from chainrule.train import (
        ProgressBar,
        TrainingDivergedError,
        history_figure,
        load_data,
        optimizer_path,
        train,
    )

    resume = read_checkpoint(args.resume) if args.resume is not None else None
    config = _train_config(args, resume)
    args.dataset, args.model = config.dataset, config.model
    if resume is not None:
        resume.build()  # weights of another model: refused before anything is printed
    checkpoint, curves = _train_files(args)
    data = load_data(config.dataset, images=config.model == "cnn")
    done = resume.epochs_done if resume is not None else 0
    epochs = done + (config.epochs or 1)
    bar = ProgressBar(epochs, enabled=False if args.json else None)

    def on_start(model: Any) -> None:
        if not args.json:
            print(summary(model, data.input_shape), flush=True)

    def on_epoch(record: Any) -> None:
        bar.clear()
        if not args.json:
            print(_epoch_line(record, epochs), flush=True)

    if not args.json:
        start = f"from {args.resume} (epoch {done}), " if resume is not None else ""
        print(
            f"training {config.model} on {data.description}: {start}{config.epochs} epochs, "
            f"batch {config.batch_size}, {config.optimizer} lr {config.lr:g} "
            f"({config.schedule}), seed {config.seed}",
            flush=True,
        )
    if resume is not None and resume.note and not args.json:
        print(f"{PROG}: note: {resume.note}", file=sys.stderr)
    try:
        model, history = train(
            config,
            on_batch=bar.update,
            on_epoch=on_epoch,
            data=data,
            resume=resume,
            checkpoint=checkpoint,
            on_start=on_start,
        )
    except OSError as error:  # saving the checkpoint: name the user's path, not a temporary
        raise CLIError(
            f"can't write {checkpoint} (or {optimizer_path(checkpoint).name} beside it): "
            f"{error.strerror or type(error).__name__}"
        ) from None
    except TrainingDivergedError as diverged:  # nothing is saved: the weights are of no use
        print(
            f"{PROG}: error: training diverged at epoch {diverged.epoch}: {diverged.reason}; "
            f"try a smaller --lr (now {config.lr:g})",
            file=sys.stderr,
        )
        return EXIT_DIVERGED
    finally:
        bar.clear()
    if curves is not None:
        from chainrule.explain.curves import save_figure

        figure = history_figure(history)
        cli.write_via(curves, lambda temporary: save_figure(figure, temporary))
    final = history.final
    if args.json:
        print(
            dumps_strict(
                {
                    **history.to_dict(),
                    "test_accuracy": final.test_accuracy,
                    "checkpoint": str(checkpoint) if checkpoint else None,
                    "curves": str(curves) if curves else None,
                    "resumed_from": str(args.resume) if resume is not None else None,
                }
            )
        )
        return 0
    print(f"{config.model}: {history.parameters:,} parameters, {history.seconds:.1f} s of training")
    for label, path in (("checkpoint", checkpoint), ("curves", curves)):
        if path is not None:
            print(f"wrote {label} {path}")
    print(
        f"final test accuracy: {100 * final.test_accuracy:.2f} % ({history.test_correct}/"
        f"{history.test_size}) after {final.epoch} epochs"
    )
    return 0

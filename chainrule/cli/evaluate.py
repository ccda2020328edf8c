"""``chainrule evaluate``: a checkpoint of ``chainrule train`` on its dataset's test split."""

from __future__ import annotations

import argparse
from pathlib import Path

from chainrule.cli.common import dumps_strict
from chainrule.cli.train import read_checkpoint


def arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "checkpoint",
        type=Path,
        metavar="CHECKPOINT",
        help="a checkpoint written by 'chainrule train' (.safetensors or .npz)",
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help="print the checkpoint's settings and the test loss and accuracy as JSON",
    )
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = (
        "The model is rebuilt from the settings saved in the checkpoint and evaluated, in eval\n"
        "mode, on the test split of the dataset it was trained on.\n\n"
        "examples:\n"
        "  chainrule evaluate chainrule-digits-mlp.safetensors\n"
        "  chainrule evaluate chainrule-digits-cnn.safetensors --json | jq .test_accuracy"
    )


def run(args: argparse.Namespace) -> int:
    from chainrule.train import evaluate, load_data

    saved = read_checkpoint(args.checkpoint)
    model = saved.build()
    data = load_data(saved.dataset, images=saved.model == "cnn")
    loss, accuracy, correct = evaluate(model, *data.test)
    size = len(data.test[1])
    if args.json:
        print(
            dumps_strict(
                {
                    "checkpoint": str(args.checkpoint),
                    "config": saved.config,
                    "epochs_done": saved.epochs_done,
                    "test_loss": loss,
                    "test_accuracy": accuracy,
                    "test_correct": correct,
                    "test_size": size,
                }
            )
        )
        return 0
    print(
        f"{args.checkpoint}: {saved.model} on {data.description}, trained "
        f"{saved.epochs_done} epochs"
    )
    print(f"test loss {loss:.4f}, accuracy {100 * accuracy:.2f} % ({correct}/{size})")
    return 0

"""Train the digits MLP and CNN of ``chainrule train`` with chainrule and with the same model in
PyTorch, in one process: same initial weights (chainrule's copied into PyTorch), same batch
order, same optimizer and schedule (Adam + OneCycleLR), epochs interleaved (which framework goes
first alternates), the same thread count for both.

Prints each framework's final test accuracy and the median wall time of a training epoch (the
pass over the training batches: forward, loss, backward, step, schedule; evaluation is not
timed), and the ratio chainrule / PyTorch.

    python benchmarks/train_digits.py                     # both models, chainrule train's epochs
    python benchmarks/train_digits.py --models cnn --epochs 20 --threads 1
    python benchmarks/train_digits.py --quick --json      # a smoke run (what the tests use)
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

from machine import (
    add_common_arguments,
    add_names_argument,
    describe,
    log,
    print_result,
    set_threads,
)

MODELS = ("mlp", "cnn")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="benchmarks/train_digits.py", description=__doc__.split("\n\n")[0]
    )
    add_names_argument(parser, "--models", MODELS, list(MODELS), "which models (default: both)")
    parser.add_argument(
        "--epochs",
        type=int,
        default=None,
        help="epochs per model (default: chainrule train's, 20 for the MLP and "
        "10 for the CNN; 2 with --quick)",
    )
    add_common_arguments(parser)  # --threads, --json
    parser.add_argument("--seed", type=int, default=0, help="initial weights and batch order")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="two epochs on part of the data: checks that it runs, not numbers",
    )
    parser.add_argument("--no-torch", action="store_true", help="time chainrule alone")
    args = parser.parse_args(argv)
    if args.threads < 1 or (args.epochs is not None and args.epochs < 1):
        parser.error("--threads and --epochs must be at least 1")
    return args


# ---- the PyTorch side ------------------------------------------------------------------------
def torch_twin(model: Any, torch: Any) -> Any:
    """The same Sequential in PyTorch, layer by layer, with chainrule's weights copied in."""
    import chainrule.nn as cnn

    tnn = torch.nn
    layers = []
    for layer in model:
        if isinstance(layer, cnn.Linear):
            layers.append(tnn.Linear(layer.in_features, layer.out_features))
        elif isinstance(layer, cnn.Conv2d):
            layers.append(
                tnn.Conv2d(
                    layer.in_channels,
                    layer.out_channels,
                    layer.kernel_size,
                    stride=layer.stride,
                    padding=layer.padding,
                    bias=layer.bias is not None,
                )
            )
        elif isinstance(layer, cnn.BatchNorm2d):
            layers.append(
                tnn.BatchNorm2d(layer.num_features, eps=layer.eps, momentum=layer.momentum)
            )
        elif isinstance(layer, cnn.MaxPool2d):
            layers.append(tnn.MaxPool2d(layer.kernel_size))
        elif isinstance(layer, cnn.Dropout):
            layers.append(tnn.Dropout(layer.p))
        elif isinstance(layer, cnn.AdaptiveAvgPool2d):
            layers.append(tnn.AdaptiveAvgPool2d(layer.output_size))
        else:
            layers.append(
                {cnn.ReLU: tnn.ReLU, cnn.Tanh: tnn.Tanh, cnn.Flatten: tnn.Flatten}[type(layer)]()
            )
    twin = tnn.Sequential(*layers)
    state = {k: torch.from_numpy(v.numpy().copy()) for k, v in model.state_dict().items()}
    twin.load_state_dict(state)
    return twin


def torch_epoch(
    model: Any, batches: Iterator[tuple[Any, Any]], optimizer: Any, scheduler: Any, torch: Any
) -> tuple[float, float]:
    """What chainrule.train.run_epoch does, in PyTorch (the loss and accuracy sums included)."""
    model.train()
    loss_sum, correct, seen = 0.0, 0, 0
    for x, y in batches:
        optimizer.zero_grad()
        logits = model(x)
        loss = torch.nn.functional.cross_entropy(logits, y)
        loss.backward()
        optimizer.step()
        scheduler.step()
        loss_sum += float(loss.item()) * len(y)
        correct += int((logits.argmax(1) == y).sum().item())
        seen += len(y)
    return loss_sum / seen, correct / seen


def torch_accuracy(model: Any, x: Any, y: Any, torch: Any) -> float:
    model.eval()
    with torch.no_grad():
        return float((model(x).argmax(1) == y).double().mean().item())


# ---- one model, both frameworks --------------------------------------------------------------
def run_model(
    name: str, epochs: int, seed: int, data: dict[str, Any], use_torch: bool, threads: int
) -> dict[str, Any]:
    import numpy as np

    import chainrule as cr
    from chainrule.train import (
        DEFAULTS,
        build_model,
        evaluate,
        make_optimizer,
        run_epoch,
        training_step,
    )

    _, batch_size, lr = DEFAULTS[("digits", name)]
    x_train, y_train, x_test, y_test = (
        data[k][name == "mlp"] for k in ("x_train", "y_train", "x_test", "y_test")
    )
    cr.manual_seed(seed)
    model = build_model("digits", name)
    steps = epochs * -(-len(y_train) // batch_size)
    optimizer = make_optimizer("adam", model.parameters(), lr)
    scheduler = cr.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=steps)
    run: dict[str, Callable[[np.ndarray], float]] = {}
    accuracy: dict[str, Callable[[], float]] = {}

    def cr_batches(order: np.ndarray) -> Iterator[tuple[Any, Any]]:
        for start in range(0, len(order), batch_size):
            index = order[start : start + batch_size]
            yield cr.from_numpy(x_train[index]), cr.from_numpy(y_train[index])

    # as chainrule.train.fit: each batch's forward+backward replayed (the CNN's dropout and
    # BatchNorm included)
    step = cr.autograd.replay(training_step(model, optimizer), warn=False)

    def cr_run(order: np.ndarray) -> float:
        begin = time.perf_counter()
        run_epoch(model, cr_batches(order), optimizer, scheduler, step=step)
        return time.perf_counter() - begin

    run["chainrule"] = cr_run
    accuracy["chainrule"] = lambda: evaluate(model, cr.from_numpy(x_test), cr.from_numpy(y_test))[1]
    agreement = None
    if use_torch:
        import torch

        torch.set_num_threads(threads)
        twin = torch_twin(model, torch)
        model.eval()
        twin.eval()
        with cr.no_grad(), torch.no_grad():  # same weights, same function
            ours = model(cr.from_numpy(x_test)).numpy()
            theirs = twin(torch.from_numpy(x_test)).numpy()
        agreement = float(np.max(np.abs(ours - theirs)))
        t_optimizer = torch.optim.Adam(twin.parameters(), lr=lr)
        t_scheduler = torch.optim.lr_scheduler.OneCycleLR(t_optimizer, max_lr=lr, total_steps=steps)

        def t_batches(order: np.ndarray) -> Iterator[tuple[Any, Any]]:
            for start in range(0, len(order), batch_size):
                index = order[start : start + batch_size]
                yield torch.from_numpy(x_train[index]), torch.from_numpy(y_train[index])

        def t_run(order: np.ndarray) -> float:
            begin = time.perf_counter()
            torch_epoch(twin, t_batches(order), t_optimizer, t_scheduler, torch)
            return time.perf_counter() - begin

        run["torch"] = t_run
        t_x, t_y = torch.from_numpy(x_test), torch.from_numpy(y_test)
        accuracy["torch"] = lambda: torch_accuracy(twin, t_x, t_y, torch)

    rng = np.random.default_rng(seed)
    times: dict[str, list[float]] = {fw: [] for fw in run}
    curves: dict[str, list[float]] = {fw: [] for fw in run}
    for epoch in range(epochs):
        order = rng.permutation(len(y_train))
        frameworks = list(run) if epoch % 2 == 0 else list(reversed(run))
        for fw in frameworks:
            times[fw].append(run[fw](order))
            curves[fw].append(accuracy[fw]())
        log(
            f"{name} epoch {epoch + 1}/{epochs}: "
            + ", ".join(
                f"{fw} {1000 * times[fw][-1]:.0f} ms, test accuracy {100 * curves[fw][-1]:.2f} %"
                for fw in run
            )
        )
    result: dict[str, Any] = {
        "model": name,
        "parameters": sum(p.numel() for p in model.parameters()),
        "epochs": epochs,
        "batch_size": batch_size,
        "lr": lr,
        "optimizer": "adam + OneCycleLR",
        "train_samples": int(len(y_train)),
        "test_samples": int(len(y_test)),
        "initial_max_abs_diff": agreement,
        "frameworks": {
            fw: {
                "test_accuracy": curves[fw][-1],
                "accuracy_per_epoch": curves[fw],
                "seconds_per_epoch": times[fw],
                "median_seconds": statistics.median(times[fw]),
            }
            for fw in run
        },
    }
    if "torch" in run:
        result["ratio"] = (
            result["frameworks"]["chainrule"]["median_seconds"]
            / result["frameworks"]["torch"]["median_seconds"]
        )
    return result


def load_data(quick: bool) -> dict[str, Any]:
    """Digits as NumPy arrays, indexed [images, flat] (False/True), float32 and int64."""
    from chainrule.datasets import digits

    data: dict[str, Any] = {k: {} for k in ("x_train", "y_train", "x_test", "y_test")}
    for flat in (False, True):
        for part, train in (("train", True), ("test", False)):
            x, y = digits(train=train, flat=flat)
            x, y = x.numpy().copy(), y.numpy().copy()
            if quick:
                x, y = x[:256], y[:256]
            data[f"x_{part}"][flat], data[f"y_{part}"][flat] = x, y
    return data


def table(result: dict[str, Any]) -> str:
    m = result["machine"]
    r0 = result["results"][0]
    lines = [
        f"{m['cpu']}, {m['cores']} cores, {m['threads']} threads, load "
        f"{m['load_average'][0]:.2f}; Python {m['python']}, NumPy {m['numpy']}, PyTorch "
        f"{m['torch']}, chainrule {m['chainrule']}",
        f"digits ({r0['train_samples']:,} train / {r0['test_samples']} test), Adam + "
        "OneCycleLR, same initial weights and batch order; median wall time of a training "
        "epoch",
        "",
    ]
    rows = [
        (
            "model",
            "params",
            "epochs",
            "chainrule acc",
            "PyTorch acc",
            "chainrule ms/epoch",
            "PyTorch ms/epoch",
            "ratio",
        )
    ]
    for r in result["results"]:
        ours, theirs = r["frameworks"]["chainrule"], r["frameworks"].get("torch")
        rows.append(
            (
                r["model"],
                f"{r['parameters']:,}",
                str(r["epochs"]),
                f"{100 * ours['test_accuracy']:.2f} %",
                f"{100 * theirs['test_accuracy']:.2f} %" if theirs else "-",
                f"{1000 * ours['median_seconds']:.1f}",
                f"{1000 * theirs['median_seconds']:.1f}" if theirs else "-",
                f"{r['ratio']:.2f}" if "ratio" in r else "-",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines += [
        "  ".join(
            cell.rjust(w) if i else cell.ljust(w)
            for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        )
        for row in rows
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    set_threads(args.threads)
    torch_version = None
    use_torch = not args.no_torch
    if use_torch:
        try:
            import torch
        except ImportError:
            log("PyTorch is not installed: timing chainrule alone")
            use_torch = False
        else:
            torch.set_num_threads(args.threads)
            torch_version = torch.__version__
    import chainrule
    from chainrule.train import DEFAULTS

    data = load_data(args.quick)
    result: dict[str, Any] = {
        "machine": describe(args.threads, torch_version, chainrule.__version__),
        "settings": {"seed": args.seed, "quick": args.quick},
        "results": [],
    }
    started = time.perf_counter()
    for name in args.models:
        epochs = args.epochs or (2 if args.quick else DEFAULTS[("digits", name)][0])
        result["results"].append(run_model(name, epochs, args.seed, data, use_torch, args.threads))
    result["seconds"] = time.perf_counter() - started
    print_result(result, args.json, lambda: table(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())

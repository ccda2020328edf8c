"""Learning-rate sweeps and training curves of the seed network: records first (every epoch's
error, the final weights, error and outputs per learning rate), then a table, JSON and a
matplotlib figure as views of them."""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEFAULT_LRS = (0.1, 0.2, 0.5, 0.8, 1.0, 2.0)
DEFAULT_EPOCHS = 100
WEIGHT_NAMES = tuple(f"w{k}" for k in range(1, 9))

MATPLOTLIB_MISSING = ("the curves need matplotlib: pip install 'chainrule[plots]' "
                      "(or pip install matplotlib)")


@dataclass(frozen=True)
class SweepRun:
    """One learning rate's training: ``errors[k]`` is E_total after ``k`` updates
    (``epochs + 1`` values, the first at the starting weights)."""

    lr: float
    start_weights: tuple[float, ...]
    errors: tuple[float, ...]
    final_weights: tuple[float, ...]
    final_outputs: tuple[float, float]

    @property
    def final_error(self) -> float:
        return self.errors[-1]

    def to_dict(self) -> dict[str, Any]:
        return {"lr": self.lr, "epochs": len(self.errors) - 1, "final_error": self.final_error,
                "final_outputs": {"a_o1": self.final_outputs[0], "a_o2": self.final_outputs[1]},
                "final_weights": dict(zip(WEIGHT_NAMES, self.final_weights, strict=True)),
                "start_weights": dict(zip(WEIGHT_NAMES, self.start_weights, strict=True)),
                "errors": list(self.errors)}


@dataclass(frozen=True)
class Sweep:
    """A learning-rate sweep: one run per rate, in the order given."""

    runs: tuple[SweepRun, ...]
    epochs: int
    carry_weights: bool
    output_activation: str = "sigmoid"

    def to_dict(self) -> dict[str, Any]:
        return {"epochs": self.epochs, "carry_weights": self.carry_weights,
                "output_activation": self.output_activation,
                "runs": [run.to_dict() for run in self.runs]}


def _example(example: Any) -> Any:
    if example is not None:
        return example
    from chainrule.datasets.seeds import TWO_LAYER

    return TWO_LAYER


def train_seed_network(lr: float, epochs: int, example: Any = None,
                       weights: Sequence[float] | None = None) -> SweepRun:
    """Train the seed network with chainrule's engine by plain gradient descent.

    Each epoch is one forward pass, ``E_total.backward()`` and ``w -= lr * w.grad``, in
    float64, with the seeds' weights as two (2, 2) matrices ``[[w1, w2], [w3, w4]]`` and
    ``[[w5, w6], [w7, w8]]``.

    Examples
    --------
    >>> run = train_seed_network(0.5, 1)
    >>> round(run.errors[0], 12), round(run.final_weights[4], 12)
    (0.014181377938, 0.393559590684)
    """
    import chainrule as cr

    example = _example(example)
    start = tuple(float(w) for w in (example.weights if weights is None else weights))
    x = cr.tensor(example.inputs, dtype=cr.float64)
    target = cr.tensor(example.targets, dtype=cr.float64)
    hidden = cr.tensor([start[0:2], start[2:4]], dtype=cr.float64, requires_grad=True)
    output = cr.tensor([start[4:6], start[6:8]], dtype=cr.float64, requires_grad=True)
    errors = []
    for _ in range(epochs + 1):
        a_h = (hidden @ x).sigmoid()
        o = output @ a_h
        a_o = o.sigmoid() if example.output_activation == "sigmoid" else o
        E_total = (0.5 * (target - a_o) ** 2).sum()
        errors.append(E_total.item())
        if len(errors) > epochs:
            break
        hidden.grad = output.grad = None
        E_total.backward()
        with cr.no_grad():
            hidden -= lr * hidden.grad
            output -= lr * output.grad
    final = tuple(hidden.detach().numpy().ravel().tolist()
                  + output.detach().numpy().ravel().tolist())
    outputs = a_o.detach().numpy().tolist()
    return SweepRun(float(lr), start, tuple(errors), final, (outputs[0], outputs[1]))


def sweep(lrs: Sequence[float] = DEFAULT_LRS, epochs: int = DEFAULT_EPOCHS, *,
          carry_weights: bool = False, example: Any = None) -> Sweep:
    """Train the seed network once per learning rate.

    Parameters
    ----------
    lrs : sequence of float
        The learning rates, in the order they run.
    epochs : int
        Gradient-descent steps per learning rate.
    carry_weights : bool
        Start each rate from the previous rate's final weights instead of the seed's.
    example : TwoLayerExample, optional
        The network's starting values; the seed's by default.

    Examples
    --------
    >>> result = sweep([0.1, 0.5], epochs=10)
    >>> [round(run.final_error, 6) for run in result.runs]
    [0.013387, 0.010575]
    """
    if epochs < 0:
        raise ValueError(f"epochs must be >= 0, not {epochs}")
    if not lrs:
        raise ValueError("a sweep needs at least one learning rate")
    example = _example(example)
    runs: list[SweepRun] = []
    weights = tuple(example.weights)
    for lr in lrs:
        run = train_seed_network(lr, epochs, example, weights)
        runs.append(run)
        if carry_weights:
            weights = run.final_weights
    return Sweep(tuple(runs), epochs, carry_weights, example.output_activation)


def sweep_table(result: Sweep) -> str:
    """The table of final error, outputs and weights per learning rate, aligned text."""
    header = ["lr", "E_total", "a_o1", "a_o2", *WEIGHT_NAMES]
    rows = [[f"{run.lr:g}", f"{run.final_error:.6g}", *(f"{v:.6f}" for v in run.final_outputs),
             *(f"{w:.6f}" for w in run.final_weights)] for run in result.runs]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(cell.rjust(w) for cell, w in zip(row, widths, strict=True))
             for row in [header, *rows]]
    mode = "carried from one rate to the next" if result.carry_weights else "reset for each rate"
    return (f"learning-rate sweep: {result.epochs} epochs, weights {mode}\n"
            + "\n".join(lines) + "\n")


def _pyplot() -> Any:
    try:
        import matplotlib
    except ImportError as error:
        raise ImportError(MATPLOTLIB_MISSING) from error
    matplotlib.use("Agg")  # files only: no display needed, the same output everywhere
    import matplotlib.pyplot as plt

    return plt


def sweep_figure(result: Sweep) -> Any:
    """A matplotlib Figure: E_total against epoch, one line per learning rate."""
    plt = _pyplot()
    figure, axes = plt.subplots(figsize=(8, 5), dpi=100)
    for index, run in enumerate(result.runs):
        # carried weights continue one training, so each rate starts where the last one ended
        start = index * result.epochs if result.carry_weights else 0
        axes.plot(range(start, start + len(run.errors)), run.errors, label=f"lr = {run.lr:g}",
                  linewidth=1.8)
    axes.set_xlabel("epoch (cumulative)" if result.carry_weights else "epoch")
    axes.set_ylabel("E_total")
    mode = ", weights carried over" if result.carry_weights else ""
    axes.set_title(f"Seed network: error vs epoch for {len(result.runs)} learning rates{mode}")
    axes.grid(True, alpha=0.3)
    axes.legend()
    figure.tight_layout()
    return figure


def training_figure(errors: Sequence[float], title: str = "Training curve") -> Any:
    """A matplotlib Figure of one training curve (error per epoch)."""
    plt = _pyplot()
    figure, axes = plt.subplots(figsize=(7, 4), dpi=100)
    axes.plot(range(len(errors)), list(errors), linewidth=1.8)
    axes.set_xlabel("epoch")
    axes.set_ylabel("error")
    axes.set_title(title)
    axes.grid(True, alpha=0.3)
    figure.tight_layout()
    return figure


def _save(figure: Any, target: Any, format: str) -> None:
    """Save and close; a fixed date and SVG id salt keep the bytes the same from run to run."""
    plt = _pyplot()
    import matplotlib

    metadata = {"Date": None} if format in ("svg", "pdf") else None
    try:
        with matplotlib.rc_context({"svg.hashsalt": "chainrule"}):
            figure.savefig(target, format=format, metadata=metadata)
    finally:
        plt.close(figure)


def save_figure(figure: Any, path: str | Path) -> Path:
    """Save a figure (format from the suffix: .png, .svg, .pdf) and close it."""
    path = Path(path)
    _save(figure, path, path.suffix.lstrip(".") or "png")
    return path


def figure_bytes(figure: Any, format: str = "png") -> bytes:
    """A figure's image as bytes (for inlining in HTML), and close it."""
    buffer = io.BytesIO()
    _save(figure, buffer, format)
    return buffer.getvalue()

"""Learning-rate sweeps and training curves of the seed network: records first (every epoch's
error, the final weights, error and outputs per learning rate), then a table, JSON and a
matplotlib figure as views of them."""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

DEFAULT_LRS = (0.1, 0.2, 0.5, 0.8, 1.0, 2.0)
DEFAULT_EPOCHS = 100
WEIGHT_NAMES = tuple(f"w{k}" for k in range(1, 9))

MATPLOTLIB_MISSING = (
    "the curves need matplotlib: pip install 'chainrule[plots]' (or pip install matplotlib)"
)


@dataclass(frozen=True)
class SweepRun:
    """One learning rate's training: ``errors[k]`` is E_total after ``k`` updates
    (``epochs + 1`` values, the first at the starting parameters). ``start`` and ``final``
    map each trained parameter (w1..w8, and b1, b2 when biases are trained) to its value."""

    lr: float
    start: dict[str, float]
    errors: tuple[float, ...]
    final: dict[str, float]
    final_outputs: tuple[float, ...]
    loss: str = "E_total"
    output_names: tuple[str, ...] = ("a_o1", "a_o2")

    @property
    def final_error(self) -> float:
        return self.errors[-1]

    @property
    def final_weights(self) -> tuple[float, ...]:
        return tuple(self.final[w] for w in WEIGHT_NAMES)

    @property
    def start_weights(self) -> tuple[float, ...]:
        return tuple(self.start[w] for w in WEIGHT_NAMES)

    def to_dict(self) -> dict[str, Any]:
        return {
            "lr": self.lr,
            "epochs": len(self.errors) - 1,
            "final_error": self.final_error,
            "final_outputs": dict(zip(self.output_names, self.final_outputs, strict=True)),
            "final_weights": dict(self.final),
            "start_weights": dict(self.start),
            "errors": list(self.errors),
        }


@dataclass(frozen=True)
class Sweep:
    """A learning-rate sweep: one run per rate, in the order given."""

    runs: tuple[SweepRun, ...]
    epochs: int
    carry_weights: bool
    output_activation: str = "sigmoid"

    def to_dict(self) -> dict[str, Any]:
        return {
            "epochs": self.epochs,
            "carry_weights": self.carry_weights,
            "output_activation": self.output_activation,
            "runs": [run.to_dict() for run in self.runs],
        }


def train_seed_network(
    lr: float, epochs: int, config: Any = None, start: dict[str, float] | None = None
) -> SweepRun:
    """Train the seed network for ``epochs`` gradient-descent steps with the explainer's
    recorded training (:func:`chainrule.explain.seeds.seed_tutorial`, the real engine); a
    ``OneWeightConfig`` trains the one-weight example instead (loss L, output z).

    Parameters
    ----------
    lr : float
    epochs : int
    config : SeedConfig, optional
        The network (inputs, targets, weights, output activation, biases); the seed's default.
    start : dict, optional
        Starting values of the trained parameters, overriding the config's.

    Examples
    --------
    >>> run = train_seed_network(0.5, 1)
    >>> round(run.errors[0], 12), round(run.final["w5"], 12)
    (0.014181377938, 0.393559590684)
    """
    from chainrule.explain.seeds import OneWeightConfig, SeedConfig, seed_tutorial

    config = config or SeedConfig()
    if epochs < 0:
        raise ValueError(f"epochs must be >= 0, not {epochs}")
    if isinstance(config, OneWeightConfig):
        return _train_one_weight(lr, epochs, config, start)
    if start:
        weights = tuple(start.get(w, v) for w, v in zip(WEIGHT_NAMES, config.weights, strict=True))
        biases = (
            config.biases
            if config.biases is None
            else (start.get("b1", config.biases[0]), start.get("b2", config.biases[1]))
        )
        config = replace(config, weights=weights, biases=biases)
    # one step more than the updates: its forward pass is the error at the final parameters
    run = seed_tutorial(config, explain=False, lr=lr, steps=epochs + 1)
    first, last = run.steps[0].values, run.steps[-1].values
    errors = tuple(step.values["E_total"] for step in run.steps)
    return SweepRun(
        float(lr),
        {p: first[p] for p in run.parameters},
        errors,
        {p: last[p] for p in run.parameters},
        (last["a_o1"], last["a_o2"]),
    )


def _train_one_weight(
    lr: float, epochs: int, config: Any, start: dict[str, float] | None
) -> SweepRun:
    from chainrule.explain.seeds import one_weight_tutorial

    if start:
        config = replace(config, W=start.get("W", config.W), b=start.get("b", config.b))
    run = one_weight_tutorial(config, explain=False, lr=lr, steps=epochs + 1)
    first, last = run.steps[0].values, run.steps[-1].values
    return SweepRun(
        float(lr),
        {p: first[p] for p in run.parameters},
        tuple(step.values["L"] for step in run.steps),
        {p: last[p] for p in run.parameters},
        (last["z"],),
        loss="L",
        output_names=("z",),
    )


def sweep(
    lrs: Sequence[float] = DEFAULT_LRS,
    epochs: int = DEFAULT_EPOCHS,
    *,
    carry_weights: bool = False,
    config: Any = None,
) -> Sweep:
    """Train the seed network once per learning rate.

    Parameters
    ----------
    lrs : sequence of float
        The learning rates, in the order they run.
    epochs : int
        Gradient-descent steps per learning rate.
    carry_weights : bool
        Start each rate from the previous rate's final weights instead of the seed's.
    config : SeedConfig or OneWeightConfig, optional
        The network's starting values; the seed's by default (its ``lr`` is not used). A
        OneWeightConfig sweeps the one-weight example.

    Examples
    --------
    >>> result = sweep([0.1, 0.5], epochs=10)
    >>> [round(run.final_error, 6) for run in result.runs]
    [0.013387, 0.010575]
    """
    from chainrule.explain.seeds import SeedConfig

    if not lrs:
        raise ValueError("a sweep needs at least one learning rate")
    config = config or SeedConfig()
    runs: list[SweepRun] = []
    start: dict[str, float] | None = None
    for lr in lrs:
        run = train_seed_network(lr, epochs, config, start)
        runs.append(run)
        if carry_weights:
            start = run.final
    activation = getattr(config, "output_activation", "identity")  # one weight: identity
    return Sweep(tuple(runs), epochs, carry_weights, activation)


def sweep_rows(result: Sweep) -> tuple[list[str], list[list[str]]]:
    """The header and rows of final error, outputs and weights per learning rate, every
    number in the pictures' format, so the CLI table and the report print the same text."""
    from chainrule.explain.graphs import number

    first = result.runs[0]
    header = ["lr", first.loss, *first.output_names, *first.final]
    rows = [
        [
            f"{run.lr:g}",
            number(run.final_error),
            *(number(v) for v in run.final_outputs),
            *(number(v) for v in run.final.values()),
        ]
        for run in result.runs
    ]
    return header, rows


def sweep_table(result: Sweep) -> str:
    """The table of final error, outputs and weights per learning rate, aligned text."""
    header, rows = sweep_rows(result)
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = [
        "  ".join(cell.rjust(w) for cell, w in zip(row, widths, strict=True))
        for row in [header, *rows]
    ]
    mode = "carried from one rate to the next" if result.carry_weights else "reset for each rate"
    return (
        f"learning-rate sweep: {result.epochs} epochs, weights {mode}\n" + "\n".join(lines) + "\n"
    )


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
        axes.plot(
            range(start, start + len(run.errors)),
            run.errors,
            label=f"lr = {run.lr:g}",
            linewidth=1.8,
        )
    # errors fall by orders of magnitude: on a linear axis the fast rates lie flat on zero
    axes.set_yscale("log")
    axes.set_xlabel("epoch (cumulative)" if result.carry_weights else "epoch")
    loss = result.runs[0].loss
    axes.set_ylabel(f"{loss} (log scale)")
    mode = ", weights carried over" if result.carry_weights else ""
    network = "Seed network" if loss == "E_total" else "One-weight example"
    axes.set_title(f"{network}: error vs epoch for {len(result.runs)} learning rates{mode}")
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

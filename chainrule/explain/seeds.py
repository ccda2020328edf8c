"""The worked examples chainrule comes from, built with the real engine and trained by plain
gradient descent, every step recorded: the 2-2-2 sigmoid network (and its identity-output
variant) and the one-weight example. ``SOURCES`` names the document each one comes from
(README, "Where the examples come from").

Examples
--------
>>> from chainrule.explain.seeds import seed_tutorial, one_weight_tutorial
>>> run = seed_tutorial()
>>> round(run.values["E_total"], 12), round(run.updated["w5"], 12)
(0.014181377938, 0.393559590684)
>>> one_weight_tutorial().updated["W"]
0.4
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from chainrule import _dtype
from chainrule.autograd.functional_api import grad as autograd_grad
from chainrule.datasets.seeds import ONE_WEIGHT
from chainrule.explain.records import Tutorial, TutorialStep  # re-exported: defined here once
from chainrule.names import name
from chainrule.ops import clone, linear, sigmoid, tensor
from chainrule.ops import sum as reduce_sum
from chainrule.tensor import Tensor

__all__ = [
    "OneWeightConfig",
    "SeedConfig",
    "Tutorial",
    "TutorialStep",
    "one_weight_tutorial",
    "seed_tutorial",
    "tutorial",
]

SEED_WEIGHTS = (0.15, 0.20, 0.25, 0.30, 0.40, 0.45, 0.50, 0.55)
WEIGHT_NAMES = ("w1", "w2", "w3", "w4", "w5", "w6", "w7", "w8")
MAX_STEPS = 100_000

# The documents the examples come from (kept, by these names, with the project's sources), and
# how a reader is told about them: in words, not file names.
SOURCES = {
    "000_76c33669d4aa9086.txt": "the worked example of the 2-2-2 network with an identity output",
    "001_aa0b69d202e5096f.txt": "the worked example of the 2-2-2 network",
    "002_f7d6bdf578706912.txt": "the one-weight worked example",
}


def source_words(run: Tutorial) -> str:
    """The document ``run`` comes from, in words (its file name if it is not one of ours).

    Examples
    --------
    >>> source_words(one_weight_tutorial(explain=False))
    'the one-weight worked example'
    """
    return SOURCES.get(run.source, run.source)


@dataclass(frozen=True)
class SeedConfig:
    """The 2-2-2 network of seed 001 (``output_activation="identity"``: seed 000's variant).

    h1 = w1·i1 + w2·i2 (+ b1), h2 = w3·i1 + w4·i2 (+ b1), a_h = σ(h);
    o1 = w5·a_h1 + w6·a_h2 (+ b2), o2 = w7·a_h1 + w8·a_h2 (+ b2), a_o = σ(o) or o;
    E1 = ½(t1 − a_o1)², E2 = ½(t2 − a_o2)², E_total = E1 + E2. The biases are off unless given
    (one per layer, shared by its two neurons, as in the classic exercise) and are trained only
    with ``train_biases``.
    """

    inputs: tuple[float, ...] = (0.05, 0.10)
    targets: tuple[float, ...] = (0.5, 0.5)
    weights: tuple[float, ...] = SEED_WEIGHTS
    lr: float = 0.5
    steps: int = 1
    output_activation: str = "sigmoid"
    biases: tuple[float, ...] | None = None
    train_biases: bool = False

    def __post_init__(self) -> None:
        _check_numbers("inputs", self.inputs, 2, "i1 i2")
        _check_numbers("targets", self.targets, 2, "t1 t2")
        _check_numbers("weights", self.weights, 8, "w1..w8")
        if self.biases is not None:
            _check_numbers("biases", self.biases, 2, "b1 b2")
        if self.train_biases and self.biases is None:
            raise ValueError("train_biases needs biases: give --biases b1 b2 (e.g. 0.35 0.60)")
        _check_common(self.lr, self.steps)
        if self.output_activation not in ("sigmoid", "identity"):
            raise ValueError(
                f"output_activation must be 'sigmoid' or 'identity', got {self.output_activation!r}"
            )


@dataclass(frozen=True)
class OneWeightConfig:
    """Seed 002's one-weight network: z = W·x + b, identity activation, L = (z − y)²; the
    defaults are the seed's (``chainrule.datasets.ONE_WEIGHT``)."""

    x: float = ONE_WEIGHT.x
    W: float = ONE_WEIGHT.W  # noqa: N815 - the seed's name
    b: float = ONE_WEIGHT.b
    y: float = ONE_WEIGHT.y
    lr: float = ONE_WEIGHT.learning_rate
    steps: int = 1
    train_biases: bool = False

    def __post_init__(self) -> None:
        for key in ("x", "W", "b", "y"):
            _check_numbers(key, (getattr(self, key),), 1, key)
        _check_common(self.lr, self.steps)


def _check_numbers(what: str, values: Sequence[Any], count: int, names: str) -> None:
    if len(values) != count:
        raise ValueError(
            f"{what} needs {count} value{'s' if count > 1 else ''} ({names}), got {len(values)}"
        )
    for value in values:
        if not isinstance(value, int | float) or not math.isfinite(value):
            raise ValueError(f"{what} must be finite numbers, got {value!r}")


def _check_common(lr: float, steps: int) -> None:
    if not isinstance(lr, int | float) or not math.isfinite(lr) or lr <= 0:
        raise ValueError(f"the learning rate must be a finite number > 0, got {lr!r}")
    if not isinstance(steps, int) or not 1 <= steps <= MAX_STEPS:
        raise ValueError(f"steps must be an integer from 1 to {MAX_STEPS}, got {steps!r}")


# ---- the 2-2-2 network -------------------------------------------------------------------------
@dataclass
class SeedNetwork:
    """One forward pass of the seed network: every named tensor, the loss, the parameters."""

    tensors: dict[str, Tensor]
    parameters: dict[str, Tensor]
    loss: Tensor


def build_seed_network(config: SeedConfig, weights: Mapping[str, float]) -> SeedNetwork:
    """Run the forward pass of the 2-2-2 network with the engine, naming every quantity."""
    f64 = _dtype.float64
    w = [weights[k] for k in WEIGHT_NAMES]
    # a batch of one row, as a layer sees it (a 1-D input would be reshaped by an unrecorded op
    # and lose its names)
    i = name(tensor([list(config.inputs)], dtype=f64), "i", [["i1", "i2"]])
    t = name(tensor([list(config.targets)], dtype=f64), "t", [["t1", "t2"]])
    W1 = name(
        tensor([[w[0], w[1]], [w[2], w[3]]], dtype=f64, requires_grad=True),
        "W1",
        [["w1", "w2"], ["w3", "w4"]],
    )
    W2 = name(
        tensor([[w[4], w[5]], [w[6], w[7]]], dtype=f64, requires_grad=True),
        "W2",
        [["w5", "w6"], ["w7", "w8"]],
    )
    parameters = {"W1": W1, "W2": W2}
    tensors = {"i": i, "t": t, "W1": W1, "W2": W2}
    h = linear(i, W1)
    o_bias = None
    if config.biases is not None:
        b1 = name(tensor(weights["b1"], dtype=f64, requires_grad=config.train_biases), "b1")
        o_bias = name(tensor(weights["b2"], dtype=f64, requires_grad=config.train_biases), "b2")
        tensors.update(b1=b1, b2=o_bias)
        if config.train_biases:
            parameters.update(b1=b1, b2=o_bias)
        h = h + b1
    name(h, "h", [["h1", "h2"]])
    a_h = name(sigmoid(h), "a_h", [["a_h1", "a_h2"]])
    o = linear(a_h, W2)
    if o_bias is not None:
        o = o + o_bias
    name(o, "o", [["o1", "o2"]])
    # identity output (seed 000) as an explicit copy, so ∂a_o1/∂o1 = 1 shows in the derivation
    a_o = name(
        sigmoid(o) if config.output_activation == "sigmoid" else clone(o), "a_o", [["a_o1", "a_o2"]]
    )
    E = name(0.5 * (t - a_o) ** 2, "E", [["E1", "E2"]])
    E_total = name(reduce_sum(E), "E_total")
    tensors.update(h=h, a_h=a_h, o=o, a_o=a_o, E=E, E_total=E_total)
    return SeedNetwork(tensors, parameters, E_total)


def _elements(tensors: Sequence[Tensor]) -> dict[str, float]:
    values: dict[str, float] = {}
    for t in tensors:
        flat_names = t.element_names.reshape(-1) if t.element_names is not None else [t.name]
        for key, value in zip(flat_names, t._data.reshape(-1).tolist(), strict=True):
            values[str(key)] = float(value)
    return values


def _run(
    example: str,
    build: Any,
    start: dict[str, float],
    trained: tuple[str, ...],
    value_order: tuple[str, ...],
    gradient_order: tuple[str, ...],
    lr: float,
    steps: int,
    explain_first: bool,
) -> tuple[list[TutorialStep], Any]:
    """Train by plain gradient descent, w ← w − lr·∂E/∂w, recording every step."""
    current = dict(start)
    records: list[TutorialStep] = []
    explanation = None
    for step in range(1, steps + 1):
        net = build(current)
        tensors = net.tensors
        values = _elements([tensors[k] for k in value_order])
        wrt = [tensors[k] for k in gradient_order]
        grads = autograd_grad(net.loss, wrt, retain_graph=True)
        gradients = _elements([_like(g, t) for g, t in zip(grads, wrt, strict=True)])
        if step == 1 and explain_first:
            from chainrule.explain.derive import explain

            explanation = explain(net.loss, net.parameters)
        updated = {k: current[k] - lr * gradients[k] for k in trained}
        records.append(TutorialStep(step, values, gradients, updated))
        current.update(updated)
    return records, explanation


def _like(grad: Tensor, t: Tensor) -> Tensor:
    """``grad`` carrying ``t``'s names, so its elements are keyed like ``t``'s."""
    out = Tensor._wrap(grad._data)
    out.name, out.element_names = t.name, t.element_names
    return out


def seed_tutorial(
    config: SeedConfig | None = None, explain: bool = True, **options: Any
) -> Tutorial:
    """Run the seeds' 2-2-2 network (defaults: seed 001 with the course exercise's numbers).

    Options are :class:`SeedConfig`'s fields: ``lr``, ``steps``, ``output_activation``,
    ``inputs``, ``targets``, ``weights``, ``biases``, ``train_biases``.

    Examples
    --------
    >>> run = seed_tutorial(steps=3)
    >>> [round(s.values["E_total"], 9) for s in run.steps]
    [0.014181378, 0.013777062, 0.013382934]
    """
    config = replace(config or SeedConfig(), **options)
    start = dict(zip(WEIGHT_NAMES, map(float, config.weights), strict=True))
    trained: tuple[str, ...] = WEIGHT_NAMES
    value_order: tuple[str, ...] = ("i", "t", "W1", "W2")
    if config.biases is not None:
        start.update(b1=float(config.biases[0]), b2=float(config.biases[1]))
        value_order += ("b1", "b2")
        if config.train_biases:
            trained += ("b1", "b2")
    value_order += ("h", "a_h", "o", "a_o", "E", "E_total")
    gradient_order: tuple[str, ...] = ("E", "a_o", "o", "a_h", "h", "W1", "W2")
    if config.train_biases:
        gradient_order += ("b1", "b2")
    records, explanation = _run(
        "seed",
        lambda weights: build_seed_network(config, weights),
        start,
        trained,
        value_order,
        gradient_order,
        float(config.lr),
        config.steps,
        explain,
    )
    identity = config.output_activation == "identity"
    return Tutorial(
        example="seed",
        title=(
            "The worked example's 2-2-2 network with an identity output layer"
            if identity
            else "The worked example's 2-2-2 network, sigmoid hidden and output layers"
        ),
        source="000_76c33669d4aa9086.txt" if identity else "001_aa0b69d202e5096f.txt",
        config=_config_dict(config),
        loss="E_total",
        parameters=trained,
        steps=tuple(records),
        explanation=explanation,
    )


def _config_dict(config: Any) -> dict[str, Any]:
    out = {}
    for key, value in vars(config).items():
        out[key] = list(value) if isinstance(value, tuple) else value
    return out


# ---- the one-weight example --------------------------------------------------------------------
def build_one_weight(config: OneWeightConfig, weights: Mapping[str, float]) -> SeedNetwork:
    f64 = _dtype.float64
    x = name(tensor(config.x, dtype=f64), "x")
    y = name(tensor(config.y, dtype=f64), "y")
    W = name(tensor(weights["W"], dtype=f64, requires_grad=True), "W")
    b = name(tensor(weights["b"], dtype=f64, requires_grad=config.train_biases), "b")
    z = name(W * x + b, "z")
    L = name((z - y) ** 2, "L")
    parameters = {"W": W, "b": b} if config.train_biases else {"W": W}
    return SeedNetwork({"x": x, "y": y, "W": W, "b": b, "z": z, "L": L}, parameters, L)


def one_weight_tutorial(
    config: OneWeightConfig | None = None, explain: bool = True, **options: Any
) -> Tutorial:
    """Seed 002's example: x = 1, W = 0.5, b = 0, y = 0, L = (z − y)², lr 0.1: W 0.5 → 0.4.

    Options are :class:`OneWeightConfig`'s fields (``x``, ``W``, ``b``, ``y``, ``lr``,
    ``steps``, ``train_biases``).
    """
    config = replace(config or OneWeightConfig(), **options)
    start = {"W": float(config.W), "b": float(config.b)}
    trained = ("W", "b") if config.train_biases else ("W",)
    gradient_order = ("L", "z", "W") + (("b",) if config.train_biases else ())
    records, explanation = _run(
        "one-weight",
        lambda weights: build_one_weight(config, weights),
        start,
        trained,
        ("x", "y", "W", "b", "z", "L"),
        gradient_order,
        float(config.lr),
        config.steps,
        explain,
    )
    return Tutorial(
        example="one-weight",
        title="One weight: z = W x + b, L = (z − y)²",
        source="002_f7d6bdf578706912.txt",
        config=_config_dict(config),
        loss="L",
        parameters=trained,
        steps=tuple(records),
        explanation=explanation,
    )


def tutorial(example: str = "seed", **options: Any) -> Tutorial:
    """Run a seed example by name: ``"seed"`` (the 2-2-2 network) or ``"one-weight"``."""
    if example == "seed":
        return seed_tutorial(**options)
    if example == "one-weight":
        return one_weight_tutorial(**options)
    raise ValueError(f"unknown example {example!r}; choose 'seed' or 'one-weight'")

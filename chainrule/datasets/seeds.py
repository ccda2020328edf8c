"""The worked examples of the three seed tutorials, as plain frozen records of their numbers."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = [
    "ONE_WEIGHT",
    "TWO_LAYER",
    "TWO_LAYER_IDENTITY_OUTPUT",
    "OneWeightExample",
    "TwoLayerExample",
]

_WEIGHT_NAMES = ("w1", "w2", "w3", "w4", "w5", "w6", "w7", "w8")


@dataclass(frozen=True)
class TwoLayerExample:
    """The 2-2-2 network of seeds ``000`` and ``001``: inputs, targets, weights w1..w8, rate.

    h1 = w1·i1 + w2·i2, h2 = w3·i1 + w4·i2, a_h = σ(h); o1 = w5·a_h1 + w6·a_h2,
    o2 = w7·a_h1 + w8·a_h2, a_o = σ(o) (seed 001) or a_o = o (seed 000);
    E_total = ½(t1 − a_o1)² + ½(t2 − a_o2)². There are no biases: the seeds' formulas have none.

    Examples
    --------
    >>> from chainrule.datasets import TWO_LAYER
    >>> TWO_LAYER.named_weights()["w5"], TWO_LAYER.learning_rate
    (0.4, 0.5)
    >>> TWO_LAYER.hidden_weight()  # rows are h1, h2, as nn.Linear(2, 2).weight
    ((0.15, 0.2), (0.25, 0.3))
    """

    inputs: tuple[float, float] = (0.05, 0.10)  # i1, i2
    targets: tuple[float, float] = (0.5, 0.5)  # t1, t2
    weights: tuple[float, ...] = (0.15, 0.20, 0.25, 0.30, 0.40, 0.45, 0.50, 0.55)  # w1..w8
    learning_rate: float = 0.5
    hidden_activation: str = "sigmoid"
    output_activation: str = "sigmoid"
    weight_names: tuple[str, ...] = field(default=_WEIGHT_NAMES)
    source: str = "001_aa0b69d202e5096f.txt"

    def named_weights(self) -> dict[str, float]:
        """``{"w1": 0.15, ..., "w8": 0.55}``."""
        return dict(zip(self.weight_names, self.weights, strict=True))

    def hidden_weight(self) -> tuple[tuple[float, float], tuple[float, float]]:
        """The input→hidden weights as a (2, 2) matrix ``[[w1, w2], [w3, w4]]`` (out, in)."""
        w = self.weights
        return ((w[0], w[1]), (w[2], w[3]))

    def output_weight(self) -> tuple[tuple[float, float], tuple[float, float]]:
        """The hidden→output weights as a (2, 2) matrix ``[[w5, w6], [w7, w8]]`` (out, in)."""
        w = self.weights
        return ((w[4], w[5]), (w[6], w[7]))


@dataclass(frozen=True)
class OneWeightExample:
    """Seed ``002``'s one-weight network z = W·x + b, identity activation, loss (z − y)².

    Besides the starting values it keeps the numbers the seed prints after one step:
    z = 0.5, loss = 0.25, dL/dW = 1.0 and the updated W = 0.4.

    Examples
    --------
    >>> from chainrule.datasets import ONE_WEIGHT
    >>> ONE_WEIGHT.W - ONE_WEIGHT.learning_rate * ONE_WEIGHT.grad_W
    0.4
    """

    x: float = 1.0
    W: float = 0.5  # noqa: N815 - the seed's name
    b: float = 0.0
    y: float = 0.0
    learning_rate: float = 0.1
    z: float = 0.5
    loss: float = 0.25
    grad_W: float = 1.0  # noqa: N815 - the seed's name
    W_after: float = 0.4  # noqa: N815 - the seed's name
    source: str = "002_f7d6bdf578706912.txt"


TWO_LAYER = TwoLayerExample()
TWO_LAYER_IDENTITY_OUTPUT = TwoLayerExample(
    output_activation="identity", source="000_76c33669d4aa9086.txt"
)
ONE_WEIGHT = OneWeightExample()

"""The gradient checks of a set of named ops, each on random float64 inputs in its domain."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from chainrule.autograd.grad_mode import no_grad
from chainrule.gradcheck_report.checks import ATOL, EPS, RTOL, GradcheckReport, check_parameters
from chainrule.tensor import Tensor


@dataclass(frozen=True)
class OpCase:
    """An op to check: its inputs (name, shape, domain) and how to call it."""

    description: str
    inputs: tuple[tuple[str, tuple[int, ...], str], ...]
    call: Callable[..., Tensor]


def _draw(rng: np.random.Generator, shape: tuple[int, ...], domain: str) -> np.ndarray:
    """real: N(0, 1); positive: U(0.5, 2); nonzero: ±U(0.2, 2), away from kinks at 0."""
    if domain == "positive":
        return rng.uniform(0.5, 2.0, shape)
    if domain == "nonzero":
        return rng.uniform(0.2, 2.0, shape) * rng.choice([-1.0, 1.0], shape)
    return rng.standard_normal(shape)


def _ops() -> dict[str, OpCase]:
    import chainrule as cr
    from chainrule.nn import functional as F

    x34 = (("x", (3, 4), "real"),)
    labels = Tensor._wrap(np.array([1, 0, 4, 2], dtype=np.int64))
    index = Tensor._wrap(np.array([2, 0, 2, 1], dtype=np.int64))  # repeats: backward scatter-adds
    targets = Tensor._wrap(np.array([[0.0, 1.0, 1.0], [1.0, 0.0, 0.5]]))

    def unary(f: Callable[..., Tensor], domain: str = "real") -> tuple[Any, Any]:
        return (("x", (3, 4), domain),), f

    table: dict[str, tuple[str, Any, Any]] = {
        "sigmoid": ("σ(x)", *unary(cr.sigmoid)),
        "tanh": ("tanh(x)", *unary(cr.tanh)),
        "exp": ("e^x", *unary(cr.exp)),
        "log": ("log x, x > 0", *unary(cr.log, "positive")),
        "log1p": ("log(1 + x), x > 0", *unary(cr.log1p, "positive")),
        "sqrt": ("√x, x > 0", *unary(cr.sqrt, "positive")),
        "sin": ("sin x", *unary(cr.sin)),
        "cos": ("cos x", *unary(cr.cos)),
        "abs": ("|x|, away from 0", *unary(cr.abs, "nonzero")),
        "relu": ("max(0, x), away from 0", *unary(cr.relu, "nonzero")),
        "leaky_relu": (
            "leaky ReLU (slope 0.1), away from 0",
            *unary(lambda x: F.leaky_relu(x, 0.1), "nonzero"),
        ),
        "elu": ("ELU, away from 0", *unary(F.elu, "nonzero")),
        "gelu": ("GELU (erf)", *unary(F.gelu)),
        "silu": ("x σ(x)", *unary(F.silu)),
        "softplus": ("log(1 + e^x)", *unary(F.softplus)),
        "pow": (
            "x ** y, x > 0 (both inputs)",
            (("x", (3, 4), "positive"), ("y", (3, 4), "real")),
            lambda x, y: x**y,
        ),
        "mul": (
            "x * y broadcast (3, 4) * (4,)",
            (("x", (3, 4), "real"), ("y", (4,), "real")),
            lambda x, y: x * y,
        ),
        "div": (
            "x / y broadcast (3, 4) / (3, 1), y > 0",
            (("x", (3, 4), "real"), ("y", (3, 1), "positive")),
            lambda x, y: x / y,
        ),
        "maximum": (
            "elementwise max(x, y)",
            (("x", (3, 4), "real"), ("y", (3, 4), "real")),
            cr.maximum,
        ),
        "sum": ("sum over dim 1", x34, lambda x: x.sum(dim=1)),
        "mean": ("mean over dim 0, keepdim", x34, lambda x: x.mean(dim=0, keepdim=True)),
        "max": ("max over dim 1", x34, lambda x: x.max(dim=1)[0]),
        "prod": ("product over dim 1, x ≠ 0", (("x", (3, 4), "nonzero"),), lambda x: x.prod(dim=1)),
        "var": ("variance over dim 1", x34, lambda x: x.var(dim=1)),
        "std": ("standard deviation over dim 1", x34, lambda x: x.std(dim=1)),
        "logsumexp": ("log Σ e^x over dim 1", x34, lambda x: cr.logsumexp(x, dim=1)),
        "softmax": ("softmax over dim 1", x34, lambda x: F.softmax(x, dim=1)),
        "log_softmax": ("log-softmax over dim 1", x34, lambda x: F.log_softmax(x, dim=1)),
        "matmul": (
            "a @ b, (3, 4) @ (4, 5)",
            (("a", (3, 4), "real"), ("b", (4, 5), "real")),
            lambda a, b: a @ b,
        ),
        "bmm": (
            "batched a @ b, (2, 3, 4) @ (4, 5) broadcast",
            (("a", (2, 3, 4), "real"), ("b", (4, 5), "real")),
            lambda a, b: a @ b,
        ),
        "linear": (
            "x Wᵀ + b",
            (("input", (4, 5), "real"), ("weight", (3, 5), "real"), ("bias", (3,), "real")),
            F.linear,
        ),
        "conv2d": (
            "conv2d, 3×3 kernel, stride 2, padding 1",
            (
                ("input", (2, 3, 6, 6), "real"),
                ("weight", (4, 3, 3, 3), "real"),
                ("bias", (4,), "real"),
            ),
            lambda x, w, b: F.conv2d(x, w, b, stride=2, padding=1),
        ),
        "conv2d_groups": (
            "conv2d, groups 2, dilation 2",
            (("input", (2, 4, 7, 7), "real"), ("weight", (6, 2, 3, 3), "real")),
            lambda x, w: F.conv2d(x, w, dilation=2, groups=2),
        ),
        "conv1d": (
            "conv1d, kernel 3, padding 1",
            (("input", (2, 3, 8), "real"), ("weight", (4, 3, 3), "real"), ("bias", (4,), "real")),
            lambda x, w, b: F.conv1d(x, w, b, padding=1),
        ),
        "max_pool2d": (
            "2×2 max pooling",
            (("input", (2, 3, 6, 6), "real"),),
            lambda x: F.max_pool2d(x, 2),
        ),
        "avg_pool2d": (
            "3×3 average pooling, stride 2, padding 1",
            (("input", (2, 3, 6, 6), "real"),),
            lambda x: F.avg_pool2d(x, 3, stride=2, padding=1),
        ),
        "adaptive_avg_pool2d": (
            "global average pooling",
            (("input", (2, 3, 5, 5), "real"),),
            lambda x: F.adaptive_avg_pool2d(x, 1),
        ),
        "batch_norm": (
            "batch norm, training statistics",
            (("input", (4, 3, 2, 2), "real"), ("weight", (3,), "real"), ("bias", (3,), "real")),
            lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True),
        ),
        "layer_norm": (
            "layer norm over the last dim",
            (("input", (3, 5), "real"), ("weight", (5,), "real"), ("bias", (5,), "real")),
            lambda x, w, b: F.layer_norm(x, (5,), w, b),
        ),
        "cross_entropy": (
            "cross-entropy of logits (4, 5) against class labels",
            (("input", (4, 5), "real"),),
            lambda x: F.cross_entropy(x, labels),
        ),
        "bce_with_logits": (
            "binary cross-entropy with logits",
            (("input", (2, 3), "real"),),
            lambda x: F.binary_cross_entropy_with_logits(x, targets),
        ),
        "mse_loss": (
            "mean squared error",
            (("input", (3, 4), "real"), ("target", (3, 4), "real")),
            F.mse_loss,
        ),
        "index": ("advanced indexing x[[2, 0, 2, 1]] (repeated rows)", x34, lambda x: x[index]),
        "embedding": (
            "embedding lookup with repeated ids",
            (("weight", (3, 4), "real"),),
            lambda w: F.embedding(index, w),
        ),
        "cat": (
            "cat along dim 1",
            (("x", (3, 4), "real"), ("y", (3, 2), "real")),
            lambda x, y: cr.cat([x, y], dim=1),
        ),
    }
    return {
        name: OpCase(description, inputs, call)
        for name, (description, inputs, call) in table.items()
    }


# the ops `chainrule gradcheck --op` checks: the table's own keys, in its order
OPS: tuple[str, ...] = tuple(_ops())


def op_report(
    name: str,
    eps: float = EPS,
    rtol: float = RTOL,
    atol: float = ATOL,
    seed: int = 0,
    max_elements: int | None = None,
) -> GradcheckReport:
    """Check op ``name``'s gradient for each input: random float64 inputs in the op's domain,
    and the scalar ⟨v, op(inputs)⟩ with a random upstream gradient v (so a rule that ignores
    the incoming gradient's values fails), every element (or ``max_elements`` of each)."""
    cases = _ops()
    if name not in cases:
        raise ValueError(f"unknown op {name!r}: choose one of {', '.join(OPS)}")
    case = cases[name]
    rng = np.random.default_rng(seed)
    inputs = [
        Tensor._wrap(_draw(rng, shape, domain)).requires_grad_(True)
        for _, shape, domain in case.inputs
    ]
    with no_grad():
        out_shape = case.call(*inputs).shape
    v = Tensor._wrap(rng.standard_normal(out_shape))

    def loss() -> Tensor:
        return (case.call(*inputs) * v).sum()

    checks = check_parameters(
        loss,
        [(n, t) for (n, _, _), t in zip(case.inputs, inputs, strict=True)],
        eps,
        rtol,
        atol,
        max_elements,
        seed,
    )
    return GradcheckReport(
        f"op {name}: {case.description}; output {tuple(out_shape)}, "
        "checked as ⟨v, output⟩ with random v",
        checks,
        eps,
        rtol,
        atol,
    )

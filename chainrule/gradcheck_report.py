"""Gradient checks as a readable report: for each parameter (or op input), backward's gradient
against central finite differences in float64, with norms, errors and the worst element.

``chainrule.autograd.gradcheck`` answers yes or no; this module says where and by how much, for
a model's parameters or for one of a set of named ops (what ``chainrule gradcheck`` prints).

Examples
--------
>>> from chainrule.gradcheck_report import op_report
>>> report = op_report("sigmoid")
>>> report.passed, [c.name for c in report.checks]
(True, ['x'])
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from chainrule import nn
from chainrule.autograd.functional_api import grad as autograd_grad
from chainrule.autograd.grad_mode import no_grad
from chainrule.tensor import Tensor

__all__ = [
    "MODELS",
    "OPS",
    "GradcheckReport",
    "ParameterCheck",
    "check_parameters",
    "model_report",
    "op_report",
]

EPS, RTOL, ATOL = 1e-6, 1e-3, 1e-5  # chainrule.autograd.gradcheck's defaults
MODELS = ("mlp", "cnn")


@dataclass(frozen=True)
class ParameterCheck:
    """One parameter's comparison, over the ``checked`` of its ``size`` elements.

    ``relative_error`` is ‖a − n‖ / max(‖a‖ + ‖n‖, atol) (the floor keeps a gradient that
    vanishes, such as a bias before BatchNorm, from showing rounding noise as 100 %; 0 when
    nothing differs); an element passes when
    |a − n| ≤ atol + rtol·|n|; ``worst_index`` is the element furthest outside (or least inside)
    that bound, with its analytic and numeric values.
    """

    name: str
    shape: tuple[int, ...]
    size: int
    checked: int
    analytic_norm: float
    numeric_norm: float
    max_abs_error: float
    relative_error: float
    worst_index: tuple[int, ...]
    analytic_at_worst: float
    numeric_at_worst: float
    failing: int
    passed: bool


@dataclass(frozen=True)
class GradcheckReport:
    """The checks of one model or op, and the settings they used."""

    subject: str
    checks: tuple[ParameterCheck, ...]
    eps: float
    rtol: float
    atol: float

    @property
    def passed(self) -> bool:
        return all(check.passed for check in self.checks)

    def to_dict(self) -> dict[str, Any]:
        return {
            "subject": self.subject,
            "eps": self.eps,
            "rtol": self.rtol,
            "atol": self.atol,
            "passed": self.passed,
            "checks": [
                {**asdict(c), "shape": list(c.shape), "worst_index": list(c.worst_index)}
                for c in self.checks
            ],
        }

    def to_text(self) -> str:
        header = (
            "parameter",
            "shape",
            "checked",
            "|analytic|",
            "|numeric|",
            "max abs err",
            "rel err",
            "worst",
            "analytic",
            "numeric",
            "result",
        )
        rows = [header]
        for c in self.checks:
            rows.append(
                (
                    c.name,
                    str(c.shape),
                    f"{c.checked}/{c.size}" if c.checked < c.size else str(c.size),
                    f"{c.analytic_norm:.6g}",
                    f"{c.numeric_norm:.6g}",
                    f"{c.max_abs_error:.2e}",
                    f"{c.relative_error:.2e}",
                    str(c.worst_index),
                    f"{c.analytic_at_worst:.6g}",
                    f"{c.numeric_at_worst:.6g}",
                    "ok" if c.passed else f"FAIL ({c.failing})",
                )
            )
        widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
        numeric = {2, 3, 4, 5, 6, 8, 9}
        lines = [
            "  ".join(
                cell.rjust(w) if i in numeric else cell.ljust(w)
                for i, (cell, w) in enumerate(zip(row, widths, strict=True))
            ).rstrip()
            for row in rows
        ]
        failed = [c.name for c in self.checks if not c.passed]
        elements = sum(c.checked for c in self.checks)
        verdict = (
            f"all {len(self.checks)} passed ({elements} elements)"
            if not failed
            else f"{len(failed)} of {len(self.checks)} FAILED: {', '.join(failed)}"
        )
        return (
            f"gradcheck: {self.subject}\n"
            f"backward vs central differences (float64), eps {self.eps:g}; an element "
            f"passes when |a - n| <= {self.atol:g} + {self.rtol:g}·|n|\n\n"
            + "\n".join(lines)
            + f"\n\n{verdict}\n"
        )


def _compare(
    name: str,
    shape: tuple[int, ...],
    size: int,
    index: np.ndarray,
    analytic: np.ndarray,
    numeric: np.ndarray,
    rtol: float,
    atol: float,
) -> ParameterCheck:
    error = np.abs(analytic - numeric)
    bound = atol + rtol * np.abs(numeric)
    bad = error > bound
    bad |= ~np.isfinite(analytic) | ~np.isfinite(numeric)
    a_norm, n_norm = float(np.linalg.norm(analytic)), float(np.linalg.norm(numeric))
    difference = float(np.linalg.norm(analytic - numeric))
    relative = difference / max(a_norm + n_norm, atol) if difference > 0 else 0.0
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(bound > 0, error / bound, np.where(error > 0, np.inf, 0.0))
    ratio = np.where(np.isnan(ratio), np.inf, ratio)  # NaN anywhere is the worst there is
    worst = int(np.lexsort((np.nan_to_num(error, nan=np.inf), ratio))[-1]) if error.size else 0
    worst_index = (
        tuple(int(i) for i in np.unravel_index(int(index[worst]), shape)) if error.size else ()
    )
    return ParameterCheck(
        name,
        shape,
        size,
        int(index.size),
        a_norm,
        n_norm,
        float(error.max()) if error.size else 0.0,
        relative,
        worst_index,
        float(analytic[worst]) if error.size else 0.0,
        float(numeric[worst]) if error.size else 0.0,
        int(bad.sum()),
        not bool(bad.any()),
    )


def check_parameters(
    loss: Callable[[], Tensor],
    params: Sequence[tuple[str, Tensor]],
    eps: float = EPS,
    rtol: float = RTOL,
    atol: float = ATOL,
    max_elements: int | None = None,
    seed: int = 0,
) -> tuple[ParameterCheck, ...]:
    """Compare d loss() / d param from one backward pass with central differences
    (loss(p + eps) − loss(p − eps)) / 2 eps, element by element, for every named parameter.

    ``loss`` must be a deterministic function of the parameters returning a scalar (no
    dropout). Parameters must be float64. ``max_elements`` checks only that many elements of
    each parameter, chosen at random with ``seed`` (the default checks them all).
    """
    for name, param in params:
        if param.dtype != np.float64:
            raise TypeError(
                f"gradcheck: {name} is {param.dtype}; finite differences need float64 "
                "(call .double() on the model or tensor)"
            )
    value = loss()
    if value.numel() != 1:
        raise ValueError(f"gradcheck: the loss must be a scalar, got shape {value.shape}")
    found = autograd_grad([value], [p for _, p in params], allow_unused=True)
    rng = np.random.default_rng(seed)
    checks = []
    for (name, param), g in zip(params, found, strict=True):
        size = param.numel()
        analytic = np.zeros(size) if g is None else np.asarray(g._data, np.float64).reshape(-1)
        index = np.arange(size)
        if max_elements is not None and size > max_elements:
            index = np.sort(rng.choice(size, max_elements, replace=False))
        numeric = np.empty(index.size)
        data = param._data
        with no_grad():
            for position, flat in enumerate(index):
                element = np.unravel_index(int(flat), data.shape)
                original = data[element]
                try:
                    data[element] = original + eps
                    plus = float(loss()._data)
                    data[element] = original - eps
                    minus = float(loss()._data)
                finally:
                    data[element] = original
                numeric[position] = (plus - minus) / (2 * eps)
        checks.append(
            _compare(name, tuple(param.shape), size, index, analytic[index], numeric, rtol, atol)
        )
    return tuple(checks)


# ---- models ----------------------------------------------------------------------------------
def model_report(
    model: str = "mlp",
    samples: int = 8,
    eps: float = EPS,
    rtol: float = RTOL,
    atol: float = ATOL,
    max_elements: int | None = None,
    seed: int = 0,
) -> GradcheckReport:
    """Check every parameter of a float64 model under cross-entropy on the first ``samples``
    training digits.

    ``mlp``: 64-32-10 with tanh (smooth, so no kink sits near a finite-difference step), every
    element. ``cnn``: ``chainrule.train.digits_cnn`` (BatchNorm in train mode, dropout off so
    the loss is deterministic), ``max_elements`` (default 32) random elements per parameter.
    """
    from chainrule.datasets import digits
    from chainrule.random import manual_seed
    from chainrule.train import digits_cnn, mlp_for

    if model not in MODELS:
        raise ValueError(f"unknown model {model!r}: choose one of {', '.join(MODELS)}")
    manual_seed(seed)
    x, y = digits(train=True, flat=model == "mlp", dtype=np.float64)
    x, y = x[:samples], y[:samples]
    if model == "mlp":
        network: nn.Module = mlp_for(64, 10, hidden=(32,), activation=nn.Tanh).double()
        subject = f"MLP 64-32-10 (tanh), float64, cross-entropy on {len(y)} digits samples"
    else:
        network = digits_cnn().double().train()
        for module in network.modules():
            if isinstance(module, nn.Dropout):
                module.eval()
        max_elements = 32 if max_elements is None else max_elements
        subject = (
            f"digits CNN ({sum(p.numel() for p in network.parameters())} parameters, "
            f"BatchNorm in train mode, dropout off), float64, cross-entropy on {len(y)} "
            "digits samples"
        )
    loss_fn = nn.CrossEntropyLoss()
    checks = check_parameters(
        lambda: loss_fn(network(x), y),
        list(network.named_parameters()),
        eps,
        rtol,
        atol,
        max_elements,
        seed,
    )
    return GradcheckReport(subject, checks, eps, rtol, atol)


# ---- ops -------------------------------------------------------------------------------------
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


OPS: tuple[str, ...] = (
    "sigmoid",
    "tanh",
    "exp",
    "log",
    "log1p",
    "sqrt",
    "sin",
    "cos",
    "abs",
    "relu",
    "leaky_relu",
    "elu",
    "gelu",
    "silu",
    "softplus",
    "pow",
    "mul",
    "div",
    "maximum",
    "sum",
    "mean",
    "max",
    "prod",
    "var",
    "std",
    "logsumexp",
    "softmax",
    "log_softmax",
    "matmul",
    "bmm",
    "linear",
    "conv2d",
    "conv2d_groups",
    "conv1d",
    "max_pool2d",
    "avg_pool2d",
    "adaptive_avg_pool2d",
    "batch_norm",
    "layer_norm",
    "cross_entropy",
    "bce_with_logits",
    "mse_loss",
    "index",
    "embedding",
    "cat",
)


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

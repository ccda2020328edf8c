"""The op catalog: one line per op case, driving every op check in the test suite.

Each :class:`OpCase` names an op, gives a callable ``fn(m, *inputs)`` that runs on both
libraries (``m`` is the ``chainrule`` module or :data:`torch_namespace()`, which resolves
``m.relu``, ``m.conv2d``, ``m.pad`` ... to ``torch`` / ``torch.nn.functional``), the inputs'
shapes and domains, and the kinks the sampled values must stay away from. The PyTorch
comparison (``test_ops_vs_torch.py``), the finite-difference checks
(``test_ops_finite_differences.py``) and the Hypothesis properties (``test_ops_properties.py``)
all iterate over :data:`CATALOG` (and its families :data:`UNARY`, :data:`BINARY`,
:data:`REDUCTIONS`). Adding an op is adding one line.

This module never imports torch at import time: the finite-difference checks run without it.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

# ---- inputs ---------------------------------------------------------------------------------

FLOAT_DOMAINS = ("real", "positive", "nonzero", "gt-1", "unit", "ties")


@dataclass(frozen=True)
class Arg:
    """One input of an op case: its shape and the domain its values are drawn from.

    Domains: ``real`` (standard normal), ``positive`` (uniform in [0.5, 2]), ``nonzero``
    (±[0.5, 2], for denominators), ``gt-1`` (uniform in [-0.5, 2], for log1p), ``unit``
    (uniform in [-0.9, 0.9]), ``ties`` (floats from {-1, 0, 1}, so comparisons see equal
    elements; never differentiated), ``index`` (int64 in [0, high)), ``bool`` (a random mask).
    ``values`` fixes the input (an index with repeated entries, say).
    """

    shape: tuple[int, ...]
    domain: str = "real"
    high: int = 0
    values: Any = None
    grad: bool | None = None

    @property
    def is_float(self) -> bool:
        return self.domain in FLOAT_DOMAINS

    @property
    def requires_grad(self) -> bool:
        if self.grad is not None:
            return self.grad
        return self.is_float and self.domain != "ties"


def R(*shape: int) -> Arg:  # noqa: N802
    """A real-valued input that is differentiated."""
    return Arg(shape)


def P(*shape: int) -> Arg:  # noqa: N802
    """A positive input (log, sqrt, a pow base)."""
    return Arg(shape, "positive")


def NZ(*shape: int) -> Arg:  # noqa: N802
    """An input bounded away from zero (a denominator)."""
    return Arg(shape, "nonzero")


def T(*shape: int) -> Arg:  # noqa: N802
    """Floats from {-1, 0, 1}: comparisons meet ties."""
    return Arg(shape, "ties")


def I(high: int, *shape: int) -> Arg:  # noqa: E743, N802
    """A random int64 index in [0, high)."""
    return Arg(shape, "index", high=high)


def IV(values: Any) -> Arg:  # noqa: N802
    """A fixed int64 index (repeated entries on purpose)."""
    array = np.asarray(values, dtype=np.int64)
    return Arg(array.shape, "index", values=array)


def B(*shape: int) -> Arg:  # noqa: N802
    """A random bool mask."""
    return Arg(shape, "bool")


def BV(values: Any) -> Arg:  # noqa: N802
    """A fixed bool mask."""
    array = np.asarray(values, dtype=bool)
    return Arg(array.shape, "bool", values=array)


def const(arg: Arg) -> Arg:
    """The same input, not differentiated (running statistics, say)."""
    return Arg(arg.shape, arg.domain, arg.high, arg.values, grad=False)


def _push_off_kinks(x: np.ndarray, kinks: Sequence[float], gap: float = 0.1) -> np.ndarray:
    """Move values within ``gap`` of a kink to ``gap`` beyond it, keeping their side."""
    for k in kinks:
        near = np.abs(x - k) < gap
        side = np.where(x >= k, 1.0, -1.0)
        x = np.where(near, k + side * (gap + np.abs(x - k)), x)
    return x


def sample_arg(arg: Arg, rng: np.random.Generator, kinks: Sequence[float] = ()) -> np.ndarray:
    """A float64 / int64 / bool array for ``arg``."""
    if arg.values is not None:
        return np.array(arg.values)
    shape = arg.shape
    if arg.domain == "real":
        return _push_off_kinks(rng.standard_normal(shape), kinks)
    if arg.domain == "positive":
        return _push_off_kinks(rng.uniform(0.5, 2.0, shape), kinks)
    if arg.domain == "nonzero":
        return rng.uniform(0.5, 2.0, shape) * rng.choice([-1.0, 1.0], shape)
    if arg.domain == "gt-1":
        return rng.uniform(-0.5, 2.0, shape)
    if arg.domain == "unit":
        return _push_off_kinks(rng.uniform(-0.9, 0.9, shape), kinks)
    if arg.domain == "ties":
        return rng.integers(-1, 2, shape).astype(np.float64)
    if arg.domain == "index":
        return rng.integers(0, arg.high, shape).astype(np.int64)
    if arg.domain == "bool":
        return rng.random(shape) < 0.5
    raise ValueError(f"unknown domain {arg.domain!r}")


# ---- cases ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class OpCase:
    """One op, one way of calling it, one set of input shapes.

    ``second_order`` / ``vs_torch`` / ``finite_differences`` hold the reason when that check is
    skipped for the case (None: checked). ``torch_fn`` replaces ``fn`` for PyTorch where the
    spellings differ.
    """

    name: str
    fn: Callable[..., Any]
    args: tuple[Arg, ...]
    kinks: tuple[float, ...] = ()
    second_order: str | None = None
    vs_torch: str | None = None
    finite_differences: str | None = None
    torch_fn: Callable[..., Any] | None = None

    @property
    def differentiable(self) -> bool:
        return any(a.requires_grad for a in self.args)

    def sample(self, seed: int = 0) -> list[np.ndarray]:
        """The inputs as NumPy arrays (floats in float64), the same on every call."""
        rng = np.random.default_rng(zlib.crc32(self.name.encode()) + seed)
        return [sample_arg(a, rng, self.kinks) for a in self.args]

    def call(self, m: Any, *inputs: Any) -> Any:
        fn = self.torch_fn if self.torch_fn is not None and _is_torch(m) else self.fn
        return fn(m, *inputs)

    def __repr__(self) -> str:
        return self.name


NO_GRAD = "no gradient: the output is integer or bool"
_ONE_ELEMENT = "NaN by definition (a variance of one element with correction=1 is 0/0)"


def _is_torch(m: Any) -> bool:
    return isinstance(m, _TorchNamespace)


# ---- the PyTorch side -----------------------------------------------------------------------


class _TorchNamespace:
    """``torch`` with ``torch.nn.functional``'s ops reachable under the same flat names that
    ``chainrule`` uses (``m.conv2d``, ``m.pad``, ``m.embedding`` ...)."""

    FUNCTIONAL = frozenset(
        "relu leaky_relu elu gelu softplus silu softmax log_softmax one_hot conv1d conv2d "
        "max_pool2d avg_pool2d adaptive_avg_pool2d dropout embedding batch_norm layer_norm "
        "pad".split()
    )

    def __init__(self) -> None:
        import torch
        import torch.nn.functional as F

        self._torch = torch
        self._functional = F

    def __getattr__(self, name: str) -> Any:
        if name in self.FUNCTIONAL:
            return getattr(self._functional, name)
        return getattr(self._torch, name)


_TORCH: list[_TorchNamespace] = []


def torch_namespace() -> Any:
    """The PyTorch counterpart of the ``chainrule`` module for catalog callables."""
    if not _TORCH:
        _TORCH.append(_TorchNamespace())
    return _TORCH[0]


def outputs_of(result: Any) -> list[Any]:
    """An op's result as a flat list of tensors (a tuple from split, values+indices from max)."""
    if isinstance(result, (tuple, list)):
        return list(result)
    return [result]


# ---- families: the same op over many shapes / dims ------------------------------------------


@dataclass(frozen=True)
class Unary:
    name: str
    fn: Callable[..., Any]
    domain: str = "real"
    kinks: tuple[float, ...] = ()


@dataclass(frozen=True)
class Binary:
    name: str
    fn: Callable[..., Any]
    domains: tuple[str, str] = ("real", "real")
    differentiable: bool = True


@dataclass(frozen=True)
class Reduction:
    """``fn(m, x, dim, keepdim)``; ``tuple_dims`` / ``all_dims``: whether dim may be a tuple /
    None (None with keepdim=False only when ``keepdim_all`` is False)."""

    name: str
    fn: Callable[..., Any]
    tuple_dims: bool = True
    all_dims: bool = True
    keepdim_all: bool = True
    differentiable: bool = True
    domain: str = "real"


UNARY: list[Unary] = [
    Unary("neg", lambda m, x: -x),
    Unary("neg_fn", lambda m, x: m.neg(x)),
    Unary("abs", lambda m, x: m.abs(x), kinks=(0.0,)),
    Unary("abs_builtin", lambda m, x: abs(x), kinks=(0.0,)),
    Unary("exp", lambda m, x: m.exp(x)),
    Unary("log", lambda m, x: m.log(x), "positive"),
    Unary("log1p", lambda m, x: m.log1p(x), "gt-1"),
    Unary("sqrt", lambda m, x: m.sqrt(x), "positive"),
    Unary("sin", lambda m, x: m.sin(x)),
    Unary("cos", lambda m, x: m.cos(x)),
    Unary("tanh", lambda m, x: m.tanh(x)),
    Unary("sigmoid", lambda m, x: m.sigmoid(x)),
    Unary("relu", lambda m, x: m.relu(x), kinks=(0.0,)),
    Unary("leaky_relu", lambda m, x: m.leaky_relu(x), kinks=(0.0,)),
    Unary("leaky_relu_slope", lambda m, x: m.leaky_relu(x, negative_slope=0.2), kinks=(0.0,)),
    Unary("elu", lambda m, x: m.elu(x), kinks=(0.0,)),
    Unary("elu_alpha", lambda m, x: m.elu(x, alpha=0.5), kinks=(0.0,)),
    Unary("gelu", lambda m, x: m.gelu(x)),
    Unary("gelu_tanh", lambda m, x: m.gelu(x, approximate="tanh")),
    Unary("softplus", lambda m, x: m.softplus(x)),
    Unary("softplus_beta", lambda m, x: m.softplus(x, beta=2.0, threshold=3.0), kinks=(1.5,)),
    Unary("silu", lambda m, x: m.silu(x)),
    Unary("clamp", lambda m, x: m.clamp(x, min=-0.5, max=0.5), kinks=(-0.5, 0.5)),
    Unary("clamp_min", lambda m, x: m.clamp(x, min=-0.3), kinks=(-0.3,)),
    Unary("clamp_max", lambda m, x: x.clamp(max=0.2), kinks=(0.2,)),
    Unary("clamp_method", lambda m, x: x.clamp(-0.5, 0.5), kinks=(-0.5, 0.5)),
    Unary("pow_2", lambda m, x: x**2),
    Unary("pow_3", lambda m, x: x**3),
    Unary("pow_half", lambda m, x: x**0.5, "positive"),
    Unary("pow_neg", lambda m, x: x**-1.5, "positive"),
    Unary("pow_fn", lambda m, x: m.pow(x, 3)),
    Unary("rpow", lambda m, x: 2**x),
    Unary("rpow_np", lambda m, x: np.float64(1.5) ** x),
    # Python and NumPy scalars on either side of an operator
    Unary("add_scalar", lambda m, x: x + 2.5),
    Unary("radd_scalar", lambda m, x: 2.5 + x),
    Unary("sub_int", lambda m, x: x - 1),
    Unary("rsub_int", lambda m, x: 1 - x),
    Unary("mul_scalar", lambda m, x: 3 * x),
    Unary("mul_np64", lambda m, x: x * np.float64(0.5)),
    Unary("rmul_np64", lambda m, x: np.float64(0.5) * x),
    Unary("radd_np32", lambda m, x: np.float32(1.5) + x),
    Unary("rsub_np32", lambda m, x: np.float32(0.25) - x),
    Unary("div_scalar", lambda m, x: x / 4),
    Unary("div_np_int", lambda m, x: x / np.int64(3)),
    Unary("rdiv_scalar", lambda m, x: 4 / x, "nonzero"),
    Unary("rdiv_np64", lambda m, x: np.float64(2) / x, "nonzero"),
]

BINARY: list[Binary] = [
    Binary("add", lambda m, x, y: x + y),
    Binary("add_alpha", lambda m, x, y: m.add(x, y, alpha=2)),
    Binary("sub", lambda m, x, y: x - y),
    Binary("sub_alpha", lambda m, x, y: m.sub(x, y, alpha=0.5)),
    Binary("mul", lambda m, x, y: x * y),
    Binary("div", lambda m, x, y: x / y, ("real", "nonzero")),
    Binary("div_fn", lambda m, x, y: m.div(x, y), ("real", "nonzero")),
    Binary("pow", lambda m, x, y: x**y, ("positive", "real")),
    Binary("maximum", lambda m, x, y: m.maximum(x, y)),
    Binary("minimum", lambda m, x, y: m.minimum(x, y)),
    Binary("lt", lambda m, x, y: x < y, ("ties", "ties"), differentiable=False),
    Binary("le", lambda m, x, y: x <= y, ("ties", "ties"), differentiable=False),
    Binary("gt", lambda m, x, y: x > y, ("ties", "ties"), differentiable=False),
    Binary("ge", lambda m, x, y: x >= y, ("ties", "ties"), differentiable=False),
    Binary("eq", lambda m, x, y: x == y, ("ties", "ties"), differentiable=False),
    Binary("ne", lambda m, x, y: x != y, ("ties", "ties"), differentiable=False),
    Binary("eq_fn", lambda m, x, y: m.eq(x, y), ("ties", "ties"), differentiable=False),
    Binary("gt_fn", lambda m, x, y: m.gt(x, y), ("ties", "ties"), differentiable=False),
]

BINARY_SHAPES: list[tuple[tuple[int, ...], tuple[int, ...]]] = [
    ((3, 4), (3, 4)),
    ((3, 1), (1, 4)),
    ((2, 3, 4), (4,)),
    ((), (3,)),
    ((2, 1, 4), (3, 1)),
]


def _max_values(m: Any, x: Any, dim: Any, keepdim: bool) -> Any:
    return x.max() if dim is None else x.max(dim=dim, keepdim=keepdim)


def _min_values(m: Any, x: Any, dim: Any, keepdim: bool) -> Any:
    return x.min() if dim is None else x.min(dim=dim, keepdim=keepdim)


REDUCTIONS: list[Reduction] = [
    Reduction("sum", lambda m, x, dim, keepdim: x.sum(dim=dim, keepdim=keepdim)),
    Reduction("sum_fn", lambda m, x, dim, keepdim: m.sum(x, dim=dim, keepdim=keepdim)),
    Reduction("mean", lambda m, x, dim, keepdim: x.mean(dim=dim, keepdim=keepdim)),
    Reduction(
        "amax",
        lambda m, x, dim, keepdim: m.amax(x, dim=() if dim is None else dim, keepdim=keepdim),
    ),
    Reduction(
        "amin", lambda m, x, dim, keepdim: x.amin(dim=() if dim is None else dim, keepdim=keepdim)
    ),
    Reduction("max", _max_values, tuple_dims=False, keepdim_all=False),
    Reduction("min", _min_values, tuple_dims=False, keepdim_all=False),
    Reduction(
        "prod",
        lambda m, x, dim, keepdim: x.prod() if dim is None else x.prod(dim=dim, keepdim=keepdim),
        tuple_dims=False,
        keepdim_all=False,
    ),
    Reduction("var", lambda m, x, dim, keepdim: x.var(dim=dim, keepdim=keepdim)),
    Reduction(
        "var_biased", lambda m, x, dim, keepdim: m.var(x, dim=dim, keepdim=keepdim, unbiased=False)
    ),
    Reduction("std", lambda m, x, dim, keepdim: x.std(dim=dim, keepdim=keepdim)),
    Reduction(
        "std_correction0",
        lambda m, x, dim, keepdim: m.std(x, dim=dim, keepdim=keepdim, correction=0),
    ),
    Reduction(
        "logsumexp",
        lambda m, x, dim, keepdim: m.logsumexp(
            x, dim=tuple(range(x.ndim)) if dim is None else dim, keepdim=keepdim
        ),
    ),
    Reduction(
        "argmax",
        lambda m, x, dim, keepdim: (
            x.argmax() if dim is None else x.argmax(dim=dim, keepdim=keepdim)
        ),
        tuple_dims=False,
        keepdim_all=False,
        differentiable=False,
    ),
    Reduction(
        "argmin",
        lambda m, x, dim, keepdim: (
            m.argmin(x) if dim is None else m.argmin(x, dim=dim, keepdim=keepdim)
        ),
        tuple_dims=False,
        keepdim_all=False,
        differentiable=False,
    ),
]

REDUCTION_DIMS: list[tuple[Any, bool]] = [
    (None, False),
    (None, True),
    (0, False),
    (-1, True),
    (1, False),
    ((0, 2), False),
    ((-1, 0), True),
]


def _family_cases() -> list[OpCase]:
    cases = []
    for u in UNARY:
        cases.append(OpCase(u.name, u.fn, (Arg((3, 4), u.domain),), kinks=u.kinks))
    cases.append(OpCase("exp_0d", lambda m, x: m.exp(x), (R(),)))
    cases.append(OpCase("relu_3d", lambda m, x: m.relu(x), (R(2, 3, 4),), kinks=(0.0,)))
    for b in BINARY:
        for sx, sy in BINARY_SHAPES:
            shape_name = f"{'x'.join(map(str, sx)) or '0d'}_{'x'.join(map(str, sy)) or '0d'}"
            args = (Arg(sx, b.domains[0]), Arg(sy, b.domains[1]))
            cases.append(
                OpCase(
                    f"{b.name}[{shape_name}]",
                    b.fn,
                    args,
                    second_order=None if b.differentiable else NO_GRAD,
                )
            )
    for r in REDUCTIONS:
        for dim, keepdim in REDUCTION_DIMS:
            if (dim is None and (not r.all_dims or (keepdim and not r.keepdim_all))) or (
                isinstance(dim, tuple) and not r.tuple_dims
            ):
                continue
            x = Arg((2, 3, 4), r.domain, grad=None if r.differentiable else False)
            cases.append(
                OpCase(
                    f"{r.name}[dim={dim},keepdim={keepdim}]",
                    lambda m, x, _fn=r.fn, _dim=dim, _keep=keepdim: _fn(m, x, _dim, _keep),
                    (x,),
                    second_order=None if r.differentiable else NO_GRAD,
                )
            )
    return cases


# ---- everything else, one line per case -----------------------------------------------------


def _bn_train(m: Any, x: Any, w: Any, b: Any) -> Any:
    C = x.shape[1]
    return m.batch_norm(
        x,
        m.zeros(C, dtype=x.dtype),
        m.ones(C, dtype=x.dtype),
        w,
        b,
        training=True,
        momentum=0.1,
        eps=1e-5,
    )


def _dropout_seeded(m: Any, x: Any, p: float) -> Any:
    # the same mask on every call, so finite differences see one function
    m.manual_seed(0)
    return m.dropout(x, p, training=True)


_DROPOUT_RANDOM = (
    "the random mask differs between the libraries; checked by the mask relation "
    "in test_dropout_train_mask_relation and statistically"
)

_PADDING_ROW = (
    "the padding row's gradient is zero by PyTorch's convention, not the derivative "
    "of the output (which does read that row); compared against PyTorch instead"
)

OTHER: list[OpCase] = [
    # where: a bool condition broadcast against both branches
    OpCase("where", lambda m, c, x, y: m.where(c, x, y), (B(3, 4), R(3, 4), R(3, 4))),
    OpCase("where_broadcast", lambda m, c, x, y: m.where(c, x, y), (B(3, 1), R(1, 4), R(3, 4))),
    OpCase("where_scalar", lambda m, c, x: m.where(c, x, 0.0), (B(3, 4), R(3, 4))),
    OpCase(
        "where_scalar_first",
        lambda m, c, y: m.where(c, 1.5, y),
        (
            B(3, 4),
            R(
                4,
            ),
        ),
    ),
    OpCase(
        "where_cmp",
        lambda m, x, y: m.where(x > y, x, y * 2),
        (
            R(3, 4),
            R(
                4,
            ),
        ),
    ),
    # comparisons with a scalar
    OpCase("gt_scalar", lambda m, x: x > 0, (T(3, 4),), second_order=NO_GRAD),
    OpCase("le_scalar", lambda m, x: x <= 0.0, (T(3, 4),), second_order=NO_GRAD),
    OpCase("eq_scalar", lambda m, x: x == 1, (T(3, 4),), second_order=NO_GRAD),
    # matmul: every rank combination PyTorch defines
    OpCase("matmul[1d@1d]", lambda m, a, b: a @ b, (R(4), R(4))),
    OpCase("matmul[2d@1d]", lambda m, a, b: a @ b, (R(3, 4), R(4))),
    OpCase("matmul[1d@2d]", lambda m, a, b: a @ b, (R(4), R(4, 5))),
    OpCase("matmul[2d@2d]", lambda m, a, b: a @ b, (R(3, 4), R(4, 5))),
    OpCase("matmul[3d@3d]", lambda m, a, b: a @ b, (R(2, 3, 4), R(2, 4, 5))),
    OpCase("matmul[4d@3d broadcast]", lambda m, a, b: a @ b, (R(2, 1, 3, 4), R(3, 4, 5))),
    OpCase("matmul[3d@2d]", lambda m, a, b: m.matmul(a, b), (R(2, 3, 4), R(4, 5))),
    OpCase("matmul[2d@3d]", lambda m, a, b: m.matmul(a, b), (R(3, 4), R(2, 4, 5))),
    OpCase("matmul[3d@1d]", lambda m, a, b: a @ b, (R(2, 3, 4), R(4))),
    OpCase("matmul[1d@3d]", lambda m, a, b: a @ b, (R(4), R(2, 4, 5))),
    OpCase("matmul[batch1@3d]", lambda m, a, b: a @ b, (R(1, 3, 4), R(2, 4, 5))),
    OpCase("mm", lambda m, a, b: m.mm(a, b), (R(3, 4), R(4, 2))),
    OpCase("bmm", lambda m, a, b: m.bmm(a, b), (R(2, 3, 4), R(2, 4, 2))),
    # shape ops
    OpCase("reshape", lambda m, x: x.reshape(2, 6), (R(3, 4),)),
    OpCase("reshape_neg1", lambda m, x: m.reshape(x, (-1,)), (R(3, 4),)),
    OpCase("reshape_3d", lambda m, x: x.reshape(4, -1, 2), (R(2, 3, 4),)),
    OpCase("view", lambda m, x: x.view(4, 3), (R(3, 4),)),
    OpCase("view_neg1", lambda m, x: x.view(-1, 2), (R(2, 3, 4),)),
    OpCase("flatten", lambda m, x: x.flatten(), (R(2, 3, 4),)),
    OpCase("flatten_1", lambda m, x: m.flatten(x, 1), (R(2, 3, 4),)),
    OpCase("flatten_0_1", lambda m, x: x.flatten(0, 1), (R(2, 3, 4),)),
    OpCase("squeeze", lambda m, x: x.squeeze(), (R(3, 1, 4, 1),)),
    OpCase("squeeze_1", lambda m, x: x.squeeze(1), (R(3, 1, 4, 1),)),
    OpCase("squeeze_noop", lambda m, x: m.squeeze(x, 0), (R(3, 1, 4, 1),)),
    OpCase("unsqueeze_0", lambda m, x: x.unsqueeze(0), (R(3, 4),)),
    OpCase("unsqueeze_neg", lambda m, x: m.unsqueeze(x, -1), (R(3, 4),)),
    OpCase("transpose", lambda m, x: x.transpose(0, 1), (R(3, 4),)),
    OpCase("transpose_neg", lambda m, x: m.transpose(x, -1, -3), (R(2, 3, 4),)),
    OpCase("T", lambda m, x: x.T, (R(3, 4),)),
    OpCase("permute", lambda m, x: x.permute(2, 0, 1), (R(2, 3, 4),)),
    OpCase("permute_fn", lambda m, x: m.permute(x, (1, 2, 0)), (R(2, 3, 4),)),
    OpCase("expand", lambda m, x: x.expand(3, 4), (R(3, 1),)),
    OpCase("expand_new_dims", lambda m, x: x.expand(2, 3, 4), (R(4),)),
    OpCase("expand_neg1", lambda m, x: x.expand(2, -1, 4), (R(3, 1),)),
    # indexing: basic
    OpCase("index_int", lambda m, x: x[1], (R(3, 4),)),
    OpCase("index_slice", lambda m, x: x[:, 1:3], (R(3, 4),)),
    OpCase("index_step", lambda m, x: x[::2, 1::2], (R(5, 4),)),
    OpCase("index_none_ellipsis", lambda m, x: x[1:, None, ..., 0], (R(3, 4, 2),)),
    OpCase("index_scalar", lambda m, x: x[0, -1], (R(3, 4),)),
    OpCase("index_negative", lambda m, x: x[-1, :-1], (R(3, 4),)),
    # indexing: advanced (repeated indices accumulate in backward)
    OpCase("index_list_repeat", lambda m, x: x[[0, 2, 0, 0]], (R(3, 4),)),
    OpCase("index_tensor", lambda m, x, i: x[i], (R(5, 3), I(5, 7))),
    OpCase("index_tensor_2d", lambda m, x, i: x[i], (R(5, 3), IV([[0, 4], [4, 4], [1, 0]]))),
    OpCase(
        "index_pairs_repeat",
        lambda m, x, i, j: x[i, j],
        (R(3, 4), IV([0, 2, 0, 0]), IV([1, 3, 1, 1])),
    ),
    OpCase("index_cols_repeat", lambda m, x: x[:, [1, 1, 3]], (R(3, 4),)),
    OpCase("index_mixed", lambda m, x, i: x[i, 1:3], (R(3, 4), IV([2, 0, 2]))),
    # indexing: boolean
    OpCase("index_mask", lambda m, x, k: x[k], (R(3, 4), B(3, 4))),
    OpCase("index_mask_rows", lambda m, x, k: x[k], (R(5, 2), BV([1, 0, 1, 1, 0]))),
    OpCase("index_by_value", lambda m, x: x[x > 0], (R(3, 4),)),
    # gather / scatter_add / index_select
    OpCase(
        "gather_dim1",
        lambda m, x, i: m.gather(x, 1, i),
        (R(3, 4), IV([[0, 0, 3], [1, 2, 1], [3, 3, 3]])),
    ),
    OpCase(
        "gather_dim0", lambda m, x, i: x.gather(0, i), (R(3, 4), IV([[2, 0, 2, 2], [0, 0, 1, 2]]))
    ),
    OpCase("gather_neg_dim", lambda m, x, i: m.gather(x, -1, i), (R(2, 3, 4), I(4, 2, 3, 5))),
    OpCase(
        "scatter_add_dim0",
        lambda m, x, i, s: m.scatter_add(x, 0, i, s),
        (R(3, 4), IV([[0, 1, 0, 2], [0, 0, 2, 2]]), R(2, 4)),
    ),
    OpCase(
        "scatter_add_dim1_bigger_src",
        lambda m, x, i, s: x.scatter_add(1, i, s),
        (R(3, 5), IV([[0, 0, 4], [1, 3, 1]]), const(R(3, 4))),
    ),
    OpCase(
        "scatter_add_dim1_bigger_src_grad",
        lambda m, x, i, s: m.scatter_add(x, 1, i, s),
        (R(3, 5), IV([[0, 0, 4], [1, 3, 1]]), R(3, 4)),
        vs_torch="PyTorch's backward rejects a src larger than index (ScatterAddBackward0 "
        "shape error); finite differences check this gradient",
    ),
    OpCase(
        "index_select_dim0", lambda m, x, i: m.index_select(x, 0, i), (R(4, 3), IV([3, 0, 3, 1]))
    ),
    OpCase("index_select_dim1", lambda m, x, i: x.index_select(1, i), (R(2, 4, 3), IV([2, 2, 0]))),
    # cat / stack / split / chunk
    OpCase("cat_dim0", lambda m, x, y: m.cat([x, y], dim=0), (R(2, 3), R(4, 3))),
    OpCase("cat_dim1", lambda m, x, y: m.cat([x, y], dim=1), (R(2, 3), R(2, 1))),
    OpCase(
        "cat_three_neg",
        lambda m, x, y, z: m.cat((x, y, z), dim=-1),
        (R(2, 2, 1), R(2, 2, 3), R(2, 2, 2)),
    ),
    OpCase("stack_dim0", lambda m, x, y: m.stack([x, y]), (R(2, 3), R(2, 3))),
    OpCase("stack_dim1", lambda m, x, y, z: m.stack([x, y, z], dim=1), (R(2, 3), R(2, 3), R(2, 3))),
    OpCase("stack_neg", lambda m, x, y: m.stack([x, y], dim=-1), (R(2, 3), R(2, 3))),
    OpCase("split_size", lambda m, x: x.split(2, dim=0), (R(5, 3),)),
    OpCase("split_sections", lambda m, x: m.split(x, [1, 3], dim=1), (R(2, 4),)),
    OpCase("chunk", lambda m, x: x.chunk(3, dim=1), (R(2, 7),)),
    OpCase("chunk_fn", lambda m, x: m.chunk(x, 4, dim=0), (R(6, 2),)),
    # pad (constant; pads listed from the last dimension backwards)
    OpCase("pad_last", lambda m, x: m.pad(x, (1, 2)), (R(2, 3),)),
    OpCase("pad_two_dims", lambda m, x: m.pad(x, (1, 1, 2, 0), value=0.5), (R(2, 3, 4),)),
    OpCase("pad_4d", lambda m, x: m.pad(x, (0, 1, 1, 0, 1, 1)), (R(1, 2, 3, 3),)),
    # softmax family
    OpCase("softmax_last", lambda m, x: m.softmax(x, dim=-1), (R(2, 3, 4),)),
    OpCase("softmax_dim0", lambda m, x: m.softmax(x, dim=0), (R(2, 3, 4),)),
    OpCase("softmax_method", lambda m, x: x.softmax(1), (R(2, 3, 4),)),
    OpCase("log_softmax_last", lambda m, x: m.log_softmax(x, dim=-1), (R(2, 3, 4),)),
    OpCase("log_softmax_dim1", lambda m, x: m.log_softmax(x, dim=1), (R(2, 3, 4),)),
    OpCase("log_softmax_1d", lambda m, x: x.log_softmax(0), (R(5),)),
    # one_hot (int64, no gradient)
    OpCase(
        "one_hot", lambda m, i: m.one_hot(i, num_classes=5), (I(5, 2, 3),), second_order=NO_GRAD
    ),
    OpCase(
        "one_hot_inferred", lambda m, i: m.one_hot(i), (IV([0, 3, 1, 3]),), second_order=NO_GRAD
    ),
    # conv1d / conv2d
    OpCase("conv1d", lambda m, x, w, b: m.conv1d(x, w, b), (R(2, 4, 9), R(6, 4, 3), R(6))),
    OpCase(
        "conv1d_stride_pad",
        lambda m, x, w: m.conv1d(x, w, stride=2, padding=1),
        (R(2, 4, 9), R(3, 4, 3)),
    ),
    OpCase(
        "conv1d_dilation_groups",
        lambda m, x, w, b: m.conv1d(x, w, b, dilation=2, groups=2),
        (R(2, 4, 9), R(6, 2, 3), R(6)),
    ),
    OpCase("conv1d_same", lambda m, x, w: m.conv1d(x, w, padding="same"), (R(1, 2, 7), R(3, 2, 4))),
    OpCase("conv2d", lambda m, x, w, b: m.conv2d(x, w, b), (R(2, 3, 6, 5), R(4, 3, 3, 3), R(4))),
    OpCase(
        "conv2d_stride_pad",
        lambda m, x, w, b: m.conv2d(x, w, b, stride=(2, 1), padding=(1, 2)),
        (R(2, 3, 6, 5), R(4, 3, 3, 2), R(4)),
    ),
    OpCase(
        "conv2d_dilation",
        lambda m, x, w: m.conv2d(x, w, dilation=2, padding=1),
        (R(1, 2, 7, 6), R(3, 2, 3, 3)),
    ),
    OpCase(
        "conv2d_groups",
        lambda m, x, w, b: m.conv2d(x, w, b, groups=2, stride=2),
        (R(2, 4, 6, 6), R(6, 2, 3, 3), R(6)),
    ),
    OpCase(
        "conv2d_depthwise",
        lambda m, x, w: m.conv2d(x, w, groups=3, padding=1),
        (R(1, 3, 5, 5), R(6, 1, 3, 3)),
    ),
    OpCase(
        "conv2d_same",
        lambda m, x, w: m.conv2d(x, w, padding="same"),
        (R(1, 2, 5, 4), R(2, 2, 2, 3)),
    ),
    # pooling
    OpCase("max_pool2d", lambda m, x: m.max_pool2d(x, 2), (R(2, 3, 6, 6),)),
    OpCase(
        "max_pool2d_stride_pad",
        lambda m, x: m.max_pool2d(x, 3, stride=2, padding=1),
        (R(1, 2, 7, 6),),
    ),
    OpCase(
        "max_pool2d_rect_dilation",
        lambda m, x: m.max_pool2d(x, (2, 3), stride=1, dilation=2),
        (R(1, 2, 6, 7),),
    ),
    OpCase("max_pool2d_3d_input", lambda m, x: m.max_pool2d(x, 2), (R(2, 4, 5),)),
    OpCase("avg_pool2d", lambda m, x: m.avg_pool2d(x, 2), (R(2, 3, 6, 6),)),
    OpCase(
        "avg_pool2d_stride_pad",
        lambda m, x: m.avg_pool2d(x, 3, stride=2, padding=1),
        (R(1, 2, 7, 6),),
    ),
    OpCase(
        "avg_pool2d_exclude_pad",
        lambda m, x: m.avg_pool2d(x, 3, stride=2, padding=1, count_include_pad=False),
        (R(1, 2, 7, 6),),
    ),
    OpCase(
        "avg_pool2d_divisor", lambda m, x: m.avg_pool2d(x, 2, divisor_override=3), (R(1, 2, 4, 4),)
    ),
    OpCase(
        "adaptive_avg_pool2d_global", lambda m, x: m.adaptive_avg_pool2d(x, 1), (R(2, 3, 5, 4),)
    ),
    OpCase(
        "adaptive_avg_pool2d_divisible",
        lambda m, x: m.adaptive_avg_pool2d(x, (2, 2)),
        (R(2, 3, 6, 4),),
    ),
    OpCase(
        "adaptive_avg_pool2d_uneven",
        lambda m, x: m.adaptive_avg_pool2d(x, (3, 2)),
        (R(1, 2, 5, 7),),
    ),
    OpCase(
        "adaptive_avg_pool2d_3d_input", lambda m, x: m.adaptive_avg_pool2d(x, (2, 3)), (R(2, 5, 5),)
    ),
    # dropout
    OpCase("dropout_p0", lambda m, x: m.dropout(x, 0.0, training=True), (R(3, 4),)),
    OpCase("dropout_eval", lambda m, x: m.dropout(x, 0.5, training=False), (R(3, 4),)),
    OpCase(
        "dropout_train",
        lambda m, x: _dropout_seeded(m, x, 0.3),
        (R(4, 5),),
        vs_torch=_DROPOUT_RANDOM,
    ),
    # embedding
    OpCase(
        "embedding", lambda m, i, w: m.embedding(i, w), (IV([[0, 2, 0, 5], [9, 2, 2, 1]]), R(10, 3))
    ),
    OpCase(
        "embedding_padding_idx",
        lambda m, i, w: m.embedding(i, w, padding_idx=0),
        (IV([[0, 2, 0, 5], [9, 2, 2, 0]]), R(10, 3)),
        finite_differences=_PADDING_ROW,
    ),
    OpCase(
        "embedding_padding_idx_neg",
        lambda m, i, w: m.embedding(i, w, padding_idx=-1),
        (IV([4, 1, 4, 0]), R(5, 2)),
        finite_differences=_PADDING_ROW,
    ),
    # normalisation
    OpCase("batch_norm_train_2d", _bn_train, (R(5, 3), R(3), R(3))),
    OpCase("batch_norm_train_4d", _bn_train, (R(3, 2, 3, 2), R(2), R(2))),
    OpCase(
        "batch_norm_train_no_affine",
        lambda m, x: m.batch_norm(x, None, None, training=True),
        (R(4, 3, 2),),
    ),
    OpCase(
        "batch_norm_eval",
        lambda m, x, rm, rv, w, b: m.batch_norm(x, rm, rv, w, b, training=False),
        (R(4, 3), const(R(3)), const(P(3)), R(3), R(3)),
    ),
    OpCase(
        "batch_norm_eval_4d",
        lambda m, x, rm, rv: m.batch_norm(x, rm, rv, training=False, eps=1e-3),
        (R(2, 3, 2, 2), const(R(3)), const(P(3))),
    ),
    OpCase("layer_norm", lambda m, x, w, b: m.layer_norm(x, (4,), w, b), (R(2, 3, 4), R(4), R(4))),
    OpCase("layer_norm_2dims", lambda m, x: m.layer_norm(x, (3, 4)), (R(2, 3, 4),)),
    OpCase(
        "layer_norm_weight_only", lambda m, x, w: m.layer_norm(x, [5], w, eps=1e-3), (R(3, 5), R(5))
    ),
    # norms (the kinks of abs at 0 kept away from the samples)
    OpCase("norm_fro", lambda m, x: x.norm(), (R(3, 4),)),
    OpCase("norm_2_dim", lambda m, x: x.norm(p=2, dim=1), (R(3, 4),)),
    OpCase("norm_1_dim", lambda m, x: x.norm(p=1, dim=0, keepdim=True), (R(3, 4),), kinks=(0.0,)),
    OpCase("norm_inf", lambda m, x: x.norm(p=float("inf"), dim=1), (R(3, 4),), kinks=(0.0,)),
    OpCase("norm_neg_inf", lambda m, x: x.norm(p=float("-inf"), dim=1), (R(3, 4),), kinks=(0.0,)),
    OpCase("norm_0", lambda m, x: x.norm(p=0, dim=1), (R(3, 4),), kinks=(0.0,)),
    OpCase("norm_3", lambda m, x: x.norm(p=3, dim=1), (R(3, 4),), kinks=(0.0,)),
    OpCase("normalize", lambda m, x: m.nn.functional.normalize(x, dim=1), (R(3, 4),)),
    OpCase("rsqrt", lambda m, x: x.rsqrt(), (P(3, 4),)),
    # one element with Bessel's correction: 0/0, NaN in value and gradient in both libraries
    OpCase(
        "var_one_element",
        lambda m, x: x.var(dim=1),
        (R(3, 1),),
        finite_differences=_ONE_ELEMENT,
        second_order=_ONE_ELEMENT,
    ),
    OpCase(
        "std_one_element",
        lambda m, x: x.std(dim=0),
        (R(1, 4),),
        finite_differences=_ONE_ELEMENT,
        second_order=_ONE_ELEMENT,
    ),
    # losses whose formulas meet infinities and kinks
    OpCase("l1_loss", lambda m, x, y: m.nn.functional.l1_loss(x, y), (R(3, 4), R(3, 4))),
    OpCase("mse_loss", lambda m, x, y: m.nn.functional.mse_loss(x, y), (R(3, 4), R(3, 4))),
    OpCase(
        "huber_loss",
        lambda m, x, y: m.nn.functional.huber_loss(x, y, delta=0.5),
        (R(3, 4), R(3, 4)),
    ),
]

CATALOG: list[OpCase] = _family_cases() + OTHER

# The names each SPEC section E op is covered by (checked by test_catalog_covers_spec).
SPEC_OPS = (
    "add sub mul div pow neg abs exp log log1p sqrt sin cos tanh sigmoid relu leaky_relu elu "
    "gelu softplus silu clamp maximum minimum where lt le gt ge eq ne sum mean max min amax amin "
    "prod var std logsumexp argmax argmin matmul reshape view flatten squeeze unsqueeze transpose "
    "permute expand index gather scatter_add index_select cat stack split chunk pad softmax "
    "log_softmax one_hot conv1d conv2d max_pool2d avg_pool2d adaptive_avg_pool2d dropout "
    "embedding batch_norm layer_norm"
).split()


def cases_named(prefix: str) -> list[OpCase]:
    return [c for c in CATALOG if c.name.split("[")[0].startswith(prefix)]


# ---- running a case on either library -------------------------------------------------------


@dataclass
class Run:
    """What one library made of a case: outputs and input gradients as NumPy arrays."""

    outputs: list[np.ndarray]
    output_dtypes: list[str]
    grads: list[np.ndarray | None]  # one per input; None where the input isn't differentiated
    grad_dtypes: list[str | None]


def dtype_name(t: Any) -> str:
    """'float32', 'int64', 'bool' for a torch or a chainrule tensor."""
    return str(t.dtype).removeprefix("torch.")


def to_numpy(t: Any) -> np.ndarray:
    return np.array(t.detach().numpy(), copy=True)


def make_inputs(
    m: Any,
    case: OpCase,
    arrays: Sequence[np.ndarray],
    dtype: str = "float64",
    make: Callable[[Any, np.ndarray, Any], Any] | None = None,
) -> list[Any]:
    """Tensors of library ``m`` for the sampled arrays (floats in ``dtype``), differentiable
    inputs requiring grad. ``make(m, array, dtype)`` builds a tensor when given (to build a
    non-contiguous one, say)."""
    tensors = []
    for arg, array in zip(case.args, arrays, strict=True):
        float_dtype = getattr(m, dtype) if arg.is_float else None
        t = (
            make(m, array, float_dtype)
            if make is not None
            else (
                m.tensor(array, dtype=float_dtype) if float_dtype is not None else m.tensor(array)
            )
        )
        if arg.requires_grad:
            t.requires_grad_(True)
        tensors.append(t)
    return tensors


def upstream_gradients(case: OpCase, shapes: Sequence[tuple[int, ...]]) -> list[np.ndarray]:
    """Random upstream gradients (not ones: a rule that ignores grad's values must fail)."""
    rng = np.random.default_rng(zlib.crc32(("upstream " + case.name).encode()))
    return [rng.standard_normal(shape) for shape in shapes]


def run_case(
    m: Any,
    case: OpCase,
    arrays: Sequence[np.ndarray],
    dtype: str = "float64",
    make: Callable[[Any, np.ndarray, Any], Any] | None = None,
    upstream: Sequence[np.ndarray] | None = None,
) -> Run:
    """Forward the case on library ``m``, then one backward with random upstream gradients."""
    inputs = make_inputs(m, case, arrays, dtype, make)
    outs = outputs_of(case.call(m, *inputs))
    differentiable = [o for o in outs if dtype_name(o).startswith("float") and o.requires_grad]
    diff_inputs = [t for t, a in zip(inputs, case.args, strict=True) if a.requires_grad]
    grads: list[np.ndarray | None] = [None] * len(inputs)
    grad_dtypes: list[str | None] = [None] * len(inputs)
    if differentiable and diff_inputs:
        if upstream is None:
            upstream = upstream_gradients(case, [tuple(o.shape) for o in differentiable])
        seeds = [m.tensor(u, dtype=o.dtype) for u, o in zip(upstream, differentiable, strict=True)]
        found = m.autograd.grad(differentiable, diff_inputs, seeds, allow_unused=True)
        slots = [i for i, a in enumerate(case.args) if a.requires_grad]
        for slot, g, t in zip(slots, found, diff_inputs, strict=True):
            grads[slot] = np.zeros(tuple(t.shape)) if g is None else to_numpy(g)
            grad_dtypes[slot] = dtype_name(t) if g is None else dtype_name(g)
    return Run([to_numpy(o) for o in outs], [dtype_name(o) for o in outs], grads, grad_dtypes)


def assert_close(
    op: str, what: str, got: np.ndarray, expected: np.ndarray, rtol: float, atol: float
) -> None:
    """assert_allclose whose message teaches: op, which tensor, worst element, expected, got."""
    got, expected = np.asarray(got), np.asarray(expected)
    if got.shape != expected.shape:
        raise AssertionError(f"{op}: {what} has shape {got.shape}, PyTorch's has {expected.shape}")
    if got.dtype.kind == "b" or expected.dtype.kind in "biu":
        bad = got != expected
    else:
        both_nan = np.isnan(got) & np.isnan(expected)
        same_inf = np.isinf(expected) & (got == expected)
        with np.errstate(invalid="ignore"):  # inf - inf where both are inf: handled above
            close = np.abs(got - expected) <= atol + rtol * np.abs(expected)
        bad = ~(both_nan | same_inf | close)
    if np.any(bad):
        error = np.where(bad, np.abs(got.astype(np.float64) - expected.astype(np.float64)), -1)
        error = np.nan_to_num(error, nan=np.inf)
        worst = np.unravel_index(int(np.argmax(error)), got.shape) if got.ndim else ()
        raise AssertionError(
            f"{op}: {what} differs at index {tuple(int(i) for i in worst)}: expected "
            f"{expected[worst].item()!r}, got {got[worst].item()!r} ({int(bad.sum())} of "
            f"{bad.size} elements outside rtol={rtol}, atol={atol})"
        )


def compare_runs(
    case: OpCase,
    got: Run,
    expected: Run,
    rtol: float,
    atol: float,
    check_dtype: bool = True,
    label: str = "",
) -> None:
    """chainrule's run against PyTorch's: every output, its dtype, every input gradient."""
    name = case.name + label
    if len(got.outputs) != len(expected.outputs):
        raise AssertionError(
            f"{name}: {len(got.outputs)} outputs, PyTorch gives {len(expected.outputs)}"
        )
    for k, (g, e, gd, ed) in enumerate(
        zip(got.outputs, expected.outputs, got.output_dtypes, expected.output_dtypes, strict=True)
    ):
        if check_dtype and gd != ed:
            raise AssertionError(f"{name}: output {k} has dtype {gd}, PyTorch's has {ed}")
        scale = max(1.0, float(np.max(np.abs(e)))) if e.size and e.dtype.kind == "f" else 1.0
        assert_close(name, f"output {k}", g, e, rtol, atol * scale)
    for i, (g, e) in enumerate(zip(got.grads, expected.grads, strict=True)):
        if (g is None) != (e is None):
            raise AssertionError(
                f"{name}: input {i} gradient is "
                f"{'missing' if g is None else 'present'} in chainrule but not "
                "in PyTorch"
            )
        if g is None:
            continue
        if check_dtype and got.grad_dtypes[i] != expected.grad_dtypes[i]:
            raise AssertionError(
                f"{name}: gradient of input {i} has dtype {got.grad_dtypes[i]}, "
                f"PyTorch's has {expected.grad_dtypes[i]}"
            )
        scale = max(1.0, float(np.max(np.abs(e)))) if e.size else 1.0
        assert_close(name, f"gradient of input {i}", g, e, rtol, atol * scale)

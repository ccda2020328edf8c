"""Edge cases against PyTorch: empty and size-1 dimensions, non-contiguous inputs, repeated
advanced indices, kink and tie conventions (pinned to PyTorch's numbers), and ±1000 into the
ops that must stay finite."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from op_catalog import (  # noqa: E402
    BINARY,
    CATALOG,
    UNARY,
    Arg,
    OpCase,
    compare_runs,
    run_case,
    torch_namespace,
)

import chainrule as cr  # noqa: E402

pytestmark = pytest.mark.torch


def lit(values, grad: bool | None = None) -> Arg:
    """A float64 input with exactly these values (a kink, a tie, an extreme)."""
    array = np.asarray(values, dtype=np.float64)
    return Arg(array.shape, "real", values=array, grad=grad)


def idx(values) -> Arg:
    array = np.asarray(values, dtype=np.int64)
    return Arg(array.shape, "index", values=array)


def check(case: OpCase, upstream=None, make=None, rtol: float = 1e-7) -> tuple:
    """The case on both libraries, compared; returns (chainrule's run, PyTorch's run)."""
    arrays = case.sample()
    expected = run_case(torch_namespace(), case, arrays, make=make, upstream=upstream)
    got = run_case(cr, case, arrays, make=make, upstream=upstream)
    compare_runs(case, got, expected, rtol=rtol, atol=1e-12)
    return got, expected


def ones_upstream(case: OpCase) -> list[np.ndarray]:
    """Upstream gradients of ones, so a pinned gradient reads as the local derivative."""
    outs = run_case(cr, case, case.sample()).outputs
    return [np.ones(o.shape) for o in outs if o.dtype.kind == "f"]


# ---- empty and size-1 dimensions -----------------------------------------------------------


@pytest.mark.parametrize("shape", [(0, 3), (1, 1), (1,), (2, 0, 1)], ids=str)
@pytest.mark.parametrize("op", UNARY, ids=lambda u: u.name)
def test_unary_on_empty_and_size_one_dims(op, shape):
    check(OpCase(f"{op.name} on {shape}", op.fn, (Arg(shape, op.domain),), kinks=op.kinks))


@pytest.mark.parametrize(
    "shapes",
    [((0, 3), (1, 3)), ((0,), ()), ((1, 1), (3, 1)), ((2, 0, 1), (1, 4)), ((1,), (1, 1, 1))],
    ids=str,
)
@pytest.mark.parametrize("op", [b for b in BINARY if b.differentiable], ids=lambda b: b.name)
def test_binary_on_empty_and_size_one_dims(op, shapes):
    args = tuple(Arg(s, d) for s, d in zip(shapes, op.domains, strict=True))
    check(OpCase(f"{op.name} on {shapes}", op.fn, args))


EMPTY_CASES = [
    OpCase("sum over an empty dim", lambda m, x: x.sum(dim=0), (Arg((0, 3)),)),
    OpCase("sum of an empty tensor", lambda m, x: x.sum(), (Arg((2, 0)),)),
    OpCase("mean over an empty dim is nan", lambda m, x: x.mean(dim=1), (Arg((2, 0)),)),
    OpCase("prod over an empty dim is 1", lambda m, x: x.prod(dim=1), (Arg((2, 0)),)),
    OpCase(
        "logsumexp over an empty dim is -inf", lambda m, x: m.logsumexp(x, dim=1), (Arg((2, 0)),)
    ),
    OpCase(
        "sum keepdim, size-1 dims", lambda m, x: x.sum(dim=(0, 2), keepdim=True), (Arg((1, 3, 1)),)
    ),
    OpCase("amax over a size-1 dim", lambda m, x: x.amax(dim=1), (Arg((3, 1)),)),
    OpCase("max(dim) over a size-1 dim", lambda m, x: x.max(dim=0), (Arg((1, 4)),)),
    OpCase("var over a size-1 dim is nan", lambda m, x: x.var(dim=1), (Arg((3, 1)),)),
    OpCase("matmul with an empty inner dim", lambda m, a, b: a @ b, (Arg((2, 0)), Arg((0, 3)))),
    OpCase("matmul with an empty batch", lambda m, a, b: a @ b, (Arg((0, 2, 3)), Arg((3, 4)))),
    OpCase("matmul of size-1 dims", lambda m, a, b: a @ b, (Arg((1, 1)), Arg((1,)))),
    OpCase("cat with an empty tensor", lambda m, x, y: m.cat([x, y]), (Arg((0, 3)), Arg((2, 3)))),
    OpCase(
        "stack of empty tensors", lambda m, x, y: m.stack([x, y], dim=1), (Arg((0, 2)), Arg((0, 2)))
    ),
    OpCase("softmax over an empty batch", lambda m, x: m.softmax(x, dim=-1), (Arg((0, 4)),)),
    OpCase("log_softmax over a size-1 dim", lambda m, x: m.log_softmax(x, dim=1), (Arg((3, 1)),)),
    OpCase("reshape an empty tensor", lambda m, x: x.reshape(3, 0, 2), (Arg((2, 0, 3)),)),
    OpCase("flatten an empty tensor", lambda m, x: x.flatten(), (Arg((2, 0, 3)),)),
    OpCase("squeeze size-1 dims", lambda m, x: x.squeeze(), (Arg((1, 1, 1)),)),
    OpCase("unsqueeze an empty tensor", lambda m, x: x.unsqueeze(1), (Arg((0, 2)),)),
    OpCase("transpose an empty tensor", lambda m, x: x.transpose(0, 1), (Arg((0, 2)),)),
    OpCase("expand a size-1 dim to 0", lambda m, x: x.expand(0, 3), (Arg((1, 3)),)),
    OpCase("index with an empty list", lambda m, x, i: x[i], (Arg((3, 2)), idx(np.zeros(0)))),
    OpCase(
        "index with an all-false mask",
        lambda m, x, k: x[k],
        (Arg((2, 3)), Arg((2, 3), "bool", values=np.zeros((2, 3), bool))),
    ),
    OpCase("slice to nothing", lambda m, x: x[2:2], (Arg((3, 2)),)),
    OpCase(
        "gather an empty index",
        lambda m, x, i: x.gather(1, i),
        (Arg((2, 3)), idx(np.zeros((2, 0)))),
    ),
    OpCase("pad an empty dim", lambda m, x: m.pad(x, (1, 1)), (Arg((2, 0)),)),
    OpCase("split into size-1 pieces", lambda m, x: x.split(1, dim=0), (Arg((3, 2)),)),
    OpCase(
        "conv2d on an empty batch",
        lambda m, x, w: m.conv2d(x, w),
        (Arg((0, 2, 4, 4)), Arg((3, 2, 3, 3))),
    ),
    OpCase(
        "conv2d with 1x1 kernel",
        lambda m, x, w: m.conv2d(x, w),
        (Arg((2, 3, 1, 1)), Arg((4, 3, 1, 1))),
    ),
    OpCase("max_pool2d on 1x1", lambda m, x: m.max_pool2d(x, 1), (Arg((1, 2, 1, 1)),)),
    OpCase("layer_norm over one element", lambda m, x: m.layer_norm(x, (1,)), (Arg((3, 1)),)),
    OpCase(
        "embedding of no indices",
        lambda m, i, w: m.embedding(i, w),
        (idx(np.zeros((2, 0))), Arg((4, 3))),
    ),
]


@pytest.mark.filterwarnings("ignore::RuntimeWarning", "ignore::UserWarning")
@pytest.mark.parametrize("case", EMPTY_CASES, ids=lambda c: c.name)
def test_empty_and_size_one_dims(case):
    check(case)


@pytest.mark.parametrize("what", ["amax", "max", "argmax"])
def test_reducing_an_empty_dim_to_a_max_is_an_error_in_both(what):
    fns = {
        "amax": lambda t: t.amax(dim=1),
        "max": lambda t: t.max(dim=1),
        "argmax": lambda t: t.argmax(dim=1),
    }
    with pytest.raises((IndexError, RuntimeError)):
        fns[what](torch.zeros(2, 0))
    with pytest.raises((ValueError, IndexError, RuntimeError)) as info:
        fns[what](cr.zeros(2, 0))
    assert "empty" in str(info.value) or "zero" in str(info.value)


# ---- non-contiguous inputs ------------------------------------------------------------------


def _transposed(m, array, float_dtype):
    """A tensor equal to ``array`` whose memory runs in the reversed axis order."""
    order = tuple(reversed(range(array.ndim)))
    base = np.ascontiguousarray(array.transpose(order))
    if float_dtype is not None:
        base = base.astype(np.float64)
    t = torch.from_numpy(base) if isinstance(m, type(torch_namespace())) else cr.from_numpy(base)
    return t.permute(*order) if array.ndim > 1 else t


def _sliced(m, array, float_dtype):
    """A tensor equal to ``array`` that is every other element of a wider buffer."""
    if array.ndim == 0:
        return _transposed(m, array, float_dtype)
    base = np.zeros(array.shape[:-1] + (2 * array.shape[-1],), array.dtype)
    base[..., ::2] = array
    t = torch.from_numpy(base) if isinstance(m, type(torch_namespace())) else cr.from_numpy(base)
    return t[..., ::2]


# PyTorch's view() refuses a non-contiguous input (chainrule's view copies like reshape)
NON_CONTIGUOUS = [c for c in CATALOG if c.vs_torch is None and not c.name.startswith("view")]


@pytest.mark.filterwarnings("ignore:Using padding='same'")
@pytest.mark.parametrize("layout", [_transposed, _sliced], ids=["transposed", "sliced"])
@pytest.mark.parametrize("case", NON_CONTIGUOUS, ids=lambda c: c.name)
def test_non_contiguous_inputs(case, layout):
    check(case, make=layout)


@pytest.mark.parametrize("layout", [_transposed, _sliced], ids=["transposed", "sliced"])
def test_layouts_are_non_contiguous(layout):
    array = np.arange(12.0).reshape(3, 4)
    for m in (torch_namespace(), cr):
        t = layout(m, array, m.float64)
        assert not t.is_contiguous(), f"{layout.__name__} gave a contiguous {type(t)}"
        np.testing.assert_array_equal(np.asarray(t.numpy()), array)


# ---- repeated advanced indices: backward accumulates ----------------------------------------


def test_repeated_list_index_accumulates():
    case = OpCase("x[[0, 2, 0, 0]]", lambda m, x: x[[0, 2, 0, 0]], (lit(np.arange(6.0)),))
    upstream = [np.array([1.0, 10.0, 100.0, 1000.0])]
    got, _ = check(case, upstream=upstream)
    np.testing.assert_array_equal(got.grads[0], [1101.0, 0, 10.0, 0, 0, 0])


def test_repeated_index_pairs_accumulate():
    case = OpCase(
        "x[i, j] with repeated pairs",
        lambda m, x, i, j: x[i, j],
        (lit(np.zeros((2, 3))), idx([1, 0, 1, 1]), idx([2, 0, 2, 2])),
    )
    got, _ = check(case, upstream=[np.array([1.0, 2.0, 3.0, 4.0])])
    np.testing.assert_array_equal(got.grads[0], [[2.0, 0, 0], [0, 0, 8.0]])


def test_repeated_index_with_slice_accumulates():
    case = OpCase("x[:, [1, 1, 3]]", lambda m, x: x[:, [1, 1, 3]], (lit(np.zeros((2, 4))),))
    got, _ = check(case, upstream=[np.ones((2, 3))])
    np.testing.assert_array_equal(got.grads[0], [[0, 2.0, 0, 1.0], [0, 2.0, 0, 1.0]])


@pytest.mark.parametrize(
    "case",
    [
        OpCase(
            "index_select repeats",
            lambda m, x, i: m.index_select(x, 1, i),
            (lit(np.ones((2, 3))), idx([2, 2, 2, 0])),
        ),
        OpCase(
            "gather repeats",
            lambda m, x, i: x.gather(0, i),
            (lit(np.ones((3, 2))), idx([[1, 1], [1, 0], [1, 1]])),
        ),
        OpCase(
            "embedding repeats",
            lambda m, i, w: m.embedding(i, w),
            (idx([[3, 3], [3, 1]]), lit(np.ones((4, 2)))),
        ),
        OpCase(
            "scatter_add repeats",
            lambda m, x, i, s: x.scatter_add(1, i, s),
            (lit(np.zeros((2, 3))), idx([[0, 0, 0], [2, 2, 1]]), lit(np.arange(6.0).reshape(2, 3))),
        ),
        OpCase(
            "mask then repeat",
            lambda m, x, k: x[k][[0, 0]],
            (lit(np.arange(4.0)), Arg((4,), "bool", values=np.array([False, True, True, False]))),
        ),
    ],
    ids=lambda c: c.name,
)
def test_repeated_indices_match_torch(case):
    check(case)


# ---- kinks and ties: PyTorch's conventions, pinned -------------------------------------------

KINK = [-1.0, 0.0, 1.0]

# (name, fn, inputs, the pinned gradient of input 0 for upstream ones)
CONVENTIONS = [
    ("relu'(0) = 0", lambda m, x: m.relu(x), [KINK], [0.0, 0.0, 1.0]),
    ("abs'(0) = 0", lambda m, x: m.abs(x), [KINK], [-1.0, 0.0, 1.0]),
    ("leaky_relu'(0) = negative slope", lambda m, x: m.leaky_relu(x, 0.1), [KINK], [0.1, 0.1, 1.0]),
    ("elu'(0) = alpha", lambda m, x: m.elu(x, alpha=0.5), [KINK], [0.5 * np.exp(-1.0), 0.5, 1.0]),
    (
        "clamp passes the gradient at its bounds",
        lambda m, x: m.clamp(x, -1.0, 1.0),
        [[-1.5, -1.0, 0.0, 1.0, 1.5]],
        [0.0, 1.0, 1.0, 1.0, 0.0],
    ),
    ("clamp(min) at its bound", lambda m, x: m.clamp(x, min=0.0), [KINK], [0.0, 1.0, 1.0]),
    (
        "maximum splits a tie",
        lambda m, x, y: m.maximum(x, y),
        [[1.0, 2.0, 3.0], [1.0, 5.0, 3.0]],
        [0.5, 0.0, 0.5],
    ),
    (
        "minimum splits a tie",
        lambda m, x, y: m.minimum(x, y),
        [[1.0, 2.0, 3.0], [1.0, 5.0, 0.0]],
        [0.5, 1.0, 0.0],
    ),
    (
        "max() shares ties evenly",
        lambda m, x: x.max(),
        [[3.0, 1.0, 3.0, 3.0]],
        [1 / 3, 0.0, 1 / 3, 1 / 3],
    ),
    ("min() shares ties evenly", lambda m, x: x.min(), [[0.0, 1.0, 0.0]], [0.5, 0.0, 0.5]),
    (
        "amax(dim) shares ties evenly",
        lambda m, x: x.amax(dim=1),
        [[[2.0, 2.0, 1.0], [0.0, 4.0, 4.0]]],
        [[0.5, 0.5, 0.0], [0.0, 0.5, 0.5]],
    ),
    (
        "amin(dim) shares ties evenly",
        lambda m, x: x.amin(dim=0),
        [[[1.0, 2.0], [1.0, 3.0]]],
        [[0.5, 1.0], [0.5, 0.0]],
    ),
    (
        "max(dim) gives a tie to one index",
        lambda m, x: x.max(dim=1),
        [[[2.0, 2.0, 1.0], [0.0, 4.0, 4.0]]],
        None,
    ),
    (
        "min(dim) gives a tie to one index",
        lambda m, x: x.min(dim=0),
        [[[1.0, 2.0], [1.0, 2.0]]],
        None,
    ),
    (
        "max_pool2d gives a tie to one element",
        lambda m, x: m.max_pool2d(x, 2),
        [np.array([[[[1.0, 1.0], [1.0, 0.0]]]])],
        [[[[1.0, 0.0], [0.0, 0.0]]]],
    ),
    ("sqrt'(0) = inf", lambda m, x: m.sqrt(x), [[0.0, 4.0]], [np.inf, 0.25]),
    ("x**2 at 0", lambda m, x: x**2, [[0.0, 1.0]], [0.0, 2.0]),
    ("x**0 has zero gradient, even at 0", lambda m, x: x**0, [[0.0, 2.0]], [0.0, 0.0]),
    (
        "0**y: no nan into the exponent",
        lambda m, x, y: x**y,
        [[0.0, 0.0, 2.0], [2.0, 0.0, 1.0]],
        [0.0, 0.0, 1.0],
    ),
    ("prod with one zero", lambda m, x: x.prod(), [[2.0, 0.0, 3.0]], [0.0, 6.0, 0.0]),
    (
        "prod with two zeros",
        lambda m, x: x.prod(dim=1),
        [[[0.0, 0.0, 3.0], [1.0, 2.0, 3.0]]],
        [[0.0, 0.0, 0.0], [6.0, 3.0, 2.0]],
    ),
    ("std of a constant: zero gradient", lambda m, x: x.std(), [[2.0, 2.0, 2.0]], [0.0] * 3),
    (
        "softplus exactly at its threshold",
        lambda m, x: m.softplus(x, beta=1.0, threshold=20.0),
        [[20.0, 20.0 + 1e-9]],
        None,
    ),
    (
        "sigmoid, gelu, silu at 0",
        lambda m, x: m.sigmoid(x) + m.gelu(x) + m.silu(x),
        [[0.0]],
        [1.25],
    ),
]


# NumPy warns where a masked-off branch divides by zero (0 ** -1 under x ** 0, say); PyTorch is
# silent; the values are what is pinned here
@pytest.mark.filterwarnings(
    "ignore:divide by zero:RuntimeWarning", "ignore:invalid value:RuntimeWarning"
)
@pytest.mark.parametrize("convention", CONVENTIONS, ids=lambda c: c[0])
def test_kink_and_tie_conventions(convention):
    name, fn, values, pinned = convention
    case = OpCase(name, fn, tuple(lit(v) for v in values))
    got, _ = check(case, upstream=ones_upstream(case))
    if pinned is not None:
        np.testing.assert_allclose(
            got.grads[0], np.asarray(pinned), rtol=1e-12, err_msg=f"{name}: gradient of input 0"
        )


# ---- extremes: ±1000 stays finite -----------------------------------------------------------

EXTREME = [-1000.0, -50.0, -20.0, 0.0, 20.0, 50.0, 1000.0]
EXTREME_2D = [[1000.0, -1000.0, 0.0], [-1000.0, -1000.0, -999.0], [1000.0, 1000.0, 3.0]]

EXTREME_CASES = [
    OpCase("sigmoid(±1000)", lambda m, x: m.sigmoid(x), (lit(EXTREME),)),
    OpCase("softplus(±1000)", lambda m, x: m.softplus(x), (lit(EXTREME),)),
    OpCase("softplus(±1000), beta=2", lambda m, x: m.softplus(x, beta=2.0), (lit(EXTREME),)),
    OpCase("log_softmax(±1000)", lambda m, x: m.log_softmax(x, dim=1), (lit(EXTREME_2D),)),
    OpCase("log_softmax(±1000) dim 0", lambda m, x: m.log_softmax(x, dim=0), (lit(EXTREME_2D),)),
    OpCase("softmax(±1000)", lambda m, x: m.softmax(x, dim=1), (lit(EXTREME_2D),)),
    OpCase("logsumexp(±1000)", lambda m, x: m.logsumexp(x, dim=1), (lit(EXTREME_2D),)),
    OpCase("logsumexp(±1000) all", lambda m, x: m.logsumexp(x, dim=(0, 1)), (lit(EXTREME_2D),)),
    OpCase("tanh(±1000)", lambda m, x: m.tanh(x), (lit(EXTREME),)),
    OpCase("silu(±1000)", lambda m, x: m.silu(x), (lit(EXTREME),)),
    OpCase("elu(±1000)", lambda m, x: m.elu(x), (lit(EXTREME),)),
    OpCase("gelu(±1000)", lambda m, x: m.gelu(x), (lit(EXTREME),)),
    OpCase("gelu tanh(±1000)", lambda m, x: m.gelu(x, approximate="tanh"), (lit(EXTREME),)),
    OpCase(
        "log(sigmoid(±1000)) stays finite via log_softmax",
        lambda m, x: m.log_softmax(m.stack([x, m.zeros_like(x)], dim=1), dim=1),
        (lit(EXTREME),),
    ),
]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("case", EXTREME_CASES, ids=lambda c: c.name)
def test_extreme_inputs_stay_finite(case, dtype):
    arrays = case.sample()
    expected = run_case(torch_namespace(), case, arrays, dtype=dtype)
    got = run_case(cr, case, arrays, dtype=dtype)
    for k, out in enumerate(got.outputs):
        assert np.all(np.isfinite(out)), f"{case.name}: output {k} is not finite: {out}"
    assert np.all(np.isfinite(got.grads[0])), f"{case.name}: gradient not finite: {got.grads[0]}"
    rtol, atol = (1e-7, 1e-12) if dtype == "float64" else (2e-5, 2e-6)
    compare_runs(case, got, expected, rtol=rtol, atol=atol, label=f" ({dtype})")


@pytest.mark.parametrize(
    "case",
    [
        OpCase(
            "softmax with -inf (masked)",
            lambda m, x: m.softmax(x, dim=-1),
            (lit([[-np.inf, 0.0, 1.0], [2.0, -np.inf, -np.inf]]),),
        ),
        OpCase(
            "log_softmax with -inf (masked)",
            lambda m, x: m.log_softmax(x, dim=-1),
            (lit([[-np.inf, 0.0, 1.0]]),),
        ),
        OpCase(
            "logsumexp with -inf",
            lambda m, x: m.logsumexp(x, dim=-1),
            (lit([[-np.inf, 0.0, 1.0], [-np.inf, -np.inf, 3.0]]),),
        ),
    ],
    ids=lambda c: c.name,
)
def test_minus_infinity_entries_match_torch(case):
    check(case)

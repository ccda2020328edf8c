"""Hypothesis properties over the catalog's families: binary elementwise ops on random mutually
broadcastable shapes (empty dims included), unary ops on random shapes, and reductions over
random shapes, dims and keepdim — values and gradients equal to PyTorch's in float64."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes, mutually_broadcastable_shapes

torch = pytest.importorskip("torch")

from op_catalog import (  # noqa: E402
    BINARY,
    REDUCTIONS,
    UNARY,
    Arg,
    OpCase,
    compare_runs,
    run_case,
    torch_namespace,
)

import chainrule as cr  # noqa: E402

pytestmark = pytest.mark.torch

# derandomize: the same examples on every run, so CI never flips; database=None: no files
PROPERTY = settings(max_examples=12, deadline=None, derandomize=True, database=None)


def _check_against_torch(case: OpCase, seed: int) -> None:
    arrays = case.sample(seed)
    expected = run_case(torch_namespace(), case, arrays)
    got = run_case(cr, case, arrays)
    compare_runs(case, got, expected, rtol=1e-7, atol=1e-12)


def _shape_label(shapes) -> str:
    return " with shapes " + ", ".join(str(tuple(s)) for s in shapes)


@pytest.mark.parametrize("op", BINARY, ids=lambda op: op.name)
@PROPERTY
@given(
    shapes=mutually_broadcastable_shapes(
        num_shapes=2, min_dims=0, max_dims=4, min_side=0, max_side=3
    ),
    seed=st.integers(0, 2**16),
)
def test_binary_broadcasting_matches_torch(op, shapes, seed):
    sx, sy = shapes.input_shapes
    case = OpCase(
        op.name + _shape_label((sx, sy)),
        op.fn,
        (Arg(tuple(sx), op.domains[0]), Arg(tuple(sy), op.domains[1])),
    )
    _check_against_torch(case, seed)


@PROPERTY
@given(
    shapes=mutually_broadcastable_shapes(
        num_shapes=3, min_dims=0, max_dims=3, min_side=1, max_side=3
    ),
    seed=st.integers(0, 2**16),
)
def test_where_broadcasting_matches_torch(shapes, seed):
    sc, sx, sy = (tuple(s) for s in shapes.input_shapes)
    case = OpCase(
        "where" + _shape_label((sc, sx, sy)),
        lambda m, c, x, y: m.where(c, x, y),
        (Arg(sc, "bool"), Arg(sx), Arg(sy)),
    )
    _check_against_torch(case, seed)


@pytest.mark.parametrize("op", UNARY, ids=lambda op: op.name)
@settings(max_examples=4, deadline=None, derandomize=True, database=None)
@given(
    shape=array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4), seed=st.integers(0, 2**16)
)
def test_unary_any_shape_matches_torch(op, shape, seed):
    case = OpCase(
        op.name + _shape_label((shape,)), op.fn, (Arg(tuple(shape), op.domain),), kinks=op.kinks
    )
    _check_against_torch(case, seed)


@st.composite
def _dims(draw, shape: tuple[int, ...], reduction) -> tuple:
    """A dim argument the reduction accepts: None, one dim (maybe negative) or a tuple."""
    ndim = len(shape)
    choices = ["int"]
    if reduction.all_dims:
        choices.append("none")
    if reduction.tuple_dims:
        choices.append("tuple")
    kind = draw(st.sampled_from(choices))
    keepdim = draw(st.booleans())
    if kind == "none":
        return None, keepdim and reduction.keepdim_all
    if kind == "int":
        return draw(st.integers(-ndim, ndim - 1)), keepdim
    axes = draw(st.lists(st.integers(0, ndim - 1), min_size=1, max_size=ndim, unique=True))
    signed = [a - ndim if draw(st.booleans()) else a for a in axes]
    return (signed if draw(st.booleans()) else tuple(signed)), keepdim


# a slice no larger than the correction has no variance: nan in both, with a warning in both
@pytest.mark.filterwarnings("ignore:.*degrees of freedom is <= 0")
@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
@pytest.mark.parametrize("reduction", REDUCTIONS, ids=lambda r: r.name)
@PROPERTY
@given(data=st.data())
def test_reduction_random_dims_match_torch(reduction, data):
    shape = tuple(data.draw(array_shapes(min_dims=1, max_dims=4, min_side=1, max_side=4)))
    dim, keepdim = data.draw(_dims(shape, reduction))
    seed = data.draw(st.integers(0, 2**16))
    case = OpCase(
        f"{reduction.name} over {shape} dim={dim} keepdim={keepdim}",
        lambda m, x: reduction.fn(m, x, dim, keepdim),
        (Arg(shape, reduction.domain, grad=None if reduction.differentiable else False),),
    )
    _check_against_torch(case, seed)


@PROPERTY
@given(
    shapes=mutually_broadcastable_shapes(
        signature="(m?,n),(n,p?)->(m?,p?)", min_dims=0, max_dims=2, min_side=1, max_side=3
    ),
    seed=st.integers(0, 2**16),
)
def test_matmul_broadcasting_matches_torch(shapes, seed):
    """matmul over NumPy's gufunc signature: 1-D operands, batch dimensions broadcast."""
    sa, sb = (tuple(s) for s in shapes.input_shapes)
    case = OpCase("matmul" + _shape_label((sa, sb)), lambda m, a, b: a @ b, (Arg(sa), Arg(sb)))
    _check_against_torch(case, seed)


ALONG_DIM = {
    "softmax": lambda m, x, dim: m.softmax(x, dim=dim),
    "log_softmax": lambda m, x, dim: m.log_softmax(x, dim=dim),
    "cat": lambda m, x, dim: m.cat([x, x * 2], dim=dim),
    "stack": lambda m, x, dim: m.stack([x, -x], dim=dim),
    "unsqueeze": lambda m, x, dim: x.unsqueeze(dim),
    "chunk": lambda m, x, dim: x.chunk(2, dim=dim),
}


@pytest.mark.parametrize("name", list(ALONG_DIM))
@PROPERTY
@given(data=st.data())
def test_ops_along_a_random_dim_match_torch(name, data):
    shape = tuple(data.draw(array_shapes(min_dims=1, max_dims=4, min_side=1, max_side=4)))
    ndim = len(shape) + (1 if name in ("stack", "unsqueeze") else 0)
    dim = data.draw(st.integers(-ndim, ndim - 1))
    seed = data.draw(st.integers(0, 2**16))
    fn = ALONG_DIM[name]
    case = OpCase(f"{name} over {shape} dim={dim}", lambda m, x: fn(m, x, dim), (Arg(shape),))
    _check_against_torch(case, seed)

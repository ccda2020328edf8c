"""Bad input gets one clear error that names the op and the shapes or dtypes involved, never a
bare NumPy message and never a chain of two tracebacks."""

from __future__ import annotations

import re

import numpy as np
import pytest

import chainrule as cr


def raises_one(kind: type[Exception], *needles: str):
    """pytest.raises that also checks the message holds every needle and hides no other error."""
    return _RaisesOne(kind, needles)


class _RaisesOne:
    def __init__(self, kind: type[Exception], needles: tuple[str, ...]) -> None:
        self.kind, self.needles = kind, needles

    def __enter__(self) -> None:
        self._ctx = pytest.raises(self.kind)
        self.info = self._ctx.__enter__()

    def __exit__(self, *exc: object) -> bool:
        handled = self._ctx.__exit__(*exc)
        error = self.info.value
        message = str(error)
        for needle in self.needles:
            assert needle in message, f"{needle!r} not in {message!r}"
        assert "operands could not be broadcast" not in message  # NumPy's wording, not ours
        assert error.__cause__ is None
        assert error.__context__ is None or error.__suppress_context__, "two chained errors"
        return handled


def t(*shape: int, dtype=cr.float32) -> cr.Tensor:
    return cr.zeros(*shape, dtype=dtype) + 1


# ---- matmul -------------------------------------------------------------------------------------
def test_matmul_mismatch_message_is_exact():
    with pytest.raises(
        ValueError, match=re.escape("matmul: shapes (3, 4) and (5, 2) don't line up (4 ≠ 5)")
    ):
        t(3, 4) @ t(5, 2)


@pytest.mark.parametrize(
    "call, needles",
    [
        (lambda: cr.matmul(t(3, 4), t(5, 2)), ["matmul", "(3, 4)", "(5, 2)"]),
        (lambda: t(3, 4).matmul(t(5, 2)), ["matmul", "(3, 4)", "(5, 2)"]),
        (lambda: cr.mm(t(3, 4), t(5, 2)), ["(3, 4)", "(5, 2)"]),
        (lambda: t(3) @ t(4), ["matmul", "(3,)", "(4,)"]),
        (lambda: t(3) @ t(4, 2), ["matmul", "(3,)", "(4, 2)"]),
        (lambda: t(2, 3) @ t(4), ["matmul", "(2, 3)", "(4,)"]),
        (lambda: cr.bmm(t(2, 3, 4), t(2, 5, 2)), ["(2, 3, 4)", "(2, 5, 2)"]),
        (lambda: t(2, 3, 4) @ t(3, 4, 5), ["matmul", "batch", "(2, 3, 4)", "(3, 4, 5)"]),
        (lambda: t() @ t(3), ["matmul", "()", "(3,)"]),
        (lambda: cr.linear(t(3, 4), t(2, 5)), ["linear", "(3, 4)", "(2, 5)"]),
    ],
    ids=["fn", "method", "mm", "1d_1d", "1d_2d", "2d_1d", "bmm", "batch", "0d", "linear"],
)
def test_matmul_mismatches(call, needles):
    with raises_one(ValueError, *needles):
        call()


# ---- broadcasting -------------------------------------------------------------------------------
BINARY = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b,
    "pow_tensor": lambda a, b: a**b,  # x ** y with a tensor y (x ** 2 is "pow")
    "maximum": cr.maximum,
    "minimum": cr.minimum,
    "where": lambda a, b: cr.where(cr.ones(3, 4, dtype=cr.bool), a, b),
}


@pytest.mark.parametrize("name", list(BINARY))
@pytest.mark.parametrize("requires_grad", [False, True])
def test_non_broadcastable_shapes_name_op_and_shapes(name, requires_grad):
    a = cr.ones(3, 4, requires_grad=requires_grad)
    with raises_one(ValueError, f"{name}: shapes", "(3, 4)", "(2, 4)", "broadcast"):
        BINARY[name](a, cr.ones(2, 4))


@pytest.mark.parametrize(
    "name, call",
    [
        ("eq", lambda a, b: a == b),
        ("lt", lambda a, b: a < b),
        ("clamp", lambda a, b: cr.clamp(a, min=b)),
        ("expand", lambda a, b: a.expand(2, 4)),
    ],
    ids=["eq", "lt", "clamp", "expand"],
)
def test_other_broadcasting_ops(name, call):
    with raises_one(ValueError, "(3, 4)", "(2, 4)"):
        call(cr.ones(3, 4), cr.ones(2, 4))


def test_non_broadcastable_message_is_readable():
    with pytest.raises(
        ValueError, match=re.escape("add: shapes (3, 4) and (2, 4) can't be broadcast together")
    ):
        cr.ones(3, 4) + cr.ones(2, 4)


@pytest.mark.parametrize(
    "call, needles",
    [
        (lambda x: x.add_(cr.ones(4)), ["add_", "(3,)", "(4,)"]),
        (lambda x: x.mul_(cr.ones(2, 3)), ["mul_", "(3,)", "(2, 3)"]),
        (lambda x: x.addcmul_(cr.ones(4), cr.ones(3)), ["addcmul_", "(4,)"]),
        (lambda x: x.copy_(cr.ones(5)), ["copy_", "(5,)"]),
    ],
    ids=["add_", "mul_", "addcmul_", "copy_"],
)
def test_in_place_shape_mismatch(call, needles):
    x = cr.zeros(3)
    with raises_one(ValueError, *needles):
        call(x)
    np.testing.assert_array_equal(x.numpy(), [0, 0, 0])  # nothing was written
    assert x._version == 0


def test_in_place_write_to_expanded_view():
    # a RuntimeError, as PyTorch's "more than one element ... refers to a single memory location"
    with raises_one(RuntimeError, "mul_", "clone"):
        cr.ones(3).expand(2, 3).mul_(2.0)


# ---- backward arguments -------------------------------------------------------------------------
def test_backward_on_non_scalar_needs_gradient():
    y = cr.ones(2, 3, requires_grad=True) * 2.0
    with raises_one(RuntimeError, "6 elements", "(2, 3)", "gradient", ".sum()"):
        y.backward()


def test_backward_gradient_of_wrong_shape():
    y = cr.ones(3, requires_grad=True) * 2.0
    with raises_one(RuntimeError, "backward()", "(4,)", "(3,)"):
        y.backward(cr.ones(4))
    with raises_one(RuntimeError, "grad()", "(3, 1)", "(3,)"):
        cr.autograd.grad(y, y.grad_fn.inputs[0], grad_outputs=cr.ones(3, 1))


def test_backward_on_tensor_without_graph():
    with raises_one(RuntimeError, "does not require grad", "requires_grad=True"):
        cr.ones(3).sum().backward()
    x = cr.ones(3, requires_grad=True)
    with cr.no_grad():
        y = (x * 2.0).sum()
    with raises_one(RuntimeError, "no_grad"):
        y.backward()


# ---- dtypes -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "make, dtype",
    [
        (lambda: cr.tensor([1, 2, 3], requires_grad=True), "int64"),
        (lambda: cr.Tensor(np.arange(3), requires_grad=True), "int64"),
        (lambda: cr.zeros(3, dtype=cr.int64, requires_grad=True), "int64"),
        (lambda: cr.ones(3, dtype=cr.int32, requires_grad=True), "int32"),
        (lambda: cr.full((2,), 1, requires_grad=True), "int64"),
        (lambda: cr.arange(3, requires_grad=True), "int64"),
        (lambda: cr.tensor([True, False], requires_grad=True), "bool"),
        (lambda: cr.tensor([1, 2]).requires_grad_(), "int64"),
    ],
    ids=["tensor", "Tensor", "zeros", "ones_int32", "full", "arange", "bool", "requires_grad_"],
)
def test_requires_grad_on_non_float_tensor(make, dtype):
    with raises_one(RuntimeError, "requires_grad=True", dtype, "float"):
        make()


def test_in_place_float_into_int_tensor():
    x = cr.tensor([1, 2])
    with raises_one(RuntimeError, "add_", "float64", "int64"):
        x.add_(0.5)


@pytest.mark.parametrize(
    "data, kind, needle",
    [
        ("abc", TypeError, "str"),
        ([[1, 2], [3]], ValueError, "different lengths"),
        ([None, 1.0], TypeError, "numbers"),
    ],
    ids=["string", "ragged", "none"],
)
def test_tensor_from_bad_data(data, kind, needle):
    with raises_one(kind, needle):
        cr.tensor(data)


def test_unknown_dtype():
    with pytest.raises(TypeError, match="unknown dtype 'foo'"):
        cr.zeros(3, dtype="foo")


def test_gradcheck_refuses_float32():
    with raises_one(TypeError, "float32", "float64"):
        cr.autograd.gradcheck(lambda x: x * 2.0, (cr.ones(2, requires_grad=True),))


# ---- dims out of range --------------------------------------------------------------------------
X = cr.ones(2, 3)
DIM_CALLS = {
    "sum": lambda d: X.sum(dim=d),
    "mean": lambda d: X.mean(dim=d),
    "prod": lambda d: X.prod(dim=d),
    "var": lambda d: X.var(dim=d),
    "std": lambda d: X.std(dim=d),
    "amax": lambda d: X.amax(dim=d),
    "max": lambda d: X.max(dim=d),
    "argmax": lambda d: X.argmax(dim=d),
    "logsumexp": lambda d: X.logsumexp(dim=d),
    "cumsum": lambda d: X.cumsum(dim=d),
    "softmax": lambda d: X.softmax(dim=d),
    "log_softmax": lambda d: X.log_softmax(dim=d),
    "squeeze": lambda d: X.squeeze(d),
    "transpose": lambda d: X.transpose(0, d),
    "permute": lambda d: X.permute(0, d),
    "flatten": lambda d: X.flatten(0, d),
    "cat": lambda d: cr.cat([X, X], dim=d),
    "split": lambda d: X.split(1, dim=d),
    "chunk": lambda d: X.chunk(2, dim=d),
    "gather": lambda d: X.gather(d, cr.zeros(2, 3, dtype=cr.int64)),
    "index_select": lambda d: X.index_select(d, cr.tensor([0])),
}


@pytest.mark.parametrize("name", list(DIM_CALLS))
@pytest.mark.parametrize("dim", [5, -3])
def test_dim_out_of_range(name, dim):
    with raises_one(IndexError, f"{name}: dim {dim}", "2 dimensions", "-2..1"):
        DIM_CALLS[name](dim)


@pytest.mark.parametrize(
    "name, call",
    [
        ("unsqueeze", lambda: X.unsqueeze(3)),
        ("stack", lambda: cr.stack([X, X], dim=4)),
    ],
    ids=["unsqueeze", "stack"],
)
def test_dim_out_of_range_for_ops_that_add_a_dim(name, call):
    with raises_one(IndexError, f"{name}: dim", "3 dimensions"):
        call()


# ---- shapes of shape ops ------------------------------------------------------------------------
@pytest.mark.parametrize(
    "call, needles",
    [
        (lambda: X.reshape(4, 4), ["reshape", "(2, 3)", "(4, 4)"]),
        (lambda: cr.cat([cr.ones(2, 3), cr.ones(3, 4)]), ["cat", "(2, 3)", "(3, 4)"]),
        (lambda: cr.stack([cr.ones(2, 3), cr.ones(3, 2)]), ["stack", "(2, 3)", "(3, 2)"]),
        (lambda: X.permute(0), ["permute", "(0,)"]),
        (lambda: cr.split(cr.ones(4), [1, 2]), ["split", "[1, 2]", "4"]),
        (lambda: cr.layer_norm(X, (4,)), ["layer_norm", "(2, 3)", "(4,)"]),
    ],
    ids=["reshape", "cat", "stack", "permute", "split", "layer_norm"],
)
def test_shape_op_mismatches(call, needles):
    with raises_one(ValueError, *needles):
        call()


# ---- convolution --------------------------------------------------------------------------------
def test_conv2d_wrong_channel_count():
    with raises_one(ValueError, "conv2d", "3 channels", "(4, 2, 3, 3)", "expects 2"):
        cr.conv2d(cr.ones(1, 3, 5, 5), cr.ones(4, 2, 3, 3))


def test_conv2d_wrong_channel_count_with_groups():
    with raises_one(ValueError, "conv2d", "groups=2"):
        cr.conv2d(cr.ones(1, 4, 5, 5), cr.ones(4, 4, 3, 3), groups=2)


def test_conv2d_wrong_ranks_and_bias():
    with raises_one(ValueError, "conv2d", "(B, C, H, W)", "(3, 5, 5)"):
        cr.conv2d(cr.ones(3, 5, 5), cr.ones(4, 3, 3, 3))
    with raises_one(ValueError, "conv2d", "bias", "(5,)", "4 output channels"):
        cr.conv2d(cr.ones(1, 3, 5, 5), cr.ones(4, 3, 3, 3), cr.ones(5))


def test_conv1d_wrong_channel_count():
    with raises_one(ValueError, "conv1d", "3 channels", "(4, 2, 3)"):
        cr.conv1d(cr.ones(1, 3, 5), cr.ones(4, 2, 3))


def test_kernel_larger_than_input():
    with raises_one(ValueError, "kernel (3, 3)", "2x2"):
        cr.conv2d(cr.ones(1, 3, 2, 2), cr.ones(4, 3, 3, 3))


# ---- indexing -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "call, needles",
    [
        (lambda: X[5], ["index 5", "size 2", "(2, 3)"]),
        (lambda: X[:, 7], ["index 7", "size 3", "(2, 3)"]),
        (lambda: X[cr.tensor([0, 7])], ["index 7", "(2, 3)"]),
        (lambda: X[0, 0, 0], ["too many indices", "(2, 3)"]),
        (lambda: X.gather(1, cr.tensor([[5], [0]])), ["gather", "size 3"]),
        (lambda: X.index_select(1, cr.tensor([5])), ["index 5", "size 3"]),
        (lambda: cr.embedding(cr.tensor([0, 9]), cr.ones(4, 3)), ["embedding", "4 embeddings"]),
        (
            lambda: cr.scatter_add(cr.zeros(3), 0, cr.tensor([5]), cr.ones(1)),
            ["scatter_add", "size 3"],
        ),
    ],
    ids=[
        "int",
        "slice_int",
        "advanced",
        "too_many",
        "gather",
        "index_select",
        "embedding",
        "scatter_add",
    ],
)
def test_index_out_of_range(call, needles):
    with raises_one(IndexError, *needles):
        call()


def test_setitem_out_of_range():
    x = cr.zeros(3)
    with raises_one(IndexError, "index 5", "(3,)"):
        x[5] = 1.0
    with raises_one(ValueError, "(3,)", "(2,)"):
        x[:2] = cr.ones(3)


def test_one_hot_out_of_range():
    with raises_one(ValueError, "one_hot", "0..2"):
        cr.one_hot(cr.tensor([0, 5]), 3)


# ---- conversions --------------------------------------------------------------------------------
def test_item_and_bool_of_many_elements():
    with raises_one(ValueError, "item()", "3"):
        cr.ones(3).item()
    with raises_one(RuntimeError, "3 elements", "ambiguous"):
        bool(cr.ones(3))


def test_numpy_of_tensor_requiring_grad():
    with raises_one(RuntimeError, "detach()"):
        cr.ones(3, requires_grad=True).numpy()

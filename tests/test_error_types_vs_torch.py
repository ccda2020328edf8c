"""The bad-input cases of test_bad_input.py raise an error that is an instance of the type
PyTorch raises for the same mistake, so code written for PyTorch (``except RuntimeError``,
``except IndexError``) catches chainrule's too; chainrule's own type (ValueError for a shape
mismatch, say) stays a base as well (chainrule/errors.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

torch = pytest.importorskip("torch")
F = torch.nn.functional

import chainrule as cr  # noqa: E402

pytestmark = [pytest.mark.torch, pytest.mark.filterwarnings("ignore::UserWarning")]


def both(call: Callable[[Any, Any], Any]) -> tuple[Callable[[], Any], Callable[[], Any]]:
    """The same call on chainrule (m = cr, f = cr) and on PyTorch (m = torch, f = its F)."""
    return (lambda: call(cr, cr)), (lambda: call(torch, F))


def ones(m: Any, *shape: int) -> Any:
    return m.ones(*shape, dtype=m.float32)


CASES: dict[str, Callable[[Any, Any], Any]] = {
    # shapes that don't fit
    "matmul": lambda m, f: ones(m, 3, 4) @ ones(m, 5, 2),
    "mm": lambda m, f: m.mm(ones(m, 3, 4), ones(m, 5, 2)),
    "matmul 1d": lambda m, f: ones(m, 3) @ ones(m, 4),
    "bmm": lambda m, f: m.bmm(ones(m, 2, 3, 4), ones(m, 2, 5, 2)),
    "matmul batch": lambda m, f: ones(m, 2, 3, 4) @ ones(m, 3, 4, 5),
    "linear": lambda m, f: f.linear(ones(m, 3, 4), ones(m, 2, 5)),
    "add broadcast": lambda m, f: ones(m, 3, 4) + ones(m, 2, 4),
    "mul broadcast": lambda m, f: ones(m, 3, 4) * ones(m, 2, 4),
    "where broadcast": lambda m, f: m.where(ones(m, 3, 4) > 0, ones(m, 3, 4), ones(m, 2, 4)),
    "eq broadcast": lambda m, f: ones(m, 3, 4) == ones(m, 2, 4),
    "maximum broadcast": lambda m, f: m.maximum(ones(m, 3, 4), ones(m, 2, 4)),
    "expand": lambda m, f: ones(m, 3, 4).expand(2, 4),
    "add_ shape": lambda m, f: m.zeros(3).add_(ones(m, 4)),
    "mul_ shape": lambda m, f: m.zeros(3).mul_(ones(m, 2, 3)),
    "copy_ shape": lambda m, f: m.zeros(3).copy_(ones(m, 5)),
    "write to expanded": lambda m, f: ones(m, 3).expand(2, 3).mul_(2.0),
    "reshape": lambda m, f: ones(m, 2, 3).reshape(4, 4),
    "cat": lambda m, f: m.cat([ones(m, 2, 3), ones(m, 3, 4)]),
    "stack": lambda m, f: m.stack([ones(m, 2, 3), ones(m, 3, 2)]),
    "permute": lambda m, f: ones(m, 2, 3).permute(0),
    "split": lambda m, f: m.split(ones(m, 4), [1, 2]),
    "layer_norm": lambda m, f: f.layer_norm(ones(m, 2, 3), (4,)),
    "conv2d channels": lambda m, f: f.conv2d(ones(m, 1, 3, 5, 5), ones(m, 4, 2, 3, 3)),
    "conv2d bias": lambda m, f: f.conv2d(ones(m, 1, 3, 5, 5), ones(m, 4, 3, 3, 3), ones(m, 5)),
    "conv2d kernel too big": lambda m, f: f.conv2d(ones(m, 1, 3, 2, 2), ones(m, 4, 3, 3, 3)),
    "conv1d channels": lambda m, f: f.conv1d(ones(m, 1, 3, 5), ones(m, 4, 2, 3)),
    "setitem shape": lambda m, f: m.zeros(3).__setitem__(slice(0, 2), ones(m, 3)),
    # backward
    "backward non-scalar": lambda m, f: (m.ones(2, 3, requires_grad=True) * 2.0).backward(),
    "backward gradient shape": lambda m, f: (m.ones(3, requires_grad=True) * 2.0).backward(
        m.ones(4)
    ),
    "backward without graph": lambda m, f: m.ones(3).sum().backward(),
    # dtypes and data
    "requires_grad int": lambda m, f: m.tensor([1, 2, 3], requires_grad=True),
    "requires_grad_ int": lambda m, f: m.tensor([1, 2]).requires_grad_(),
    "float into int": lambda m, f: m.tensor([1, 2]).add_(0.5),
    "string data": lambda m, f: m.tensor("abc"),
    "ragged data": lambda m, f: m.tensor([[1, 2], [3]]),
    "None in data": lambda m, f: m.tensor([None, 1.0]),
    # dims and indices out of range
    "sum dim": lambda m, f: ones(m, 2, 3).sum(dim=5),
    "softmax dim": lambda m, f: ones(m, 2, 3).softmax(dim=-3),
    "cat dim": lambda m, f: m.cat([ones(m, 2, 3)] * 2, dim=5),
    "unsqueeze dim": lambda m, f: ones(m, 2, 3).unsqueeze(3),
    "stack dim": lambda m, f: m.stack([ones(m, 2, 3)] * 2, dim=4),
    "transpose dim": lambda m, f: ones(m, 2, 3).transpose(0, 5),
    "index": lambda m, f: ones(m, 2, 3)[5],
    "index advanced": lambda m, f: ones(m, 2, 3)[m.tensor([0, 7])],
    "too many indices": lambda m, f: ones(m, 2, 3)[0, 0, 0],
    "gather index": lambda m, f: ones(m, 2, 3).gather(1, m.tensor([[5], [0]])),
    "index_select index": lambda m, f: ones(m, 2, 3).index_select(1, m.tensor([5])),
    "embedding index": lambda m, f: f.embedding(m.tensor([0, 9]), ones(m, 4, 3)),
    "scatter_add index": lambda m, f: m.zeros(3).scatter_add(0, m.tensor([5]), ones(m, 1)),
    "setitem index": lambda m, f: m.zeros(3).__setitem__(5, 1.0),
    "one_hot class": lambda m, f: f.one_hot(m.tensor([0, 5]), 3),
    # conversions
    "item of many": lambda m, f: ones(m, 3).item(),
    "bool of many": lambda m, f: bool(ones(m, 3)),
    "numpy requiring grad": lambda m, f: m.ones(3, requires_grad=True).numpy(),
}


def _raised(call: Callable[[], Any]) -> BaseException:
    try:
        call()
    except Exception as error:  # noqa: BLE001 - the type is what is checked
        return error
    raise AssertionError("no error raised")


@pytest.mark.parametrize("name", list(CASES))
def test_error_is_an_instance_of_the_type_pytorch_raises(name: str) -> None:
    ours, theirs = both(CASES[name])
    expected = type(_raised(theirs))
    got = _raised(ours)
    assert isinstance(got, expected), (
        f"{name}: PyTorch raises {expected.__name__}, chainrule {type(got).__mro__[:-2]}: {got}"
    )


def test_the_types_keep_their_python_bases() -> None:
    # code written for chainrule before (except ValueError / IndexError / TypeError) still works
    with pytest.raises(ValueError):
        ones(cr, 3, 4) @ ones(cr, 5, 2)
    with pytest.raises(IndexError):
        ones(cr, 2, 3).gather(1, cr.tensor([[5], [0]]))
    with pytest.raises(TypeError):
        cr.tensor("abc")
    assert issubclass(cr.errors.BadInputError, RuntimeError)

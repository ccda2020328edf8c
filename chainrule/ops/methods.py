"""Tensor's op methods and operators, bound in one place above both the Tensor class and the op
table: ``x.exp()`` is ``chainrule.exp(x)`` and ``x + y`` is ``chainrule.add(x, y)``, no wrapper.
Here, too, the engine and tensor.py are handed the ops they call, so neither imports one."""

from types import ModuleType

from chainrule import tensor as _tensor
from chainrule.autograd import engine as _engine
from chainrule.tensor import Tensor

# Method delegations: each a one-liner onto the op of the same name in chainrule.ops.
METHODS = (
    "exp log log1p sqrt rsqrt sin cos tanh sigmoid relu abs neg sign square reciprocal "
    "add sub mul div pow maximum minimum clamp clip where eq ne lt le gt ge logical_not "
    "isnan isfinite sum mean amax amin max min prod var std logsumexp argmax argmin all any "
    "norm cumsum reshape view flatten squeeze unsqueeze transpose permute expand expand_as "
    "broadcast_to split chunk gather scatter_add index_select masked_fill matmul mm bmm "
    "softmax log_softmax view_as repeat t unbind flip clamp_min clamp_max isinf logical_and "
    "logical_or logical_xor take_along_dim unflatten dot outer allclose"
).split()

# The operators too, where the op's own signature fits (a Python call less per operator).
OPERATORS = (
    ("__add__", "add"),
    ("__sub__", "sub"),
    ("__mul__", "mul"),
    ("__truediv__", "div"),
    ("__pow__", "pow"),
    ("__matmul__", "matmul"),
    ("__neg__", "neg"),
    ("__getitem__", "index"),
)


def bind(ops: ModuleType) -> None:
    """Hand ``ops`` (chainrule.ops, once every op exists) to the layers below it:

    1. the engine's two ops: sum_to undoes broadcasting, cast fixes a gradient's dtype;
    2. tensor.py's ops (casts, ``.T``, the in-place methods, the reflected operators);
    3. the Tensor methods that are the ops themselves, then the operators.
    """
    _engine.sum_to = ops.sum_to
    _engine.cast = ops.cast
    _tensor._ops = ops
    for name in METHODS:
        setattr(Tensor, name, getattr(ops, name))
    for dunder, name in OPERATORS:
        setattr(Tensor, dunder, getattr(ops, name))

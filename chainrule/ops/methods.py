"""Tensor's op methods and operators, bound in one place above both the Tensor class and the op
table: ``x.exp()`` is ``chainrule.exp(x)`` and ``x + y`` is ``chainrule.add(x, y)``, no wrapper.
What is bound is what chainrule/tensor_methods.py declares (so type checkers see it); here, too,
the engine and the Tensor modules are handed the ops they call, so none of them imports one."""

from types import ModuleType

from chainrule import tensor as _tensor
from chainrule import tensor_conversion as _tensor_conversion
from chainrule import tensor_history as _tensor_history
from chainrule import tensor_in_place as _tensor_in_place
from chainrule.autograd import engine as _engine
from chainrule.tensor import Tensor
from chainrule.tensor_methods import placeholders

# The declared operators and the op each one is (its signature fits: a Python call less per
# operator); every other declared method is the op of its own name.
OPERATORS = {
    "__add__": "add",
    "__sub__": "sub",
    "__mul__": "mul",
    "__truediv__": "div",
    "__pow__": "pow",
    "__matmul__": "matmul",
    "__neg__": "neg",
    "__getitem__": "index",
}


def bind(ops: ModuleType) -> None:
    """Hand ``ops`` (chainrule.ops, once every op exists) to the layers below it:

    1. the engine's two ops: sum_to undoes broadcasting, cast fixes a gradient's dtype;
    2. the Tensor modules' ops (casts, ``.T``, the reflected operators, the in-place methods and
       the history they write, new_*);
    3. the Tensor methods that are the ops themselves, over their placeholders.
    """
    _engine.sum_to = ops.sum_to
    _engine.cast = ops.cast
    _tensor._ops = ops
    _tensor_history._ops = ops
    _tensor_in_place._ops = ops
    _tensor_conversion._ops = ops
    bind_methods(Tensor, ops)


def bind_methods(cls: type, ops: ModuleType) -> None:
    """Set each placeholder of chainrule/tensor_methods.py on ``cls`` to its op. Raises (at import)
    for an operator that is not declared, an op that doesn't exist, and a placeholder that
    something else (a method written out in a class) already overrides: nothing is overwritten
    silently."""
    declared = placeholders()
    for dunder in OPERATORS.keys() - declared.keys():
        raise TypeError(f"ops/methods.py: {dunder} is bound but not declared in tensor_methods.py")
    for name, placeholder in declared.items():
        op_name = OPERATORS.get(name, name)
        op = getattr(ops, op_name, None)
        if op is None:
            raise TypeError(f"tensor_methods.py declares {name}, but there is no op {op_name}")
        if getattr(cls, name) is not placeholder:
            owner = next(c for c in cls.__mro__ if name in vars(c))
            raise TypeError(
                f"{owner.__qualname__}.{name} is defined over its placeholder in "
                "tensor_methods.py: remove one of them"
            )
        setattr(cls, name, op)

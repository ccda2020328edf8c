"""Every op, in one namespace: the primitives with their derivatives, and the ops composed
from them. ``chainrule.tensor.Tensor`` methods and ``chainrule.<op>`` both resolve here."""

from chainrule.ops.creation import *  # noqa: F403
from chainrule.ops.elementwise import *  # noqa: F403
from chainrule.ops.elementwise import abs, pow  # noqa: A004
from chainrule.ops.indexing import *  # noqa: F403
from chainrule.ops.linalg import *  # noqa: F403
from chainrule.ops.nn import *  # noqa: F403
from chainrule.ops.reduce import *  # noqa: F403
from chainrule.ops.reduce import all, any, max, min, sum  # noqa: A004
from chainrule.ops.shape import *  # noqa: F403

from chainrule.tensor import _METHODS as _method_names  # noqa: E402
from chainrule.tensor import Tensor as _Tensor  # noqa: E402

from chainrule.autograd import engine as _engine  # noqa: E402

# The engine needs a few ops (sum_to undoes broadcasting, cast fixes a gradient's dtype).
_engine.sum_to = sum_to  # noqa: F405
_engine.cast = cast  # noqa: F405
_engine.Tensor = _Tensor

# Tensor methods are the ops themselves (x.exp() is chainrule.exp(x)): no wrapper, no overhead.
for _name in _method_names:
    setattr(_Tensor, _name, globals()[_name])
# The operators too, where the op's own signature fits (a Python call less per operator).
for _dunder, _op in (("__add__", "add"), ("__sub__", "sub"), ("__mul__", "mul"),
                     ("__truediv__", "div"), ("__pow__", "pow"), ("__matmul__", "matmul"),
                     ("__neg__", "neg"), ("__getitem__", "index")):
    setattr(_Tensor, _dunder, globals()[_op])

# The public surface: every function or class defined in an ops module (not the submodules, not
# the helpers they import such as np or Tensor).
__all__ = [_n for _n, _v in list(globals().items())
           if not _n.startswith("_") and getattr(_v, "__module__", "").startswith("chainrule.ops")
           and callable(_v)]

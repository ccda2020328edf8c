"""Every op, in one namespace: the primitives with their derivatives, and the ops composed
from them. ``chainrule.tensor.Tensor`` methods and ``chainrule.<op>`` both resolve here."""

# ruff: noqa: F405 - the names below come from the ops modules' star imports

import sys
from typing import TYPE_CHECKING

# also reached through the star imports above; named here (`as`) so mypy sees them exported
from chainrule.ops._coerce import promote as promote
from chainrule.ops._coerce import promote_float as promote_float
from chainrule.ops._coerce import to_tensor as to_tensor
from chainrule.ops.activation import *  # noqa: F403
from chainrule.ops.categorical import *  # noqa: F403
from chainrule.ops.comparison import *  # noqa: F403
from chainrule.ops.convolution import *  # noqa: F403
from chainrule.ops.creation import *  # noqa: F403
from chainrule.ops.elementwise import *  # noqa: F403
from chainrule.ops.elementwise import pow  # noqa: A004
from chainrule.ops.extremes import *  # noqa: F403
from chainrule.ops.extremes import max, min  # noqa: A004
from chainrule.ops.indexing import *  # noqa: F403
from chainrule.ops.joining import *  # noqa: F403
from chainrule.ops.linalg import *  # noqa: F403
from chainrule.ops.methods import bind as _bind
from chainrule.ops.normalization import *  # noqa: F403
from chainrule.ops.norms import *  # noqa: F403
from chainrule.ops.pooling import *  # noqa: F403
from chainrule.ops.reduce import *  # noqa: F403
from chainrule.ops.reduce import all, any, sum  # noqa: A004
from chainrule.ops.regularization import *  # noqa: F403
from chainrule.ops.selection import *  # noqa: F403
from chainrule.ops.shape import *  # noqa: F403
from chainrule.ops.unary import *  # noqa: F403
from chainrule.ops.unary import abs  # noqa: A004
from chainrule.ops.unfold import *  # noqa: F403

# Tensor methods are the ops themselves (x.exp() is chainrule.exp(x)), bound once every op exists.
_bind(sys.modules[__name__])

# The public surface: every function or class defined in an ops module (not the submodules, not
# the helpers they import such as np or Tensor). mypy can't evaluate the comprehension, so it reads
# a static copy, which must list the same names (add a new op to both).
if TYPE_CHECKING:
    __all__ = [  # the names come from the star imports above
        # chainrule.ops.creation
        "tensor",
        "as_tensor",
        "from_numpy",
        "zeros",
        "ones",
        "empty",
        "full",  # noqa: F405
        "zeros_like",
        "ones_like",
        "full_like",
        "empty_like",
        "randn",
        "rand",  # noqa: F405
        "randn_like",
        "rand_like",
        "randint",
        "randperm",
        "arange",
        "linspace",
        "eye",  # noqa: F405
        # chainrule.ops._coerce
        "promote",
        "promote_float",
        "to_tensor",  # noqa: F405
        # chainrule.ops.elementwise
        "add",
        "sub",
        "mul",
        "div",
        "neg",
        "pow",
        "square",
        "reciprocal",
        "rdiv",
        "exp",  # noqa: F405
        "log",
        "log1p",
        "sqrt",
        "sin",
        "cos",
        "tanh",
        "sigmoid",
        "relu",
        "abs",  # noqa: F405
        "sign",
        "erf",
        "rsqrt",
        # chainrule.ops.activation
        "silu",
        "gelu",
        "leaky_relu",
        "elu",
        "softplus",  # noqa: F405
        # chainrule.ops.elementwise
        "clamp",
        "clip",
        "clamp_min",
        "clamp_max",
        "maximum",
        "minimum",
        "where",  # noqa: F405
        "cast",
        "clone",
        # chainrule.ops.comparison
        "eq",
        "ne",
        "lt",
        "le",
        "gt",
        "ge",
        "logical_and",  # noqa: F405
        "logical_or",
        "logical_xor",
        "greater",
        "less",
        "equal",
        "logical_not",  # noqa: F405
        "isnan",
        "isfinite",
        "isinf",
        "allclose",
        "equal_all",  # noqa: F405
        # chainrule.ops.shape
        "pad",
        "reshape",
        "stack",
        "expand",
        "normalize_dims",
        "sum_to",  # noqa: F405
        "broadcast_shapes",
        "broadcast_to",
        "expand_as",
        "broadcast_tensors",
        "view",  # noqa: F405
        "view_as",
        "flatten",
        "unflatten",
        "squeeze",
        "unsqueeze",
        "permute",  # noqa: F405
        "transpose",
        "swapaxes",
        "t",
        "cat",
        "concatenate",
        "split",
        "chunk",  # noqa: F405
        "unbind",
        "repeat",  # noqa: F405
        # chainrule.ops.indexing
        "normalize_key",
        "index",
        "gather",
        "scatter_add",
        "index_put",
        "view_put",
        "index_select",  # noqa: F405
        "masked_fill",
        "take_along_dim",  # noqa: F405
        # chainrule.ops.linalg
        "matmul",
        "mm",
        "bmm",
        "dot",
        "outer",
        "linear",  # noqa: F405
        # chainrule.ops.reduce
        "max",
        "mean",
        "sum",
        "amax",
        "amin",
        "MaxMin",
        "min",
        "argmax",
        "argmin",  # noqa: F405
        "prod",
        "var",
        "std",
        "var_mean",
        "logsumexp",
        "cumsum",
        "flip",
        "all",
        "any",  # noqa: F405
        "norm",  # noqa: F405
        # chainrule.ops.categorical
        "softmax",
        "log_softmax",
        "one_hot",
        # chainrule.ops.unfold
        "unfold_windows",
        # chainrule.ops.convolution
        "conv2d",
        "conv1d",  # noqa: F405
        # chainrule.ops.pooling
        "max_pool2d",
        "avg_pool2d",
        "adaptive_avg_pool2d",
        # chainrule.ops.regularization
        "dropout",
        # chainrule.ops.indexing
        "embedding",  # noqa: F405
        # chainrule.ops.normalization
        "layer_norm",
        "batch_norm",  # noqa: F405
    ]
else:
    __all__ = [
        _n
        for _n, _v in list(globals().items())
        if not _n.startswith("_")
        and getattr(_v, "__module__", "").startswith("chainrule.ops")
        and callable(_v)
    ]

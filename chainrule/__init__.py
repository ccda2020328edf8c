"""chainrule: reverse-mode autodiff on NumPy with a PyTorch-shaped API, and an explainer that
shows every step of backprop.

Examples
--------
>>> import chainrule as cr
>>> w = cr.tensor(0.5, requires_grad=True)
>>> loss = (w * 1.0 - 0.0) ** 2
>>> loss.backward()
>>> w.grad.item()
1.0
"""

# ruff: noqa: F401 - this module is the public surface: every import is a re-export

# the explainer package; chainrule.explain(loss) calls chainrule.explain.explain
from chainrule import (
    autograd,
    datasets,
    explain,  # noqa: E402, I001
    nn,
    optim,
    serialization,
    utils,
)
from chainrule._dtype import (
    bool_,
    float16,
    float32,
    float64,
    get_default_dtype,
    int8,
    int16,
    int32,
    int64,
    promote_types,
    set_default_dtype,
    uint8,
)
from chainrule.autograd.grad_mode import (
    enable_grad,
    is_grad_enabled,
    no_grad,
    set_grad_enabled,
)
from chainrule.names import element_name, get_named, name, name_elements, named_elements, set_named
from chainrule.ops import *  # noqa: F403
from chainrule.ops import abs, all, any, max, min, pow, sum  # noqa: A004
from chainrule.random import manual_seed
from chainrule.serialization import CheckpointError, load, save
from chainrule.summary import summary
from chainrule.tensor import Tensor

__version__ = "0.1.0"

# PyTorch's other spellings of the same dtypes
float = float32  # noqa: A001
double = float64
half = float16
long = int64
int = int32  # noqa: A001
bool = bool_  # noqa: A001

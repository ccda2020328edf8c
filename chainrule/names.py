"""Names for tensors and for the elements of small tensors, so the seeds' notation (i1, h1, a_h1,
w1..w8, E_total) comes out of the explainer as written, and named weights can be set by hand.

Examples
--------
>>> import chainrule as cr
>>> from chainrule.names import get_named, name_elements, set_named
>>> W1 = name_elements(cr.zeros(2, 2, dtype=cr.float64), [["w1", "w2"], ["w3", "w4"]])
>>> set_named({"w1": 0.15, "w4": 0.30}, [W1])
>>> W1.tolist()
[[0.15, 0.0], [0.0, 0.3]]
>>> get_named([W1])
{'w1': 0.15, 'w2': 0.0, 'w3': 0.0, 'w4': 0.3}
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from chainrule.autograd.grad_mode import no_grad
from chainrule.tensor import Tensor

__all__ = [
    "element_name",
    "get_named",
    "name",
    "name_elements",
    "named_elements",
    "set_named",
    "tex_name",
]

Params = Tensor | Mapping[str, Tensor] | Iterable[Tensor] | Any


def _check_name(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value.isidentifier():
        raise ValueError(
            f"{what}: a name must be a Python-identifier-like string such as 'w1' "
            f"or 'a_h1', got {value!r}"
        )
    return value


def name(tensor: Tensor, name: str, elements: Any = None) -> Tensor:
    """Give ``tensor`` a name (and optionally its elements names); returns the tensor.

    Parameters
    ----------
    tensor : Tensor
        Any tensor, leaf or not.
    name : str
        An identifier such as ``"E_total"`` or ``"h"``; the explainer writes ``E_total`` as
        :math:`E_{total}` and ``w1`` as :math:`w_{1}`.
    elements : nested sequence of str, optional
        Element names in the tensor's shape, as for :func:`name_elements`.

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule.names import name
    >>> loss = name(cr.tensor(0.25), "E_total")
    >>> loss.name
    'E_total'
    """
    if not isinstance(tensor, Tensor):
        raise TypeError(f"name: expected a Tensor, got {type(tensor).__name__}")
    tensor.name = _check_name(name, "name")
    if elements is not None:
        name_elements(tensor, elements)
    return tensor


def name_elements(tensor: Tensor, names: Any) -> Tensor:
    """Name each element of a small tensor; ``names`` is nested like the tensor's shape.

    A scalar tensor takes a single string. Names must be distinct within the tensor.

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule.names import element_name, name_elements
    >>> h = name_elements(cr.zeros(2), ["h1", "h2"])
    >>> element_name(h, (1,))
    'h2'
    """
    if not isinstance(tensor, Tensor):
        raise TypeError(f"name_elements: expected a Tensor, got {type(tensor).__name__}")
    array = np.array(names, dtype=object)
    if array.shape != tensor.shape:
        raise ValueError(
            f"name_elements: the names have shape {array.shape} but the tensor has "
            f"shape {tuple(tensor.shape)}; give one name per element"
        )
    flat = [_check_name(n, "name_elements") for n in array.reshape(-1)]
    if len(set(flat)) != len(flat):
        duplicates = sorted({n for n in flat if flat.count(n) > 1})
        raise ValueError(f"name_elements: names must be distinct, {duplicates} repeat")
    tensor.element_names = array
    if tensor.ndim == 0 and tensor.name is None:
        tensor.name = flat[0]
    return tensor


def element_name(tensor: Tensor, index: tuple[int, ...]) -> str | None:
    """The name of one element: its own name, else ``"<tensor name>[i,j]"``, else None."""
    if tensor.element_names is not None:
        return str(tensor.element_names[index])
    if tensor.name is None:
        return None
    if tensor.ndim == 0:
        return tensor.name
    return f"{tensor.name}[{','.join(str(i) for i in index)}]"


def _tensors(params: Params) -> list[Tensor]:
    if isinstance(params, Tensor):
        return [params]
    if hasattr(params, "parameters") and callable(params.parameters):
        return list(params.parameters())
    if isinstance(params, Mapping):
        return list(params.values())
    return list(params)


def named_elements(params: Params) -> dict[str, tuple[Tensor, tuple[int, ...]]]:
    """Every named element (or named scalar tensor) of ``params``: name -> (tensor, index).

    ``params`` is a tensor, a module, a mapping of tensors or an iterable of tensors. A tensor
    without element names but with a name counts as one entry when it is a scalar.
    """
    found: dict[str, tuple[Tensor, tuple[int, ...]]] = {}
    for tensor in _tensors(params):
        if tensor.element_names is not None:
            for index in np.ndindex(*tensor.shape):
                found[str(tensor.element_names[index])] = (tensor, index)
        elif tensor.name is not None and tensor.ndim == 0:
            found[tensor.name] = (tensor, ())
    return found


def set_named(values: Mapping[str, float], params: Params) -> None:
    """Set named elements by hand, in place: ``set_named({"w1": 0.15, "w5": 0.40}, model)``.

    Every name must exist in ``params`` (nothing is changed otherwise). The change bumps each
    tensor's version counter, as any in-place update does.
    """
    known = named_elements(params)
    unknown = [key for key in values if key not in known]
    if unknown:
        raise ValueError(
            f"set_named: no element named {unknown[0]!r}; the named elements are "
            f"{sorted(known) or 'none (use name_elements first)'}"
        )
    checked = {}
    for key, value in values.items():
        try:
            checked[key] = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"set_named: {key} must be a number, got {value!r}") from None
    with no_grad():
        for key, value in checked.items():
            tensor, index = known[key]
            tensor[index] = value


def get_named(params: Params) -> dict[str, float]:
    """The current value of every named element of ``params``, in declaration order."""
    return {
        key: float(tensor._data[index]) for key, (tensor, index) in named_elements(params).items()
    }


def tex_name(name: str) -> str:
    """LaTeX for a name: ``w1`` -> ``w_{1}``, ``a_h1`` -> ``a_{h1}``, ``W[0,1]`` -> ``W_{0,1}``."""
    if "[" in name and name.endswith("]"):
        base, _, index = name[:-1].partition("[")
        base_tex = tex_name(base)
        return f"{base_tex}[{index}]" if "_" in base_tex else f"{base_tex}_{{{index}}}"
    if "_" in name:
        base, _, sub = name.partition("_")
        return f"{_tex_base(base)}_{{{sub.replace('_', ',')}}}" if base else name
    stem = name.rstrip("0123456789")
    if stem and stem != name:
        return f"{_tex_base(stem)}_{{{name[len(stem) :]}}}"
    return _tex_base(name)


_GREEK = {
    "alpha",
    "beta",
    "gamma",
    "delta",
    "epsilon",
    "eta",
    "theta",
    "lambda",
    "mu",
    "sigma",
    "tau",
    "phi",
    "psi",
    "omega",
}


def _tex_base(base: str) -> str:
    if base in _GREEK:
        return "\\" + base
    if len(base) == 1:
        return base
    return f"\\mathrm{{{base}}}"

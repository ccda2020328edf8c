"""The optimizer base class: parameter groups, per-parameter state, ``zero_grad``, ``step`` and
state dicts in PyTorch's layout; each concrete optimizer supplies only its update rule."""

from __future__ import annotations

import copy
import functools
from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from chainrule._checks import number
from chainrule.autograd import grad_mode
from chainrule.autograd.grad_mode import enable_grad, no_grad
from chainrule.tensor import Tensor

ParamsT = Iterable[Tensor] | Iterable[dict[str, Any]] | Iterable[tuple[str, Tensor]]

_SET_OF_PARAMS = (
    "optimizer parameters need to be organized in ordered collections, but the "
    "ordering of tensors in sets will change between runs; use a list instead"
)


class Optimizer:
    """Base class of all optimizers, as ``torch.optim.Optimizer``.

    Subclasses pass their ``defaults`` and implement ``_update(param, group)``: one step for
    one parameter whose ``.grad`` is set. The base class does the rest: it calls the closure
    with grad mode on, skips parameters whose ``grad`` is None, runs the updates under
    ``no_grad``, and bumps each updated parameter's version counter (the arrays are changed
    in place, so a graph that saved a parameter before the step refuses to backward through
    it, as in PyTorch).

    Parameters
    ----------
    params : iterable of Tensor, of (name, Tensor) pairs, or of dicts
        The tensors to optimize, or parameter groups: dicts with a ``"params"`` entry and any
        options that override ``defaults`` for that group.
    defaults : dict
        Option values for groups that don't set them.

    Notes
    -----
    Differences from PyTorch: options are validated for every group added, not only the
    constructor's; ``load_state_dict`` checks the shape of every loaded state tensor and
    copies it (PyTorch may share storage with the dict passed in), and loads all or nothing.
    There are no step or state-dict hooks.

    Examples
    --------
    >>> import chainrule as cr
    >>> w = cr.tensor([1.0, 2.0], requires_grad=True)
    >>> b = cr.tensor([0.0], requires_grad=True)
    >>> opt = cr.optim.SGD([{"params": [w]}, {"params": [b], "lr": 0.5}], lr=0.1)
    >>> [group["lr"] for group in opt.param_groups]
    [0.1, 0.5]
    >>> opt.state_dict()["param_groups"][1]["params"]
    [1]
    """

    # State entries that have the parameter's shape; load_state_dict checks them.
    _param_shaped_state: tuple[str, ...] = ()
    # Options that must be >= 0, in PyTorch's order, with the label its message gives them.
    _nonnegative_options: tuple[tuple[str, str | None], ...] = ()

    def __init__(self, params: ParamsT, defaults: dict[str, Any]) -> None:
        self._check_options(defaults)
        self.defaults = defaults
        self.state: defaultdict[Tensor, dict[str, Any]] = defaultdict(dict)
        self.param_groups: list[dict[str, Any]] = []
        if isinstance(params, Tensor):
            raise TypeError(
                "params argument given to the optimizer should be an iterable of "
                "Tensors or dicts, but got a Tensor; wrap it in a list: [param]"
            )
        if isinstance(params, set):
            raise TypeError(_SET_OF_PARAMS)
        param_groups: list[Any] = list(params)
        if len(param_groups) == 0:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(param_groups[0], dict):
            param_groups = [{"params": param_groups}]
        for param_group in param_groups:
            self.add_param_group(param_group)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        # Schedulers warn when they step before the optimizer ever has; a subclass that brings
        # its own step() must record that too.
        super().__init_subclass__(**kwargs)
        if "step" in cls.__dict__:
            cls.step = _records_step_called(cls.__dict__["step"])  # type: ignore[method-assign]

    # ---- options ------------------------------------------------------------------------------
    @classmethod
    def _check_options(cls, options: dict[str, Any]) -> None:
        """Raise ValueError for an option value the algorithm can't use (subclasses extend)."""
        if isinstance(options.get("lr"), Tensor):
            raise ValueError(
                "a Tensor lr is not supported: the update runs on NumPy arrays; "
                "pass a float (lr.item())"
            )
        for name, why in (
            ("differentiable", "they update the arrays in place, outside the graph"),
            ("capturable", "there are no device graphs to capture"),
        ):
            if options.get(name, False):
                raise ValueError(
                    f"{name}=True is not supported by chainrule's optimizers: {why}; leave it False"
                )
        for name, label in cls._nonnegative_options:
            _check_nonnegative(options, name, label)

    # ---- parameter groups ---------------------------------------------------------------------
    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group of parameters, with options that override ``defaults``, as PyTorch.

        Raises
        ------
        TypeError
            If ``param_group`` isn't a dict, its params are a set, or one isn't a Tensor.
        ValueError
            If a parameter isn't a leaf, is already in another group, names are given for
            some parameters only, or an option value is invalid.
        """
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(param_group).__name__}")
        params = param_group["params"]
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, set):
            raise TypeError(_SET_OF_PARAMS)
        params = list(params)
        names = [p[0] for p in params if isinstance(p, tuple)]
        tensors = [p[1] if isinstance(p, tuple) else p for p in params]
        if names and len(names) != len(tensors):
            raise ValueError(
                "all optimizer params should be with/without names; some param names are missing"
            )
        for param in tensors:
            if not isinstance(param, Tensor):
                raise TypeError(
                    "optimizer can only optimize Tensors, but one of the params is "
                    f"{type(param).__name__}"
                )
            if not (param.is_leaf or param.retains_grad):
                raise ValueError(
                    "can't optimize a non-leaf Tensor; optimize the leaf it was "
                    "computed from, or call .detach().requires_grad_()"
                )
        param_group["params"] = tensors
        if names:
            param_group["param_names"] = names
        for name, default in self.defaults.items():
            param_group.setdefault(name, default)
        self._check_options(param_group)

        # Identity, not ==: Tensor.__eq__ is elementwise.
        seen = {id(p) for group in self.param_groups for p in group["params"]}
        if any(id(p) in seen for p in tensors):
            raise ValueError("some parameters appear in more than one parameter group")
        for group in self.param_groups:
            if ("param_names" in group) != ("param_names" in param_group):
                raise ValueError(
                    "all optimizer param groups should be with/without names; "
                    "cannot add a group "
                    f"{'with' if names else 'without'} names to the others"
                )
        self.param_groups.append(param_group)

    # ---- gradients and steps ------------------------------------------------------------------
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset the gradients of all optimized tensors, as PyTorch.

        With ``set_to_none=True`` (the default) ``.grad`` becomes None, so a parameter that
        gets no gradient in the next backward is skipped by ``step``; otherwise each gradient
        is detached and filled with zeros in place.
        """
        for group in self.param_groups:
            for p in group["params"]:
                if set_to_none and grad_mode.thread_state.tracing is not None:
                    grad_mode.thread_state.tracing.on_clear(p)  # replay clears it whatever it holds
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                    continue
                if p.grad.grad_fn is not None:
                    p.grad.detach_()
                else:
                    p.grad.requires_grad = False
                p.grad.zero_()

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Update every parameter that has a gradient; return the closure's loss, if any.

        Parameters
        ----------
        closure : callable, optional
            Re-evaluates the model and returns the loss; called with grad mode on, before the
            update.
        """
        self._opt_called = True
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        with no_grad():
            for group in self.param_groups:
                for param in group["params"]:
                    if param.grad is None:
                        continue
                    self._update(param, group)
                    param._bump_version()
        return loss

    def _update(self, param: Tensor, group: dict[str, Any]) -> None:
        """One step of the algorithm for ``param`` (its ``.grad`` is set), in place."""
        raise NotImplementedError(f"{type(self).__name__} must implement _update(param, group)")

    # ---- state dicts --------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """The optimizer's state in PyTorch's layout.

        ``{"state": {index: {name: value}}, "param_groups": [{option: value, ...,
        "params": [index, ...]}]}``: parameters are numbered in group order, and the state of a
        parameter that hasn't stepped yet is absent. Tensors are shared with the optimizer, as
        in PyTorch: ``copy.deepcopy`` the result to keep a snapshot while training goes on.
        """
        index_of: dict[int, int] = {}
        packed_groups = []
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            for p in group["params"]:
                index_of.setdefault(id(p), len(index_of))
            packed["params"] = [index_of[id(p)] for p in group["params"]]
            packed_groups.append(packed)
        packed_state = {index_of[id(p)]: s for p, s in self.state.items()}
        return {"state": packed_state, "param_groups": packed_groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Load a state from ``state_dict()``, here or from PyTorch (tensors become arrays).

        Parameters are matched by position, as in PyTorch. Floating state tensors are copied
        and cast to their parameter's dtype, except ``step``, which stays float32.

        Raises
        ------
        ValueError
            If the group count, a group's size, or a state tensor's shape doesn't match; the
            optimizer is then left exactly as it was.
        """
        groups = self.param_groups
        saved_groups = copy.deepcopy(state_dict["param_groups"])
        if len(groups) != len(saved_groups):
            raise ValueError(
                "loaded state dict has a different number of parameter groups "
                f"({len(saved_groups)}) than the optimizer ({len(groups)})"
            )
        for i, (group, saved) in enumerate(zip(groups, saved_groups, strict=True)):
            if len(group["params"]) != len(saved["params"]):
                raise ValueError(
                    "loaded state dict contains a parameter group that doesn't "
                    f"match the size of optimizer's group: group {i} has "
                    f"{len(saved['params'])} parameters there and "
                    f"{len(group['params'])} here"
                )
        param_of = {
            index: p
            for group, saved in zip(groups, saved_groups, strict=True)
            for index, p in zip(saved["params"], group["params"], strict=True)
        }
        state: defaultdict[Any, dict[str, Any]] = defaultdict(dict)
        for index, values in state_dict["state"].items():
            if index not in param_of:
                state[index] = copy.deepcopy(values)
                continue
            param = param_of[index]
            state[param] = {
                name: self._load_state_value(param, index, name, value)
                for name, value in values.items()
            }
        for group, saved in zip(groups, saved_groups, strict=True):
            saved["params"] = group["params"]
            # A dict from an older PyTorch may lack newer options: they take their defaults.
            for name, default in self.defaults.items():
                saved.setdefault(name, default)
            if "param_names" in group and "param_names" not in saved:
                saved["param_names"] = group["param_names"]
        self.state = state
        self.param_groups = saved_groups

    def _load_state_value(self, param: Tensor, index: Any, name: str, value: Any) -> Any:
        """A copy of one loaded state entry, as a Tensor of the right dtype and shape."""
        if value is None or isinstance(value, bool | int | float | str):
            return value
        if not (isinstance(value, Tensor | np.ndarray | np.generic) or hasattr(value, "__array__")):
            return copy.deepcopy(value)
        array = value._data if isinstance(value, Tensor) else np.asarray(value)
        if name == "step":
            # PyTorch keeps the step count as a float32 scalar whatever the parameter's dtype.
            return Tensor._wrap(np.array(array, dtype=np.float32))
        if array.dtype.kind == "f" and param.dtype.kind == "f":
            array = array.astype(param.dtype)
        else:
            array = array.copy()
        if name in self._param_shaped_state and array.shape != param.shape:
            raise ValueError(
                f"loaded state dict has {name!r} of shape {array.shape} for "
                f"parameter {index}, whose shape is {param.shape}; the state dict "
                "comes from a different model"
            )
        return Tensor._wrap(array)

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines += [f"    {key}: {group[key]}" for key in sorted(group) if key != "params"]
        return "\n".join(lines) + "\n)"


def _records_step_called(step: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(step)
    def wrapper(self: Optimizer, *args: Any, **kwargs: Any) -> Any:
        self._opt_called = True
        return step(self, *args, **kwargs)

    return wrapper


# ---- helpers shared by the update rules -----------------------------------------------------
def _zeros_state(param: Tensor) -> Tensor:
    """A state buffer of zeros shaped and typed like ``param``."""
    return Tensor._wrap(np.zeros_like(param._data))


def _step_state() -> Tensor:
    """The step counter: a float32 scalar, as PyTorch keeps it (so state dicts carry over)."""
    return Tensor._wrap(np.zeros((), dtype=np.float32))


def _lazy_state(state: dict[str, Any], param: Tensor, buffers: Iterable[str]) -> dict[str, Any]:
    """``state``, given at a parameter's first step a step counter and zero ``buffers``."""
    if not state:
        state["step"] = _step_state()
        for name in buffers:
            state[name] = _zeros_state(param)
    return state


def _count_step(state: dict[str, Any]) -> float:
    """t ← t + 1 (counted in float32, as PyTorch does); returns t."""
    state["step"]._data += 1
    return float(state["step"]._data)


def _gradient(param: Tensor, group: dict[str, Any], l2: bool = True) -> np.ndarray:
    """g_t: ``param``'s gradient, negated to ascend, plus (with ``l2``) the L2 term λθ.

    A new array whenever it differs from ``.grad``, which belongs to the caller.
    """
    grad = param.grad._data  # type: ignore[union-attr]
    if group["maximize"]:
        grad = -grad
    if l2 and group["weight_decay"] != 0:
        grad = grad + group["weight_decay"] * param._data
    return grad


def _lerp_(start: np.ndarray, end: np.ndarray, weight: float) -> None:
    """``start ← start + weight·(end − start)`` in place, rounded as PyTorch's ``lerp_``.

    PyTorch interpolates from the nearer end (from ``end`` when weight ≥ ½), which keeps the
    result exact at weight 1; doing the same keeps trajectories equal to the last bits.
    """
    w = start.dtype.type(weight)
    difference = end - start
    if abs(w) < 0.5:
        difference *= w
        start += difference
    else:
        difference *= 1 - w
        np.subtract(end, difference, out=start)


def _check_nonnegative(options: dict[str, Any], name: str, label: str | None = None) -> None:
    """Raise PyTorch's ValueError ("Invalid learning rate: -1") if ``options[name]`` < 0, and a
    TypeError naming it if it isn't a number at all (a string, None)."""
    if name in options:
        number(options[name], name if label is None else f"{name} ({label})")
    if name in options and not options[name] >= 0.0:  # `not >=` also catches NaN
        raise ValueError(
            f"Invalid {label or name + ' value'}: {options[name]} ({name} must be >= 0)"
        )

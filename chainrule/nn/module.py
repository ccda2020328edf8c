"""Module: the base class of every layer and model, with PyTorch's registration, traversal,
state-dict and mode-switching behaviour. Each method is here; the longer ones delegate to the
module of their concept: ``_module_traversal`` (walking the tree), ``_module_dtype``
(``to``), ``_state_dict`` (state dicts)."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from chainrule import _dtype
from chainrule.autograd import grad_mode
from chainrule.autograd.grad_mode import no_grad
from chainrule.nn import _modes, _module_dtype, _module_traversal, _state_dict
from chainrule.nn._hooks import RemovableHandle
from chainrule.nn._state_dict import IncompatibleKeys
from chainrule.nn.parameter import Parameter
from chainrule.tensor import Tensor

_REMOVED = object()  # what __delattr__ replaces a member with


def _replacing(registry: dict[str, Any], name: str, value: Any) -> None:
    """Called before ``registry[name] = value``: when that replaces a parameter, buffer or
    submodule, a replayed step traced before would read the old one, so the count of
    replacements is part of its key. (A new name is no replacement: building modules, a loss
    made inside an evaluation, trace nothing again.)"""
    if name in registry and registry[name] is not value:
        grad_mode.state.registrations += 1


class Module:
    """Base class for layers and models, as ``torch.nn.Module``.

    Assigning a ``Parameter``, a ``Module`` or (for a name passed to ``register_buffer``) a
    Tensor as an attribute registers it; ``parameters()``, ``state_dict()``, ``train()``,
    ``to()`` and ``repr`` then see it, in registration order.

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> class Net(nn.Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.hidden = nn.Linear(2, 2)
    ...         self.out = nn.Linear(2, 1)
    ...     def forward(self, x):
    ...         return self.out(self.hidden(x).sigmoid())
    >>> net = Net()
    >>> [name for name, _ in net.named_parameters()]
    ['hidden.weight', 'hidden.bias', 'out.weight', 'out.bias']
    >>> net(cr.zeros(3, 2)).shape
    (3, 1)
    >>> net
    Net(
      (hidden): Linear(in_features=2, out_features=2, bias=True)
      (out): Linear(in_features=2, out_features=1, bias=True)
    )
    """

    training: bool

    def __init__(self) -> None:
        # object.__setattr__: our own __setattr__ needs these dicts to exist first
        object.__setattr__(self, "training", True)
        object.__setattr__(self, "_parameters", {})
        object.__setattr__(self, "_buffers", {})
        object.__setattr__(self, "_non_persistent_buffers_set", set())
        object.__setattr__(self, "_modules", {})
        object.__setattr__(self, "_forward_hooks", {})
        object.__setattr__(self, "_forward_pre_hooks", {})

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(
            f'Module [{type(self).__name__}] is missing the required "forward" function'
        )

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if not (self._forward_hooks or self._forward_pre_hooks):
            return self.forward(*args, **kwargs)
        for hook in list(self._forward_pre_hooks.values()):
            result = hook(self, args)
            if result is not None:
                args = result if isinstance(result, tuple) else (result,)
        out = self.forward(*args, **kwargs)
        for hook in list(self._forward_hooks.values()):
            result = hook(self, args, out)
            if result is not None:
                out = result
        return out

    # ---- hooks --------------------------------------------------------------------------------
    def register_forward_hook(self, hook: Callable[[Module, tuple, Any], Any]) -> RemovableHandle:
        """Call ``hook(module, args, output)`` after each forward; a non-None return replaces
        the output. Returns a handle whose ``remove()`` unregisters it."""
        handle = RemovableHandle(self._forward_hooks)
        self._forward_hooks[handle.id] = hook
        return handle

    def register_forward_pre_hook(self, hook: Callable[[Module, tuple], Any]) -> RemovableHandle:
        """Call ``hook(module, args)`` before each forward; a non-None return replaces the args."""
        handle = RemovableHandle(self._forward_pre_hooks)
        self._forward_pre_hooks[handle.id] = hook
        return handle

    # ---- registration -------------------------------------------------------------------------
    def _check_name(self, name: Any, what: str) -> None:
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"cannot assign {what} before Module.__init__() call")
        if not isinstance(name, str):
            raise TypeError(f"{what} name should be a string, got {type(name).__name__}")
        if name == "" or "." in name:
            raise KeyError(f'{what} name can\'t be empty or contain ".", got {name!r}')

    def register_buffer(self, name: str, tensor: Tensor | None, persistent: bool = True) -> None:
        """Add a tensor that is state but not a parameter (BatchNorm's ``running_mean``).

        Persistent buffers are part of ``state_dict``; ``to(dtype)`` converts float buffers.
        """
        self._register("_buffers", "buffer", name, tensor, Tensor, "chainrule Tensor")
        if persistent:
            self._non_persistent_buffers_set.discard(name)
        else:
            self._non_persistent_buffers_set.add(name)

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Add a parameter (or a None placeholder such as a layer's absent ``bias``)."""
        self._register("_parameters", "parameter", name, param, Parameter, "nn.Parameter")

    def _register(
        self, registry: str, what: str, name: Any, value: Any, kind: type, required: str
    ) -> None:
        """Add ``value`` (a ``kind`` or None) to ``registry`` under a valid name that no other
        attribute has, or raise PyTorch's error."""
        self._check_name(name, what)
        if hasattr(self, name) and name not in getattr(self, registry):
            raise KeyError(f"attribute '{name}' already exists")
        if value is not None and not isinstance(value, kind):
            raise TypeError(
                f"cannot assign '{type(value).__name__}' object to {what} "
                f"'{name}' ({required} or None required)"
            )
        members = getattr(self, registry)
        _replacing(members, name, value)
        members[name] = value

    def add_module(self, name: str, module: Module | None) -> None:
        """Add a child module, reachable as the attribute ``name``."""
        self._check_name(name, "module")
        if hasattr(self, name) and name not in self._modules:
            raise KeyError(f"attribute '{name}' already exists")
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"{type(module).__name__} is not a Module subclass")
        _replacing(self._modules, name, module)
        self._modules[name] = module

    register_module = add_module

    def __setattr__(self, name: str, value: Any) -> None:
        params = self.__dict__.get("_parameters")
        if isinstance(value, Parameter):
            if params is None:
                raise AttributeError("cannot assign parameters before Module.__init__() call")
            self._forget(name, keep="_parameters")
            self.register_parameter(name, value)
        elif params is not None and name in params:
            if value is not None:
                raise TypeError(
                    f"cannot assign '{type(value).__name__}' as parameter '{name}' "
                    "(nn.Parameter or None expected)"
                )
            _replacing(params, name, None)
            params[name] = None
        elif isinstance(value, Module):
            if params is None:
                raise AttributeError("cannot assign module before Module.__init__() call")
            self._forget(name, keep="_modules")
            _replacing(self._modules, name, value)
            self._modules[name] = value
        elif params is not None and name in self._modules:
            if value is not None:
                raise TypeError(
                    f"cannot assign '{type(value).__name__}' as child module "
                    f"'{name}' (nn.Module or None expected)"
                )
            _replacing(self._modules, name, None)
            self._modules[name] = None
        elif params is not None and name in self._buffers:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(
                    f"cannot assign '{type(value).__name__}' as buffer '{name}' "
                    "(chainrule Tensor or None expected)"
                )
            _replacing(self._buffers, name, value)
            self._buffers[name] = value
        elif name == "training" and isinstance(value, bool):
            _modes.set_training((self,), value)
        else:
            object.__setattr__(self, name, value)

    def __setstate__(self, state: Any) -> None:
        """A copy (``copy.deepcopy``, unpickling) of a module in eval mode is in the key of a
        replayed step on its own."""
        if isinstance(state, tuple):  # (__dict__, slots) for a subclass that declares __slots__
            state, slots = state
            for name, value in (slots or {}).items():
                object.__setattr__(self, name, value)
        if state:
            self.__dict__.update(state)
        _modes.copied(self)

    def _forget(self, name: str, keep: str) -> None:
        """Remove ``name`` from the other registries before it is registered in ``keep``
        (where a replacement keeps its position, as in PyTorch)."""
        self.__dict__.pop(name, None)
        for registry in ("_parameters", "_buffers", "_modules"):
            if registry != keep:
                self.__dict__[registry].pop(name, None)
        self._non_persistent_buffers_set.discard(name)

    def __getattr__(self, name: str) -> Any:
        # only called when normal lookup fails: parameters, buffers and children live in dicts
        state = self.__dict__
        for registry in ("_parameters", "_buffers", "_modules"):
            members = state.get(registry)
            if members is not None and name in members:
                return members[name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name: str) -> None:
        for registry in ("_parameters", "_buffers", "_modules"):
            members = self.__dict__[registry]
            if name in members:
                _replacing(members, name, _REMOVED)
                del members[name]
                self._non_persistent_buffers_set.discard(name)
                return
        object.__delattr__(self, name)

    def __dir__(self) -> list[str]:
        keys = list(super().__dir__())
        keys += list(self._parameters) + list(self._buffers) + list(self._modules)
        return sorted(set(keys))

    # ---- traversal ----------------------------------------------------------------------------
    def named_modules(
        self, memo: set[int] | None = None, prefix: str = "", remove_duplicate: bool = True
    ) -> Iterator[tuple[str, Module]]:
        """Every module in the tree, this one first, in PyTorch's (depth-first) order."""
        return _module_traversal.named_modules(self, memo, prefix, remove_duplicate)

    def modules(self) -> Iterator[Module]:
        for _, module in self.named_modules():
            yield module

    def named_children(self) -> Iterator[tuple[str, Module]]:
        return _module_traversal.named_children(self)

    def children(self) -> Iterator[Module]:
        for _, module in self.named_children():
            yield module

    def named_parameters(
        self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True
    ) -> Iterator[tuple[str, Parameter]]:
        """``(name, parameter)`` pairs: each module's own parameters, then its children's."""
        return _module_traversal.named_members(
            self, "_parameters", prefix, recurse, remove_duplicate
        )

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        for _, param in self.named_parameters(recurse=recurse):
            yield param

    def named_buffers(
        self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True
    ) -> Iterator[tuple[str, Tensor]]:
        return _module_traversal.named_members(self, "_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        for _, buffer in self.named_buffers(recurse=recurse):
            yield buffer

    def get_submodule(self, target: str) -> Module:
        """The module at a dotted path such as ``"features.0"``."""
        return _module_traversal.get_submodule(self, target)

    def apply(self, fn: Callable[[Module], Any]) -> Module:
        """Call ``fn`` on every submodule (children first, as PyTorch) and then on this one."""
        for module in self.children():
            module.apply(fn)
        fn(self)
        return self

    # ---- modes and gradients ------------------------------------------------------------------
    def train(self, mode: bool = True) -> Module:
        """Set training mode (Dropout active, BatchNorm on batch statistics) on the whole tree."""
        if not isinstance(mode, bool):
            raise ValueError("training mode is expected to be boolean")
        _modes.set_training(self.modules(), mode)  # (a replayed step is traced per mode)
        return self

    def eval(self) -> Module:
        """Evaluation mode: ``train(False)``."""
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        for param in self.parameters():
            param.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset every parameter's ``.grad``: to None (default), or to zeros in place."""
        for param in self.parameters():
            if set_to_none and grad_mode.thread_state.tracing is not None:
                grad_mode.thread_state.tracing.on_clear(param)  # replay clears it whatever it holds
            if param.grad is None:
                continue
            if set_to_none:
                param.grad = None
            else:
                with no_grad():
                    param.grad.detach_()
                    param.grad.zero_()

    # ---- dtype --------------------------------------------------------------------------------
    def to(self, *args: Any, **kwargs: Any) -> Module:
        """Convert floating-point parameters and buffers to a dtype, in place (as PyTorch).

        Device arguments ('cpu') are accepted and ignored; integer buffers such as
        ``num_batches_tracked`` keep their dtype.
        """
        return _module_dtype.to(self, args, kwargs)

    def float(self) -> Module:
        return _module_dtype.apply_dtype(self, _dtype.float32)

    def double(self) -> Module:
        return _module_dtype.apply_dtype(self, _dtype.float64)

    def cpu(self) -> Module:
        return self

    # ---- state dict ---------------------------------------------------------------------------
    def _state_items(self, prefix: str = "") -> Iterator[tuple[str, Tensor]]:
        return _state_dict.state_items(self, prefix)

    def state_dict(
        self,
        *,
        destination: dict[str, Tensor] | None = None,
        prefix: str = "",
        keep_vars: bool = False,
    ) -> OrderedDict[str, Tensor]:
        """Every parameter and persistent buffer by dotted name, with PyTorch's keys and order.

        The tensors share storage with the module (detached unless ``keep_vars``).
        """
        out: Any = OrderedDict() if destination is None else destination
        for name, tensor in self._state_items(prefix):
            out[name] = tensor if keep_vars else tensor.detach()
        return out

    def load_state_dict(
        self, state_dict: Mapping[str, Any], strict: bool = True, assign: bool = False
    ) -> IncompatibleKeys:
        """Copy values into the parameters and buffers, all or nothing.

        Every key, shape and value is checked before anything is written: a missing or
        unexpected key (when ``strict``) or a wrong shape raises one ``RuntimeError`` naming
        them all, and the module is left exactly as it was. Values may be chainrule Tensors,
        NumPy arrays, or anything ``numpy.asarray`` accepts (a PyTorch CPU tensor, say).
        ``assign`` is accepted for PyTorch compatibility; values are always copied.
        """
        return _state_dict.load_state_dict(self, state_dict, strict)

    # ---- printing -----------------------------------------------------------------------------
    def extra_repr(self) -> str:
        """The text inside this module's parentheses in ``repr`` (set by each layer)."""
        return ""

    def _get_name(self) -> str:
        return type(self).__name__

    def __repr__(self) -> str:
        extra = self.extra_repr()
        extra_lines = extra.split("\n") if extra else []
        child_lines = [
            f"({key}): " + _indent(repr(module), 2) for key, module in self._modules.items()
        ]
        lines = extra_lines + child_lines
        text = self._get_name() + "("
        if lines:
            if len(extra_lines) == 1 and not child_lines:
                text += extra_lines[0]
            else:
                text += "\n  " + "\n  ".join(lines) + "\n"
        return text + ")"


def _indent(text: str, spaces: int) -> str:
    """Indent every line but the first (PyTorch's ``_addindent``)."""
    lines = text.split("\n")
    if len(lines) == 1:
        return text
    return lines[0] + "\n" + "\n".join(" " * spaces + line for line in lines[1:])

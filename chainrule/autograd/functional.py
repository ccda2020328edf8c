"""``jacobian``, ``hessian``, ``vjp``, ``jvp``, ``hvp`` as in ``torch.autograd.functional``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from chainrule.autograd.functional_api import grad
from chainrule.autograd.grad_mode import enable_grad

Func = Callable[..., Any]


def _tuple(value: Any) -> tuple[tuple[Any, ...], bool]:
    from chainrule.tensor import Tensor

    if isinstance(value, Tensor):
        return (value,), True
    return tuple(value), False


def _prepare(inputs: Any, create_graph: bool) -> tuple[tuple[Any, ...], bool]:
    """Fresh leaves that require grad (views of the caller's tensors)."""
    xs, single = _tuple(inputs)
    prepared = []
    for x in xs:
        leaf = x if create_graph and x.requires_grad else x.detach()
        if not leaf.requires_grad:
            leaf.requires_grad_(True)
        prepared.append(leaf)
    return tuple(prepared), single


def _zeros_for(x: Any) -> Any:
    from chainrule.tensor import Tensor

    return Tensor._wrap(np.zeros(x.shape, x.dtype))


def _grads(
    outputs: list[Any], inputs: tuple[Any, ...], grad_outputs: list[Any] | None, create_graph: bool
) -> tuple[Any, ...]:
    """d(outputs)/d(inputs) against grad_outputs; zeros where nothing connects, as PyTorch's
    helpers give (an output that doesn't depend on the inputs, the gradient of a linear map)."""
    keep = [k for k, o in enumerate(outputs) if o.requires_grad]
    if not keep:
        return tuple(_zeros_for(x) for x in inputs)
    if len(keep) < len(outputs):
        outputs = [outputs[k] for k in keep]
        grad_outputs = None if grad_outputs is None else [grad_outputs[k] for k in keep]
    found = grad(
        outputs,
        inputs,
        grad_outputs,
        retain_graph=True,
        create_graph=create_graph,
        allow_unused=True,
    )
    return tuple(_zeros_for(x) if g is None else g for x, g in zip(inputs, found, strict=True))


def vjp(func: Func, inputs: Any, v: Any = None, create_graph: bool = False) -> tuple[Any, ...]:
    """(func(inputs), vᵀJ): one backward pass."""
    from chainrule.tensor import Tensor

    with enable_grad():
        xs, single = _prepare(inputs, create_graph)
        out = func(*xs)
        outs, single_out = _tuple(out)
        if v is None:
            if any(o.numel() != 1 for o in outs):
                raise RuntimeError("vjp: v can only be omitted when func returns a scalar")
            v = [Tensor._wrap(np.ones(o.shape, o.dtype)) for o in outs]
        vs, _ = _tuple(v)
        result = _grads(list(outs), xs, list(vs), create_graph)
    outputs = (
        out
        if create_graph
        else (outs[0].detach() if single_out else tuple(o.detach() for o in outs))
    )
    result = result if create_graph else tuple(r.detach() for r in result)
    return outputs, (result[0] if single else result)


def jvp(func: Func, inputs: Any, v: Any = None, create_graph: bool = False) -> tuple[Any, ...]:
    """(func(inputs), J v), computed by differentiating the (linear) vjp with respect to its
    cotangent: the double-backward trick, so no forward-mode rules are needed."""
    from chainrule.tensor import Tensor

    with enable_grad():
        xs, single = _prepare(inputs, create_graph)
        out = func(*xs)
        outs, single_out = _tuple(out)
        if v is None:
            if any(x.numel() != 1 for x in xs):
                raise RuntimeError("jvp: v can only be omitted when the input is a scalar")
            v = [Tensor._wrap(np.ones(x.shape, x.dtype)) for x in xs]
        vs, _ = _tuple(v)
        dummies = [Tensor._wrap(np.zeros(o.shape, o.dtype)).requires_grad_(True) for o in outs]
        grads_x = _grads(list(outs), xs, dummies, create_graph=True)
        connected = [(g, vv) for g, vv in zip(grads_x, vs, strict=True) if g.requires_grad]
        if connected:
            found = grad(
                [g for g, _ in connected],
                dummies,
                [vv for _, vv in connected],
                retain_graph=True,
                create_graph=create_graph,
                allow_unused=True,
            )
            result = tuple(
                _zeros_for(d) if g is None else g for d, g in zip(dummies, found, strict=True)
            )
        else:
            result = tuple(_zeros_for(d) for d in dummies)
    if not create_graph:
        result = tuple(r.detach() for r in result)
        outs = tuple(o.detach() for o in outs)
    return (outs[0] if single_out else outs), (result[0] if single_out else result)


def jacobian(func: Func, inputs: Any, create_graph: bool = False) -> Any:
    """The Jacobian of each output with respect to each input, shape ``out.shape + in.shape``."""
    from chainrule.ops.joining import stack
    from chainrule.ops.shape import reshape
    from chainrule.tensor import Tensor

    with enable_grad():
        xs, single = _prepare(inputs, create_graph)
        outs, single_out = _tuple(func(*xs))
        table = []
        for o in outs:
            rows = []
            for k in range(o.numel()):
                seed = np.zeros(o.numel(), o.dtype)
                seed[k] = 1.0
                rows.append(_grads([o], xs, [Tensor._wrap(seed.reshape(o.shape))], create_graph))
            per_input = []
            for j, x in enumerate(xs):
                if rows:
                    block = reshape(stack([r[j] for r in rows]), o.shape + x.shape)
                else:
                    block = Tensor._wrap(np.zeros(o.shape + x.shape, x.dtype))
                per_input.append(block if create_graph else block.detach())
            table.append(per_input[0] if single else tuple(per_input))
    return table[0] if single_out else tuple(table)


def hessian(func: Func, inputs: Any, create_graph: bool = False) -> Any:
    """The Hessian of a scalar function: the Jacobian of its gradient."""
    xs, single = _tuple(inputs)

    def gradient(*args: Any) -> Any:
        out = func(*args)
        if out.numel() != 1:
            raise RuntimeError(
                f"hessian: func must return a single value, got shape {tuple(out.shape)}"
            )
        found = _grads([out], args, None, create_graph=True)
        return found[0] if single else found

    return jacobian(gradient, xs[0] if single else xs, create_graph=create_graph)


def hvp(func: Func, inputs: Any, v: Any, create_graph: bool = False) -> tuple[Any, ...]:
    """(func(inputs), H v) for a scalar function, by differentiating ⟨∇f, v⟩."""
    with enable_grad():
        xs, single = _prepare(inputs, create_graph)
        out = func(*xs)
        vs, _ = _tuple(v)
        grads_x = _grads([out], xs, None, create_graph=True)
        inner = sum((g * vv).sum() for g, vv in zip(grads_x, vs, strict=True))
        result = _grads([inner], xs, None, create_graph)
    if not create_graph:
        out = out.detach()
        result = tuple(r.detach() for r in result)
    return out, (result[0] if single else result)

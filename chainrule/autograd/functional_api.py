"""``backward`` and ``grad``: the user-facing entry points to the engine."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from chainrule.autograd.engine import run_backward

if TYPE_CHECKING:
    from chainrule.tensor import Tensor


def _as_list(value: Tensor | Sequence[Tensor] | None) -> list[Any] | None:
    from chainrule.tensor import Tensor

    if value is None:
        return None
    if isinstance(value, Tensor):
        return [value]
    return list(value)


def _root_grads(outputs: list[Tensor], grad_outputs: list[Any] | None, op: str) -> list[Tensor]:
    """The seed gradient of each output: ones for a scalar, else the one the caller gave."""
    from chainrule.tensor import Tensor

    grads = []
    for i, out in enumerate(outputs):
        given = grad_outputs[i] if grad_outputs is not None else None
        if not out.requires_grad:
            raise RuntimeError(
                f"{op}: output {i} (shape {tuple(out.shape)}) does not require grad and has no "
                "grad_fn; did you forget requires_grad=True on an input, or run under no_grad()?"
            )
        if given is None:
            if out.numel() != 1:
                raise RuntimeError(
                    f"{op}: output {i} has {out.numel()} elements (shape {tuple(out.shape)}), so "
                    "it needs gradient= (grad_outputs=) of the same shape; or call .sum() first"
                )
            given = Tensor._wrap(np.ones(out.shape, dtype=out.dtype))
        elif not isinstance(given, Tensor):
            given = Tensor._wrap(np.asarray(given, dtype=out.dtype))
        if tuple(given.shape) != tuple(out.shape):
            raise RuntimeError(
                f"{op}: gradient of shape {tuple(given.shape)} doesn't match output "
                f"{i} of shape {tuple(out.shape)}"
            )
        if given.dtype != out.dtype:
            given = given.to(out.dtype)  # as PyTorch: a leaf's .grad keeps the leaf's dtype
        grads.append(given)
    return grads


def backward(
    tensors: Tensor | Sequence[Tensor],
    grad_tensors: Sequence[Any] | None = None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
    inputs: Sequence[Tensor] | None = None,
) -> None:
    """Accumulate the gradients of ``tensors`` into the leaves' ``.grad``
    (``torch.autograd.backward``)."""
    outputs = _as_list(tensors) or []
    grads = _root_grads(outputs, _as_list(grad_tensors), "backward()")
    if retain_graph is None:
        retain_graph = create_graph
    if inputs is not None:
        targets = _as_list(inputs) or []
        found = run_backward(outputs, grads, retain_graph, create_graph, inputs=targets)
        from chainrule.autograd.engine import _accumulate

        for tensor, grad in zip(targets, found, strict=True):
            if grad is not None:
                _accumulate(tensor, grad, create_graph)
        return
    run_backward(outputs, grads, retain_graph, create_graph)


def grad(
    outputs: Tensor | Sequence[Tensor],
    inputs: Tensor | Sequence[Tensor],
    grad_outputs: Tensor | Sequence[Any] | None = None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
    allow_unused: bool = False,
    materialize_grads: bool = False,
) -> tuple[Tensor | None, ...]:
    """The gradients of ``outputs`` with respect to ``inputs``, without touching ``.grad``.

    Examples
    --------
    >>> import chainrule as cr
    >>> x = cr.tensor(3.0, requires_grad=True)
    >>> (dx,) = cr.autograd.grad(x ** 3, x, create_graph=True)
    >>> (ddx,) = cr.autograd.grad(dx, x)
    >>> dx.item(), ddx.item()
    (27.0, 18.0)
    """
    from chainrule.tensor import Tensor

    outs = _as_list(outputs) or []
    ins = _as_list(inputs) or []
    for i, tensor in enumerate(ins):
        if not isinstance(tensor, Tensor) or not tensor.requires_grad:
            raise RuntimeError(f"grad(): input {i} does not require grad")
    grads = _root_grads(outs, _as_list(grad_outputs), "grad()")
    if retain_graph is None:
        retain_graph = create_graph
    found = run_backward(outs, grads, retain_graph, create_graph, inputs=ins)
    results = []
    for i, (tensor, g) in enumerate(zip(ins, found, strict=True)):
        if g is None:
            if materialize_grads:
                g = Tensor._wrap(np.zeros(tensor.shape, tensor.dtype))
            elif not allow_unused:
                raise RuntimeError(
                    f"grad(): input {i} (shape {tuple(tensor.shape)}) was not used to compute the "
                    "outputs; pass allow_unused=True if that is expected"
                )
        results.append(g)
    return tuple(results)

"""Joining and splitting: cat, stack, split, chunk, unbind (the pieces are views), repeat."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from chainrule.autograd.node import Primitive
from chainrule.errors import BadInputError
from chainrule.ops._coerce import promote, to_tensor
from chainrule.ops.shape import _normalize_dim, _shape_arg, expand, reshape, unsqueeze
from chainrule.tensor import Tensor


# ---- concatenation ---------------------------------------------------------------------------
def _cat_grad(dim: int, start: int, stop: int) -> Any:
    key = (slice(None),) * dim + (slice(start, stop),)

    def rule(grad: Tensor, out: Tensor, dim: int) -> Tensor:  # a variadic op's rule: no inputs
        return grad[key]  # this input's slice of the gradient: a view, O(1)

    return rule


class _Cat(Primitive):
    """cat takes any number of inputs, so its per-input rules are made on demand, each with its
    slice's bounds worked out once (a rule that summed the sizes before it made the backward of
    n inputs take n² steps)."""

    __slots__ = ()

    def __init__(self) -> None:
        super().__init__(
            "cat",
            lambda *xs, dim: np.concatenate(xs, axis=dim),
            grads=[],
            tex=(r"[x_1; x_2; \dots]", ["1"]),
            params=("dim",),
        )

    def __call__(self, *inputs: Tensor, **params: Any) -> Tensor:
        dim = params["dim"]
        rules = []
        start = 0
        for x in inputs:
            stop = start + x._data.shape[dim]
            rules.append(_cat_grad(dim, start, stop) if x.requires_grad else None)
            start = stop
        op = Primitive(
            "cat",
            self.forward,
            grads=rules,
            saves=(),
            tex=self.tex,
            variadic=True,
            params=self.params,
        )
        return op(*inputs, **params)


_cat = _Cat()


def cat(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    """Join tensors along an existing dimension."""
    tensors = promote(*tensors) if len(tensors) > 1 else [to_tensor(tensors[0])]
    if not tensors:
        raise BadInputError("cat: needs at least one tensor")
    ndim = tensors[0].ndim
    dim = _normalize_dim(dim, ndim, "cat")
    for t_ in tensors[1:]:
        if t_.ndim != ndim or any(
            a != b
            for i, (a, b) in enumerate(zip(t_.shape, tensors[0].shape, strict=False))
            if i != dim
        ):
            raise BadInputError(
                f"cat: shapes {[tuple(x.shape) for x in tensors]} don't match outside dim {dim}"
            )
    if len(tensors) == 1:
        return tensors[0]
    return _cat(*tensors, dim=dim)


concatenate = cat


def stack(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    """Join tensors along a new dimension."""
    if not tensors:
        raise BadInputError("stack: needs at least one tensor")
    tensors = [to_tensor(x) for x in tensors]
    shapes = {tuple(x.shape) for x in tensors}
    if len(shapes) > 1:
        raise BadInputError(
            f"stack: all tensors must have the same shape, got {[tuple(x.shape) for x in tensors]}"
        )
    dim = _normalize_dim(dim, tensors[0].ndim + 1, "stack")
    return cat([unsqueeze(x, dim) for x in tensors], dim=dim)


def split(
    input: Tensor, split_size_or_sections: int | Sequence[int], dim: int = 0
) -> tuple[Tensor, ...]:  # noqa: A002
    dim = _normalize_dim(dim, input.ndim, "split")
    length = input.shape[dim]
    if isinstance(split_size_or_sections, (int, np.integer)):
        size = int(split_size_or_sections)
        if size <= 0:
            raise BadInputError(f"split: split size must be positive, got {size}")
        sizes = [min(size, length - s) for s in range(0, length, size)] or [0]
    else:
        sizes = [int(s) for s in split_size_or_sections]
        if sum(sizes) != length:
            raise BadInputError(
                f"split: sections {sizes} don't add up to dim {dim}'s size {length}"
            )
    pieces = []
    start = 0
    for size in sizes:
        key = (slice(None),) * dim + (slice(start, start + size),)
        pieces.append(input[key])
        start += size
    return _several_views(tuple(pieces), "split")


def chunk(input: Tensor, chunks: int, dim: int = 0) -> tuple[Tensor, ...]:  # noqa: A002
    if chunks <= 0:
        raise BadInputError(f"chunk: chunks must be positive, got {chunks}")
    length = input.shape[_normalize_dim(dim, input.ndim, "chunk")]
    size = -(-length // chunks) if length else 1
    return _several_views(split(input, size, dim), "chunk")


def unbind(input: Tensor, dim: int = 0) -> tuple[Tensor, ...]:  # noqa: A002
    dim = _normalize_dim(dim, input.ndim, "unbind")
    pieces = tuple(input[(slice(None),) * dim + (i,)] for i in range(input.shape[dim]))
    return _several_views(pieces, "unbind")


def _several_views(pieces: tuple[Tensor, ...], made_by: str) -> tuple[Tensor, ...]:
    """Mark the views a function returns several of: as in PyTorch, none of them may be written
    in place in grad mode, and a write to their storage makes them unusable for backward (their
    histories can't be regenerated one by one)."""
    for piece in pieces:
        if piece._base is not None and piece._view_fn is not None:
            piece._view_fn = (*piece._view_fn[:2], made_by)
            piece._vbox[3] = True  # type: ignore[index]
    return pieces


def repeat(input: Tensor, *sizes: Any) -> Tensor:  # noqa: A002
    """Tile the tensor (as ``torch.Tensor.repeat``), composed from expand and reshape."""
    sizes = _shape_arg(sizes)
    if len(sizes) < input.ndim:
        raise BadInputError(f"repeat: {len(sizes)} repeat counts for a {input.ndim}-d tensor")
    x = reshape(input, (1,) * (len(sizes) - input.ndim) + input.shape)
    interleaved = []
    for s in x.shape:
        interleaved += [1, s]
    x = reshape(x, tuple(interleaved))
    target = []
    for n, s in zip(sizes, x.shape[1::2], strict=False):
        target += [n, s]
    x = expand(x, tuple(target))
    return reshape(x, tuple(n * s for n, s in zip(sizes, x.shape[1::2], strict=False)))

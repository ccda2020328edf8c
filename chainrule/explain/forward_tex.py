"""The forward formulas of the traced graph: each element of an op's output written in its
inputs' labels (h1 = w1·i1 + w2·i2, a_o1 = σ(o1)), from the op's own Primitive (its kind, tex,
input letters and symbols). A mixin of :class:`chainrule.explain.trace.Graph`, which supplies
the labels (``element_tex``, ``source_map``, ``is_weight``, ``items``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from chainrule.explain.latex import number_tex, paren, simplify, substitute

if TYPE_CHECKING:
    from chainrule.autograd.node import Primitive
    from chainrule.explain.trace import Traced

__all__ = ["ForwardFormulas", "broadcast_index"]


def broadcast_index(
    index: tuple[int, ...], out_shape: tuple[int, ...], in_shape: tuple[int, ...]
) -> tuple[int, ...]:
    """The element of an input of shape ``in_shape`` that broadcasting sent to ``index``."""
    lead = len(out_shape) - len(in_shape)
    return tuple(0 if n == 1 else index[lead + d] for d, n in enumerate(in_shape))


class ForwardFormulas:
    """Each element's forward formula, for the Graph that mixes this in."""

    items: list[Any]

    # supplied by Graph, which mixes this in
    def source_map(self, item: Traced) -> Any:
        raise NotImplementedError

    def element_tex(self, position: int, index: tuple[int, ...]) -> str:
        raise NotImplementedError

    def is_weight(self, position: int) -> bool:
        raise NotImplementedError

    def _operand(
        self, position: int, out_index: tuple[int, ...], out_shape: tuple[int, ...]
    ) -> str:
        raise NotImplementedError

    def element_expression(self, item: Traced, index: tuple[int, ...]) -> str | None:
        """The forward formula of one element of a non-leaf tensor, in its inputs' labels."""
        node = item.node
        op = node.op.name
        shape = item.tensor.shape
        mapped = self.source_map(item)
        if mapped is not None:
            source = self.items[item.inputs[0]]
            source_index = np.unravel_index(int(mapped[index]), source.tensor.shape)
            return self.element_tex(source.position, tuple(int(i) for i in source_index))
        if node.op.elementwise and node.op.tex is not None:
            letters = node.op.inputs
            mapping = {
                letters[k]: self._operand(position, index, shape)
                for k, position in enumerate(item.inputs)
            }
            mapping.update(self._param_mapping(node.op, node.params))
            return simplify(substitute(node.op.tex[0], mapping, node.op.bare))
        if op == "matmul":
            return self._matmul_expression(item, index)
        if op == "linear":
            return self._linear_expression(item, index)
        if node.op.kind == "sum":
            terms = self._summed_elements(item, index)
            return None if terms is None or len(terms) > 4 else " + ".join(terms)
        return None

    def _param_mapping(self, op: Primitive, params: Mapping[str, Any]) -> dict[str, str]:
        """The op's parameters that its LaTeX names (the n of x^n), as numbers."""
        mapping = {}
        for key, letter in op.symbols.items():
            if key not in params:
                continue
            value = params[key]
            if value is None:  # clamp without a bound
                mapping[letter] = r"-\infty" if letter == "a" else r"\infty"
            else:
                mapping[letter] = number_tex(value)
        return mapping

    def _matmul_operands(self, item: Traced, out_index: tuple[int, ...]) -> tuple[Any, Any]:
        """For out[out_index] = Σ_j A[..] B[..]: functions j -> the index into A and into B.

        A 1-D left operand is a row and a 1-D right one a column, dropped from the output's
        shape again, as in NumPy and PyTorch.
        """
        a, b = (self.items[p].tensor.shape for p in item.inputs)
        out = item.tensor.shape
        row = (
            out_index[-2] if len(a) > 1 and len(b) > 1 else (out_index[-1] if len(a) > 1 else None)
        )
        col = out_index[-1] if len(b) > 1 else None
        kept = (1 if len(a) > 1 else 0) + (1 if len(b) > 1 else 0)
        batch = out_index[: len(out) - kept] if kept else out_index
        batch_shape = out[: len(out) - kept] if kept else out
        batch_a = broadcast_index(batch, batch_shape, a[:-2]) if len(a) > 2 else ()
        batch_b = broadcast_index(batch, batch_shape, b[:-2]) if len(b) > 2 else ()

        def a_index(j: int) -> tuple[int, ...]:
            return (j,) if len(a) == 1 else batch_a + (row, j)

        def b_index(j: int) -> tuple[int, ...]:
            return (j,) if len(b) == 1 else batch_b + (j, col)

        return a_index, b_index

    def _matmul_expression(self, item: Traced, index: tuple[int, ...]) -> str | None:
        a, b = (self.items[p] for p in item.inputs)
        m = a.tensor.shape[-1]
        if m > 4:
            return None
        weight_first = self.is_weight(b.position) and not self.is_weight(a.position)
        a_index, b_index = self._matmul_operands(item, index)
        terms = []
        for j in range(m):
            left = paren(self.element_tex(a.position, a_index(j)))
            right = paren(self.element_tex(b.position, b_index(j)))
            terms.append(rf"{right}\,{left}" if weight_first else rf"{left}\,{right}")
        return " + ".join(terms)

    def _linear_expression(self, item: Traced, index: tuple[int, ...]) -> str | None:
        """out[…, k] = Σ_j W[k, j] x[…, j] (+ b[k]), weights first as the seeds write them."""
        x, weight = self.items[item.inputs[0]], self.items[item.inputs[1]]
        m = weight.tensor.shape[-1]
        if m > 4:
            return None
        k = index[-1]
        terms = [
            rf"{paren(self.element_tex(weight.position, (k, j)))}\,"
            rf"{paren(self.element_tex(x.position, index[:-1] + (j,)))}"
            for j in range(m)
        ]
        if len(item.inputs) > 2:
            terms.append(self.element_tex(item.inputs[2], (k,)))
        return " + ".join(terms)

    def _summed_elements(self, item: Traced, index: tuple[int, ...]) -> list[str] | None:
        source = self.items[item.inputs[0]]
        size = source.tensor._data.size
        if size > 16:
            return None
        terms = []
        for j in np.ndindex(*source.tensor.shape):
            if self._sum_target(item, j) == index:
                terms.append(self.element_tex(source.position, j))
        return terms

    def _sum_target(self, item: Traced, j: tuple[int, ...]) -> tuple[int, ...]:
        node = item.node
        source_shape = self.items[item.inputs[0]].tensor.shape
        if node.op.name == "sum":
            axes, keepdim = node.params["axes"], node.params["keepdim"]
            return tuple(0 if d in axes else i for d, i in enumerate(j) if keepdim or d not in axes)
        return broadcast_index(j, source_shape, item.tensor.shape)

"""Trace a recorded graph back from a loss: its tensors in topological order, a name and LaTeX
label for each tensor and each element of a small one, and each edge's local derivative, both
as a formula (the primitive's ``tex``, instantiated with the names) and as a number (the
primitive's own gradient rule, called on a one-hot upstream gradient).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from chainrule.autograd.grad_mode import no_grad
from chainrule.explain import formulas
from chainrule.explain.forward_tex import ForwardFormulas, broadcast_index
from chainrule.explain.latex import (
    number_tex,
    paren,
    simplify,
    substitute,
)
from chainrule.explain.walk import CompositeNode, explained_node, topological
from chainrule.names import element_name, tex_name
from chainrule.tensor import Tensor

MAX_EXPRESSION = 64
MAX_LABELLED = 256


# ---- the traced graph ----------------------------------------------------------------------------
@dataclass(eq=False)
class Traced:
    """One tensor of the graph, with its labels."""

    tensor: Tensor
    position: int
    inputs: tuple[int, ...]  # positions of the node's inputs (empty for a leaf)
    kind: str  # loss | parameter | input | constant | intermediate
    name: str  # a user's name, a parameter's key or an automatic one
    named: bool  # named by the user or as a parameter (not automatic)
    tex: str
    element_names: np.ndarray | None = None  # identifiers, for named/auto-named elements
    element_tex: np.ndarray | None = None  # LaTeX for every element of a small tensor
    alias: bool = False  # labels copied from the input of a pass-through op
    expression: bool = False  # labels are formulas of other elements
    composite: Any = None  # a function shown as one op (chainrule.composites), its node

    @property
    def node(self) -> Any:
        return self.composite if self.composite is not None else self.tensor.grad_fn

    @property
    def differentiable(self) -> bool:
        return self.tensor.requires_grad

    def boundary(self, index: tuple[int, ...]) -> bool:
        """Whether element ``index`` is a named quantity (a stop in a derivation's steps)."""
        return not (self.alias or self.expression)


class Graph(ForwardFormulas):
    """The recorded graph from ``loss``: tensors in topological order (inputs first)."""

    def __init__(self, loss: Tensor, parameter_names: Mapping[int, str]) -> None:
        order = topological(loss)
        self.loss = loss
        self.position = {id(t): p for p, t in enumerate(order)}
        self.items: list[Traced] = []
        self._rows: dict[tuple[int, int, int], tuple[np.ndarray, np.ndarray]] = {}
        counters = {"u": 0, "c": 0, "p": 0}
        self._tensor_tex: list[str] = []
        for position, tensor in enumerate(order):
            node = explained_node(tensor)
            inputs = tuple(self.position[id(t)] for t in node.inputs) if node else ()
            item = self._label(tensor, position, inputs, parameter_names, counters)
            self.items.append(item)
            self._tensor_tex.append(self._whole_tex(self.items[-1]))

    # ---- labels ---------------------------------------------------------------------------------
    def _label(
        self,
        tensor: Tensor,
        position: int,
        inputs: tuple[int, ...],
        parameter_names: Mapping[int, str],
        counters: dict[str, int],
    ) -> Traced:
        name = tensor.name or parameter_names.get(id(tensor))
        if name is None and tensor is self.loss:
            name = "L"  # an unnamed loss reads as seed 002's L
        leaf = tensor.grad_fn is None
        if tensor is self.loss:
            kind = "loss"
        elif leaf:
            kind = "parameter" if tensor.requires_grad else "input" if name else "constant"
        else:
            kind = "intermediate"
        named = name is not None
        if name is None:
            prefix = "u" if not leaf else "p" if tensor.requires_grad else "c"
            counters[prefix] += 1
            name = f"{prefix}{counters[prefix]}"
        item = Traced(tensor, position, inputs, kind, name, named, tex_name(name))
        node = explained_node(tensor)
        if isinstance(node, CompositeNode):
            item.composite = node
        if kind == "constant" and tensor.ndim == 0:
            item.tex = number_tex(tensor._data.item(), tensor.dtype)
        if tensor._data.size <= MAX_LABELLED:
            self._label_elements(item, named)
        return item

    def _label_elements(self, item: Traced, named: bool) -> None:
        tensor = item.tensor
        shape = tensor.shape
        if named or tensor.element_names is not None:
            names = np.empty(shape, dtype=object)
            for index in np.ndindex(*shape):
                names[index] = element_name(tensor, index) or _element_id(item.name, index)
            item.element_names = names
            item.element_tex = _map(names, tex_name)
            return
        if item.kind == "constant":
            item.element_tex = _map(tensor._data, lambda v: number_tex(v, tensor.dtype))
            return
        if item.inputs and self._alias_labels(item):
            return
        if item.inputs:
            expressions = np.empty(shape, dtype=object)
            for index in np.ndindex(*shape):
                expression = self.element_expression(item, index)
                if expression is None or len(expression) > MAX_EXPRESSION:
                    break
                expressions[index] = expression
            else:
                item.element_tex, item.expression = expressions, True
                return
        names = np.empty(shape, dtype=object)
        for index in np.ndindex(*shape):
            names[index] = _element_id(item.name, index)
        item.element_names, item.element_tex = names, _map(names, tex_name)

    def source_map(self, item: Traced) -> np.ndarray | None:
        """For a pass-through op: the flat index of the input element behind each element."""
        node = item.node
        if node is None or not node.op.moves:
            return None
        source = self.items[item.inputs[0]].tensor
        flat = np.arange(source._data.size).reshape(source.shape)
        if node.op.kind == "copy":  # same positions (clone, cast)
            return flat
        try:
            mapped = np.asarray(node.op.forward(flat, **node.params))
        except Exception:  # an op that can't move an index array: no names carried over
            return None
        return mapped if mapped.shape == item.tensor.shape else None

    def _alias_labels(self, item: Traced) -> bool:
        source = self.items[item.inputs[0]]
        mapped = self.source_map(item)
        if mapped is None or source.element_tex is None:
            return False
        item.element_tex = _map(mapped, lambda k: source.element_tex.reshape(-1)[k])
        if source.element_names is not None:
            item.element_names = _map(mapped, lambda k: source.element_names.reshape(-1)[k])
        item.alias, item.expression = True, source.expression
        return True

    def element_tex(self, position: int, index: tuple[int, ...]) -> str:
        item = self.items[position]
        if item.element_tex is not None:
            return str(item.element_tex[index])
        return f"{item.tex}[{','.join(map(str, index))}]" if index else item.tex

    def element_label(self, position: int, index: tuple[int, ...]) -> str:
        """An identifier for an element: its name, else the LaTeX of its expression; the
        elements of a tensor too big to label are their tensor's name and index (0.weight[1,2])."""
        item = self.items[position]
        if item.element_names is not None and item.element_names[index] is not None:
            return str(item.element_names[index])
        if item.element_tex is None:
            return _element_id(item.name, index)
        return self.element_tex(position, index)

    def is_weight(self, position: int) -> bool:
        """A parameter, or a pass-through view of one (as nn.Linear's transposed weight)."""
        item = self.items[position]
        while item.kind == "intermediate" and item.alias:
            item = self.items[item.inputs[0]]
        return item.kind == "parameter"

    def _operand(
        self, position: int, out_index: tuple[int, ...], out_shape: tuple[int, ...]
    ) -> str:
        item = self.items[position]
        return self.element_tex(position, broadcast_index(out_index, out_shape, item.tensor.shape))

    # ---- edges and local derivatives ------------------------------------------------------------
    def edges(self, position: int) -> list[tuple[int, int]]:
        """(input slot, input position) of every input the backward pass sends a gradient to."""
        item = self.items[position]
        node = item.node
        if node is None:
            return []
        out = []
        for slot, input_position in enumerate(item.inputs):
            child = self.items[input_position]
            if child.tensor.requires_grad and node.op.grads[slot] is not None:
                out.append((slot, input_position))
        return out

    def apply_rule(self, position: int, slot: int, grad: np.ndarray) -> np.ndarray:
        """Step 3 of the engine's backward loop for one input: call the op's rule, sum to the
        input's shape, cast to its dtype — the same arithmetic as ``backward()``."""
        from chainrule.ops.shape import sum_to

        item = self.items[position]
        node = item.node
        target = node.inputs[slot]
        with no_grad(), np.errstate(all="ignore"):
            inputs = () if node.op.variadic else node.inputs  # a variadic op's rules take none
            result = node.op.grads[slot](Tensor._wrap(grad), item.tensor, *inputs, **node.params)
            if result.shape != target.shape:
                result = sum_to(result, target.shape)
            if result.dtype != target.dtype:
                result = result.to(target.dtype)
        return np.asarray(result._data)

    def jacobian_row(self, position: int, slot: int, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(structure, value) of ∂out[k]/∂input over the input's flat elements.

        The structure comes from a NaN in the upstream gradient (every input element whose
        gradient reads it turns NaN, even where the derivative is 0); the value from a one.
        """
        key = (position, slot, k)
        cached = self._rows.get(key)
        if cached is None:
            out = self.items[position].tensor
            probe = np.zeros(out.shape, dtype=out.dtype)
            probe.reshape(-1)[k] = np.nan
            structure = np.isnan(self.apply_rule(position, slot, probe)).reshape(-1)
            probe.reshape(-1)[k] = 1
            value = self.apply_rule(position, slot, probe).reshape(-1)
            cached = self._rows[key] = (structure, value)
        return cached

    def local_tex(
        self, position: int, slot: int, out_index: tuple[int, ...], in_index: tuple[int, ...]
    ) -> str | None:
        """The local derivative ∂out[out_index]/∂input[in_index] as LaTeX, or None if unknown."""
        item = self.items[position]
        node = item.node
        op = node.op.name
        special = formulas.element(self, position, slot, out_index, in_index)
        if special is not None:
            return special
        if node.op.moves or node.op.kind == "sum":
            return "1"
        if op == "linear":  # out[…, k] = Σ_j W[k, j] x[…, j] + b[k]
            if slot == 0:
                return self.element_tex(item.inputs[1], (out_index[-1], in_index[-1]))
            if slot == 1:
                return self.element_tex(item.inputs[0], out_index[:-1] + (in_index[-1],))
            return "1"
        if op == "matmul":  # ∂(AB)_{ik}/∂A_{ij} = B_{jk}, ∂(AB)_{ik}/∂B_{jk} = A_{ij}
            a_index, b_index = self._matmul_operands(item, out_index)
            a, b = item.inputs
            if slot == 0:
                return self.element_tex(b, b_index(in_index[-1]))
            j = in_index[0] if self.items[b].tensor.ndim == 1 else in_index[-2]
            return self.element_tex(a, a_index(j))
        if not node.op.elementwise or node.op.tex is None:
            return None
        template = node.op.tex[1][slot]
        if len(node.op.tex[0]) > 1 and item.element_tex is not None:
            # σ'(x) = σ(x)(1 − σ(x)) reads a_o1 (1 − a_o1) when the output is named a_o1
            template = template.replace(node.op.tex[0], "\0")
        letters = node.op.inputs
        mapping = {
            letters[k]: self._operand(p, out_index, item.tensor.shape)
            for k, p in enumerate(item.inputs)
        }
        mapping.update(self._param_mapping(node.op, node.params))
        tex = substitute(template, mapping)
        if "\0" in tex:
            tex = tex.replace("\0", paren(self.element_tex(position, out_index)))
        return simplify(tex)

    def local_tex_tensor(self, position: int, slot: int, tensor_tex: Any) -> str | None:
        """An elementwise op's local derivative for a whole tensor, in the tensors' names."""
        item = self.items[position]
        node = item.node
        special = formulas.tensor(self, position, slot)
        if special is not None:
            return special
        if not node.op.elementwise or node.op.tex is None:
            return None
        template = node.op.tex[1][slot]
        if len(node.op.tex[0]) > 1 and item.named:
            template = template.replace(node.op.tex[0], "\0")
        letters = node.op.inputs
        mapping = {letters[k]: tensor_tex(self, p) for k, p in enumerate(item.inputs)}
        mapping.update(self._param_mapping(node.op, node.params))
        tex = substitute(template, mapping).replace("\0", paren(item.tex))
        return simplify(tex)

    def tensor_tex(self, position: int) -> str:
        """A whole tensor's LaTeX: its name; through a pass-through view, its source's; for an
        unnamed elementwise result, its formula when short (t - a_{o}), else its automatic name."""
        return self._tensor_tex[position]

    def _whole_tex(self, item: Traced) -> str:
        if item.named or not item.inputs:
            return item.tex
        node = item.node
        op = node.op.name
        if node.op.moves:
            return self._tensor_tex[item.inputs[0]]
        if (node.op.elementwise or op in ("matmul", "linear")) and node.op.tex is not None:
            letters = node.op.inputs
            mapping = {letters[k]: self._tensor_tex[p] for k, p in enumerate(item.inputs)}
            mapping.update(self._param_mapping(node.op, node.params))
            template = node.op.tex[0]
            if op == "linear" and len(item.inputs) == 2:
                template = template.replace(" + b", "")
            tex = simplify(substitute(template, mapping, node.op.bare))
            if len(tex) <= MAX_EXPRESSION // 2:
                return tex
        return item.tex


def _element_id(name: str, index: tuple[int, ...]) -> str:
    return f"{name}[{','.join(map(str, index))}]" if index else name


def _map(array: np.ndarray, function: Any) -> np.ndarray:
    out = np.empty(array.shape, dtype=object)
    for index in np.ndindex(*array.shape):
        out[index] = function(array[index])
    return out


# ---- functions shown as one op ------------------------------------------------------------------

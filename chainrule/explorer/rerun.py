"""Run a recorded graph again on new leaf values: the same primitives with the same parameters,
in the recorded order, so an edited input or weight gives the loss (and a fresh graph to
explain and differentiate) that the user's own code would have computed."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from chainrule.composites import composite_of, mark
from chainrule.errors import BadInputError
from chainrule.tensor import Tensor

__all__ = ["Rerun"]

MAX_EDITABLE = 64  # a leaf with more elements is kept as it is, not offered element by element


class Rerun:
    """``loss``'s graph, ready to run again with some leaves' elements changed."""

    def __init__(self, loss: Tensor, parameter_names: Mapping[int, str] | None = None) -> None:
        from chainrule.explain.trace import Graph

        self.order = _raw_order(loss)
        labels = Graph(loss, dict(parameter_names or {}))
        self.names: dict[str, tuple[int, tuple[int, ...]]] = {}  # name -> (leaf, element)
        self.parameters: dict[int, str] = {}
        self.arrays: dict[int, np.ndarray] = {}
        for position, tensor in enumerate(self.order):
            if tensor.grad_fn is not None or id(tensor) not in labels.position:
                continue  # an op's output, or a constant inside a function shown as one op
            item = labels.items[labels.position[id(tensor)]]
            if tensor.requires_grad:
                self.parameters[position] = item.name
            if item.kind not in ("input", "parameter") or tensor._data.dtype.kind != "f":
                continue
            self.arrays[position] = np.array(tensor._data, copy=True)
            if item.element_names is None or tensor._data.size > MAX_EDITABLE:
                continue
            for index in np.ndindex(*tensor.shape):
                self.names[str(item.element_names[index])] = (position, index)

    def leaf_names(self) -> list[str]:
        return list(self.names)

    def is_parameter(self, name: str) -> bool:
        return self.names[name][0] in self.parameters

    def values(self, arrays: Mapping[int, np.ndarray]) -> dict[str, float]:
        return {name: float(arrays[p][i]) for name, (p, i) in self.names.items()}

    def start(self, edits: Mapping[str, float]) -> dict[int, np.ndarray]:
        """The leaves' arrays with ``edits`` (name -> value) written in."""
        arrays = {p: a.copy() for p, a in self.arrays.items()}
        for name, value in edits.items():
            position, index = self.names[name]
            arrays[position][index] = value
        return arrays

    def run(self, arrays: Mapping[int, np.ndarray]) -> tuple[Tensor, dict[str, Tensor]]:
        """The loss recomputed from ``arrays``, and the new parameter leaves by name."""
        made: dict[int, Tensor] = {}
        parameters: dict[str, Tensor] = {}
        for position, tensor in enumerate(self.order):
            node = tensor.grad_fn
            if node is None:
                if position in arrays:
                    new = Tensor(arrays[position].copy(), requires_grad=tensor.requires_grad)
                    _copy_names(tensor, new)
                    if position in self.parameters:
                        parameters[self.parameters[position]] = new
                else:
                    new = tensor  # a constant: the same one
                made[id(tensor)] = new
                continue
            inputs = [made[id(t)] for t in node.inputs or ()]
            try:
                new = node.op(*inputs, **node.params)
            except Exception as error:  # noqa: BLE001 - named for the user, with the op
                raise BadInputError(
                    f"explore: running '{node.op.name}' again on the edited values failed: {error}"
                ) from error
            _copy_names(tensor, new)
            composite = composite_of(tensor)
            if composite is not None:
                mark(
                    new,
                    composite.op,
                    tuple(made[id(t)] for t in composite.inputs),
                    **composite.params,
                )
            made[id(tensor)] = new
        return made[id(self.order[-1])], parameters

    def step(
        self,
        arrays: Mapping[int, np.ndarray],
        loss: Tensor,
        parameters: Mapping[str, Tensor],
        lr: float,
    ) -> dict[int, np.ndarray]:
        """One gradient-descent step of every parameter leaf: w ← w − lr · ∂loss/∂w."""
        from chainrule.autograd.functional_api import grad

        names = list(parameters)
        grads = grad(loss, [parameters[n] for n in names], allow_unused=True)
        by_name = {n: g for n, g in zip(names, grads, strict=True)}
        out = dict(arrays)
        for position, name in self.parameters.items():
            g = by_name.get(name)
            if g is None or position not in out:
                continue
            w = out[position]
            out[position] = w - w.dtype.type(lr) * np.asarray(g._data)
        return out


def _copy_names(old: Tensor, new: Tensor) -> None:
    new.name = old.name
    new.element_names = old.element_names


def _raw_order(loss: Tensor) -> list[Tensor]:
    """The recorded tensors, inputs first: every primitive, as the engine recorded it."""
    from chainrule.explain.walk import topological

    return topological(loss, node_of=lambda tensor: tensor.grad_fn)

"""Walking a recorded graph back from its loss, as the explainer sees it: the tensors in
topological order, with a function marked in :mod:`chainrule.composites` (``mse_loss``) as one
op whose local derivatives are backward passes through the primitives it hides."""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule.composites import Composite, composite_of
from chainrule.tensor import Tensor

__all__ = ["CompositeNode", "CompositeOp", "explained_node", "topological"]


def topological(loss: Tensor, node_of: Any = None) -> list[Tensor]:
    """Every tensor the loss was computed from, inputs before outputs, by an explicit-stack DFS
    in argument order (so two runs give the same order). ``node_of(tensor)`` is the op that
    made it: by default as the explainer shows it (a marked function as one op)."""
    node_of = node_of or explained_node
    order: list[Tensor] = []
    state: dict[int, int] = {}  # 1 = on the stack, 2 = done
    stack: list[tuple[Tensor, int]] = [(loss, 0)]
    state[id(loss)] = 1
    while stack:
        tensor, next_input = stack.pop()
        node = node_of(tensor)
        if node is not None and node.inputs is None:
            raise ValueError(
                f"explain: the graph through '{node.op.name}' was freed by backward(); call "
                "explain() before backward(), or pass retain_graph=True to backward()"
            )
        inputs = node.inputs if node is not None else ()
        if next_input < len(inputs):
            stack.append((tensor, next_input + 1))
            child = inputs[next_input]
            if id(child) not in state:
                state[id(child)] = 1
                stack.append((child, 0))
            continue
        state[id(tensor)] = 2
        order.append(tensor)
    return order


class CompositeOp:
    """What the trace reads of an op (name, rules, tex) for a function marked in
    ``chainrule.composites``: each rule is a backward pass through the primitives it hides, so
    its numbers are the engine's."""

    variadic = False
    tex = None
    kind = "other"  # none of the generic formulas applies: explain/formulas.py has its own
    elementwise = moves = False
    symbols: dict[str, str] = {}
    bare = ()

    def __init__(self, composite: Composite) -> None:
        self.name = composite.op
        self.grads = tuple(_through(slot) for slot in range(len(composite.inputs)))


class CompositeNode:
    def __init__(self, composite: Composite) -> None:
        self.op = CompositeOp(composite)
        self.inputs = composite.inputs
        self.params = composite.params


def _through(slot: int) -> Any:
    def rule(grad: Tensor, out: Tensor, *inputs: Tensor, **params: Any) -> Tensor:
        from chainrule.autograd.functional_api import grad as autograd_grad

        target = inputs[slot]
        (g,) = autograd_grad(out, [target], grad_outputs=grad, retain_graph=True, allow_unused=True)
        return Tensor._wrap(np.zeros(target.shape, target.dtype)) if g is None else g

    return rule


def explained_node(tensor: Tensor) -> Any:
    """The op that made ``tensor`` as the explainer shows it: a marked function as one op."""
    node = tensor.grad_fn
    if node is None:
        return None
    composite = composite_of(tensor)
    if composite is not None and node.inputs is not None:
        return CompositeNode(composite)
    return node

"""What the explorer's page asks and what the engine answers: a request holds every number a
learner can edit, the answer every number that depends on them (forward values, local
derivatives, chain-rule products path by path, the update, the error curve), computed by
chainrule's engine and explainer — the page only shows them.

Two kinds of session: the seeds' 2-2-2 network (``SeedSession``, the same options as
``chainrule tutorial``) and any graph the explainer can derive (``GraphSession``, re-run with
the edited leaf values through the same primitives).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from chainrule.errors import BadInputError

__all__ = ["GraphSession", "SeedSession", "MAX_STEPS_PER_REQUEST"]

# a request runs at most this many gradient-descent steps (the page asks again for more)
MAX_STEPS_PER_REQUEST = 1000
MAX_PATHS_SHOWN = 16


# ---- checking a request ----------------------------------------------------------------------
def number(value: Any, what: str) -> float:
    """A finite float, or one clear error naming the field."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BadInputError(f"{what}: expected a number, got {_shown(value)}")
    result = float(value)
    if not math.isfinite(result):
        raise BadInputError(f"{what}: expected a finite number, got {_shown(value)}")
    return result


def numbers(value: Any, count: int, what: str, names: str) -> tuple[float, ...]:
    if not isinstance(value, list | tuple):
        raise BadInputError(f"{what}: expected a list of {count} numbers ({names})")
    if len(value) != count:
        raise BadInputError(f"{what}: expected {count} numbers ({names}), got {len(value)}")
    return tuple(
        number(v, f"{what}[{k}] ({names.split()[k] if ' ' in names else k})")
        for k, v in enumerate(value)
    )


def steps_of(payload: Mapping[str, Any]) -> int:
    steps = payload.get("steps", 1)
    if (
        isinstance(steps, bool)
        or not isinstance(steps, int)
        or not 1 <= steps <= MAX_STEPS_PER_REQUEST
    ):
        raise BadInputError(
            f"steps: expected a whole number from 1 to {MAX_STEPS_PER_REQUEST}, got {_shown(steps)}"
        )
    return steps


def learning_rate(payload: Mapping[str, Any]) -> float:
    lr = number(payload.get("lr"), "lr")
    if lr <= 0:
        raise BadInputError(f"lr: expected a positive learning rate, got {lr}")
    return lr


def known_fields(payload: Any, allowed: tuple[str, ...]) -> Mapping[str, Any]:
    if not isinstance(payload, dict):
        raise BadInputError("the request must be a JSON object")
    unknown = sorted(set(payload) - set(allowed))
    if unknown:
        raise BadInputError(
            f"unknown field{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))}; "
            f"the fields are {', '.join(allowed)}"
        )
    return payload


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


# ---- the view the page shows -----------------------------------------------------------------
def explanation_view(explanation: Any) -> dict[str, Any]:
    """The explanation's numbers and formulas as plain text, ready for the page."""
    from chainrule.explain.derive import TensorDerivation
    from chainrule.explain.formatting import (
        backprop_order,
        path_formulas,
        path_labels,
        step_label,
        step_tex,
        tex_to_text,
        unique_steps,
    )

    quantities = [
        {
            "name": q.name,
            "kind": q.kind,
            "formula": "" if q.formula is None else tex_to_text(q.formula),
            "value": q.value,
            "grad": q.grad,
        }
        for q in explanation.quantities
        if q.value is not None
    ]
    local = [
        {
            "label": step_label(s),
            "formula": tex_to_text(step_tex(s)),
            "value": s.value,
            "ops": " ∘ ".join(s.ops),
        }
        for s in unique_steps(explanation)
    ]
    derivations = []
    for d in backprop_order(explanation.derivations):
        if isinstance(d, TensorDerivation):
            derivations.append(
                {
                    "parameter": d.parameter,
                    "tensor": True,
                    "shape": list(d.shape),
                    "paths": [
                        {"via": " → ".join(p.nodes), "formula": tex_to_text(p.formula)}
                        for p in d.paths
                    ],
                    "agrees": d.agrees,
                }
            )
            continue
        paths = [
            {
                "via": via,
                "symbols": " · ".join(step_label(s) for s in p.steps),
                "formulas": path_formulas(p),
                "factors": [s.value for s in p.steps],
                "product": p.product,
            }
            for p, via in zip(d.paths[:MAX_PATHS_SHOWN], path_labels(d.paths), strict=False)
        ]
        derivations.append(
            {
                "parameter": d.parameter,
                "tensor": False,
                "paths": paths,
                "hidden_paths": max(len(d.paths) - MAX_PATHS_SHOWN, 0),
                "total": d.total,
                "engine": d.engine,
                "agrees": d.agrees,
            }
        )
    deltas = [
        {
            "name": delta.name,
            "kind": delta.kind,
            "formula": tex_to_text(delta.formula),
            "norm": delta.norm,
        }
        for delta in explanation.deltas
    ]
    return {
        "loss": explanation.loss,
        "loss_value": explanation.loss_value,
        "quantities": quantities,
        "local": local,
        "derivations": derivations,
        "deltas": deltas,
        "notes": list(explanation.notes),
        "diagnostics": [d.message for d in explanation.diagnostics if d.kind != "norm"],
    }


# ---- the seeds' 2-2-2 network ----------------------------------------------------------------
SEED_FIELDS = ("inputs", "targets", "weights", "biases", "lr", "output_activation", "steps")


class SeedSession:
    """The 2-2-2 network of the worked example, with ``chainrule tutorial``'s options."""

    kind = "seed"

    def __init__(self, config: Any = None) -> None:
        from chainrule.explain.seeds import SeedConfig

        self.config = replace(config or SeedConfig(), steps=1)

    def initial(self) -> dict[str, Any]:
        c = self.config
        return {
            "inputs": list(c.inputs),
            "targets": list(c.targets),
            "weights": list(c.weights),
            "biases": None if c.biases is None else list(c.biases),
            "lr": c.lr,
            "output_activation": c.output_activation,
            "steps": 1,
        }

    def compute(self, payload: Any) -> dict[str, Any]:
        from chainrule.explain.seeds import seed_tutorial

        payload = known_fields(payload, SEED_FIELDS)
        request = {
            "inputs": numbers(payload.get("inputs"), 2, "inputs", "i1 i2"),
            "targets": numbers(payload.get("targets"), 2, "targets", "t1 t2"),
            "weights": numbers(payload.get("weights"), 8, "weights", "w1 w2 w3 w4 w5 w6 w7 w8"),
            "lr": learning_rate(payload),
            "steps": steps_of(payload),
        }
        biases = payload.get("biases")
        request["biases"] = None if biases is None else numbers(biases, 2, "biases", "b1 b2")
        activation = payload.get("output_activation", "sigmoid")
        if activation not in ("sigmoid", "identity"):
            raise BadInputError(
                f"output_activation: expected 'sigmoid' or 'identity', got {_shown(activation)}"
            )
        request["output_activation"] = activation
        config = replace(self.config, **request)
        run = seed_tutorial(config)
        return _answer(self, run, request)


def _answer(session: Any, run: Any, request: Mapping[str, Any]) -> dict[str, Any]:
    """One answer: the explanation at the request's weights, its update, and the run."""
    first = run.steps[0]
    return {
        "kind": session.kind,
        "request": {k: (list(v) if isinstance(v, tuple) else v) for k, v in request.items()},
        "loss": run.loss,
        "values": first.values,
        "gradients": first.gradients,
        "updated": first.updated,
        "parameters": list(run.parameters),
        "curve": [step.values[run.loss] for step in run.steps],
        "final": run.final,
        "explanation": explanation_view(run.explanation),
    }


# ---- any graph the explainer can derive ------------------------------------------------------
class GraphSession:
    """The user's own graph: its leaves' elements are the editable numbers; each request
    re-runs the recorded ops on the edited values (:mod:`chainrule.explorer.rerun`), explains
    the new loss and takes gradient-descent steps on its parameters."""

    kind = "graph"

    def __init__(self, loss: Any, params: Any = None, lr: float = 0.1) -> None:
        from chainrule.explain import explain
        from chainrule.explain.derive import _parameter_names
        from chainrule.explorer.rerun import Rerun

        explain(loss, params)  # refuse now, not on the page, a graph it can't derive
        self.rerun = Rerun(loss, _parameter_names(params))
        self.lr = float(lr)
        self.names = self.rerun.leaf_names()

    def initial(self) -> dict[str, Any]:
        return {"values": self.rerun.values(self.rerun.arrays), "lr": self.lr, "steps": 1}

    def compute(self, payload: Any) -> dict[str, Any]:
        from chainrule.explain import explain

        payload = known_fields(payload, ("values", "lr", "steps"))
        values = payload.get("values")
        if not isinstance(values, dict):
            raise BadInputError("values: expected an object of leaf names to numbers")
        unknown = sorted(set(values) - set(self.names))
        if unknown:
            raise BadInputError(
                f"values: no leaf named {', '.join(map(repr, unknown[:5]))}; the leaves are "
                f"{', '.join(self.names[:20])}"
            )
        edits = {key: number(value, f"values[{key!r}]") for key, value in values.items()}
        lr, steps = learning_rate(payload), steps_of(payload)
        arrays = self.rerun.start(edits)
        start = self.rerun.values(arrays)
        curve: list[float] = []
        first = None
        for step in range(steps):
            loss, parameters = self.rerun.run(arrays)
            if step == 0:
                first = explain(loss, parameters, lr=lr)
            curve.append(float(loss.item()))
            arrays = self.rerun.step(arrays, loss, parameters, lr)
        assert first is not None
        view = explanation_view(first)
        scalar = [u for u in first.updates if isinstance(u.updated, float)]
        final = self.rerun.values(arrays)
        return {
            "kind": self.kind,
            "request": {"values": start, "lr": lr, "steps": steps},
            "loss": first.loss,
            "values": {q["name"]: q["value"] for q in view["quantities"]},
            "gradients": {u.parameter: u.gradient for u in scalar},
            "updated": {u.parameter: u.updated for u in scalar},
            "parameters": [u.parameter for u in scalar],
            "curve": curve,
            "final": {name: final[name] for name in final if self.rerun.is_parameter(name)},
            "explanation": view,
            "leaves": [
                {"name": name, "parameter": self.rerun.is_parameter(name)} for name in self.names
            ],
        }

"""Check analytic gradients against central finite differences (float64), first and second order."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from chainrule.autograd.functional_api import grad as autograd_grad
from chainrule.autograd.grad_mode import no_grad

Func = Callable[..., Any]


class GradcheckError(RuntimeError):
    """Analytic and numeric gradients disagree; the message names the input and element."""


def _as_tuple(value: Any) -> tuple[Any, ...]:
    from chainrule.tensor import Tensor

    return (value,) if isinstance(value, Tensor) else tuple(value)


def _outputs(func: Func, inputs: tuple[Any, ...]) -> list[Any]:
    return [o for o in _as_tuple(func(*inputs))]


def _flat_outputs(func: Func, inputs: tuple[Any, ...]) -> np.ndarray:
    outs = _outputs(func, inputs)  # grad mode stays on: gradgradcheck's func differentiates
    return (
        np.concatenate([np.asarray(o._data, dtype=np.float64).ravel() for o in outs])
        if outs
        else np.zeros(0)
    )


def _analytic_vjp(
    func: Func, inputs: tuple[Any, ...], diff: list[int], v: np.ndarray
) -> list[np.ndarray]:
    """vᵀJ for each differentiable input, from one backward pass."""
    from chainrule.tensor import Tensor

    outs = _outputs(func, inputs)
    grads_out, start, used = [], 0, []
    for o in outs:
        n = o.numel()
        if o.requires_grad:
            used.append(o)
            grads_out.append(Tensor._wrap(v[start : start + n].reshape(o.shape).astype(o.dtype)))
        start += n
    if not used:
        return [np.zeros(inputs[i].shape) for i in diff]
    found = autograd_grad(used, [inputs[i] for i in diff], grads_out, allow_unused=True)
    return [
        np.zeros(inputs[i].shape) if g is None else np.asarray(g._data, np.float64)
        for i, g in zip(diff, found, strict=True)
    ]


def _numeric_directional(
    func: Func, inputs: tuple[Any, ...], directions: dict[int, np.ndarray], eps: float
) -> np.ndarray:
    """(f(x + eps u) - f(x - eps u)) / 2 eps, perturbing the inputs' arrays in place."""
    originals = {i: inputs[i]._data.copy() for i in directions}
    try:
        for i, u in directions.items():
            inputs[i]._data[...] = originals[i] + eps * u
        plus = _flat_outputs(func, inputs)
        for i, u in directions.items():
            inputs[i]._data[...] = originals[i] - eps * u
        minus = _flat_outputs(func, inputs)
    finally:
        for i, original in originals.items():
            inputs[i]._data[...] = original
    difference: np.ndarray = (plus - minus) / (2 * eps)
    return difference


def gradcheck(
    func: Func,
    inputs: Any,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    raise_exception: bool = True,
    fast_mode: bool | None = None,
    max_elements: int = 2000,
    seed: int = 0,
) -> bool:
    """Compare backward's gradients of ``func(*inputs)`` with central differences.

    Every input that requires grad should be float64. Small inputs are checked element by
    element (the full Jacobian); inputs with more than ``max_elements`` elements in all, or
    ``fast_mode=True``, are checked along random directions: ⟨v, J u⟩ from backward against a
    central difference along u.

    Examples
    --------
    >>> import chainrule as cr
    >>> x = cr.randn(3, dtype=cr.float64, requires_grad=True)
    >>> cr.autograd.gradcheck(lambda t: (t.sin() * t).sum(), (x,))
    True
    """
    inputs = _as_tuple(inputs)
    diff = [i for i, t in enumerate(inputs) if getattr(t, "requires_grad", False)]
    if not diff:
        raise ValueError("gradcheck: no input requires grad")
    for i in diff:
        if inputs[i].dtype != np.float64:
            raise TypeError(
                f"gradcheck: input {i} is {inputs[i].dtype}; finite differences need "
                "float64 inputs (call .double())"
            )
    n_out = _flat_outputs(func, inputs).size
    total = sum(inputs[i].numel() for i in diff)
    if fast_mode is None:
        fast_mode = total * max(n_out, 1) > max_elements
    try:
        if fast_mode:
            _check_directions(func, inputs, diff, n_out, eps, atol, rtol, seed)
        else:
            _check_full(func, inputs, diff, n_out, eps, atol, rtol)
    except GradcheckError:
        if raise_exception:
            raise
        return False
    return True


def _check_full(
    func: Func,
    inputs: tuple[Any, ...],
    diff: list[int],
    n_out: int,
    eps: float,
    atol: float,
    rtol: float,
) -> None:
    for position, i in enumerate(diff):
        size = inputs[i].numel()
        numeric = np.zeros((n_out, size))
        for k in range(size):
            u = np.zeros(size)
            u[k] = 1.0
            numeric[:, k] = _numeric_directional(func, inputs, {i: u.reshape(inputs[i].shape)}, eps)
        analytic = np.zeros((n_out, size))
        for row in range(n_out):
            v = np.zeros(n_out)
            v[row] = 1.0
            analytic[row] = _analytic_vjp(func, inputs, [i], v)[0].ravel()
        bad = ~np.isclose(analytic, numeric, rtol=rtol, atol=atol)
        if bad.any():
            error = np.abs(analytic - numeric)
            row, col = (
                int(k) for k in np.unravel_index(np.argmax(np.where(bad, error, -1)), error.shape)
            )
            element = np.unravel_index(col, inputs[i].shape) if inputs[i].ndim else ()
            raise GradcheckError(
                f"gradcheck: Jacobian mismatch for input {i}, output element {row}, input "
                f"element {tuple(int(e) for e in element)}: analytic "
                f"{float(analytic[row, col])!r}, numeric {float(numeric[row, col])!r} "
                f"(|diff| {error[row, col]:.3g}; "
                f"{int(bad.sum())} of {bad.size} entries outside rtol={rtol}, atol={atol})"
            )
        del position


def _check_directions(
    func: Func,
    inputs: tuple[Any, ...],
    diff: list[int],
    n_out: int,
    eps: float,
    atol: float,
    rtol: float,
    seed: int,
    trials: int = 3,
) -> None:
    rng = np.random.default_rng(seed)
    for trial in range(trials):
        v = rng.standard_normal(n_out)
        directions = {i: rng.standard_normal(inputs[i].shape) for i in diff}
        vjps = dict(zip(diff, _analytic_vjp(func, inputs, diff, v), strict=True))
        analytic = sum(float(np.sum(vjps[i] * directions[i])) for i in diff)
        numeric = float(v @ _numeric_directional(func, inputs, directions, eps))
        if not np.isclose(analytic, numeric, rtol=rtol, atol=atol):
            i, element, a, n = _locate(func, inputs, v, vjps, directions, eps)
            raise GradcheckError(
                f"gradcheck (random direction {trial}): ⟨v, J u⟩ from backward is {analytic!r}, "
                f"from finite differences {numeric!r} (|diff| {abs(analytic - numeric):.3g}); "
                f"narrowed down to input {i}, input element {element}: (vᵀJ) analytic {a!r}, "
                f"numeric {n!r}"
            )


def _locate(
    func: Func,
    inputs: tuple[Any, ...],
    v: np.ndarray,
    vjps: dict[int, np.ndarray],
    directions: dict[int, np.ndarray],
    eps: float,
) -> tuple[int, tuple[Any, ...], float, float]:
    """Find one input element behind a failed random-direction check, by bisection.

    The discrepancy ⟨v, J u⟩ (backward minus finite differences) is a sum over input elements,
    so (1) take the input that carries the largest share, (2) halve its elements, keeping the
    half with the larger share, until one is left, (3) compare backward and finite differences
    of vᵀJ at that element. That costs O(log n) evaluations instead of the full Jacobian's O(n).
    """

    def gap(i: int, flat: np.ndarray) -> float:
        u = np.zeros(inputs[i].numel())
        u[flat] = directions[i].ravel()[flat]
        u = u.reshape(inputs[i].shape)
        numeric = float(v @ _numeric_directional(func, inputs, {i: u}, eps))
        return float(np.sum(vjps[i] * u)) - numeric

    i = max(vjps, key=lambda j: abs(gap(j, np.arange(inputs[j].numel()))))
    flat = np.arange(inputs[i].numel())
    while flat.size > 1:
        low, high = flat[: flat.size // 2], flat[flat.size // 2 :]
        flat = low if abs(gap(i, low)) >= abs(gap(i, high)) else high
    k = int(flat[0])
    unit = np.zeros(inputs[i].numel())
    unit[k] = 1.0
    numeric = float(v @ _numeric_directional(func, inputs, {i: unit.reshape(inputs[i].shape)}, eps))
    element = tuple(int(e) for e in np.unravel_index(k, inputs[i].shape))
    return i, element, float(vjps[i].ravel()[k]), numeric


def gradgradcheck(
    func: Func,
    inputs: Any,
    grad_outputs: Sequence[Any] | None = None,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    raise_exception: bool = True,
    fast_mode: bool | None = None,
    seed: int = 0,
) -> bool:
    """gradcheck of the function ``(inputs, v) -> vᵀJ`` built with create_graph=True, so
    second derivatives are checked against finite differences of first derivatives."""
    from chainrule.tensor import Tensor

    inputs = _as_tuple(inputs)
    with no_grad():
        outs = _outputs(func, inputs)
    rng = np.random.default_rng(seed)
    if grad_outputs is None:
        grad_outputs = [Tensor._wrap(rng.standard_normal(o.shape).astype(np.float64)) for o in outs]
    grad_outputs = [g.detach().requires_grad_(True) for g in grad_outputs]
    diff = [i for i, t in enumerate(inputs) if getattr(t, "requires_grad", False)]
    n_in = len(inputs)

    def first_derivative(*args: Any) -> tuple[Any, ...]:
        xs, vs = args[:n_in], args[n_in:]
        results = [o for o in _outputs(func, xs) if o.requires_grad]
        found = autograd_grad(
            results,
            [xs[i] for i in diff],
            list(vs)[: len(results)],
            create_graph=True,
            allow_unused=True,
            materialize_grads=True,
        )
        return tuple(found)

    return gradcheck(
        first_derivative,
        (*inputs, *grad_outputs),
        eps=eps,
        atol=atol,
        rtol=rtol,
        raise_exception=raise_exception,
        fast_mode=fast_mode,
        seed=seed,
    )

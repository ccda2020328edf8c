"""The comparison itself: backward's gradient of each parameter against central finite
differences in float64, and the records that say where and by how much."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from chainrule.autograd.functional_api import grad as autograd_grad
from chainrule.autograd.grad_mode import no_grad
from chainrule.tensor import Tensor

EPS, RTOL, ATOL = 1e-6, 1e-3, 1e-5  # chainrule.autograd.gradcheck's defaults


@dataclass(frozen=True)
class ParameterCheck:
    """One parameter's comparison, over the ``checked`` of its ``size`` elements.

    ``relative_error`` is ‖a − n‖ / max(‖a‖ + ‖n‖, atol) (the floor keeps a gradient that
    vanishes, such as a bias before BatchNorm, from showing rounding noise as 100 %; 0 when
    nothing differs); an element passes when
    |a − n| ≤ atol + rtol·|n|; ``worst_index`` is the element furthest outside (or least inside)
    that bound, with its analytic and numeric values.
    """

    name: str
    shape: tuple[int, ...]
    size: int
    checked: int
    analytic_norm: float
    numeric_norm: float
    max_abs_error: float
    relative_error: float
    worst_index: tuple[int, ...]
    analytic_at_worst: float
    numeric_at_worst: float
    failing: int
    passed: bool


@dataclass(frozen=True)
class GradcheckReport:
    """The checks of one model or op, and the settings they used."""

    subject: str
    checks: tuple[ParameterCheck, ...]
    eps: float
    rtol: float
    atol: float

    @property
    def passed(self) -> bool:
        return all(check.passed for check in self.checks)

    def to_dict(self) -> dict[str, Any]:
        return {
            "subject": self.subject,
            "eps": self.eps,
            "rtol": self.rtol,
            "atol": self.atol,
            "passed": self.passed,
            "checks": [
                {**asdict(c), "shape": list(c.shape), "worst_index": list(c.worst_index)}
                for c in self.checks
            ],
        }

    def to_text(self) -> str:
        header = (
            "parameter",
            "shape",
            "checked",
            "|analytic|",
            "|numeric|",
            "max abs err",
            "rel err",
            "worst",
            "analytic",
            "numeric",
            "result",
        )
        rows = [header]
        for c in self.checks:
            rows.append(
                (
                    c.name,
                    str(c.shape),
                    f"{c.checked}/{c.size}" if c.checked < c.size else str(c.size),
                    f"{c.analytic_norm:.6g}",
                    f"{c.numeric_norm:.6g}",
                    f"{c.max_abs_error:.2e}",
                    f"{c.relative_error:.2e}",
                    str(c.worst_index),
                    f"{c.analytic_at_worst:.6g}",
                    f"{c.numeric_at_worst:.6g}",
                    "ok" if c.passed else f"FAIL ({c.failing})",
                )
            )
        widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
        numeric = {2, 3, 4, 5, 6, 8, 9}
        lines = [
            "  ".join(
                cell.rjust(w) if i in numeric else cell.ljust(w)
                for i, (cell, w) in enumerate(zip(row, widths, strict=True))
            ).rstrip()
            for row in rows
        ]
        failed = [c.name for c in self.checks if not c.passed]
        elements = sum(c.checked for c in self.checks)
        verdict = (
            f"all {len(self.checks)} passed ({elements} elements)"
            if not failed
            else f"{len(failed)} of {len(self.checks)} FAILED: {', '.join(failed)}"
        )
        return (
            f"gradcheck: {self.subject}\n"
            f"backward vs central differences (float64), eps {self.eps:g}; an element "
            f"passes when |a - n| <= {self.atol:g} + {self.rtol:g}·|n|\n\n"
            + "\n".join(lines)
            + f"\n\n{verdict}\n"
        )


def _compare(
    name: str,
    shape: tuple[int, ...],
    size: int,
    index: np.ndarray,
    analytic: np.ndarray,
    numeric: np.ndarray,
    rtol: float,
    atol: float,
) -> ParameterCheck:
    error = np.abs(analytic - numeric)
    bound = atol + rtol * np.abs(numeric)
    bad = error > bound
    bad |= ~np.isfinite(analytic) | ~np.isfinite(numeric)
    a_norm, n_norm = float(np.linalg.norm(analytic)), float(np.linalg.norm(numeric))
    difference = float(np.linalg.norm(analytic - numeric))
    relative = difference / max(a_norm + n_norm, atol) if difference > 0 else 0.0
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(bound > 0, error / bound, np.where(error > 0, np.inf, 0.0))
    ratio = np.where(np.isnan(ratio), np.inf, ratio)  # NaN anywhere is the worst there is
    worst = int(np.lexsort((np.nan_to_num(error, nan=np.inf), ratio))[-1]) if error.size else 0
    worst_index = (
        tuple(int(i) for i in np.unravel_index(int(index[worst]), shape)) if error.size else ()
    )
    return ParameterCheck(
        name,
        shape,
        size,
        int(index.size),
        a_norm,
        n_norm,
        float(error.max()) if error.size else 0.0,
        relative,
        worst_index,
        float(analytic[worst]) if error.size else 0.0,
        float(numeric[worst]) if error.size else 0.0,
        int(bad.sum()),
        not bool(bad.any()),
    )


def check_parameters(
    loss: Callable[[], Tensor],
    params: Sequence[tuple[str, Tensor]],
    eps: float = EPS,
    rtol: float = RTOL,
    atol: float = ATOL,
    max_elements: int | None = None,
    seed: int = 0,
) -> tuple[ParameterCheck, ...]:
    """Compare d loss() / d param from one backward pass with central differences
    (loss(p + eps) − loss(p − eps)) / 2 eps, element by element, for every named parameter.

    ``loss`` must be a deterministic function of the parameters returning a scalar (no
    dropout). Parameters must be float64. ``max_elements`` checks only that many elements of
    each parameter, chosen at random with ``seed`` (the default checks them all).
    """
    for name, param in params:
        if param.dtype != np.float64:
            raise TypeError(
                f"gradcheck: {name} is {param.dtype}; finite differences need float64 "
                "(call .double() on the model or tensor)"
            )
    value = loss()
    if value.numel() != 1:
        raise ValueError(f"gradcheck: the loss must be a scalar, got shape {value.shape}")
    found = autograd_grad([value], [p for _, p in params], allow_unused=True)
    rng = np.random.default_rng(seed)
    checks = []
    for (name, param), g in zip(params, found, strict=True):
        size = param.numel()
        analytic = np.zeros(size) if g is None else np.asarray(g._data, np.float64).reshape(-1)
        index = np.arange(size)
        if max_elements is not None and size > max_elements:
            index = np.sort(rng.choice(size, max_elements, replace=False))
        numeric = np.empty(index.size)
        data = param._data
        with no_grad():
            for position, flat in enumerate(index):
                element = np.unravel_index(int(flat), data.shape)
                original = data[element]
                try:
                    data[element] = original + eps
                    plus = float(loss()._data)
                    data[element] = original - eps
                    minus = float(loss()._data)
                finally:
                    data[element] = original
                numeric[position] = (plus - minus) / (2 * eps)
        checks.append(
            _compare(name, tuple(param.shape), size, index, analytic[index], numeric, rtol, atol)
        )
    return tuple(checks)

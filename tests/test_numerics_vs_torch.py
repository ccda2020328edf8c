"""Every catalog op at the edges of floating point, against PyTorch: each differentiable input in
turn filled with 0, ±tiny, ±1, ±huge, ±inf or NaN, in float32 and float64; values and gradients
must have the same NaN and inf positions, the same signs of infinities, and finite values within
tolerance. Deliberate deviations are listed in DEVIATIONS (shown in docs/numerics.md).

Comparison rules, decided once:
- finite values agree within ``rtol`` of the array's largest finite magnitude (a gradient of
  1e-12 next to ones is zero up to rounding, which PyTorch's own kernels differ by), plus the
  dtype's smallest normal number (subnormal results are rounding noise);
- signs of zero are compared for the values of elementwise functions (relu(-0) = -0, as IEEE and
  PyTorch say), not for reductions, matmul or gradients, where a zero's sign is summation order.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from op_catalog import CATALOG, UNARY, OpCase, run_case, torch_namespace  # noqa: E402

import chainrule as cr  # noqa: E402

pytestmark = [
    pytest.mark.torch,
    pytest.mark.filterwarnings("ignore::RuntimeWarning"),
    pytest.mark.filterwarnings("ignore::UserWarning"),
]

SPECIAL = (0.0, -0.0, 1e-45, -1e-45, 1e-310, -1e-310, 1.0, -1.0, 1e3, -1e3, 1e30, -1e30)
SPECIAL += (np.inf, -np.inf, np.nan)
ELEMENTWISE = {u.name for u in UNARY}
TOLERANCE = {"float64": 1e-9, "float32": 2e-4}

# Where PyTorch's own arithmetic fails at the edges (a constant row of 1e30: its variance is the
# rounding error of the mean, squared; a norm of 1e30 in float32 overflows), the comparison is
# with PyTorch on an equivalent input where it does not fail, by an identity of the op:
# - shift invariance, f(x) = f(x − c) (variance, std, layer and batch norm): the special value is
#   subtracted from input 0 first;
# - homogeneity, ‖c·x‖ = |c|·‖x‖ with a gradient of degree 0: input 0 is divided by |c| and the
#   norm multiplied back. normalize is of degree 0 (its gradient of degree −1) above |c| = 1,
#   where its eps clamp plays no part.
SHIFT_INVARIANT = ("var", "std", "layer_norm", "batch_norm_train")
HOMOGENEOUS = ("norm_",)


def _reference(case: OpCase, index: int, value: float, arrays: list[np.ndarray], dtype: str) -> Any:
    """PyTorch's run of the case, through the identity above where one applies."""
    torch_m = torch_namespace()
    value = float(np.asarray(value, dtype))  # as the input holds it: 1e-310 is 0 in float32
    finite = np.isfinite(value) and value != 0
    if index == 0 and finite and case.name.startswith(SHIFT_INVARIANT):
        shifted = [arrays[0].astype(dtype) - np.asarray(value, dtype), *arrays[1:]]
        return _run(torch_m, case, shifted, dtype)
    scale = abs(value)
    if index == 0 and finite and case.name.startswith(HOMOGENEOUS) and case.name != "norm_0":
        run = _run(torch_m, case, [arrays[0] / scale, *arrays[1:]], dtype)
        if not isinstance(run, Exception):
            run.outputs[:] = [o * scale for o in run.outputs]
        return run
    if index == 0 and finite and scale > 1 and case.name == "normalize":
        run = _run(torch_m, case, [arrays[0] / scale, *arrays[1:]], dtype)
        if not isinstance(run, Exception):
            run.grads[:] = [None if g is None else g / scale for g in run.grads]
        return run
    return _run(torch_m, case, arrays, dtype)


# Where chainrule differs from PyTorch on purpose, each with its reason (docs/numerics.md shows
# this list). Each is a choice, not a bug left.
NAN = (np.nan,)
NAN_GRADIENT = (
    "A NaN input: chainrule's gradient is what the derivative's formula gives there, NaN through "
    "sign or exp (abs, elu, l1, norms), 0 through a comparison mask (relu, maximum, max pooling, "
    "max/min); PyTorch chooses op by op (relu passes the gradient through, abs gives 0, max "
    "spreads it evenly) and none of these is a derivative, which NaN doesn't have. The value is "
    "NaN in both, and anomaly mode names the op that produced it."
)


@dataclass(frozen=True)
class Deviation:
    """Cases whose name starts with one of ``names``, at input ``index`` (None: any) holding one
    of ``values`` (None: any), in ``dtype`` (None: both)."""

    names: tuple[str, ...]
    index: int | None
    values: tuple[float, ...] | None
    dtype: str | None
    why: str

    def covers(self, case: OpCase, index: int, value: float, dtype: str) -> bool:
        if not case.name.startswith(self.names):
            return False
        if self.index is not None and self.index != index:
            return False
        if self.dtype is not None and self.dtype != dtype:
            return False
        return self.values is None or any(
            v == value or (np.isnan(v) and np.isnan(value)) for v in self.values
        )


DEVIATIONS = (
    Deviation(
        (
            "abs",
            "relu",
            "elu",
            "l1_loss",
            "norm_1",
            "norm_inf",
            "norm_neg_inf",
            "max[",
            "min[",
            "maximum[",
            "minimum[",
            "max_pool2d",
        ),
        None,
        NAN,
        None,
        NAN_GRADIENT,
    ),
    Deviation(
        ("gelu",),
        0,
        (np.inf, -np.inf),
        None,
        "PyTorch's gelu gives NaN at -inf (and at +inf in float32): x·Φ(x) evaluated as inf·0; "
        "chainrule gives the limits, 0 at -inf and inf at +inf, and a gradient of 0 at -inf",
    ),
    Deviation(
        ("batch_norm_train",),
        1,
        (np.inf, -np.inf),
        None,
        "An infinite weight: PyTorch folds it into a scale and a shift, x·s + (b − mean·s) with "
        "s = w/σ, so inf − inf gives NaN; chainrule computes w·x̂ + b, which is ±inf wherever "
        "x̂ ≠ 0",
    ),
    Deviation(
        ("batch_norm_eval",),
        3,
        (np.inf, -np.inf),
        None,
        "An infinite weight in eval mode: as in training, PyTorch's folded scale and shift give "
        "inf − inf = NaN, chainrule's w·x̂ + b gives ±inf",
    ),
    Deviation(
        ("norm_fro", "norm_3"),
        0,
        (1e-45, -1e-45),
        "float32",
        "Every element the smallest float32 subnormal: the norm is itself subnormal (a multiple "
        "of 1.4e-45), so x/‖x‖ is exact only to that spacing (chainrule gives 0.034 where the "
        "exact value is 0.029); PyTorch's x² underflows to 0 and so does its gradient",
    ),
)


def _deviation(case: OpCase, index: int, value: float, dtype: str) -> str | None:
    for deviation in DEVIATIONS:
        if deviation.covers(case, index, value, dtype):
            return deviation.why
    return None


def _agree(got: np.ndarray, expected: np.ndarray, rtol: float, dtype: str, signed: bool) -> str:
    """'' when ``got`` matches ``expected`` under the rules above, else what differs."""
    got = np.asarray(got, np.float64)
    expected = np.asarray(expected, np.float64)
    if got.shape != expected.shape:
        return f"shape {got.shape} vs {expected.shape}"
    if not np.array_equal(np.isnan(got), np.isnan(expected)):
        return "NaN positions differ"
    if not np.array_equal(np.isinf(got), np.isinf(expected)):
        return "inf positions differ"
    infinite = np.isinf(expected)
    if not np.array_equal(got[infinite], expected[infinite]):
        return "signs of inf differ"
    finite = np.isfinite(expected)
    a, b = got[finite], expected[finite]
    scale = np.abs(b).max(initial=0.0)
    atol = rtol * scale + float(np.finfo(dtype).tiny)
    if np.any(np.abs(a - b) > atol + rtol * np.abs(b)):
        worst = int(np.argmax(np.abs(a - b)))
        return f"values differ: expected {b[worst]!r}, got {a[worst]!r}"
    if signed:
        zero = (a == 0) & (b == 0)
        if not np.array_equal(np.signbit(a[zero]), np.signbit(b[zero])):
            return "signs of zero differ"
    return ""


def _run(m: Any, case: OpCase, arrays: list[np.ndarray], dtype: str) -> Any:
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            return run_case(m, case, arrays, dtype=dtype)
    except Exception as error:  # noqa: BLE001 - both libraries refusing is agreement
        return error


COMPARED = [c for c in CATALOG if c.vs_torch is None and c.differentiable]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("case", COMPARED, ids=lambda c: c.name)
def test_special_values_match_pytorch(case: OpCase, dtype: str) -> None:
    base = case.sample()
    rtol = TOLERANCE[dtype]
    problems = []
    for index, arg in enumerate(case.args):
        if not arg.requires_grad:
            continue
        for value in SPECIAL:
            arrays = list(base)
            arrays[index] = np.full(arg.shape, value)
            theirs = _reference(case, index, value, arrays, dtype)
            ours = _run(cr, case, arrays, dtype)
            where = f"{case.name}: input {index} = {value!r} ({dtype})"
            if _deviation(case, index, value, dtype):
                continue
            if isinstance(theirs, Exception) or isinstance(ours, Exception):
                if not (isinstance(theirs, Exception) and isinstance(ours, Exception)):
                    problems.append(f"{where}: PyTorch {theirs!r:.80}, chainrule {ours!r:.80}")
                continue
            signed = case.name in ELEMENTWISE
            for k, (got, expected) in enumerate(zip(ours.outputs, theirs.outputs, strict=True)):
                if got.dtype.kind == "f" and (why := _agree(got, expected, rtol, dtype, signed)):
                    problems.append(f"{where}: output {k}: {why}")
            for k, (got, expected) in enumerate(zip(ours.grads, theirs.grads, strict=True)):
                if got is not None and expected is not None:
                    if why := _agree(got, expected, rtol, dtype, signed=False):
                        problems.append(f"{where}: gradient of input {k}: {why}")
    assert not problems, "\n".join(problems)


def test_every_deviation_names_catalog_cases() -> None:
    for deviation in DEVIATIONS:
        for prefix in deviation.names:
            assert any(c.name.startswith(prefix) for c in COMPARED), prefix


def test_the_docs_list_every_deviation() -> None:
    page = (Path(__file__).resolve().parent.parent / "docs" / "numerics.md").read_text()
    for deviation in DEVIATIONS:
        assert deviation.why in page, deviation.names

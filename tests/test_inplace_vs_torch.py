"""In-place writes after a node saved a value, for every catalog op and every in-place method,
against PyTorch: both raise, or both give the same gradients. Never a silent wrong value.

Each scenario builds ``out = op(x, ...)`` from non-leaf inputs, ``y = (out * u).sum()``, then
writes in place to the op's input or its output (directly or through a view, in grad mode or
under ``no_grad``, or through ``.data``), then backpropagates ``y + (target * v).sum()``, so the
gradient runs both through the op's node made before the write and through the write itself.

``.data`` is the one deliberate difference: PyTorch's ``.data`` has a version counter of its
own, so a node that saved the tensor reads the new values without a word (a silently wrong
gradient); chainrule's ``.data`` shares the tensor's counter, so it behaves as a write under
``no_grad``, and is compared with PyTorch's ``no_grad`` write.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from op_catalog import CATALOG, OpCase, make_inputs, outputs_of, torch_namespace  # noqa: E402

import chainrule as cr  # noqa: E402

pytestmark = [
    pytest.mark.torch,
    pytest.mark.filterwarnings("ignore::RuntimeWarning"),
    pytest.mark.filterwarnings("ignore::UserWarning"),
]


# ---- the in-place methods: (name, write(m, t, w)) with w a tensor of t's shape requiring grad ----
def _setitem(m: Any, t: Any, w: Any) -> None:
    if t.ndim == 0:
        t[...] = w * 3.0
    else:
        t[:1] = (w * 3.0)[:1]


METHODS: dict[str, Callable[[Any, Any, Any], Any]] = {
    "mul_": lambda m, t, w: t.mul_(2.0),
    "add_(w)": lambda m, t, w: t.add_(w, alpha=0.5),
    "sub_": lambda m, t, w: t.sub_(1.5),
    "div_": lambda m, t, w: t.div_(4.0),
    "pow_": lambda m, t, w: t.pow_(2.0),
    "clamp_": lambda m, t, w: t.clamp_(min=-0.3, max=0.4),
    "copy_(w)": lambda m, t, w: t.copy_(w),
    "zero_": lambda m, t, w: t.zero_(),
    "fill_": lambda m, t, w: t.fill_(0.25),
    "addcmul_(w)": lambda m, t, w: t.addcmul_(w, w, value=0.5),
    "setitem(w)": _setitem,
}

# where the write goes: the tensor itself or a view of it; in grad mode, under no_grad, or .data
MODES = ("grad", "no_grad", "data", "view-grad", "view-no_grad")


def _view(t: Any) -> Any:
    """A basic-slicing view of ``t`` (a view in both libraries, whatever the layout)."""
    return t[...] if t.ndim == 0 else t[(slice(0, 1),) * t.ndim]


@dataclass(frozen=True)
class Outcome:
    raised: str | None  # "write" / "after" (at a later use or the backward) or None
    message: str
    grads: tuple[np.ndarray, ...]


def _first_float_output(result: Any) -> Any:
    for o in outputs_of(result):
        if o.dtype in (torch.float64, cr.float64) and o.requires_grad:
            return o
    return None


def _out_of_place(m: Any, t: Any, w: Any, method: str, mode: str) -> Any:
    """What ``t`` holds after the write, computed without writing ``t`` (on a clone), with the
    history the write gives it: through the method in grad mode, t's own under no_grad."""
    write = METHODS[method]
    copy = t.clone()
    if mode in ("grad", "view-grad"):
        write(m, copy if mode == "grad" else _view(copy), w if mode == "grad" else _view(w))
        return copy
    with m.no_grad():
        write(
            m,
            _view(copy) if mode.startswith("view") else copy,
            _view(w) if mode.startswith("view") else w,
        )
    return t + (copy - t).detach()


def _scenario(
    m: Any,
    case: OpCase,
    arrays: list[np.ndarray],
    target: str,
    method: str,
    mode: str,
    reference: bool = False,
) -> Outcome | None:
    """One run on library ``m`` (chainrule or torch_namespace()); None when the case has no
    tensor to write there (an integer output, say). With ``reference`` the write goes to a clone
    (no saved value changes): the mathematically right gradient of the same program."""
    is_torch = m is not cr
    leaves = make_inputs(m, case, arrays)
    inputs = [t * 1.0 if a.requires_grad else t for t, a in zip(leaves, case.args, strict=True)]
    written_input = next((i for i, a in enumerate(case.args) if a.requires_grad), None)
    out = _first_float_output(case.call(m, *inputs))
    if out is None or written_input is None:
        return None
    rng = np.random.default_rng(zlib.crc32(f"{case.name} {target} {method}".encode()))
    t = inputs[written_input] if target == "input" else out
    u = m.tensor(rng.standard_normal(tuple(out.shape)), dtype=m.float64)
    y = (out * u).sum()
    w_leaf = m.tensor(rng.uniform(0.5, 1.5, tuple(t.shape)), dtype=m.float64, requires_grad=True)
    w = w_leaf * 1.0
    v = m.tensor(rng.standard_normal(tuple(t.shape)), dtype=m.float64)
    write = METHODS[method]
    if reference:
        t = _out_of_place(m, t, w, method, mode)
    try:
        if reference:
            pass
        elif mode == "grad":
            write(m, t, w)
        elif mode == "no_grad" or (mode == "data" and is_torch):
            with m.no_grad():
                write(m, t, w)
        elif mode == "data":
            write(m, t.data, w)
        elif mode == "view-grad":
            write(m, _view(t), _view(w))
        else:
            with m.no_grad():
                write(m, _view(t), _view(w))
    except RuntimeError as error:
        return Outcome("write", str(error), ())
    differentiated = [leaf for leaf, a in zip(leaves, case.args, strict=True) if a.requires_grad]
    wanted = [*differentiated, w_leaf]
    try:
        # PyTorch raises at the use of a split() view whose storage was written; chainrule, at
        # the backward through it: both count as after the write
        total = y + (t * v).sum()
        found = m.autograd.grad(total, wanted, allow_unused=True)
    except RuntimeError as error:
        return Outcome("after", str(error), ())
    grads = tuple(
        np.zeros(tuple(leaf.shape)) if g is None else g.detach().numpy().copy()
        for g, leaf in zip(found, wanted, strict=True)
    )
    return Outcome(None, "", grads)


COMPARED = [c for c in CATALOG if c.vs_torch is None and c.differentiable]
EXPANDS = [c.name for c in COMPARED if c.name.startswith(("expand", "broadcast_to"))]

# Where chainrule raises and PyTorch does not (or raises elsewhere): a refusal, never a wrong
# value, each for a reason. (case name, target) -> why. Shown in docs/in-place.md.
RAISES_WHERE_PYTORCH_DOES_NOT = {
    **{
        (name, "output"): "NumPy's broadcast views are read-only, so chainrule refuses every "
        "write to an expanded tensor or a view of one; PyTorch allows the writes that don't "
        "overlap (a one-element slice, fill_)"
        for name in EXPANDS
    },
    ("matmul[4d@3d broadcast]", "input"): "PyTorch's broadcasting matmul saves reshaped copies "
    "of its inputs, so a later write to the input does not reach them; chainrule's matmul "
    "saves the input itself",
}


@pytest.mark.parametrize("method", list(METHODS))
@pytest.mark.parametrize("case", COMPARED, ids=lambda c: c.name)
def test_in_place_write_matches_pytorch(case: OpCase, method: str) -> None:
    arrays = case.sample()
    problems = []
    for target in ("input", "output"):
        for mode in MODES:
            theirs = _scenario(torch_namespace(), case, arrays, target, method, mode)
            ours = _scenario(cr, case, arrays, target, method, mode)
            where = f"{case.name}: {method} on the op's {target} ({mode})"
            if theirs is None or ours is None:
                assert theirs is None and ours is None, f"{where}: only one library has a float out"
                continue
            if ours.raised and (case.name, target) in RAISES_WHERE_PYTORCH_DOES_NOT:
                continue
            if ours.raised and not theirs.raised:
                problems.append(f"{where}: PyTorch {_said(theirs)}, chainrule {_said(ours)}")
                continue
            if ours.raised:
                if ours.raised != theirs.raised:
                    problems.append(f"{where}: PyTorch {_said(theirs)}, chainrule {_said(ours)}")
                continue
            if theirs.raised:
                # PyTorch refuses because it saved a value its formula needs; chainrule's backward
                # doesn't need it (a cache made in the forward, a composite of ops that read
                # nothing): its gradient must then be the mathematically right one
                theirs = _scenario(torch_namespace(), case, arrays, target, method, mode, True)
                assert theirs is not None and not theirs.raised, f"{where}: reference raised"
                where += " (against the out-of-place program: PyTorch refuses this one)"
            for index, (got, expected) in enumerate(zip(ours.grads, theirs.grads, strict=True)):
                if not np.allclose(got, expected, rtol=1e-12, atol=1e-12, equal_nan=True):
                    worst = np.max(np.abs(got - expected))
                    problems.append(f"{where}: gradient {index} differs by {worst:.3g}")
    assert not problems, "\n".join(problems)


def _said(outcome: Outcome) -> str:
    if outcome.raised is None:
        return "gave a gradient"
    when = "at the write" if outcome.raised == "write" else "after the write"
    return f"raised {when} ({outcome.message[:160]})"

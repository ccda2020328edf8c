"""Anomaly mode names the op that first produced NaN/Inf, in the forward or the backward pass,
and says where it was created; switched off, it changes nothing."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")  # NumPy's log(-1) etc.


def leaf(values, requires_grad: bool = True) -> cr.Tensor:
    return cr.tensor(np.asarray(values, dtype=np.float64), requires_grad=requires_grad)


def test_forward_nan_names_the_op_and_the_line():
    x = leaf([1.0, -1.0])
    with cr.autograd.detect_anomaly():
        h = x * 2.0
        with pytest.raises(RuntimeError) as info:
            h.log()  # the line the report must point at
    message = str(info.value)
    assert "'log' produced nan in the forward pass" in message
    assert "test_anomaly.py" in message and "h.log()" in message


def test_forward_inf_names_the_op():
    x = leaf([0.0, 1.0], requires_grad=False)  # also without any graph
    with cr.autograd.detect_anomaly():
        with pytest.raises(RuntimeError, match="'reciprocal' produced inf"):
            _ = 1.0 / x


def test_only_the_first_op_is_blamed():
    bad = cr.tensor([np.nan, 1.0], dtype=cr.float64, requires_grad=True)
    with cr.autograd.detect_anomaly():
        y = (bad * 2.0).exp()  # nan in, nan out: not these ops' fault
        assert np.isnan(y.detach().numpy()[0])


def test_backward_inf_names_the_op_whose_rule_produced_it():
    x = leaf([0.0, 4.0])
    with cr.autograd.detect_anomaly():
        y = x.sqrt()  # finite forward; the derivative 1/(2 sqrt x) is inf at 0
        loss = (y * 3.0).sum()
        with pytest.raises(RuntimeError) as info:
            loss.backward()
    message = str(info.value)
    # sqrt's rule divides internally; the report must name sqrt, not that div
    assert "the backward of 'sqrt' produced inf for input 0" in message
    assert "y = x.sqrt()" in message
    assert x.grad is None


def test_backward_nan_names_the_op():
    x = leaf([0.0, 1.0])
    with cr.autograd.detect_anomaly():
        y = x.pow(0.5) * x.pow(0.5)  # pow's rule at 0: 0.5 * 0^-0.5 = inf, times a 0 grad: nan
        with pytest.raises(RuntimeError, match="backward of 'pow' produced"):
            y.sum().backward()


def test_backward_check_works_when_only_backward_runs_in_anomaly_mode():
    x = leaf([0.0])
    y = x.sqrt().sum()
    with cr.autograd.detect_anomaly(), pytest.raises(RuntimeError, match="'sqrt'"):
        y.backward()


def test_the_error_is_a_runtime_error_as_in_pytorch():
    # code written for PyTorch catches RuntimeError; code written for chainrule before caught
    # FloatingPointError: both still catch it
    x = leaf([-1.0])
    with cr.autograd.detect_anomaly(), pytest.raises(cr.autograd.AnomalyError) as info:
        x.log()
    assert isinstance(info.value, RuntimeError) and isinstance(info.value, FloatingPointError)
    assert type(info.value).__mro__[1] is RuntimeError


def test_off_by_default_and_nan_passes_through():
    assert not cr.autograd.is_anomaly_enabled()
    x = leaf([0.0, -1.0])
    y = x.log()  # -inf and nan, no error
    assert np.isneginf(y.detach().numpy()[0]) and np.isnan(y.detach().numpy()[1])
    z = leaf([0.0])
    z.sqrt().sum().backward()
    assert np.isinf(z.grad.numpy()[0])


def test_context_restores_and_global_switch():
    with cr.autograd.detect_anomaly():
        assert cr.autograd.is_anomaly_enabled()
    assert not cr.autograd.is_anomaly_enabled()
    cr.autograd.set_detect_anomaly(True)
    try:
        with pytest.raises(RuntimeError, match="'log'"):
            leaf([-1.0]).log()
    finally:
        cr.autograd.set_detect_anomaly(False)
    assert not cr.autograd.is_anomaly_enabled()
    leaf([-1.0]).log()  # off again: no error


def test_anomaly_mode_is_restored_after_a_backward_error():
    x = leaf([0.0])
    with cr.autograd.detect_anomaly():
        with pytest.raises(RuntimeError):
            x.sqrt().sum().backward()
        assert cr.autograd.is_anomaly_enabled()  # the engine's own switch-off was undone
        with pytest.raises(RuntimeError, match="'log'"):
            leaf([-1.0]).log()


def test_finite_values_are_untouched_in_anomaly_mode():
    x = leaf([0.5, 2.0])
    with cr.autograd.detect_anomaly():
        (x.log() * x.sqrt()).sum().backward()
    expected = np.sqrt([0.5, 2.0]) / [0.5, 2.0] + np.log([0.5, 2.0]) / (2 * np.sqrt([0.5, 2.0]))
    np.testing.assert_allclose(x.grad.numpy(), expected, rtol=1e-14)

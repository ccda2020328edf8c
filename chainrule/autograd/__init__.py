"""Reverse-mode automatic differentiation: the engine, ``grad``, checks and helpers."""

from chainrule.autograd import functional
from chainrule.autograd.functional_api import backward, grad
from chainrule.autograd.grad_mode import (
    AnomalyError,
    detect_anomaly,
    enable_grad,
    is_anomaly_enabled,
    is_grad_enabled,
    no_grad,
    set_detect_anomaly,
    set_grad_enabled,
)
from chainrule.autograd.gradcheck import GradcheckError, gradcheck, gradgradcheck
from chainrule.autograd.node import Node, Primitive
from chainrule.autograd.trace_replay import replay

__all__ = [
    "AnomalyError",
    "GradcheckError",
    "Node",
    "Primitive",
    "backward",
    "detect_anomaly",
    "enable_grad",
    "functional",
    "grad",
    "gradcheck",
    "gradgradcheck",
    "is_anomaly_enabled",
    "is_grad_enabled",
    "no_grad",
    "replay",
    "set_detect_anomaly",
    "set_grad_enabled",
]

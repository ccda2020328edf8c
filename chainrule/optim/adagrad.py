"""Adagrad: per-coordinate steps scaled by the root of the summed squared gradients."""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule.optim.optimizer import (
    Optimizer,
    ParamsT,
    _count_step,
    _gradient,
    _step_state,
)
from chainrule.tensor import Tensor


class Adagrad(Optimizer):
    r"""Adagrad, as ``torch.optim.Adagrad``.

    With learning rate :math:`\gamma`, learning-rate decay :math:`\eta`, weight decay
    :math:`\lambda` and :math:`\epsilon`, step :math:`t` does:

    .. math::
        g_t &= \pm\nabla_\theta f(\theta_{t-1}) + \lambda\theta_{t-1}\\
        \tilde\gamma &= \gamma / (1 + (t-1)\eta)\\
        s_t &= s_{t-1} + g_t^2, \qquad s_0 = \text{initial\_accumulator\_value}\\
        \theta_t &= \theta_{t-1} - \tilde\gamma\, g_t / (\sqrt{s_t} + \epsilon)

    Parameters
    ----------
    params : iterable of Tensor or dict
        Parameters to optimize, or parameter groups (dicts with per-group options).
    lr : float, default 1e-2
        Learning rate :math:`\gamma`.
    lr_decay : float, default 0
        Learning-rate decay :math:`\eta`.
    weight_decay : float, default 0
        L2 penalty :math:`\lambda`, added to the gradient.
    initial_accumulator_value : float, default 0
        Starting value :math:`s_0` of the sum of squares.
    eps : float, default 1e-10
        Added to the denominator for numerical stability.
    maximize : bool, default False
        Ascend the objective instead of descending it.
    foreach, differentiable, fused
        Accepted so that option names and state dicts match PyTorch's; ``foreach`` and
        ``fused`` change nothing, ``differentiable`` must stay False.

    Notes
    -----
    As in PyTorch, the state (``step``, ``sum``) is created when a parameter joins the
    optimizer, not at its first step. Unlike PyTorch, that includes groups added later with
    ``add_param_group`` (PyTorch then fails at the first step).

    Examples
    --------
    >>> import chainrule as cr
    >>> w = cr.tensor([1.0, -2.0], dtype=cr.float64, requires_grad=True)
    >>> opt = cr.optim.Adagrad([w], lr=0.5)
    >>> (w ** 2).sum().backward()
    >>> _ = opt.step()  # first step: γ g / √(g²) = γ sign(g)
    >>> [round(v, 6) for v in w.tolist()]
    [0.5, -1.5]
    """

    _param_shaped_state = ("sum",)
    _nonnegative_options = (
        ("lr", "learning rate"),
        ("lr_decay", None),
        ("weight_decay", None),
        ("initial_accumulator_value", None),
        ("eps", "epsilon value"),
    )

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-2,
        lr_decay: float = 0,
        weight_decay: float = 0,
        initial_accumulator_value: float = 0,
        eps: float = 1e-10,
        foreach: bool | None = None,
        *,
        maximize: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
    ) -> None:
        defaults = {
            "lr": lr,
            "lr_decay": lr_decay,
            "eps": eps,
            "weight_decay": weight_decay,
            "initial_accumulator_value": initial_accumulator_value,
            "foreach": foreach,
            "maximize": maximize,
            "differentiable": differentiable,
            "fused": fused,
        }
        super().__init__(params, defaults)

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        super().add_param_group(param_group)
        for param in param_group["params"]:
            self._init_state(param, param_group)

    def _init_state(self, param: Tensor, group: dict[str, Any]) -> None:
        self.state[param] = {
            "step": _step_state(),
            "sum": Tensor._wrap(np.full_like(param._data, group["initial_accumulator_value"])),
        }

    def _update(self, param: Tensor, group: dict[str, Any]) -> None:
        lr, lr_decay, eps = group["lr"], group["lr_decay"], group["eps"]
        theta = param._data
        if not self.state[param]:  # a state dict loaded without this parameter's entry
            self._init_state(param, group)
        state = self.state[param]

        # 1. t ← t + 1
        step = _count_step(state)

        # 2. g_t, negated to ascend, plus the L2 term λθ
        grad = _gradient(param, group)

        # 3. decayed learning rate γ̃ = γ / (1 + (t − 1) η)
        clr = lr / (1 + (step - 1) * lr_decay)

        # 4. s_t = s_{t-1} + g_t² (`scratch`: the step's one temporary array, reused in 5)
        state_sum = state["sum"]._data
        scratch = grad * grad
        state_sum += scratch

        # 5. θ_t = θ_{t-1} − γ̃ g_t / (√s_t + ε)
        std = np.sqrt(state_sum)
        std += eps
        np.multiply(grad, -clr, out=scratch)
        scratch /= std
        theta += scratch

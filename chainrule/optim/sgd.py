"""SGD: stochastic gradient descent with optional momentum, Nesterov momentum and weight decay."""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule.optim.optimizer import Optimizer, ParamsT, _gradient
from chainrule.tensor import Tensor


class SGD(Optimizer):
    r"""Stochastic gradient descent, optionally with momentum, as ``torch.optim.SGD``.

    With learning rate :math:`\gamma`, momentum :math:`\mu`, dampening :math:`\tau` and weight
    decay :math:`\lambda`, each step does, for every parameter :math:`\theta` with a gradient:

    .. math::
        g_t &= \pm\nabla_\theta f(\theta_{t-1}) + \lambda\theta_{t-1}
              \quad(- \text{ when maximize})\\
        b_t &= g_t \text{ if } t = 1 \text{ else } \mu b_{t-1} + (1-\tau) g_t\\
        g_t &\leftarrow g_t + \mu b_t \text{ (nesterov) or } b_t \text{ (momentum} \ne 0)\\
        \theta_t &= \theta_{t-1} - \gamma g_t

    Parameters
    ----------
    params : iterable of Tensor or dict
        Parameters to optimize, or parameter groups (dicts with per-group options).
    lr : float, default 1e-3
        Learning rate :math:`\gamma`.
    momentum : float, default 0
        Momentum factor :math:`\mu`; 0 turns momentum off (no buffer is kept).
    dampening : float, default 0
        Dampening :math:`\tau` of the gradient's share in the momentum buffer.
    weight_decay : float, default 0
        L2 penalty :math:`\lambda`, added to the gradient.
    nesterov : bool, default False
        Use Nesterov momentum (needs momentum > 0 and dampening 0).
    maximize : bool, default False
        Ascend the objective instead of descending it.
    foreach, differentiable, fused
        Accepted so that option names and state dicts match PyTorch's. ``foreach`` and
        ``fused`` change nothing (there is one NumPy implementation); ``differentiable``
        must stay False.

    Notes
    -----
    The state of a parameter is ``{"momentum_buffer": b_t}``, present only with momentum.

    Examples
    --------
    >>> import chainrule as cr
    >>> w = cr.tensor([1.0, -2.0], dtype=cr.float64, requires_grad=True)
    >>> opt = cr.optim.SGD([w], lr=0.1, momentum=0.9)
    >>> for _ in range(2):
    ...     opt.zero_grad()
    ...     (w ** 2).sum().backward()
    ...     _ = opt.step()
    >>> [round(v, 6) for v in w.tolist()]
    [0.46, -0.92]
    """

    _param_shaped_state = ("momentum_buffer",)
    _nonnegative_options = (("lr", "learning rate"), ("momentum", None), ("weight_decay", None))

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-3,
        momentum: float = 0,
        dampening: float = 0,
        weight_decay: float = 0,
        nesterov: bool = False,
        *,
        maximize: bool = False,
        foreach: bool | None = None,
        differentiable: bool = False,
        fused: bool | None = None,
    ) -> None:
        defaults = {
            "lr": lr,
            "momentum": momentum,
            "dampening": dampening,
            "weight_decay": weight_decay,
            "nesterov": nesterov,
            "maximize": maximize,
            "foreach": foreach,
            "differentiable": differentiable,
            "fused": fused,
        }
        super().__init__(params, defaults)

    @classmethod
    def _check_options(cls, options: dict[str, Any]) -> None:
        super()._check_options(options)
        if options.get("nesterov") and (options["momentum"] <= 0 or options["dampening"] != 0):
            raise ValueError(
                "Nesterov momentum requires a momentum and zero dampening (got "
                f"momentum={options['momentum']}, dampening="
                f"{options['dampening']}); set momentum > 0 and dampening=0"
            )

    def _update(self, param: Tensor, group: dict[str, Any]) -> None:
        lr, momentum = group["lr"], group["momentum"]
        theta = param._data

        # 1. g_t: negated to ascend, plus the L2 term λθ
        grad = _gradient(param, group)

        if momentum != 0:
            # 2. b_t = μ b_{t-1} + (1 − τ) g_t; the first buffer is g_1 itself, undampened.
            state = self.state[param]
            buffer = state.get("momentum_buffer")
            if buffer is None:
                state["momentum_buffer"] = Tensor._wrap(np.array(grad))
                b = state["momentum_buffer"]._data
            else:
                b = buffer._data
                b *= momentum
                b += (1 - group["dampening"]) * grad
            # 3. Nesterov steps along g_t + μ b_t (a look-ahead), plain momentum along b_t.
            grad = grad + momentum * b if group["nesterov"] else b

        # 4. θ_t = θ_{t-1} − γ g_t
        theta -= lr * grad

"""RMSprop: steps scaled by a running root mean square of the gradients."""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule.optim.optimizer import (
    Optimizer,
    ParamsT,
    _count_step,
    _gradient,
    _lazy_state,
    _lerp_,
)
from chainrule.tensor import Tensor


class RMSprop(Optimizer):
    r"""RMSprop, as ``torch.optim.RMSprop``.

    With learning rate :math:`\gamma`, smoothing constant :math:`\alpha`, :math:`\epsilon`,
    weight decay :math:`\lambda` and momentum :math:`\mu`, each step does:

    .. math::
        g_t &= \pm\nabla_\theta f(\theta_{t-1}) + \lambda\theta_{t-1}\\
        v_t &= \alpha v_{t-1} + (1-\alpha) g_t^2\\
        \tilde v_t &= v_t - \bar g_t^2,\;
            \bar g_t = \alpha \bar g_{t-1} + (1-\alpha) g_t \text{ if centered, else } v_t\\
        b_t &= \mu b_{t-1} + g_t / (\sqrt{\tilde v_t} + \epsilon), \qquad
        \theta_t = \theta_{t-1} - \gamma b_t \quad (\mu > 0)\\
        \theta_t &= \theta_{t-1} - \gamma\, g_t / (\sqrt{\tilde v_t} + \epsilon)
            \quad (\mu = 0)

    Parameters
    ----------
    params : iterable of Tensor or dict
        Parameters to optimize, or parameter groups (dicts with per-group options).
    lr : float, default 1e-2
        Learning rate :math:`\gamma`.
    alpha : float, default 0.99
        Smoothing constant of the squared-gradient average.
    eps : float, default 1e-8
        Added to the denominator for numerical stability.
    weight_decay : float, default 0
        L2 penalty :math:`\lambda`, added to the gradient.
    momentum : float, default 0
        Momentum factor :math:`\mu`.
    centered : bool, default False
        Normalise by an estimate of the gradient's variance instead of its second moment.
    maximize : bool, default False
        Ascend the objective instead of descending it.
    capturable, foreach, differentiable
        Accepted so that option names and state dicts match PyTorch's; ``foreach`` changes
        nothing, ``capturable`` and ``differentiable`` must stay False.

    Notes
    -----
    The state of a parameter is ``step``, ``square_avg`` (:math:`v_t`), and
    ``momentum_buffer`` / ``grad_avg`` (:math:`\bar g_t`) when momentum / centered are on.

    Examples
    --------
    >>> import chainrule as cr
    >>> w = cr.tensor([3.0], dtype=cr.float64, requires_grad=True)
    >>> opt = cr.optim.RMSprop([w], lr=0.01, alpha=0.75)
    >>> (w ** 2).sum().backward()
    >>> _ = opt.step()  # first step: γ g / √((1 − α) g²) = γ / √(1 − α)
    >>> round(w.item(), 6)
    2.98
    """

    _param_shaped_state = ("square_avg", "momentum_buffer", "grad_avg")
    _nonnegative_options = (
        ("lr", "learning rate"),
        ("eps", "epsilon value"),
        ("momentum", None),
        ("weight_decay", None),
        ("alpha", None),
    )

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0,
        momentum: float = 0,
        centered: bool = False,
        capturable: bool = False,
        foreach: bool | None = None,
        maximize: bool = False,
        differentiable: bool = False,
    ) -> None:
        defaults = {
            "lr": lr,
            "momentum": momentum,
            "alpha": alpha,
            "eps": eps,
            "centered": centered,
            "weight_decay": weight_decay,
            "capturable": capturable,
            "foreach": foreach,
            "maximize": maximize,
            "differentiable": differentiable,
        }
        super().__init__(params, defaults)

    def _update(self, param: Tensor, group: dict[str, Any]) -> None:
        lr, alpha, eps, momentum = group["lr"], group["alpha"], group["eps"], group["momentum"]
        theta = param._data
        buffers = ["square_avg"]
        buffers += ["momentum_buffer"] if momentum > 0 else []
        buffers += ["grad_avg"] if group["centered"] else []
        state = _lazy_state(self.state[param], param, buffers)
        square_avg = state["square_avg"]._data
        _count_step(state)

        # 1. g_t, negated to ascend, plus the L2 term λθ
        grad = _gradient(param, group)

        # 2. v_t = α v_{t-1} + (1 − α) g_t², the square as ((1 − α) g) g like PyTorch's
        #    addcmul; `scratch` is a temporary array reused in step 4
        scratch = (1 - alpha) * grad
        scratch *= grad
        square_avg *= alpha
        square_avg += scratch

        # 3. denominator √ṽ_t + ε, where centered ṽ_t = v_t − ḡ_t² estimates the variance,
        #    with ḡ_t = α ḡ_{t-1} + (1 − α) g_t (a lerp, as PyTorch rounds it)
        if group["centered"]:
            grad_avg = state["grad_avg"]._data
            _lerp_(grad_avg, grad, 1 - alpha)
            avg = grad_avg * grad_avg
            np.subtract(square_avg, avg, out=avg)
            np.sqrt(avg, out=avg)
        else:
            avg = np.sqrt(square_avg)
        avg += eps

        # 4. θ_t = θ_{t-1} − γ b_t with b_t = μ b_{t-1} + g_t / avg, or θ_{t-1} − γ g_t / avg
        if momentum > 0:
            buffer = state["momentum_buffer"]._data
            buffer *= momentum
            np.divide(grad, avg, out=scratch)
            buffer += scratch
            np.multiply(buffer, lr, out=scratch)
            theta -= scratch
        else:
            np.multiply(grad, -lr, out=scratch)
            scratch /= avg
            theta += scratch

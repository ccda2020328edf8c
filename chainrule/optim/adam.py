"""Adam: adaptive moment estimation, with optional AMSGrad and decoupled weight decay."""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule._checks import number
from chainrule.optim.optimizer import (
    Optimizer,
    ParamsT,
    _check_nonnegative,
    _count_step,
    _gradient,
    _lazy_state,
    _lerp_,
)
from chainrule.tensor import Tensor


class Adam(Optimizer):
    r"""Adam, as ``torch.optim.Adam``.

    With learning rate :math:`\gamma`, betas :math:`(\beta_1, \beta_2)`, :math:`\epsilon` and
    weight decay :math:`\lambda`, step :math:`t` does, for every parameter with a gradient:

    .. math::
        g_t &= \pm\nabla_\theta f(\theta_{t-1}) \; (+\lambda\theta_{t-1}, \text{ or }
               \theta_{t-1} \leftarrow \theta_{t-1}(1 - \gamma\lambda) \text{ if decoupled})\\
        m_t &= \beta_1 m_{t-1} + (1-\beta_1) g_t \qquad
        v_t = \beta_2 v_{t-1} + (1-\beta_2) g_t^2\\
        \hat v_t &= \max(\hat v_{t-1}, v_t) \text{ with amsgrad, else } v_t\\
        \theta_t &= \theta_{t-1} - \frac{\gamma}{1-\beta_1^t}\,
                    \frac{m_t}{\sqrt{\hat v_t}/\sqrt{1-\beta_2^t} + \epsilon}

    Parameters
    ----------
    params : iterable of Tensor or dict
        Parameters to optimize, or parameter groups (dicts with per-group options).
    lr : float, default 1e-3
        Learning rate :math:`\gamma`.
    betas : (float, float), default (0.9, 0.999)
        Decay rates of the first and second moment averages, each in [0, 1).
    eps : float, default 1e-8
        Added to the denominator for numerical stability.
    weight_decay : float, default 0
        :math:`\lambda`: an L2 term added to the gradient (or, decoupled, a shrink of θ).
    amsgrad : bool, default False
        Normalise by the running maximum of :math:`v_t` (AMSGrad).
    maximize : bool, default False
        Ascend the objective instead of descending it.
    decoupled_weight_decay : bool, default False
        Shrink the parameters directly instead of adding to the gradient (this is AdamW).
    foreach, capturable, differentiable, fused
        Accepted so that option names and state dicts match PyTorch's; ``foreach`` and
        ``fused`` change nothing, ``capturable`` and ``differentiable`` must stay False.

    Notes
    -----
    The state of a parameter is ``step`` (a float32 scalar tensor, as in PyTorch),
    ``exp_avg`` (:math:`m_t`), ``exp_avg_sq`` (:math:`v_t`) and, with amsgrad,
    ``max_exp_avg_sq``. The operations run in PyTorch's order (:math:`m_t` as a lerp, the
    bias corrections folded into the step size and the denominator), so float64 trajectories
    agree with PyTorch's to about 1e-12.

    Examples
    --------
    >>> import chainrule as cr
    >>> w = cr.tensor([1.0, -2.0], dtype=cr.float64, requires_grad=True)
    >>> opt = cr.optim.Adam([w], lr=0.1)
    >>> (w ** 2).sum().backward()
    >>> _ = opt.step()
    >>> [round(v, 6) for v in w.tolist()]  # the first Adam step moves each weight by ~lr
    [0.9, -1.9]
    """

    _param_shaped_state = ("exp_avg", "exp_avg_sq", "max_exp_avg_sq")
    _nonnegative_options = (("lr", "learning rate"), ("eps", "epsilon value"))

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        amsgrad: bool = False,
        *,
        foreach: bool | None = None,
        maximize: bool = False,
        capturable: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
        decoupled_weight_decay: bool = False,
    ) -> None:
        defaults = {
            "lr": lr,
            "betas": tuple(betas),
            "eps": eps,
            "weight_decay": weight_decay,
            "amsgrad": amsgrad,
            "maximize": maximize,
            "foreach": foreach,
            "capturable": capturable,
            "differentiable": differentiable,
            "fused": fused,
            "decoupled_weight_decay": decoupled_weight_decay,
        }
        super().__init__(params, defaults)

    @classmethod
    def _check_options(cls, options: dict[str, Any]) -> None:
        super()._check_options(options)
        if "betas" in options:
            betas = options["betas"]
            if not isinstance(betas, (tuple, list)) or len(betas) != 2:
                raise TypeError(f"betas must be a pair of numbers, got {betas!r}")
            for i, beta in enumerate(betas):
                number(beta, f"betas[{i}]")
                if not 0.0 <= beta < 1.0:
                    raise ValueError(
                        f"Invalid beta parameter at index {i}: {beta} "
                        f"(betas[{i}] must be in [0, 1))"
                    )
        _check_nonnegative(options, "weight_decay")

    def _update(self, param: Tensor, group: dict[str, Any]) -> None:
        lr, (beta1, beta2), eps = group["lr"], group["betas"], group["eps"]
        weight_decay, amsgrad = group["weight_decay"], group["amsgrad"]
        decoupled = group["decoupled_weight_decay"]
        theta = param._data
        buffers = ["exp_avg", "exp_avg_sq"] + (["max_exp_avg_sq"] if amsgrad else [])
        state = _lazy_state(self.state[param], param, buffers)
        exp_avg, exp_avg_sq = state["exp_avg"]._data, state["exp_avg_sq"]._data

        # 1. t ← t + 1
        step = _count_step(state)

        # 2. g_t, negated to ascend; weight decay either shrinks θ (decoupled, AdamW) or adds
        #    the L2 term λθ to g_t (Adam)
        grad = _gradient(param, group, l2=not decoupled)
        if decoupled and weight_decay != 0:
            theta *= 1 - lr * weight_decay

        # 3. m_t = β1 m_{t-1} + (1 − β1) g_t, written m + (1 − β1)(g − m) as PyTorch's lerp
        _lerp_(exp_avg, grad, 1 - beta1)
        # 4. v_t = β2 v_{t-1} + (1 − β2) g_t², the square as ((1 − β2) g) g like PyTorch's
        #    addcmul; `scratch` is the one temporary array of the step, reused below
        scratch = (1 - beta2) * grad
        scratch *= grad
        exp_avg_sq *= beta2
        exp_avg_sq += scratch

        # 5. bias corrections: m̂ = m/(1 − β1^t) goes into the step size, v̂ = v/(1 − β2^t)
        #    into the denominator √v / √(1 − β2^t) + ε
        bias_correction1 = 1 - beta1**step
        bias_correction2 = 1 - beta2**step
        step_size = lr / bias_correction1
        if amsgrad:
            # 6. AMSGrad normalises by the largest v_t so far
            max_exp_avg_sq = state["max_exp_avg_sq"]._data
            np.maximum(max_exp_avg_sq, exp_avg_sq, out=max_exp_avg_sq)
            denom = np.sqrt(max_exp_avg_sq)
        else:
            denom = np.sqrt(exp_avg_sq)
        denom /= bias_correction2**0.5
        denom += eps

        # 7. θ_t = θ_{t-1} − step_size · m_t / denom
        np.multiply(exp_avg, -step_size, out=scratch)
        scratch /= denom
        theta += scratch

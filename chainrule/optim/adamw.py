"""AdamW: Adam with weight decay decoupled from the gradient."""

from __future__ import annotations

from chainrule.optim.adam import Adam
from chainrule.optim.optimizer import ParamsT


class AdamW(Adam):
    r"""Adam with decoupled weight decay, as ``torch.optim.AdamW``.

    Before the Adam update, each parameter shrinks by
    :math:`\theta_{t-1} \leftarrow \theta_{t-1}(1 - \gamma\lambda)`, so the decay never enters
    the moment averages :math:`m_t, v_t`; the rest is :class:`~chainrule.optim.Adam`'s step.
    The default ``weight_decay`` is 1e-2 (Adam's is 0).

    Parameters
    ----------
    params, lr, betas, eps, amsgrad, maximize, foreach, capturable, differentiable, fused
        As for :class:`~chainrule.optim.Adam`.
    weight_decay : float, default 1e-2
        Decoupled weight decay :math:`\lambda`.

    Examples
    --------
    >>> import chainrule as cr
    >>> w = cr.tensor([1.0], dtype=cr.float64, requires_grad=True)
    >>> opt = cr.optim.AdamW([w], lr=0.1, weight_decay=0.5)
    >>> w.grad = cr.zeros(1, dtype=cr.float64)
    >>> _ = opt.step()  # a zero gradient: only the decay acts, θ(1 − γλ)
    >>> w.tolist()
    [0.95]
    """

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
        foreach: bool | None = None,
        capturable: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
    ) -> None:
        super().__init__(
            params,
            lr,
            betas,
            eps,
            weight_decay,
            amsgrad,
            foreach=foreach,
            maximize=maximize,
            capturable=capturable,
            differentiable=differentiable,
            fused=fused,
            decoupled_weight_decay=True,
        )

"""Cosine annealing of the learning rate from its initial value down to ``eta_min``."""

from __future__ import annotations

import math

from chainrule.optim.lr_scheduler.base import LRScheduler
from chainrule.optim.optimizer import Optimizer


class CosineAnnealingLR(LRScheduler):
    r"""Cosine annealing, as ``torch.optim.lr_scheduler.CosineAnnealingLR``.

    The closed form is

    .. math::
        \eta_t = \eta_{\min} + \tfrac12(\eta_0 - \eta_{\min})
                 \left(1 + \cos\frac{t\pi}{T_{\max}}\right),

    but, as PyTorch, each step applies the recursive form

    .. math::
        \eta_{t} = \eta_{\min} + (\eta_{t-1} - \eta_{\min})
                   \frac{1 + \cos(t\pi/T_{\max})}{1 + \cos((t-1)\pi/T_{\max})},

    so the values equal PyTorch's bit for bit and the schedule composes with other changes to
    the learning rate. Past ``T_max`` the rate rises again (a cosine with period
    :math:`2T_{\max}`, no restart).

    Parameters
    ----------
    optimizer : Optimizer
        The optimizer whose learning rates are scheduled.
    T_max : int
        Number of steps from the initial learning rate to ``eta_min``.
    eta_min : float, default 0.0
        Minimum learning rate.
    last_epoch : int, default -1
        Index of the last epoch (-1 starts afresh).

    Examples
    --------
    >>> import chainrule as cr
    >>> opt = cr.optim.SGD([cr.zeros(1, requires_grad=True)], lr=1.0)
    >>> sched = cr.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=2)
    >>> _ = opt.step()
    >>> sched.step(); round(sched.get_last_lr()[0], 12)
    0.5
    >>> sched.step(); round(sched.get_last_lr()[0], 12)
    0.0
    """

    def __init__(
        self,
        optimizer: Optimizer,
        T_max: int,  # noqa: N803 - PyTorch's name
        eta_min: float = 0.0,  # noqa: N803
        last_epoch: int = -1,
    ) -> None:
        self.T_max = T_max
        self.eta_min = eta_min
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        groups = self.optimizer.param_groups
        t, T_max, eta_min = self.last_epoch, self.T_max, self.eta_min
        if self._is_initial:
            return [group["lr"] for group in groups]
        if self._step_count == 1 and t > 0:
            # Resumed at epoch t: there is no previous value to recurse from; use the closed
            # form.
            return [
                eta_min + (base_lr - eta_min) * (1 + math.cos(t * math.pi / T_max)) / 2
                for base_lr in self.base_lrs
            ]
        if (t - 1 - T_max) % (2 * T_max) == 0:
            # Leaving the minimum (1 + cos((t−1)π/T) = 0): the ratio is 0/0, so add the
            # closed form's increment instead.
            return [
                group["lr"] + (base_lr - eta_min) * (1 - math.cos(math.pi / T_max)) / 2
                for base_lr, group in zip(self.base_lrs, groups, strict=True)
            ]
        return [
            (1 + math.cos(math.pi * t / T_max))
            / (1 + math.cos(math.pi * (t - 1) / T_max))
            * (group["lr"] - eta_min)
            + eta_min
            for group in groups
        ]

    def _get_closed_form_lr(self) -> list[float]:
        return [
            self.eta_min
            + (base_lr - self.eta_min) * (1 + math.cos(math.pi * self.last_epoch / self.T_max)) / 2
            for base_lr in self.base_lrs
        ]

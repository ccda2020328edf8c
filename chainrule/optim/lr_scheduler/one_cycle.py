"""The 1cycle policy: warm the learning rate up to ``max_lr``, then anneal it far below its
start, cycling momentum (or Adam's beta1) the opposite way."""

from __future__ import annotations

import math
from typing import Any, Literal

from chainrule.optim.lr_scheduler.base import LRScheduler, _per_group
from chainrule.optim.optimizer import Optimizer


class OneCycleLR(LRScheduler):
    r"""The 1cycle learning-rate policy, as ``torch.optim.lr_scheduler.OneCycleLR``.

    The rate starts at ``max_lr / div_factor``, rises to ``max_lr`` over the first
    ``pct_start`` of ``total_steps``, then falls to ``initial_lr / final_div_factor``
    (``three_phase``: back down to the initial rate symmetrically, then to the minimum).
    Each phase anneals from :math:`a` to :math:`b` over a fraction :math:`p \in [0, 1]`:

    .. math::
        \text{cos: } b + \tfrac{a - b}{2}(1 + \cos \pi p), \qquad
        \text{linear: } (b - a)\,p + a.

    With ``cycle_momentum`` the momentum (``betas[0]`` for Adam-like optimizers) moves
    inversely, between ``max_momentum`` and ``base_momentum``. Step it after every batch.

    Parameters
    ----------
    optimizer : Optimizer
        The optimizer whose learning rates (and momentum) are scheduled.
    max_lr : float or list of float
        Peak learning rate, per group if a list.
    total_steps : int, optional
        Steps in the cycle; else ``epochs * steps_per_epoch``.
    epochs, steps_per_epoch : int, optional
        Used when ``total_steps`` is not given.
    pct_start : float, default 0.3
        Fraction of the cycle spent increasing the learning rate.
    anneal_strategy : {"cos", "linear"}, default "cos"
        Shape of each phase.
    cycle_momentum : bool, default True
        Cycle momentum inversely to the learning rate.
    base_momentum, max_momentum : float or list of float, default 0.85, 0.95
        Momentum bounds (momentum is ``max_momentum`` at the start and the end).
    div_factor : float, default 25.0
        ``initial_lr = max_lr / div_factor``.
    final_div_factor : float, default 1e4
        ``min_lr = initial_lr / final_div_factor``.
    three_phase : bool, default False
        Use the original paper's three phases instead of fastai's two.
    last_epoch : int, default -1
        Index of the last batch (-1 starts afresh).

    Raises
    ------
    ValueError
        For a bad ``total_steps``/``epochs``/``steps_per_epoch``/``pct_start``/
        ``anneal_strategy``, an optimizer without momentum or betas when cycling momentum,
        or a step beyond ``total_steps``.

    Examples
    --------
    >>> import chainrule as cr
    >>> opt = cr.optim.SGD([cr.zeros(1, requires_grad=True)], lr=0.1, momentum=0.9)
    >>> sched = cr.optim.lr_scheduler.OneCycleLR(opt, max_lr=1.0, total_steps=4,
    ...                                          anneal_strategy="linear", pct_start=0.5)
    >>> lrs = [sched.get_last_lr()[0]]
    >>> for _ in range(3):
    ...     _ = opt.step()
    ...     sched.step()
    ...     lrs.append(sched.get_last_lr()[0])
    >>> [round(lr, 6) for lr in lrs]
    [0.04, 1.0, 0.500002, 4e-06]
    >>> round(opt.param_groups[0]["momentum"], 6)
    0.95
    """

    def __init__(
        self,
        optimizer: Optimizer,
        max_lr: float | list[float],
        total_steps: int | None = None,
        epochs: int | None = None,
        steps_per_epoch: int | None = None,
        pct_start: float = 0.3,
        anneal_strategy: Literal["cos", "linear"] = "cos",
        cycle_momentum: bool = True,
        base_momentum: float | list[float] = 0.85,
        max_momentum: float | list[float] = 0.95,
        div_factor: float = 25.0,
        final_div_factor: float = 1e4,
        three_phase: bool = False,
        last_epoch: int = -1,
    ) -> None:
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(optimizer).__name__} is not an Optimizer")
        self.optimizer = optimizer
        self.total_steps = _total_steps(total_steps, epochs, steps_per_epoch)
        if not isinstance(pct_start, float) or not 0 <= pct_start <= 1:
            raise ValueError(f"Expected float between 0 and 1 pct_start, but got {pct_start}")
        self._schedule_phases = _phases(self.total_steps, pct_start, three_phase)
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError(
                f"anneal_strategy must be one of 'cos' or 'linear', instead got {anneal_strategy!r}"
            )
        self._anneal_func_type = anneal_strategy

        max_lrs = _per_group("max_lr", optimizer, max_lr)
        if last_epoch == -1:
            for group, group_max_lr in zip(optimizer.param_groups, max_lrs, strict=True):
                group["initial_lr"] = group_max_lr / div_factor
                group["max_lr"] = group_max_lr
                group["min_lr"] = group["initial_lr"] / final_div_factor

        self.cycle_momentum = cycle_momentum
        if cycle_momentum:
            if "momentum" not in optimizer.defaults and "betas" not in optimizer.defaults:
                raise ValueError(
                    "optimizer must support momentum or beta1 with "
                    "`cycle_momentum` option enabled; pass cycle_momentum=False"
                )
            self.use_beta1 = "betas" in optimizer.defaults
            max_momentums = _per_group("max_momentum", optimizer, max_momentum)
            base_momentums = _per_group("base_momentum", optimizer, base_momentum)
            if last_epoch == -1:
                for group, group_max, group_base in zip(
                    optimizer.param_groups, max_momentums, base_momentums, strict=True
                ):
                    self._set_momentum(group, group_max)
                    group["max_momentum"] = group_max
                    group["base_momentum"] = group_base
        super().__init__(optimizer, last_epoch)

    def _set_momentum(self, group: dict[str, Any], momentum: float) -> None:
        if self.use_beta1:
            group["betas"] = (momentum, *group["betas"][1:])
        else:
            group["momentum"] = momentum

    def _anneal(self, start: float, end: float, pct: float) -> float:
        if self._anneal_func_type == "cos":
            return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)
        return (end - start) * pct + start

    def get_lr(self) -> list[float]:
        step_num = self.last_epoch
        if step_num > self.total_steps:
            raise ValueError(
                f"Tried to step {step_num} times. The specified number of total "
                f"steps is {self.total_steps}; make total_steps (or epochs * "
                "steps_per_epoch) cover the whole run"
            )
        lrs = []
        for group in self.optimizer.param_groups:
            # Find the phase that holds step_num; the last phase takes everything after.
            start_step = 0.0
            for i, phase in enumerate(self._schedule_phases):
                end_step = phase["end_step"]
                if step_num <= end_step or i == len(self._schedule_phases) - 1:
                    pct = (step_num - start_step) / (end_step - start_step)
                    break
                start_step = end_step
            lrs.append(self._anneal(group[phase["start_lr"]], group[phase["end_lr"]], pct))
            if self.cycle_momentum:
                self._set_momentum(
                    group,
                    self._anneal(group[phase["start_momentum"]], group[phase["end_momentum"]], pct),
                )
        return lrs


def _total_steps(total_steps: int | None, epochs: int | None, steps_per_epoch: int | None) -> int:
    if total_steps is not None:
        if not isinstance(total_steps, int) or total_steps <= 0:
            raise ValueError(f"Expected positive integer total_steps, but got {total_steps}")
        return total_steps
    if epochs is not None and steps_per_epoch is not None:
        if not isinstance(epochs, int) or epochs <= 0:
            raise ValueError(f"Expected positive integer epochs, but got {epochs}")
        if not isinstance(steps_per_epoch, int) or steps_per_epoch <= 0:
            raise ValueError(
                f"Expected positive integer steps_per_epoch, but got {steps_per_epoch}"
            )
        return epochs * steps_per_epoch
    raise ValueError("You must define either total_steps OR (epochs AND steps_per_epoch)")


def _phases(total_steps: int, pct_start: float, three_phase: bool) -> list[dict[str, Any]]:
    """Each phase: the step it ends at, and the group keys its lr and momentum run between."""

    def phase(end_step: float, lrs: str, momenta: str) -> dict[str, Any]:
        start_lr, end_lr = lrs.split()
        start_momentum, end_momentum = momenta.split()
        return {
            "end_step": end_step,
            "start_lr": start_lr,
            "end_lr": end_lr,
            "start_momentum": start_momentum,
            "end_momentum": end_momentum,
        }

    warmup_end = float(pct_start * total_steps) - 1
    if three_phase:
        return [
            phase(warmup_end, "initial_lr max_lr", "max_momentum base_momentum"),
            phase(
                float(2 * pct_start * total_steps) - 2,
                "max_lr initial_lr",
                "base_momentum max_momentum",
            ),
            phase(total_steps - 1, "initial_lr min_lr", "max_momentum max_momentum"),
        ]
    return [
        phase(warmup_end, "initial_lr max_lr", "max_momentum base_momentum"),
        phase(total_steps - 1, "max_lr min_lr", "base_momentum max_momentum"),
    ]

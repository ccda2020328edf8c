"""Learning-rate schedulers, as ``torch.optim.lr_scheduler``: same names, arguments, recursive
formulas (so the rates equal PyTorch's bit for bit) and state-dict keys."""

from chainrule.optim.lr_scheduler.base import LRScheduler
from chainrule.optim.lr_scheduler.cosine import CosineAnnealingLR
from chainrule.optim.lr_scheduler.decay import ExponentialLR, MultiStepLR, StepLR
from chainrule.optim.lr_scheduler.one_cycle import OneCycleLR
from chainrule.optim.lr_scheduler.plateau import ReduceLROnPlateau

__all__ = [
    "CosineAnnealingLR",
    "ExponentialLR",
    "LRScheduler",
    "MultiStepLR",
    "OneCycleLR",
    "ReduceLROnPlateau",
    "StepLR",
]

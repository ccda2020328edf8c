"""``chainrule.nn``: modules, layers, activations, losses, initialisation and utilities, with
PyTorch's names and behaviour (``import chainrule.nn as nn`` reads like ``torch.nn``)."""

from chainrule.nn import functional, init, utils
from chainrule.nn.activation import (
    ELU,
    GELU,
    LeakyReLU,
    LogSoftmax,
    ReLU,
    Sigmoid,
    SiLU,
    Softmax,
    Softplus,
    Tanh,
)
from chainrule.nn.container import ModuleDict, ModuleList, Sequential
from chainrule.nn.conv import Conv1d, Conv2d
from chainrule.nn.dropout import Dropout
from chainrule.nn.flatten import Flatten, Unflatten
from chainrule.nn.linear import Identity, Linear
from chainrule.nn.loss import (
    BCELoss,
    BCEWithLogitsLoss,
    CrossEntropyLoss,
    HalfSquaredError,
    HuberLoss,
    L1Loss,
    MSELoss,
    NLLLoss,
    SmoothL1Loss,
)
from chainrule.nn.module import Module
from chainrule.nn.norm import BatchNorm1d, BatchNorm2d, LayerNorm
from chainrule.nn.parameter import Parameter
from chainrule.nn.pooling import AdaptiveAvgPool2d, AvgPool2d, MaxPool2d
from chainrule.nn.sparse import Embedding

__all__ = [
    "ELU",
    "GELU",
    "AdaptiveAvgPool2d",
    "AvgPool2d",
    "BCELoss",
    "BCEWithLogitsLoss",
    "BatchNorm1d",
    "BatchNorm2d",
    "Conv1d",
    "Conv2d",
    "CrossEntropyLoss",
    "Dropout",
    "Embedding",
    "Flatten",
    "HalfSquaredError",
    "HuberLoss",
    "Identity",
    "L1Loss",
    "LayerNorm",
    "LeakyReLU",
    "Linear",
    "LogSoftmax",
    "MSELoss",
    "MaxPool2d",
    "Module",
    "ModuleDict",
    "ModuleList",
    "NLLLoss",
    "Parameter",
    "ReLU",
    "Sequential",
    "SiLU",
    "Sigmoid",
    "SmoothL1Loss",
    "Softmax",
    "Softplus",
    "Tanh",
    "Unflatten",
    "functional",
    "init",
    "utils",
]

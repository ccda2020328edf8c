"""The neural-network ops, by their old address: ``from chainrule.ops.nn import conv2d`` keeps
working. Each lives in the module of its concept:

- ``chainrule.ops.categorical``: softmax, log_softmax, one_hot
- ``chainrule.ops.unfold``: unfold_windows (the unfold and fold primitives)
- ``chainrule.ops.convolution``: conv2d, conv1d
- ``chainrule.ops.pooling``: max_pool2d, avg_pool2d, adaptive_avg_pool2d
- ``chainrule.ops.regularization``: dropout
- ``chainrule.ops.indexing``: embedding
- ``chainrule.ops.normalization``: layer_norm, batch_norm
"""

from chainrule.ops.categorical import log_softmax, one_hot, softmax
from chainrule.ops.convolution import conv1d, conv2d
from chainrule.ops.indexing import embedding
from chainrule.ops.normalization import batch_norm, layer_norm
from chainrule.ops.pooling import adaptive_avg_pool2d, avg_pool2d, max_pool2d
from chainrule.ops.regularization import dropout
from chainrule.ops.unfold import unfold_windows

__all__ = [
    "softmax",
    "log_softmax",
    "one_hot",
    "unfold_windows",
    "conv2d",
    "conv1d",
    "max_pool2d",
    "avg_pool2d",
    "adaptive_avg_pool2d",
    "dropout",
    "embedding",
    "layer_norm",
    "batch_norm",
]

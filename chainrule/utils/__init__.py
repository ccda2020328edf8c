"""Utilities shaped like ``torch.utils``: ``chainrule.utils.data`` for datasets and loaders."""

from chainrule.utils import data

__all__ = ["data"]

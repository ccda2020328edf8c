"""``summary(model, input_shape)``: a table of layers, output shapes and parameter counts,
found by running one forward pass on zeros with forward hooks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from chainrule import _dtype
from chainrule.autograd.grad_mode import no_grad
from chainrule.nn._modes import set_training
from chainrule.nn.module import Module
from chainrule.tensor import Tensor


@dataclass(frozen=True)
class LayerRow:
    """One layer call: its dotted name, type, output shape and own parameter count."""

    name: str
    type: str
    output_shape: tuple[int, ...] | None
    params: int


@dataclass(frozen=True)
class Summary:
    """What ``summary`` found; ``str()`` renders the table.

    Attributes
    ----------
    rows : tuple of LayerRow
        Leaf layers (and any layer with parameters of its own) in the order they ran.
    input_shape : tuple of int
        The shape the model was run on, batch dimension included.
    total_params, trainable_params : int
        Parameter counts of the whole model, shared parameters counted once.
    """

    rows: tuple[LayerRow, ...]
    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...] | None
    total_params: int
    trainable_params: int

    @property
    def non_trainable_params(self) -> int:
        return self.total_params - self.trainable_params

    def __str__(self) -> str:
        header = ("Layer (type)", "Output Shape", "Param #")
        cells = [
            (f"{row.name} ({row.type})", _shape_text(row.output_shape), f"{row.params:,}")
            for row in self.rows
        ]
        widths = [max([len(header[i])] + [len(c[i]) for c in cells]) for i in range(3)]

        def line(c: tuple[str, str, str]) -> str:
            return f"{c[0]:<{widths[0]}}    {c[1]:>{widths[1]}}    {c[2]:>{widths[2]}}"

        rule = "=" * len(line(header))
        body = [
            rule,
            line(header),
            rule,
            *(line(c) for c in cells),
            rule,
            f"Input shape: {_shape_text(self.input_shape)}",
            f"Output shape: {_shape_text(self.output_shape)}",
            f"Total params: {self.total_params:,}",
            f"Trainable params: {self.trainable_params:,}",
            f"Non-trainable params: {self.non_trainable_params:,}",
            rule,
        ]
        return "\n".join(body)

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(str(self))


def _shape_text(shape: tuple[int, ...] | None) -> str:
    return "-" if shape is None else "(" + ", ".join(str(n) for n in shape) + ")"


def _first_shape(output: Any) -> tuple[int, ...] | None:
    """The shape of a layer's output (the first tensor of a tuple, as for return_indices)."""
    if isinstance(output, Tensor):
        return tuple(output.shape)
    if isinstance(output, (tuple, list)):
        for item in output:
            if isinstance(item, Tensor):
                return tuple(item.shape)
    return None


def summary(
    model: Module, input_shape: tuple[int, ...], batch_size: int = 1, dtype: Any = None
) -> Summary:
    """Run ``model`` once on zeros and tabulate each layer's output shape and parameters.

    The pass runs in eval mode under ``no_grad`` (so BatchNorm statistics and the random
    generator are untouched), and each module's training flag is restored afterwards.

    Parameters
    ----------
    model : Module
    input_shape : tuple of int
        The shape of one sample, without the batch dimension (as torchsummary's
        ``input_size``), e.g. ``(1, 8, 8)`` for 8×8 greyscale images.
    batch_size : int
        The batch size of the zeros the model is run on (default 1).
    dtype : dtype, optional
        The input's dtype; by default that of the model's first parameter.

    Returns
    -------
    Summary
        A record whose ``str`` is the table (``print(summary(...))``).

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(144, 10))
    >>> from chainrule.summary import summary
    >>> table = summary(model, (1, 8, 8))
    >>> print(table)
    =======================================
    Layer (type)    Output Shape    Param #
    =======================================
    0 (Conv2d)      (1, 4, 6, 6)         40
    1 (ReLU)        (1, 4, 6, 6)          0
    2 (Flatten)         (1, 144)          0
    3 (Linear)           (1, 10)      1,450
    =======================================
    Input shape: (1, 1, 8, 8)
    Output shape: (1, 10)
    Total params: 1,490
    Trainable params: 1,490
    Non-trainable params: 0
    =======================================
    >>> table.total_params == sum(p.numel() for p in model.parameters())
    True
    """
    if not isinstance(model, Module):
        raise TypeError(f"summary: expected an nn.Module, got {type(model).__name__}")
    shape = (int(batch_size),) + tuple(int(n) for n in input_shape)
    params = list(model.parameters())
    if dtype is None:
        dtype = params[0].dtype if params else _dtype.get_default_dtype()
    rows: list[LayerRow] = []
    names = {id(module): name for name, module in model.named_modules()}

    def record(module: Module, args: tuple, output: Any) -> None:
        own = sum(p.numel() for p in module.parameters(recurse=False))
        rows.append(
            LayerRow(
                names.get(id(module), "?") or type(module).__name__,
                type(module).__name__,
                _first_shape(output),
                own,
            )
        )

    modes = [(module, module.training) for module in model.modules()]
    handles = [
        module.register_forward_hook(record)
        for module in model.modules()
        if module is not model
        and (not module._modules or any(True for _ in module.parameters(recurse=False)))
    ]
    if not handles:
        handles.append(model.register_forward_hook(record))
    try:
        model.eval()
        with no_grad():
            try:
                output = model(Tensor._wrap(np.zeros(shape, _dtype.as_dtype(dtype))))
            except (ValueError, RuntimeError) as error:
                _batch_included(model, tuple(shape[1:]), int(batch_size), dtype, error)
                raise
    finally:
        for handle in handles:
            handle.remove()
        for module, mode in modes:
            set_training((module,), mode)
    return Summary(
        tuple(rows),
        shape,
        _first_shape(output),
        sum(p.numel() for p in params),
        sum(p.numel() for p in params if p.requires_grad),
    )


def _batch_included(
    model: Module, input_shape: tuple[int, ...], batch_size: int, dtype: Any, error: Exception
) -> None:
    """Raise a clear error when ``input_shape`` failed because it starts with the batch
    dimension (``(1, 1, 8, 8)`` for a 1×8×8 image): the shape without it runs."""
    if len(input_shape) < 2:
        return
    try:
        model(Tensor._wrap(np.zeros((batch_size,) + input_shape[1:], _dtype.as_dtype(dtype))))
    except Exception:
        return
    raise ValueError(
        f"summary: input_shape {input_shape} seems to include the batch dimension; "
        f"input_shape excludes it: pass {input_shape[1:]} (batch_size= sets the batch)"
    ) from error

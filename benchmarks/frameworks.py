"""The two autograd frameworks behind one small functional namespace, and the training step they
share: zero the gradients, forward, backward, plain SGD under no_grad."""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property, partial
from types import ModuleType, SimpleNamespace
from typing import Any

import numpy as np

Loss = Callable[[Any, dict[str, Any], dict[str, Any]], Any]


def _composite_cross_entropy(logits: Any, target: Any) -> Any:
    import chainrule

    cr: Any = chainrule
    picked = cr.gather(cr.log_softmax(logits, dim=1), 1, cr.unsqueeze(target, 1))  # (B, 1)
    return -cr.mean(picked)


# What a workload calls, taken by name from the library, or from its functional module for layers
_FROM_LIB = ("no_grad", "matmul", "relu", "sigmoid", "tanh", "exp", "sum", "cat", "reshape")
_FROM_FUNCTIONAL = ("linear", "conv2d", "max_pool2d")


def _api(
    name: str, lib: Any, functional: Any, cross_entropy: Callable[..., Any], ce_source: str
) -> SimpleNamespace:
    """A framework's API as the workloads call it, the same names in every framework."""
    return SimpleNamespace(
        name=name,
        lib=lib,
        **{op: getattr(lib, op) for op in _FROM_LIB},
        **{op: getattr(functional, op) for op in _FROM_FUNCTIONAL},
        cross_entropy=cross_entropy,
        ce_source=ce_source,
        tensor=lambda a, requires_grad=False: lib.tensor(np.array(a), requires_grad=requires_grad),
        to_numpy=lambda t: np.array(t.detach().numpy(), dtype=np.float64),
    )


def chainrule_api() -> SimpleNamespace:
    """chainrule's functional API (no nn modules, so unfinished layers don't matter)."""
    import chainrule

    cr: Any = chainrule  # ops are re-exported dynamically; mypy can't see them
    cross_entropy: Callable[..., Any] = _composite_cross_entropy
    ce_source = "chainrule.log_softmax + chainrule.gather"
    try:
        from chainrule.nn.functional import cross_entropy

        ce_source = "chainrule.nn.functional.cross_entropy"
    except (ImportError, AttributeError):
        pass
    return _api("chainrule", cr, cr, cross_entropy, ce_source)


def torch_api(threads: int) -> SimpleNamespace:
    import torch
    import torch.nn.functional as F

    torch.set_num_threads(threads)
    return _api("torch", torch, F, F.cross_entropy, "torch.nn.functional.cross_entropy")


def replay_api() -> SimpleNamespace:
    """chainrule again, with the forward+backward of each step run by chainrule.autograd.replay
    (traced once, checked once against eager, then replayed)."""
    api = chainrule_api()
    api.name = "replay"
    return api


def available(threads: int) -> dict[str, SimpleNamespace | None]:
    """The autograd APIs that import here; torch is optional."""
    apis: dict[str, SimpleNamespace | None] = {
        "chainrule": chainrule_api(),
        "replay": replay_api(),
    }
    try:
        apis["torch"] = torch_api(threads)
    except ImportError:
        apis["torch"] = None
    return apis


class AutogradStep:
    """One framework's training step: ``loss(api, params, data)``, backward, ``p -= lr * grad``.

    With ``lr=None`` the step is forward+backward only (the op-overhead workload)."""

    def __init__(
        self,
        api: SimpleNamespace,
        loss: Loss,
        params: dict[str, np.ndarray],
        data: dict[str, np.ndarray],
        lr: float | None,
    ) -> None:
        self.api = api
        self.loss = loss
        self.params = {k: api.tensor(v, requires_grad=True) for k, v in params.items()}
        self.data = {k: api.tensor(v) for k, v in data.items()}
        self.lr = lr

    def _forward_backward(self) -> Any:
        for p in self.params.values():
            p.grad = None
        out = self.loss(self.api, self.params, self.data)
        out.backward()
        return out

    def _descend(self) -> None:
        if self.lr is not None:
            with self.api.no_grad():
                for p in self.params.values():
                    p.sub_(p.grad, alpha=self.lr)

    def step(self) -> None:
        self._forward_backward()
        self._descend()

    def probe(self) -> dict[str, np.ndarray]:
        out = self._forward_backward()
        numbers = {"loss": self.api.to_numpy(out)}
        numbers.update({f"grad.{k}": self.api.to_numpy(p.grad) for k, p in self.params.items()})
        self._descend()
        if self.lr is not None:
            numbers.update({f"param.{k}": self.api.to_numpy(p) for k, p in self.params.items()})
        return numbers


class ReplayStep(AutogradStep):
    """The same step with its forward+backward under ``chainrule.autograd.replay``; the data
    tensors are its arguments, the parameters are read from outside (as a model's are)."""

    @cached_property
    def replayed(self) -> Any:
        names = list(self.data)

        def forward_backward(*tensors: Any) -> Any:
            out = self.loss(self.api, self.params, dict(zip(names, tensors, strict=True)))
            out.backward()
            return out

        return self.api.lib.autograd.replay(forward_backward)

    def _forward_backward(self) -> Any:
        for p in self.params.values():
            p.grad = None
        return self.replayed(*self.data.values())

    def probe(self) -> dict[str, np.ndarray]:
        # the first call traces (eager) and the second checks; the probed step is a replay
        for _ in range(2):
            self._forward_backward()
        numbers = super().probe()
        counts = self.replayed.counts
        if counts["replayed"] != 1 or counts["eager"]:
            raise RuntimeError(f"replay did not replay: {counts}, {self.replayed.reason()}")
        return numbers


class NumpyStep:
    """The hand-written bound: ``forward_backward(params, data) -> (loss, grads)``, then SGD."""

    def __init__(
        self,
        forward_backward: Callable[..., tuple[Any, dict[str, np.ndarray]]],
        params: dict[str, np.ndarray],
        data: dict[str, np.ndarray],
        lr: float | None,
    ) -> None:
        self.forward_backward = forward_backward
        self.params = {k: v.copy() for k, v in params.items()}
        self.data = data
        self.lr = lr

    def step(self) -> None:
        _, grads = self.forward_backward(self.params, self.data)
        if self.lr is not None:
            for k, g in grads.items():
                self.params[k] -= self.lr * g

    def probe(self) -> dict[str, np.ndarray]:
        loss, grads = self.forward_backward(self.params, self.data)
        numbers = {"loss": np.array(loss, dtype=np.float64)}
        numbers.update({f"grad.{k}": np.array(g, dtype=np.float64) for k, g in grads.items()})
        if self.lr is not None:
            for k, g in grads.items():
                self.params[k] -= self.lr * g
            numbers.update(
                {f"param.{k}": np.array(p, dtype=np.float64) for k, p in self.params.items()}
            )
        return numbers


def makers(
    apis: dict[str, SimpleNamespace | None],
    loss: Loss,
    numpy_fb: Callable[..., tuple[Any, dict[str, np.ndarray]]],
    params: dict[str, np.ndarray],
    data: dict[str, np.ndarray],
    lr: float | None,
) -> dict[str, Callable[[], Any]]:
    """Fresh-implementation factories for every available framework, from the same numbers."""
    out: dict[str, Callable[[], Any]] = {}
    for name, api in apis.items():
        if api is not None:
            step = ReplayStep if name == "replay" else AutogradStep
            out[name] = partial(step, api, loss, params, data, lr)
    out["numpy"] = partial(NumpyStep, numpy_fb, params, data, lr)
    return out


def module_version(module: ModuleType | None) -> str | None:
    return getattr(module, "__version__", None) if module is not None else None

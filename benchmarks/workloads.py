"""The workloads of issue 5: each is written once against a functional namespace (``api``: the
chainrule or the PyTorch functions of the same name) and once by hand in NumPy (reference.py)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np
import reference
from frameworks import makers
from harness import Case

Apis = dict[str, SimpleNamespace | None]
Arrays = dict[str, np.ndarray]

# The seeds' 2-2-2 network (seed 001): h = W1·i, a_h = σ(h), o = W2·a_h, a_o = σ(o)
TUTORIAL_WEIGHTS = (0.15, 0.20, 0.25, 0.30, 0.40, 0.45, 0.50, 0.55)
TUTORIAL_INPUTS = (0.05, 0.10)
TUTORIAL_TARGETS = (0.5, 0.5)
TUTORIAL_LR = 0.5

MLP_SIZES = {
    "mlp_small": ((64, 32, 10), 32),
    "mlp_medium": ((784, 256, 128, 10), 128),
    "mlp_large": ((784, 1024, 1024, 10), 512),
}
MLP_LR = 0.1
CNN_BATCH = 64

# chainrule (eager) / PyTorch targets: issue 11's for the small graphs, issue 5's for the rest
TARGETS = {
    "op_overhead": 0.35,
    "tutorial": 0.35,
    "mlp_small": 0.45,
    "mlp_medium": 0.9,
    "mlp_large": 1.0,
    "cnn_small": 1.5,
}
F32_TOL = 2e-4  # normwise, float32 with different summation orders
F64_TOL = 1e-10


# ---- the math, once, for both autograd frameworks --------------------------------------------
OP_EXPRESSION_OPS = 6  # mul, add, tanh, mul, exp, sum


def op_expression(api: SimpleNamespace, p: dict[str, Any], d: dict[str, Any]) -> Any:
    x, y = p["x"], p["y"]
    return api.sum(api.exp(api.tanh(x * y + x) * y))


def tutorial_loss(api: SimpleNamespace, p: dict[str, Any], d: dict[str, Any]) -> Any:
    a_h = api.sigmoid(api.matmul(p["W1"], d["i"]))
    a_o = api.sigmoid(api.matmul(p["W2"], a_h))
    return 0.5 * api.sum((d["t"] - a_o) ** 2)


def mlp_loss(api: SimpleNamespace, p: dict[str, Any], d: dict[str, Any]) -> Any:
    n = len(p) // 2
    h = d["x"]
    for k in range(n):
        h = api.linear(h, p[f"w{k}"], p[f"b{k}"])
        if k < n - 1:
            h = api.relu(h)
    return api.cross_entropy(h, d["y"])


def cnn_loss(api: SimpleNamespace, p: dict[str, Any], d: dict[str, Any]) -> Any:
    x = d["x"]
    h = api.max_pool2d(api.relu(api.conv2d(x, p["c1w"], p["c1b"])), 2)  # (B, 8, 13, 13)
    h = api.max_pool2d(api.relu(api.conv2d(h, p["c2w"], p["c2b"])), 2)  # (B, 16, 5, 5)
    h = api.reshape(h, (x.shape[0], 400))
    return api.cross_entropy(api.linear(h, p["fw"], p["fb"]), d["y"])


def chain_loss(length: int) -> Any:
    def loss(api: SimpleNamespace, p: dict[str, Any], d: dict[str, Any]) -> Any:
        y = p["x"]
        for _ in range(length // 2):
            y = y * reference.CHAIN_MUL
            y = y + reference.CHAIN_ADD
        return y

    return loss


def cat_loss(api: SimpleNamespace, p: dict[str, Any], d: dict[str, Any]) -> Any:
    """Many small inputs joined in one cat (a list of per-step outputs, say): its backward must
    be linear in their number."""
    return api.sum(api.cat([p[f"x{i}"] for i in range(len(p))]) * d["w"])


# ---- parameters and data -------------------------------------------------------------------
def _uniform(rng: np.random.Generator, fan_in: int, shape: tuple[int, ...]) -> np.ndarray:
    """PyTorch's default Linear/Conv2d init range, U(−1/√fan_in, 1/√fan_in)."""
    bound = 1.0 / np.sqrt(fan_in)
    return rng.uniform(-bound, bound, shape).astype(np.float32)


def mlp_setup(sizes: tuple[int, ...], batch: int, seed: int = 0) -> tuple[Arrays, Arrays]:
    rng = np.random.default_rng(seed)
    params: Arrays = {}
    for k, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        params[f"w{k}"] = _uniform(rng, fan_in, (fan_out, fan_in))
        params[f"b{k}"] = _uniform(rng, fan_in, (fan_out,))
    data: Arrays = {
        "x": rng.standard_normal((batch, sizes[0])).astype(np.float32),
        "y": rng.integers(0, sizes[-1], batch).astype(np.int64),
    }
    return params, data


def cnn_setup(batch: int, seed: int = 0) -> tuple[Arrays, Arrays]:
    rng = np.random.default_rng(seed)
    params = {
        "c1w": _uniform(rng, 9, (8, 1, 3, 3)),
        "c1b": _uniform(rng, 9, (8,)),
        "c2w": _uniform(rng, 72, (16, 8, 3, 3)),
        "c2b": _uniform(rng, 72, (16,)),
        "fw": _uniform(rng, 400, (10, 400)),
        "fb": _uniform(rng, 400, (10,)),
    }
    data: Arrays = {
        "x": rng.standard_normal((batch, 1, 28, 28)).astype(np.float32),
        "y": rng.integers(0, 10, batch).astype(np.int64),
    }
    return params, data


def tutorial_setup() -> tuple[Arrays, Arrays]:
    w = np.array(TUTORIAL_WEIGHTS, dtype=np.float64)
    params = {"W1": w[:4].reshape(2, 2), "W2": w[4:].reshape(2, 2)}
    data = {"i": np.array(TUTORIAL_INPUTS), "t": np.array(TUTORIAL_TARGETS)}
    return params, data


# ---- the cases -------------------------------------------------------------------------------
def _without_replay(make: dict[str, Any]) -> dict[str, Any]:
    """deep_chain times the eager engine's backward walk; a replay plan of 100,000 calls kept
    alive beside it would also slow the eager rows (every full garbage collection walks it)."""
    return {fw: maker for fw, maker in make.items() if fw != "replay"}


def cases(workload: str, apis: Apis, quick: bool) -> list[Case]:
    """The table rows of one workload (op_overhead and deep_chain have two each)."""
    q = 10 if quick else 1  # quick: fewer steps per repetition
    if workload == "op_overhead":
        rows = []
        for n in (1, 4):
            rng = np.random.default_rng(n)
            params = {k: rng.uniform(-1, 1, n).astype(np.float32) for k in ("x", "y")}
            rows.append(
                Case(
                    f"op_overhead/{n}",
                    workload,
                    "us/op",
                    OP_EXPRESSION_OPS,
                    500 // q,
                    makers(apis, op_expression, reference.op_expression, params, {}, None),
                    F32_TOL,
                    TARGETS[workload],
                    {"ops_per_step": OP_EXPRESSION_OPS},
                )
            )
        return rows
    if workload == "tutorial":
        params, data = tutorial_setup()
        return [
            Case(
                workload,
                workload,
                "ms/step",
                1,
                200 // q,
                makers(apis, tutorial_loss, reference.tutorial, params, data, TUTORIAL_LR),
                F64_TOL,
                TARGETS[workload],
            )
        ]
    if workload in MLP_SIZES:
        sizes, batch = MLP_SIZES[workload]
        params, data = mlp_setup(sizes, batch)
        inner = {"mlp_small": 50, "mlp_medium": 10, "mlp_large": 2}[workload]
        return [
            Case(
                workload,
                workload,
                "ms/step",
                1,
                max(1, inner // q),
                makers(apis, mlp_loss, reference.mlp, params, data, MLP_LR),
                F32_TOL,
                TARGETS[workload],
                {"sizes": list(sizes), "batch": batch},
            )
        ]
    if workload == "cnn_small":
        params, data = cnn_setup(CNN_BATCH)
        return [
            Case(
                workload,
                workload,
                "ms/step",
                1,
                1 if quick else 3,
                makers(apis, cnn_loss, reference.cnn, params, data, MLP_LR),
                F32_TOL,
                TARGETS[workload],
                {"batch": CNN_BATCH},
            )
        ]
    if workload == "deep_chain":
        long = 10_000 if quick else 100_000
        rows = []
        for length in (long, long // 2):
            params = {"x": np.array(0.5)}
            rows.append(
                Case(
                    f"deep_chain/{length}",
                    workload,
                    "ms/step",
                    1,
                    1,
                    _without_replay(
                        makers(
                            apis, chain_loss(length), reference.deep_chain(length), params, {}, None
                        )
                    ),
                    F64_TOL,
                    None,
                    {"length": length},
                )
            )
        return rows
    if workload == "cat_many":
        n = 1_000 if quick else 8_000
        rng = np.random.default_rng(0)
        params = {f"x{i}": rng.standard_normal(2) for i in range(n)}
        data = {"w": rng.standard_normal(2 * n)}
        return [
            Case(
                f"cat_many/{n}",
                workload,
                "ms/step",
                1,
                1,
                _without_replay(makers(apis, cat_loss, reference.cat_many, params, data, None)),
                F64_TOL,
                None,
                {"inputs": n},
            )
        ]
    raise ValueError(f"unknown workload {workload!r}")


def chain_scaling(records: list[dict[str, Any]]) -> dict[str, float]:
    """time(long chain) / time(half-length chain) per framework; 2.0 is linear."""
    rows = [r for r in records if r["workload"] == "deep_chain"]
    if len(rows) != 2:
        return {}
    long, short = sorted(rows, key=lambda r: -r["length"])
    return {
        fw: s["median"] / short["frameworks"][fw]["median"]
        for fw, s in long["frameworks"].items()
        if fw in short["frameworks"]
    }

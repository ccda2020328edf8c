"""Hand-written NumPy forward+backward passes: the same math as the workloads, no autograd.

They are the practical lower bound for an engine on NumPy, and the numbers the frameworks are
checked against. Every function takes ``(params, data)`` and returns ``(loss, grads)``."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

Arrays = dict[str, np.ndarray]


# ---- op_overhead: out = sum(exp(tanh(x * y + x) * y)) -----------------------------------------
def op_expression(params: Arrays, data: Arrays) -> tuple[np.ndarray, Arrays]:
    x, y = params["x"], params["y"]
    t = np.tanh(x * y + x)
    e = np.exp(t * y)
    out = e.sum()
    grad_u = e * (1 - t * t) * y  # ∂out/∂(x*y + x)
    return out, {"x": grad_u * (y + 1), "y": grad_u * x + e * t}


# ---- tutorial: the seeds' 2-2-2 sigmoid network, E = ½Σ(t − a_o)² ------------------------------
def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def tutorial(params: Arrays, data: Arrays) -> tuple[np.ndarray, Arrays]:
    W1, W2 = params["W1"], params["W2"]
    i, t = data["i"], data["t"]
    a_h = _sigmoid(W1 @ i)
    a_o = _sigmoid(W2 @ a_h)
    E = 0.5 * np.sum((t - a_o) ** 2)
    delta_o = (a_o - t) * a_o * (1 - a_o)  # ∂E/∂o
    delta_h = (W2.T @ delta_o) * a_h * (1 - a_h)  # ∂E/∂h
    return E, {"W1": np.outer(delta_h, i), "W2": np.outer(delta_o, a_h)}


# ---- MLP: linear (+ReLU) layers, cross-entropy from logits -------------------------------------
def _cross_entropy(logits: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean cross-entropy and its gradient with respect to the logits, (softmax − onehot) / B."""
    B = logits.shape[0]
    shifted = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(shifted)
    s = e.sum(axis=1, keepdims=True)
    rows = np.arange(B)
    loss = np.log(s[:, 0]).mean() - shifted[rows, target].mean()
    grad = e / s
    grad[rows, target] -= 1
    grad /= B
    return loss, grad


def mlp(params: Arrays, data: Arrays) -> tuple[np.ndarray, Arrays]:
    n = len(params) // 2
    h = data["x"]
    inputs = []
    for k in range(n):
        inputs.append(h)
        z = h @ params[f"w{k}"].T + params[f"b{k}"]
        h = np.maximum(z, 0) if k < n - 1 else z
    loss, grad = _cross_entropy(h, data["y"])
    grads: Arrays = {}
    for k in reversed(range(n)):
        grads[f"w{k}"] = grad.T @ inputs[k]
        grads[f"b{k}"] = grad.sum(axis=0)
        if k > 0:
            grad = (grad @ params[f"w{k}"]) * (inputs[k] > 0)
    return loss, grads


# ---- CNN, computed in (C, B, H, W) layout so that each conv is one GEMM without transposes ------
def _conv_forward(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Valid 3×3 (k×k) cross-correlation, stride 1; im2col by shifted slices."""
    C, B, H, W = x.shape
    O, _, k, _ = w.shape
    OH, OW = H - k + 1, W - k + 1
    cols = np.empty((C, k, k, B, OH, OW), dtype=x.dtype)
    for i in range(k):
        for j in range(k):
            cols[:, i, j] = x[:, :, i : i + OH, j : j + OW]
    cols2 = cols.reshape(C * k * k, B * OH * OW)  # (C*k*k, B*L)
    out = w.reshape(O, -1) @ cols2 + b[:, None]  # (O, B*L)
    return out.reshape(O, B, OH, OW), cols2


def _conv_backward(
    grad: np.ndarray, cols2: np.ndarray, w: np.ndarray, x_shape: tuple[int, ...], need_input: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    O, B, OH, OW = grad.shape
    g2 = grad.reshape(O, -1)  # (O, B*L)
    dw = (g2 @ cols2.T).reshape(w.shape)
    db = g2.sum(axis=1)
    if not need_input:
        return np.empty(0, dtype=grad.dtype), dw, db
    _, C, k, _ = w.shape
    dcols = (w.reshape(O, -1).T @ g2).reshape(C, k, k, B, OH, OW)
    dx = np.zeros(x_shape, dtype=grad.dtype)
    for i in range(k):
        for j in range(k):
            dx[:, :, i : i + OH, j : j + OW] += dcols[:, i, j]
    return dx, dw, db


def _pool_forward(x: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
    """2×2 max pooling, stride 2, odd edges dropped (PyTorch's floor mode).

    The maximum of four strided views: a 6-D reshape-and-reduce was several times slower."""
    H, W = x.shape[2] // 2 * 2, x.shape[3] // 2 * 2
    quads = [x[:, :, i:H:2, j:W:2] for i in (0, 1) for j in (0, 1)]  # each (C, B, H/2, W/2)
    out = np.maximum(np.maximum(quads[0], quads[1]), np.maximum(quads[2], quads[3]))
    # the gradient goes to the first maximum in window order, as in PyTorch
    masks, taken = [], np.zeros(out.shape, dtype=bool)
    for q in quads:
        mask = (q == out) & ~taken
        taken |= mask
        masks.append(mask)
    return out, masks


def _pool_backward(
    grad: np.ndarray, masks: list[np.ndarray], x_shape: tuple[int, ...]
) -> np.ndarray:
    dx = np.zeros(x_shape, dtype=grad.dtype)
    H, W = x_shape[2] // 2 * 2, x_shape[3] // 2 * 2
    for (i, j), mask in zip(((0, 0), (0, 1), (1, 0), (1, 1)), masks, strict=True):
        dx[:, :, i:H:2, j:W:2] = grad * mask
    return dx


def cnn(params: Arrays, data: Arrays) -> tuple[np.ndarray, Arrays]:
    x = data["x"].transpose(1, 0, 2, 3)  # (1, B, 28, 28)
    B = x.shape[1]
    z1, cols1 = _conv_forward(x, params["c1w"], params["c1b"])  # (8, B, 26, 26)
    p1, mask1 = _pool_forward(np.maximum(z1, 0))  # (8, B, 13, 13)
    z2, cols2 = _conv_forward(p1, params["c2w"], params["c2b"])  # (16, B, 11, 11)
    p2, mask2 = _pool_forward(np.maximum(z2, 0))  # (16, B, 5, 5)
    flat = p2.transpose(1, 0, 2, 3).reshape(B, -1)  # (B, 400)
    logits = flat @ params["fw"].T + params["fb"]
    loss, grad = _cross_entropy(logits, data["y"])
    grads = {"fw": grad.T @ flat, "fb": grad.sum(axis=0)}
    C2, _, H2, W2 = p2.shape
    grad_p2 = (grad @ params["fw"]).reshape(B, C2, H2, W2).transpose(1, 0, 2, 3)
    grad_z2 = _pool_backward(grad_p2, mask2, z2.shape) * (z2 > 0)
    grad_p1, grads["c2w"], grads["c2b"] = _conv_backward(
        grad_z2, cols2, params["c2w"], p1.shape, need_input=True
    )
    grad_z1 = _pool_backward(grad_p1, mask1, z1.shape) * (z1 > 0)
    _, grads["c1w"], grads["c1b"] = _conv_backward(
        grad_z1, cols1, params["c1w"], x.shape, need_input=False
    )
    return loss, grads


# ---- deep_chain: y ← y·c, y ← y + d, repeated ---------------------------------------------------
CHAIN_MUL = 1.000001
CHAIN_ADD = 1e-6


def deep_chain(length: int) -> Callable[[Arrays, Arrays], tuple[np.ndarray, Arrays]]:
    def forward_backward(params: Arrays, data: Arrays) -> tuple[np.ndarray, Arrays]:
        y = params["x"]
        for _ in range(length // 2):
            y = y * CHAIN_MUL
            y = y + CHAIN_ADD
        grad = np.ones_like(params["x"])
        for _ in range(length // 2):  # d(y + d)/dy = 1, d(y·c)/dy = c
            grad = grad * CHAIN_MUL
        return y, {"x": grad}

    return forward_backward


def cat_many(params: Arrays, data: Arrays) -> tuple[np.ndarray, Arrays]:
    """sum(concatenate(x_i) · w) and its gradient: each x_i gets its slice of w."""
    names = [f"x{i}" for i in range(len(params))]
    joined = np.concatenate([params[name] for name in names])
    w = data["w"]
    grads, start = {}, 0
    for name in names:
        stop = start + params[name].shape[0]
        grads[name] = w[start:stop].copy()
        start = stop
    return np.asarray(np.sum(joined * w)), grads

"""The fast paths of issue 11's second round against PyTorch and finite differences:
conv2d's forward and input gradient run a block at a time, of images or (the input gradient
at stride 1) of flat positions (a block size forced small here so that every case crosses
several blocks), max pooling's shortened first-maximum masks (ties,
as ReLU makes them, padding, -inf), and batch_norm's einsum variance and folded scale."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
import chainrule.ops.convolution as convolution
from chainrule.autograd import gradcheck, gradgradcheck

torch = pytest.importorskip("torch")  # (every case here is a cross-check with PyTorch too)

CONV_CASES = [
    # (B, C, H, W), (O, C/g, kh, kw), stride, padding, dilation, groups
    ((5, 3, 9, 8), (4, 3, 3, 3), 1, 0, 1, 1),
    # stride 1: the input gradient by flat shifts, with padding, dilation and groups
    ((4, 4, 9, 8), (6, 2, 3, 2), 1, (1, 2), (2, 1), 2),
    ((5, 4, 11, 9), (6, 2, 3, 2), (2, 1), (1, 2), 1, 2),
    ((3, 2, 10, 10), (3, 2, 3, 3), 2, 1, (2, 1), 1),
    ((4, 6, 7, 7), (6, 1, 3, 3), 1, 1, 1, 6),
    ((7, 3, 6, 5), (2, 3, 1, 1), 1, 0, 1, 1),
]


@pytest.fixture
def small_blocks(monkeypatch):
    # 1–2 images per block in these shapes: the block loop and its edges are exercised
    monkeypatch.setattr(convolution, "_BLOCK_ELEMENTS", 300)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", CONV_CASES)
def test_blocked_conv2d_matches_torch(small_blocks, case, dtype):
    x_shape, w_shape, stride, padding, dilation, groups = case
    rng = np.random.default_rng(1)
    # a non-contiguous input: every other column of a wider array
    wide = rng.standard_normal(x_shape[:3] + (2 * x_shape[3],)).astype(dtype)
    x_np = wide[..., ::2]
    w_np = rng.standard_normal(w_shape).astype(dtype)
    b_np = rng.standard_normal(w_shape[0]).astype(dtype)
    x = cr.tensor(x_np, requires_grad=True)
    w, b = cr.tensor(w_np, requires_grad=True), cr.tensor(b_np, requires_grad=True)
    geometry = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
    out = cr.nn.functional.conv2d(x, w, b, **geometry)
    tx = torch.tensor(np.ascontiguousarray(x_np), requires_grad=True)
    tw, tb = torch.tensor(w_np, requires_grad=True), torch.tensor(b_np, requires_grad=True)
    t_out = torch.nn.functional.conv2d(tx, tw, tb, **geometry)
    per_image = x_shape[1] * w_shape[2] * w_shape[3] * t_out.shape[2] * t_out.shape[3]
    assert len(convolution._batch_blocks(x_shape[0], per_image)) > 1
    tol = dict(rtol=1e-4, atol=1e-4) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(out.detach().numpy(), t_out.detach().numpy(), **tol)
    seed = rng.standard_normal(tuple(t_out.shape)).astype(dtype)
    (out * cr.tensor(seed)).sum().backward()
    (t_out * torch.tensor(seed)).sum().backward()
    for ours, theirs in ((x, tx), (w, tw), (b, tb)):
        np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), **tol)


@pytest.mark.parametrize("case", CONV_CASES[:3])
def test_blocked_conv2d_gradients_by_finite_differences(small_blocks, case):
    x_shape, w_shape, stride, padding, dilation, groups = case
    rng = np.random.default_rng(2)
    x = cr.tensor(rng.standard_normal((3,) + x_shape[1:]), requires_grad=True)
    w = cr.tensor(rng.standard_normal(w_shape), requires_grad=True)
    geometry = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)

    def f(x, w):
        return cr.nn.functional.conv2d(x, w, **geometry)

    assert gradcheck(f, (x, w), eps=1e-6, atol=1e-6, rtol=1e-4)
    assert gradgradcheck(f, (x, w), eps=1e-6, atol=1e-5, rtol=1e-4)


def _pool_both(x_np, **geometry):
    x = cr.tensor(x_np, requires_grad=True)
    tx = torch.tensor(x_np, requires_grad=True)
    out = cr.nn.functional.max_pool2d(x, **geometry)
    t_out = torch.nn.functional.max_pool2d(tx, **geometry)
    seed = np.arange(1, out.numel() + 1, dtype=x_np.dtype).reshape(out.shape)
    (out * cr.tensor(seed)).sum().backward()
    (t_out * torch.tensor(seed)).sum().backward()
    return out, t_out, x.grad.numpy(), tx.grad.numpy()


@pytest.mark.parametrize(
    "geometry",
    [
        dict(kernel_size=2),
        dict(kernel_size=3, stride=2, padding=1),
        dict(kernel_size=(2, 3), stride=1),
        dict(kernel_size=2, stride=2, dilation=2),
    ],
)
def test_max_pool_ties_go_to_the_first_maximum(geometry):
    rng = np.random.default_rng(3)
    # after ReLU: many windows all zero, others with repeated values
    x_np = np.maximum(rng.integers(-3, 3, (2, 3, 9, 8)), 0).astype(np.float32)
    x_np[0, 0, :3, :3] = -np.inf
    out, t_out, grad, t_grad = _pool_both(x_np, **geometry)
    np.testing.assert_array_equal(out.detach().numpy(), t_out.detach().numpy())
    np.testing.assert_array_equal(grad, t_grad)


def test_max_pool_with_nan_keeps_the_full_mask_path():
    x_np = np.zeros((1, 1, 4, 4))
    x_np[0, 0, 1, 1] = np.nan
    x_np[0, 0, 3, 2] = 1.0
    out, t_out, grad, t_grad = _pool_both(x_np, kernel_size=2)
    np.testing.assert_array_equal(out.detach().numpy(), t_out.detach().numpy())
    np.testing.assert_array_equal(grad, t_grad)


@pytest.mark.parametrize("shape", [(16, 5, 7, 6), (9, 4, 11), (12, 3)])
def test_batch_norm_training_matches_torch(shape):
    rng = np.random.default_rng(4)
    x_np = (rng.standard_normal(shape) * 3 + 5).astype(np.float32)
    C = shape[1]
    w_np, b_np = (
        rng.standard_normal(C).astype(np.float32),
        rng.standard_normal(C).astype(np.float32),
    )
    x, w, b = (cr.tensor(a, requires_grad=True) for a in (x_np, w_np, b_np))
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x_np, w_np, b_np))
    rm, rv = cr.zeros(C), cr.ones(C)
    trm, trv = torch.zeros(C), torch.ones(C)
    out = cr.nn.functional.batch_norm(x, rm, rv, w, b, training=True)
    t_out = torch.nn.functional.batch_norm(tx, trm, trv, tw, tb, training=True)
    np.testing.assert_allclose(out.detach().numpy(), t_out.detach().numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(rv.numpy(), trv.numpy(), rtol=1e-5)
    seed = rng.standard_normal(shape).astype(np.float32)
    (out * cr.tensor(seed)).sum().backward()
    (t_out * torch.tensor(seed)).sum().backward()
    for ours, theirs in ((x, tx), (w, tw), (b, tb)):
        np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-4, atol=1e-4)


def test_batch_norm_constant_channel_normalises_to_exact_zeros():
    x_np = np.random.default_rng(5).standard_normal((8, 2, 3, 3)).astype(np.float32)
    x_np[:, 1] = 1e30
    x = cr.tensor(x_np, requires_grad=True)
    out = cr.nn.functional.batch_norm(x, None, None, cr.ones(2), cr.full((2,), 0.5), training=True)
    np.testing.assert_array_equal(out.detach().numpy()[:, 1], 0.5)

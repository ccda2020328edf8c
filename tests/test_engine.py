"""The backward engine: graph shapes, retain_graph, accumulation, hooks, grad modes, the version
counter, higher order, determinism, freeing, and ``autograd.grad``'s arguments."""

from __future__ import annotations

import gc
import sys
import weakref

import numpy as np
import pytest

import chainrule as cr
from chainrule.autograd.node import Node, Primitive


def leaf(values, requires_grad: bool = True) -> cr.Tensor:
    return cr.tensor(np.asarray(values, dtype=np.float64), requires_grad=requires_grad)


def randn(*shape: int, seed: int = 0, requires_grad: bool = True) -> cr.Tensor:
    data = np.random.default_rng(seed).standard_normal(shape)
    return cr.tensor(data, dtype=cr.float64, requires_grad=requires_grad)


# ---- graph shapes -------------------------------------------------------------------------------
def test_reused_node_sums_both_uses():
    a = leaf([1.5, -2.0, 3.0])
    b = a + a  # both inputs of one node are the same tensor
    c = b * b  # and again
    c.backward(cr.tensor([1.0, 2.0, -1.0], dtype=cr.float64))
    # c = 4 a², dc/da = 8 a, times the upstream gradient
    np.testing.assert_array_equal(a.grad.numpy(), 8 * np.array([1.5, -2.0, 3.0]) * [1, 2, -1])


def test_diamond_graph():
    x = leaf(0.7)
    s, c = x.sin(), x.cos()  # two branches from x ...
    y = s * c + s  # ... that meet twice
    y.backward()
    expected = np.cos(2 * 0.7) + np.cos(0.7)  # d/dx (sin x cos x + sin x)
    assert x.grad.item() == pytest.approx(expected, rel=1e-14)


def test_diamond_runs_each_node_once_after_all_its_consumers():
    x = leaf(2.0)
    h = x * 3.0
    calls = []
    h.register_hook(lambda grad: calls.append(grad.item()))
    y = h.exp() + h.sin() + h * h
    y.backward()
    assert calls == [pytest.approx(np.exp(6.0) + np.cos(6.0) + 12.0)]  # one call, the full sum
    assert x.grad.item() == pytest.approx(3 * (np.exp(6.0) + np.cos(6.0) + 12.0))


def _chain(n: int) -> tuple[cr.Tensor, cr.Tensor]:
    x = leaf(1.0)
    y = x
    for _ in range(n):
        y = y * 1.00001
    return x, y


def test_100k_op_chain_backward_is_iterative():
    assert sys.getrecursionlimit() <= 10_000  # a recursive walk could not get through 100k nodes
    x, y = _chain(100_000)
    y.backward()
    assert x.grad.item() == pytest.approx(1.00001**100_000, rel=1e-10)
    assert y.grad_fn.released


def test_backward_work_grows_linearly_with_chain_length():
    # Linear work, counted rather than timed (timed tests flake on shared machines): every node
    # of the chain runs its rule exactly once, whatever the length.
    calls = []

    def rule(grad, out, x):
        calls.append(1)
        return grad * 1.0

    identity = Primitive("identity", lambda x: x * 1.0, grads=[rule], saves=())
    for n in (10_000, 30_000):
        calls.clear()
        x = leaf([1.0])
        y = x
        for _ in range(n):
            y = identity(y)
        y.sum().backward()
        assert len(calls) == n
        assert x.grad.tolist() == [1.0]


# ---- retain_graph and the freed graph -----------------------------------------------------------
def test_second_backward_without_retain_graph_raises():
    x = leaf([1.0, 2.0])
    y = (x.exp() * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="retain_graph") as info:
        y.backward()
    assert "mul" in str(info.value) or "sum" in str(info.value)


def test_retain_graph_allows_second_backward_and_accumulates():
    x = leaf([1.0, 2.0])
    y = (x.exp() * x).sum()
    y.backward(retain_graph=True)
    first = x.grad.numpy().copy()
    np.testing.assert_allclose(first, np.exp([1.0, 2.0]) * (1 + np.array([1.0, 2.0])), rtol=1e-14)
    y.backward()
    np.testing.assert_array_equal(x.grad.numpy(), 2 * first)


def test_graph_is_freed_after_backward():
    x = leaf([1.0, 2.0])
    h = x * 2.0
    y = (h.exp()).sum()
    nodes = [y.grad_fn, h.grad_fn, y.grad_fn.inputs[0].grad_fn]
    assert all(not n.released for n in nodes)
    y.backward()
    for node in nodes:
        assert node.released and node.inputs is None


def test_retained_graph_keeps_inputs():
    x = leaf([1.0, 2.0])
    y = (x * 2.0).sum()
    y.backward(retain_graph=True)
    assert y.grad_fn.inputs is not None


def test_no_reference_cycle_keeps_intermediates_alive():
    x = leaf([1.0, 2.0, 3.0])
    gc.collect()
    gc.disable()  # anything that dies below dies by reference counting, not the cycle collector
    try:
        h = x * 2.0
        y = h.exp()
        h_ref, node_ref, y_ref = weakref.ref(h), weakref.ref(h.grad_fn), weakref.ref(y)
        del h
        assert h_ref() is not None  # y's node still needs it
        del y
        assert y_ref() is None and h_ref() is None and node_ref() is None
    finally:
        gc.enable()


def test_nodes_do_not_hold_their_output_but_rules_see_it():
    x = leaf(0.3)
    y = x.exp()
    assert isinstance(y.grad_fn, Node)
    assert all(ref is not y for ref in gc.get_referents(y.grad_fn))
    (g,) = cr.autograd.grad(y, x, create_graph=True)
    (gg,) = cr.autograd.grad(g, x)
    assert gg.item() == pytest.approx(np.exp(0.3), rel=1e-14)


# ---- accumulation, gradient=, inputs= -----------------------------------------------------------
def test_leaf_grad_accumulates_across_backward_calls():
    w = leaf([1.0, -1.0])
    (w * 3.0).sum().backward()
    (w * w).sum().backward()
    np.testing.assert_array_equal(w.grad.numpy(), [3.0 + 2.0, 3.0 - 2.0])
    w.grad = None
    (w * 3.0).sum().backward()
    np.testing.assert_array_equal(w.grad.numpy(), [3.0, 3.0])


def test_second_backward_accumulates_into_the_same_grad_tensor():
    w = leaf([1.0, 2.0])
    y = w * 1.0
    y.backward(cr.tensor([1.0, 1.0], dtype=cr.float64))
    first = w.grad
    (w * 1.0).backward(cr.tensor([5.0, 5.0], dtype=cr.float64))
    assert w.grad is first  # accumulated in place, as PyTorch does
    np.testing.assert_array_equal(w.grad.numpy(), [6.0, 6.0])


def test_backward_with_gradient():
    x = leaf([[1.0, 2.0], [3.0, 4.0]])
    y = x * x
    v = cr.tensor([[0.5, -1.0], [2.0, 0.0]], dtype=cr.float64)
    y.backward(gradient=v)
    np.testing.assert_array_equal(x.grad.numpy(), 2 * x.detach().numpy() * v.numpy())


def test_backward_gradient_broadcast_input_is_summed_back():
    x = leaf([1.0, 2.0, 3.0])
    b = leaf([[10.0], [20.0]])
    y = x * b  # (2, 3)
    y.backward(cr.ones(2, 3, dtype=cr.float64))
    np.testing.assert_array_equal(x.grad.numpy(), [30.0, 30.0, 30.0])
    np.testing.assert_array_equal(b.grad.numpy(), [[6.0], [6.0]])


def test_root_gradient_takes_the_output_dtype():
    x = cr.ones(2, requires_grad=True)  # float32
    x.backward(cr.ones(2, dtype=cr.float64))  # a leaf as the root
    (x * 2.0).backward(cr.ones(2, dtype=cr.float64))
    assert x.grad.dtype == cr.float32
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 3.0])
    (g,) = cr.autograd.grad(x * 1.0, x, grad_outputs=[[1.0, 1.0]])  # a list is accepted too
    assert g.dtype == cr.float32


def test_backward_inputs_only_accumulates_those():
    a, b = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    y = (a * b).sum()
    y.backward(inputs=[a])
    np.testing.assert_array_equal(a.grad.numpy(), [3.0, 4.0])
    assert b.grad is None


def test_backward_on_several_roots():
    x = leaf([1.0, 2.0])
    y1, y2 = (x * x).sum(), (x * 3.0).sum()
    cr.autograd.backward([y1, y2])
    np.testing.assert_array_equal(x.grad.numpy(), [2.0 + 3.0, 4.0 + 3.0])


# ---- hooks and retain_grad ----------------------------------------------------------------------
def test_hook_on_leaf_sees_total_grad_and_can_replace_it():
    x = leaf([1.0, 2.0])
    seen = []

    def hook(grad):
        seen.append(grad.numpy().copy())
        return grad * 10.0

    x.register_hook(hook)
    (x * x + x).sum().backward()
    assert len(seen) == 1
    np.testing.assert_array_equal(seen[0], [3.0, 5.0])
    np.testing.assert_array_equal(x.grad.numpy(), [30.0, 50.0])


def test_hook_on_non_leaf_replaces_what_flows_on():
    x = leaf([1.0, 2.0])
    h = x * 2.0
    h.register_hook(lambda grad: grad * 0.0 + 1.0)
    (h * h).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 2.0])  # 1 from the hook, times dh/dx


def test_hook_returning_none_leaves_grad_unchanged():
    x = leaf([1.0, 2.0])
    seen = []
    x.register_hook(lambda grad: seen.append(grad.numpy().copy()))
    (x * 3.0).sum().backward()
    np.testing.assert_array_equal(seen[0], [3.0, 3.0])
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 3.0])


def test_hooks_run_in_registration_order_and_chain():
    x = leaf([1.0])
    x.register_hook(lambda grad: grad + 1.0)
    x.register_hook(lambda grad: grad * 10.0)
    (x * 2.0).sum().backward()
    assert x.grad.item() == (2.0 + 1.0) * 10.0


def test_removed_hook_does_not_run():
    x = leaf([1.0, 2.0])
    remove = x.register_hook(lambda grad: grad * 100.0)
    remove()
    remove()  # removing twice is harmless
    (x * 2.0).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 2.0])


def test_register_hook_needs_requires_grad():
    with pytest.raises(RuntimeError, match="doesn't require grad"):
        leaf([1.0], requires_grad=False).register_hook(lambda grad: grad)


def test_retain_grad_keeps_non_leaf_grad():
    x = leaf([1.0, 2.0])
    h = x * 3.0
    k = x * 4.0
    h.retain_grad()
    assert h.retains_grad and not k.retains_grad
    (h * h + k).sum().backward()
    np.testing.assert_array_equal(h.grad.numpy(), 2 * h.detach().numpy())
    assert k.grad is None
    np.testing.assert_array_equal(x.grad.numpy(), 2 * 3.0 * h.detach().numpy() + 4.0)


def test_retain_grad_sees_the_grad_after_hooks():
    x = leaf([1.0])
    h = x * 1.0
    h.retain_grad()
    h.register_hook(lambda grad: grad * 7.0)
    h.sum().backward()
    assert h.grad.item() == 7.0 and x.grad.item() == 7.0


# ---- grad modes ---------------------------------------------------------------------------------
def test_no_grad_records_nothing():
    x = leaf([1.0])
    with cr.no_grad():
        y = x * 2.0
    assert not y.requires_grad and y.grad_fn is None and y.is_leaf
    assert cr.is_grad_enabled()


def test_enable_grad_inside_no_grad_and_nesting():
    x = leaf([1.0])
    with cr.no_grad():
        with cr.enable_grad():
            y = x * 2.0
            with cr.no_grad():
                z = x * 2.0
            w = x * 2.0
        u = x * 2.0
    assert y.requires_grad and w.requires_grad
    assert not z.requires_grad and not u.requires_grad
    assert cr.is_grad_enabled()


def test_grad_modes_as_decorators():
    x = leaf([1.0])

    @cr.no_grad()
    def off():
        return x * 2.0, cr.is_grad_enabled()

    @cr.enable_grad()
    def on():
        return x * 2.0

    @cr.set_grad_enabled(False)
    def off_too():
        return x * 2.0

    assert cr.is_grad_enabled()  # decorating changed nothing
    y, enabled = off()
    assert not y.requires_grad and not enabled
    with cr.no_grad():
        assert on().requires_grad
        assert not cr.is_grad_enabled()
    assert not off_too().requires_grad
    assert cr.is_grad_enabled()


def test_decorated_function_restores_mode_after_an_exception():
    @cr.no_grad()
    def boom():
        raise KeyError("x")

    with pytest.raises(KeyError):
        boom()
    assert cr.is_grad_enabled()


def test_set_grad_enabled_as_call_and_context():
    x = leaf([1.0])
    with cr.set_grad_enabled(False):
        assert not (x * 2.0).requires_grad
        with cr.set_grad_enabled(True):
            assert (x * 2.0).requires_grad
        assert not cr.is_grad_enabled()
    assert cr.is_grad_enabled()
    cr.set_grad_enabled(False)  # as a plain call it takes effect at once, as in PyTorch
    try:
        assert not (x * 2.0).requires_grad
    finally:
        cr.set_grad_enabled(True)
    assert (x * 2.0).requires_grad


def test_context_restores_mode_after_exception():
    with pytest.raises(ValueError):
        with cr.no_grad():
            raise ValueError
    assert cr.is_grad_enabled()


# ---- detach, requires_grad_, is_leaf, .data -----------------------------------------------------
def test_detach_shares_storage_and_cuts_the_graph():
    x = leaf([1.0, 2.0])
    y = x * 2.0
    d = y.detach()
    assert not d.requires_grad and d.grad_fn is None and d.is_leaf
    with cr.no_grad():
        d.mul_(10.0)
    np.testing.assert_array_equal(y.detach().numpy(), [20.0, 40.0])  # same storage
    z = (d * x).sum()
    z.backward()
    np.testing.assert_array_equal(x.grad.numpy(), [20.0, 40.0])  # d is a constant


def test_requires_grad_and_is_leaf():
    x = leaf([1.0, 2.0], requires_grad=False)
    assert x.is_leaf and not x.requires_grad
    assert x.requires_grad_() is x and x.requires_grad
    y = x * 2.0
    assert not y.is_leaf and y.requires_grad and y.grad_fn.name == "mul"
    with pytest.raises(RuntimeError, match="detach"):
        y.requires_grad_(False)
    x.requires_grad_(False)
    assert not (x * 2.0).requires_grad


def test_data_is_detached_and_shares_storage():
    x = leaf([1.0, 2.0])
    d = x.data
    assert not d.requires_grad and d.grad_fn is None
    d.mul_(3.0)  # allowed even in grad mode: .data is not part of the graph
    np.testing.assert_array_equal(x.detach().numpy(), [3.0, 6.0])
    x.data = cr.tensor([7.0, 8.0], dtype=cr.float64)
    (x * 1.0).sum().backward()
    np.testing.assert_array_equal(x.detach().numpy(), [7.0, 8.0])
    assert x.requires_grad and x.grad is not None


# ---- the version counter ------------------------------------------------------------------------
def test_in_place_change_of_saved_input_is_reported():
    w = leaf([1.0, 2.0])
    x = leaf([3.0, 4.0], requires_grad=False)
    y = (w * x).sum()
    with cr.no_grad():
        x.add_(1.0)
    assert x._version == 1
    with pytest.raises(RuntimeError, match=r"mul: input 1 .*modified in place"):
        y.backward()


def test_in_place_change_through_a_view_bumps_the_base_version():
    w = leaf([[1.0, 2.0], [3.0, 4.0]])
    x = leaf([[1.0, 2.0], [3.0, 4.0]], requires_grad=False)
    y = (w * x).sum()
    v = x.reshape(4)
    v.mul_(2.0)
    assert x._version == 1 and v._version == 1
    np.testing.assert_array_equal(x.numpy(), [[2.0, 4.0], [6.0, 8.0]])
    with pytest.raises(RuntimeError, match="mul: input 1"):
        y.backward()


VIEWS = {
    "index": lambda x: x[0],
    "slice": lambda x: x[:, 1:],
    "T": lambda x: x.T,
    "transpose": lambda x: x.transpose(0, 1),
    "permute": lambda x: x.permute(1, 0),
    "reshape": lambda x: x.reshape(6),
    "view": lambda x: x.view(3, 2),
    "flatten": lambda x: x.flatten(),
    "unsqueeze": lambda x: x.unsqueeze(0),
    "split": lambda x: x.split(1)[1],
    "unbind": lambda x: x.unbind(0)[1],
    "detach": lambda x: x.detach(),
    "view_of_view": lambda x: x.reshape(6)[2:],
}


@pytest.mark.parametrize("name", list(VIEWS))
def test_in_place_change_through_any_view_is_reported(name):
    w = leaf(np.ones((2, 3)))
    x = leaf(np.arange(6.0).reshape(2, 3), requires_grad=False)
    y = (w * x).sum()
    view = VIEWS[name](x)
    assert view._vbox is x._vbox
    with cr.no_grad():
        view.mul_(2.0)
    with pytest.raises(RuntimeError, match="mul: input 1"):
        y.backward()


def test_change_to_base_is_seen_by_a_saved_view():
    w = leaf([1.0, 2.0, 3.0])
    x = leaf(np.ones((2, 3)), requires_grad=False)
    y = (w * x[0]).sum()  # the saved tensor is the view
    with cr.no_grad():
        x.add_(1.0)
    with pytest.raises(RuntimeError, match="mul: input 1"):
        y.backward()


def test_a_copying_reshape_has_its_own_version_counter():
    x = leaf(np.arange(6.0).reshape(2, 3), requires_grad=False)
    w = leaf(np.ones((2, 3)))
    y = (w * x).sum()
    copy = x.T.reshape(6)  # NumPy must copy here, as PyTorch does
    assert copy._version_box() is not x._version_box()
    with cr.no_grad():
        copy.mul_(2.0)
    y.backward()  # x itself never changed
    np.testing.assert_array_equal(w.grad.numpy(), np.arange(6.0).reshape(2, 3))


def test_in_place_change_of_saved_output_is_reported():
    x = leaf([1.0, 2.0])
    y = x.exp()  # exp's rule reads its output
    z = y.detach()
    with cr.no_grad():
        z.zero_()
    with pytest.raises(RuntimeError, match="exp: its output .*modified in place"):
        y.sum().backward()


def test_in_place_change_of_an_unsaved_input_is_fine():
    x = leaf([1.0, 2.0])
    c = leaf([5.0, 5.0], requires_grad=False)
    y = (x + c).sum()  # add saves nothing
    with cr.no_grad():
        c.add_(1.0)
    y.backward()
    np.testing.assert_array_equal(x.grad.numpy(), [1.0, 1.0])


def test_in_place_on_leaf_requiring_grad_in_grad_mode_raises():
    w = leaf([1.0, 2.0])
    with pytest.raises(RuntimeError, match="add_: a leaf tensor that requires grad"):
        w.add_(1.0)
    with pytest.raises(RuntimeError, match="no_grad"):
        w[0] = 5.0
    np.testing.assert_array_equal(w.detach().numpy(), [1.0, 2.0])  # nothing was written
    with cr.no_grad():
        w.sub_(1.0)
    np.testing.assert_array_equal(w.detach().numpy(), [0.0, 1.0])


def _in_place_program(m, values):
    """The same in-place program on chainrule or torch: masking, slice assignment from another
    graph tensor, and in-place arithmetic on non-leaf tensors, as PyTorch records them."""
    x = m.tensor(values, requires_grad=True, dtype=m.float64)
    y = x * 1.0
    y[y < 0] = 0.0
    b = y * 2.0
    b[1:3] = x[0:2] * 5.0
    b.mul_(3.0)
    b.add_(x, alpha=0.5)
    b.sub_(x * x)
    b.div_(2.0)
    b.clamp_(max=4.0)
    z = (b * b).sum()
    z.backward()
    return z.item(), x.grad.numpy().copy()


def test_in_place_on_non_leaf_in_grad_mode_is_recorded_as_in_pytorch():
    torch = pytest.importorskip("torch")
    values = np.array([0.5, -1.0, 2.0, -0.3, 0.7])
    ours, theirs = _in_place_program(cr, values), _in_place_program(torch, values)
    assert ours[0] == pytest.approx(theirs[0], rel=1e-12)
    np.testing.assert_allclose(ours[1], theirs[1], rtol=1e-12)


def test_in_place_recording_rebases_the_tensor_itself():
    x = leaf([1.0, 2.0])
    y = x * 2.0
    same = y.mul_(3.0)
    assert same is y and y.grad_fn is not None and y.grad_fn.op.name == "mul"
    assert y.tolist() == [6.0, 12.0] and y._version == 1
    y.sum().backward()
    assert x.grad.tolist() == [6.0, 6.0]


def test_value_that_requires_grad_written_into_a_plain_tensor_is_recorded():
    w = leaf([3.0])
    out = cr.zeros(3, dtype=cr.float64)
    out[1] = w * 2.0
    assert out.requires_grad and not out.is_leaf
    (out * cr.tensor([1.0, 10.0, 100.0], dtype=cr.float64)).sum().backward()
    assert w.grad.tolist() == [20.0]


def _view_program(m, values):
    """In-place writes through views, as PyTorch records them (CopySlices): the base takes the
    new history and every view of it (old or new) sees it."""
    x = m.tensor(values, requires_grad=True, dtype=m.float64)
    y = x * 2.0
    grid = y.reshape(2, 3)
    row = grid[0]  # a view of a view
    early = (row * 4.0).sum()  # row before the writes: its gradient flows to the old history
    grid[1].mul_(3.0)  # a write through another view of the same storage
    col = grid[:, 1]
    col.add_(x[:2] * x[4:])  # a value that carries a gradient, written through a view
    late = (row * 1.5).sum() + (y * y).sum() + col.sum()  # row, y and col as they are now
    (early + late).backward()
    return y.detach().numpy().copy(), x.grad.numpy().copy()


def test_in_place_through_a_view_is_recorded_as_in_pytorch():
    torch = pytest.importorskip("torch")
    values = np.array([0.5, -1.0, 2.0, -0.3, 0.7, 1.1])
    ours, theirs = _view_program(cr, values), _view_program(torch, values)
    np.testing.assert_allclose(ours[0], theirs[0], rtol=1e-15)
    np.testing.assert_allclose(ours[1], theirs[1], rtol=1e-13)


def test_in_place_on_a_view_of_a_leaf_that_requires_grad_raises():
    w = leaf([1.0, 2.0])
    with pytest.raises(RuntimeError, match="mul_: a view of a leaf tensor that requires grad"):
        w[0:1].mul_(2.0)
    assert w.tolist() == [1.0, 2.0]


def test_split_views_are_not_written_in_place_in_grad_mode_as_in_pytorch():
    y = leaf([1.0, 2.0, 3.0, 4.0]) * 2.0
    first, second = y.split(2)
    with pytest.raises(RuntimeError, match=r"mul_: .*views that split\(\) returns"):
        first.mul_(2.0)
    with cr.no_grad():
        y.add_(1.0)  # writing their storage makes them unusable for backward, as in PyTorch
    with pytest.raises(RuntimeError, match=r"views that split\(\) returns"):
        second.sum().backward()


def test_recorded_in_place_change_of_a_saved_tensor_is_reported():
    x = leaf([1.0, 2.0])
    y = x.exp()
    z = y * y  # saves y
    y.add_(1.0)
    with pytest.raises(RuntimeError, match="modified in place"):
        z.sum().backward()


# ---- higher order -------------------------------------------------------------------------------
def test_create_graph_second_derivative_of_cube():
    x = leaf([0.5, -2.0, 3.0])
    y = (x**3).sum()
    y.backward(create_graph=True)
    g = x.grad
    assert g.requires_grad
    np.testing.assert_allclose(g.detach().numpy(), 3 * np.array([0.5, -2.0, 3.0]) ** 2, rtol=1e-14)
    x.grad = None
    g.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 6 * np.array([0.5, -2.0, 3.0]), rtol=1e-14)


def test_third_derivative_through_grad():
    x = leaf(0.4)
    (d1,) = cr.autograd.grad(x.sin() * x, x, create_graph=True)
    (d2,) = cr.autograd.grad(d1, x, create_graph=True)
    (d3,) = cr.autograd.grad(d2, x)
    v = 0.4
    assert d1.item() == pytest.approx(np.cos(v) * v + np.sin(v), rel=1e-13)
    assert d2.item() == pytest.approx(-np.sin(v) * v + 2 * np.cos(v), rel=1e-13)
    assert d3.item() == pytest.approx(-np.cos(v) * v - 3 * np.sin(v), rel=1e-13)


# ---- determinism --------------------------------------------------------------------------------
def _traced_run() -> tuple[list[str], dict[str, bytes]]:
    order: list[str] = []
    a, b = randn(3, 4, seed=1), randn(4, 2, seed=2)
    h = (a @ b).tanh()
    k = h * h + h.sin()
    m = (k.exp() + h).sum(dim=0)
    for name, t in [("h", h), ("k", k), ("m", m)]:
        t.register_hook(lambda grad, name=name: order.append(name))
    for name, t in [("a", a), ("b", b)]:
        t.register_hook(lambda grad, name=name: order.append(name))
    (m * m).sum().backward()
    return order, {"a": a.grad.numpy().tobytes(), "b": b.grad.numpy().tobytes()}


def test_two_runs_give_identical_order_and_bits():
    first, second = _traced_run(), _traced_run()
    assert first[0] == second[0] == ["m", "k", "h", "a", "b"]
    assert first[1] == second[1]


# ---- autograd.grad ------------------------------------------------------------------------------
def test_grad_returns_gradients_and_leaves_dot_grad_alone():
    x, y = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    z = (x * y + x).sum()
    gx, gy = cr.autograd.grad(z, [x, y])
    np.testing.assert_array_equal(gx.numpy(), [4.0, 5.0])
    np.testing.assert_array_equal(gy.numpy(), [1.0, 2.0])
    assert x.grad is None and y.grad is None


def test_grad_with_grad_outputs():
    x = leaf([1.0, 2.0, 3.0])
    y = x * x
    (gx,) = cr.autograd.grad(y, x, grad_outputs=cr.tensor([1.0, 0.5, -2.0], dtype=cr.float64))
    np.testing.assert_array_equal(gx.numpy(), [2.0, 2.0, -12.0])


def test_grad_of_intermediate_tensor():
    x = leaf([1.0, 2.0])
    h = x * 3.0
    z = (h * h).sum()
    gh, gx = cr.autograd.grad(z, [h, x])
    np.testing.assert_array_equal(gh.numpy(), [6.0, 12.0])
    np.testing.assert_array_equal(gx.numpy(), [18.0, 36.0])


def test_grad_retain_graph():
    x = leaf([1.0, 2.0])
    z = (x.exp()).sum()
    (g1,) = cr.autograd.grad(z, x, retain_graph=True)
    (g2,) = cr.autograd.grad(z, x)
    np.testing.assert_array_equal(g1.numpy(), g2.numpy())
    with pytest.raises(RuntimeError, match="retain_graph"):
        cr.autograd.grad(z, x)


def test_grad_create_graph_gives_differentiable_result():
    x = leaf([1.0, 2.0])
    (g,) = cr.autograd.grad((x**3).sum(), x, create_graph=True)
    assert g.requires_grad and g.grad_fn is not None
    (gg,) = cr.autograd.grad(g.sum(), x)
    np.testing.assert_array_equal(gg.numpy(), [6.0, 12.0])
    (plain,) = cr.autograd.grad((x**3).sum(), x)
    assert not plain.requires_grad


def test_grad_allow_unused():
    x, unused = leaf([1.0]), leaf([2.0])
    with pytest.raises(RuntimeError, match="input 1 .*allow_unused=True"):
        cr.autograd.grad((x * 2.0).sum(), [x, unused])
    gx, gu = cr.autograd.grad((x * 2.0).sum(), [x, unused], allow_unused=True)
    assert gx.item() == 2.0 and gu is None


def test_grad_input_must_require_grad():
    x = leaf([1.0])
    with pytest.raises(RuntimeError, match="input 1 does not require grad"):
        cr.autograd.grad((x * 2.0).sum(), [x, leaf([1.0], requires_grad=False)])


def test_grad_runs_no_hooks_of_leaves_it_was_not_asked_for():
    x, z = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    calls = []
    z.register_hook(lambda grad: calls.append("z"))
    x.register_hook(lambda grad: calls.append("x") or grad * 2.0)
    (gx,) = cr.autograd.grad((x * z).sum(), x)
    assert calls == ["x"]
    np.testing.assert_array_equal(gx.numpy(), [6.0, 8.0])  # the hook's replacement is returned


def test_backward_inputs_can_be_a_non_leaf():
    x, z = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    h = x * 2.0
    (h * z).sum().backward(inputs=[h])
    np.testing.assert_array_equal(h.grad.numpy(), [3.0, 4.0])
    assert x.grad is None and z.grad is None


def test_grad_does_not_fill_retained_grads():
    x = leaf([1.0])
    h = x * 2.0
    h.retain_grad()
    cr.autograd.grad((h * h).sum(), x)
    assert h.grad is None and x.grad is None


def test_grad_modes_as_bare_decorators():
    # PyTorch accepts @torch.no_grad without parentheses; so do we
    @cr.no_grad
    def off(t):
        return (t * 2).requires_grad

    @cr.enable_grad
    def on(t):
        return (t * 2).requires_grad

    x = leaf([1.0, 2.0])
    assert off(x) is False
    assert off.__name__ == "off"
    with cr.no_grad():
        assert on(x) is True
    assert (x * 2).requires_grad


def test_index_put_first_and_second_derivatives():
    x = cr.randn(5, dtype=cr.float64, requires_grad=True)
    v = cr.randn(2, dtype=cr.float64, requires_grad=True)
    assert cr.autograd.gradcheck(lambda x, v: cr.index_put(x, [1, 3], v) * x, (x, v))
    assert cr.autograd.gradgradcheck(lambda x, v: cr.index_put(x, [1, 3], v) * x, (x, v))


def test_op_results_are_built_like_wrapped_tensors():
    # Primitive.__call__ builds its result inline (a hot path); it must set what _wrap sets
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    made = x * 2.0
    wrapped = cr.Tensor._wrap(made._data)
    for slot in cr.Tensor.__slots__:
        if slot == "__weakref__":
            continue
        assert hasattr(made, slot), slot
        if slot not in ("_data", "requires_grad", "grad_fn", "_vbox"):
            assert getattr(made, slot) == getattr(wrapped, slot), slot
    assert made._vbox is None and wrapped._vbox is None  # made on first need
    with cr.no_grad():
        assert (x * 2.0).grad_fn is None and not (x * 2.0).requires_grad


# ---- in-place writes after a node saved a value (autograd/versions.py) --------------------------
def test_the_issue_example_raises_instead_of_a_wrong_gradient():
    x = leaf([0.1, 0.2])
    e = cr.exp(x * 1.0)
    y = e.sum()
    e.mul_(2)  # recorded in grad mode: e takes a new node; exp saved the old e
    with pytest.raises(RuntimeError, match=r"exp: its output \(shape \(2,\).*modified in place"):
        y.backward()


def test_nodes_made_before_a_write_keep_their_edge_to_the_old_history():
    x = leaf([0.1, 0.2])
    e = x * 1.0
    before = e.sum()  # sum reads nothing: the write doesn't hurt it
    e.mul_(3.0)
    (before + e.sum()).backward()  # 1 through the old e, 3 through the new
    assert x.grad.tolist() == [4.0, 4.0]


def test_new_storage_through_data_makes_saved_readers_raise():
    x = leaf([0.1, 0.2])
    e = x.exp()
    y = e.sum()
    e.data = cr.zeros(2, dtype=cr.float64)
    with pytest.raises(RuntimeError, match="exp: its output"):
        y.backward()


def test_a_buffer_written_every_step_keeps_a_bounded_history():
    p = leaf([1.0, 2.0])
    buffer = cr.zeros(2, dtype=cr.float64)
    for _ in range(200):
        buffer.detach_()
        buffer.copy_(p * 2.0)
        (buffer * buffer).sum().backward()
    assert len(buffer._history) <= 2
    np.testing.assert_allclose(p.grad.numpy(), 200 * 8 * np.array([1.0, 2.0]))


def test_views_are_remembered_weakly_and_pruned():
    w = leaf(np.ones((3, 3)))
    for _ in range(1000):
        _ = w.T  # a parameter's transpose every step
    assert len(w._vbox[2]) < 64


# found by a review: aliases of the written tensor, hooks from before a write, integer indexing
def _weights(m, n):
    return m.tensor([10.0**i for i in range(n)], dtype=m.float64)


ALIASED_WRITES = {
    # program -> the gradient with the alias's values as they were before the write
    "y.mul_(y)": (lambda m, y: y.mul_(y), [2.0, 40.0, 600.0]),
    "y.add_(y)": (lambda m, y: y.add_(y), [2.0, 20.0, 200.0]),
    "y.div_(y.detach())": (lambda m, y: y.div_(y.detach()), [1.0, 5.0, 100 / 3]),
    "y.mul_(y.detach())": (lambda m, y: y.mul_(y.detach()), [1.0, 20.0, 300.0]),
    "y[:2] = y[1:]": (lambda m, y: y.__setitem__(slice(0, 2), y[1:] * 1.0), [0.0, 1.0, 110.0]),
}


@pytest.mark.parametrize("name", list(ALIASED_WRITES))
def test_a_write_whose_operand_shares_the_storage_uses_the_values_before_it(name):
    write, expected = ALIASED_WRITES[name]
    a = leaf([1.0, 2.0, 3.0])
    y = a * 1.0
    write(cr, y)
    (y * _weights(cr, 3)).sum().backward(retain_graph=True)  # no cycle, no hang
    np.testing.assert_allclose(a.grad.numpy(), expected, rtol=1e-14)


def test_overlapping_slices_written_in_place_use_the_values_before_the_write():
    a = leaf([1.0, 2.0, 3.0, 4.0])
    y = a * 1.0
    y[:2].mul_(y[2:])  # y = [a0·a2, a1·a3, a2, a3]
    (y * _weights(cr, 4)).sum().backward()
    assert a.grad.tolist() == [3.0, 40.0, 101.0, 1020.0]


def test_hooks_registered_before_a_write_see_the_old_values_gradient_as_in_pytorch():
    torch = pytest.importorskip("torch")

    def program(m):
        a = m.tensor([1.0, 2.0, 3.0], dtype=m.float64, requires_grad=True)
        y = a * 1.0
        z = y * _weights(m, 3)
        seen = []
        y.register_hook(lambda g: seen.append(g.detach().numpy().copy()) or g * 2)
        y.mul_(3.0)
        (z + y * _weights(m, 3)).sum().backward()
        return a.grad.numpy().copy(), seen

    (ours, ours_seen), (theirs, theirs_seen) = program(cr), program(torch)
    np.testing.assert_allclose(ours, theirs, rtol=1e-14)
    assert len(ours_seen) == len(theirs_seen) == 1
    np.testing.assert_allclose(ours_seen[0], theirs_seen[0], rtol=1e-14)


def test_an_element_picked_by_integer_indices_is_a_view():
    a = leaf([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    y = a * 1.0
    v = y[1, 2]
    y.mul_(3.0)  # the element sees the write, as in PyTorch
    assert v.item() == 18.0
    (v * 7.0).backward()
    assert a.grad.numpy()[1, 2] == 21.0
    w = a * 1.0
    w[0, 1].mul_(10.0)  # and a write through it reaches the tensor
    assert w.tolist()[0] == [1.0, 20.0, 3.0]

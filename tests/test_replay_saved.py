"""What a forward saves for its rules (conv2d's im2col columns, cross-entropy's softmax) is owned
by its node, not put in its static parameters: it goes with the node's inputs after backward, a
retained graph can go back through it again, and the parameters hold no arrays or dicts."""

from __future__ import annotations

import numpy as np

import chainrule as cr
from chainrule import nn


def _conv_net_and_batch():
    cr.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(2, 3, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(48, 4))
    rng = np.random.default_rng(0)
    x = cr.tensor(rng.normal(size=(2, 2, 4, 4)).astype(np.float32))
    y = cr.tensor(rng.integers(0, 4, size=2))
    return model, x, y


def test_saved_values_live_on_the_node_and_go_with_its_inputs():
    model, x, y = _conv_net_and_batch()
    features = model[0](x)
    loss = nn.functional.cross_entropy(model[1:](features), y)
    conv, ce = features.grad_fn, loss.grad_fn
    assert [a.shape for a in conv.saved] == [(2 * 9, 2 * 16)] and ce.saved[0].shape == (2, 4)
    for node in (conv, ce):
        assert not any(isinstance(v, (dict, np.ndarray)) for v in node.params.values())
    loss.backward()
    assert conv.saved is None and ce.saved is None and conv.released


def test_a_retained_graph_goes_back_through_what_was_saved_twice():
    model, x, y = _conv_net_and_batch()
    twin, _, _ = _conv_net_and_batch()
    loss = nn.functional.cross_entropy(model(x), y)
    loss.backward(retain_graph=True)
    once = [p.grad.numpy().copy() for p in model.parameters()]
    loss.backward()  # the conv's columns again; the softmax, taken by the first, computed again
    for p, first in zip(model.parameters(), once, strict=True):
        assert np.array_equal(p.grad.numpy(), first + first)
    nn.functional.cross_entropy(twin(x), y).backward()
    for p, q in zip(model.parameters(), twin.parameters(), strict=True):
        assert np.array_equal(q.grad.numpy() * 2, p.grad.numpy())

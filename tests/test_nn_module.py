"""Module API without PyTorch: registration, traversal, containers, modes, gradients, dtype
conversion, hooks, copying and printing."""

from __future__ import annotations

import copy
import pickle

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn


class TwoLayer(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.scale = nn.Parameter(cr.ones(1))
        self.hidden = nn.Linear(3, 4)
        self.register_buffer("calls", cr.zeros(()))
        self.register_buffer("cache", cr.zeros(2), persistent=False)
        self.out = nn.Linear(4, 2)
        self.note = "not registered"
        self.plain = cr.ones(2)  # a plain tensor is an ordinary attribute

    def forward(self, x: cr.Tensor) -> cr.Tensor:
        return self.out(self.hidden(x).relu()) * self.scale


def test_attribute_assignment_registers_parameters_modules_and_buffers() -> None:
    model = TwoLayer()
    assert [n for n, _ in model.named_parameters()] == [
        "scale",
        "hidden.weight",
        "hidden.bias",
        "out.weight",
        "out.bias",
    ]
    assert [n for n, _ in model.named_buffers()] == ["calls", "cache"]
    assert list(model.state_dict()) == [
        "scale",
        "calls",
        "hidden.weight",
        "hidden.bias",
        "out.weight",
        "out.bias",
    ]  # cache is not persistent
    assert [n for n, _ in model.named_children()] == ["hidden", "out"]
    assert [n for n, _ in model.named_modules()] == ["", "hidden", "out"]
    assert model.note == "not registered" and "plain" not in dict(model.named_buffers())
    assert isinstance(model.hidden.weight, nn.Parameter) and model.hidden.weight.requires_grad


def test_reassignment_and_deletion_follow_pytorch() -> None:
    model = TwoLayer()
    model.out = nn.Identity()  # a module replaces a module in place, same order
    assert [n for n, _ in model.named_children()] == ["hidden", "out"]
    model.hidden.weight = nn.Parameter(cr.zeros(4, 3))  # a new parameter keeps its place
    assert [n for n, _ in model.hidden.named_parameters()] == ["weight", "bias"]
    model.hidden.bias = None  # a parameter slot may be emptied
    assert "hidden.bias" not in dict(model.named_parameters())
    with pytest.raises(TypeError, match="cannot assign 'Tensor' as parameter 'weight'"):
        model.hidden.weight = cr.zeros(4, 3)
    model.calls = cr.ones(())  # a buffer may be replaced by any tensor
    assert model.state_dict()["calls"].item() == 1.0
    del model.scale
    assert "scale" not in dict(model.named_parameters())
    with pytest.raises(AttributeError, match="has no attribute 'scale'"):
        _ = model.scale
    with pytest.raises(KeyError, match="already exists"):
        model.register_buffer("hidden", cr.zeros(1))
    with pytest.raises(KeyError, match="contain"):
        model.register_parameter("a.b", nn.Parameter(cr.zeros(1)))


def test_assignment_before_init_is_an_error() -> None:
    class Broken(nn.Module):
        def __init__(self) -> None:
            self.layer = nn.Linear(2, 2)

    with pytest.raises(AttributeError, match="before Module.__init__"):
        Broken()


def test_shared_parameters_count_once_but_keep_both_state_dict_keys() -> None:
    shared = nn.Linear(2, 2)
    model = nn.Sequential(shared, nn.ReLU(), shared)
    assert len(list(model.parameters())) == 2
    assert list(model.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert [n for n, _ in model.named_modules()] == ["", "0", "1"]


def test_train_eval_propagate_and_return_self() -> None:
    model = nn.Sequential(nn.Linear(2, 2), nn.Sequential(nn.Dropout(), nn.BatchNorm1d(2)))
    assert model.eval() is model
    assert not any(m.training for m in model.modules())
    model[1].train()
    assert [m.training for m in model.modules()] == [False, False, True, True, True]
    model.train()
    assert all(m.training for m in model.modules())
    with pytest.raises(ValueError, match="boolean"):
        model.train("yes")  # type: ignore[arg-type]


def test_zero_grad_and_requires_grad() -> None:
    model = TwoLayer()
    model(cr.ones(5, 3)).sum().backward()
    grads = [p.grad for p in model.parameters()]
    assert all(g is not None for g in grads)
    model.zero_grad(set_to_none=False)
    for param, grad in zip(model.parameters(), grads, strict=True):
        assert param.grad is grad and not grad.numpy().any()
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())
    model.hidden.requires_grad_(False)
    model(cr.ones(5, 3)).sum().backward()
    assert model.hidden.weight.grad is None and model.out.weight.grad is not None


def test_to_float64_converts_float_tensors_in_place() -> None:
    model = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))
    weight = model[0].weight
    before = weight.detach().numpy().copy()
    model(cr.ones(4, 3)).sum().backward()
    assert model.to(cr.float64) is model
    assert model[0].weight is weight  # the same Parameter: optimizers keep working
    assert weight.dtype == np.float64 and weight.grad.dtype == np.float64
    np.testing.assert_array_equal(weight.detach().numpy(), before.astype(np.float64))
    assert model[1].running_var.dtype == np.float64
    assert model[1].num_batches_tracked.dtype == np.int64  # integer buffers are left alone
    assert model(cr.ones(4, 3, dtype=cr.float64)).dtype == np.float64
    model.to("cpu").float()
    assert all(p.dtype == np.float32 for p in model.parameters())
    model.to("cpu", dtype="float64")
    assert all(p.dtype == np.float64 for p in model.parameters())
    with pytest.raises(TypeError, match="floating point"):
        model.to(cr.int64)


def test_sequential_indexing_and_editing() -> None:
    a, b, c = nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1)
    model = nn.Sequential(a, b)
    model.append(c)
    assert len(model) == 3 and list(model) == [a, b, c]
    assert model[0] is a and model[-1] is c
    assert list(model[1:]) == [b, c] and isinstance(model[1:], nn.Sequential)
    assert model(cr.ones(4, 2)).shape == (4, 1)
    del model[1]
    assert list(model) == [a, c] and [n for n, _ in model.named_children()] == ["0", "1"]
    model.insert(-1, b)  # before the last, as list.insert and PyTorch
    assert list(model) == [a, b, c]
    model[1] = nn.Tanh()
    assert isinstance(model[1], nn.Tanh)
    with pytest.raises(IndexError, match="out of range"):
        model[3]
    from collections import OrderedDict

    named = nn.Sequential(OrderedDict([("fc", nn.Linear(2, 2)), ("act", nn.ReLU())]))
    assert [n for n, _ in named.named_parameters()] == ["fc.weight", "fc.bias"]
    assert isinstance(named.act, nn.ReLU)


def test_module_list_and_dict() -> None:
    layers = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])
    assert len(layers) == 3 and len(list(layers.parameters())) == 6
    layers.append(nn.ReLU())
    layers.extend([nn.Tanh()])
    assert [type(m).__name__ for m in layers] == ["Linear"] * 3 + ["ReLU", "Tanh"]
    del layers[0]
    assert [n for n, _ in layers.named_children()] == ["0", "1", "2", "3"]
    assert isinstance(layers[-1], nn.Tanh) and len(layers[1:3]) == 2
    with pytest.raises(NotImplementedError, match="forward"):
        layers(cr.ones(1))
    heads = nn.ModuleDict({"a": nn.Linear(2, 1)})
    heads["b"] = nn.Linear(2, 3)
    assert list(heads) == ["a", "b"] and "b" in heads and len(heads) == 2
    assert [n for n, _ in heads.named_parameters()] == ["a.weight", "a.bias", "b.weight", "b.bias"]
    assert isinstance(heads.pop("a"), nn.Linear) and list(heads.keys()) == ["b"]


def test_hooks_see_and_may_replace_outputs() -> None:
    layer = nn.Linear(2, 2)
    seen = []
    handle = layer.register_forward_hook(lambda m, args, out: seen.append(out.shape))
    pre = layer.register_forward_pre_hook(lambda m, args: (args[0] * 0,))
    out = layer(cr.ones(3, 2))
    np.testing.assert_allclose(
        out.detach().numpy(), np.broadcast_to(layer.bias.detach().numpy(), (3, 2))
    )
    assert seen == [(3, 2)]
    handle.remove()
    pre.remove()
    layer(cr.ones(3, 2))
    assert seen == [(3, 2)]
    with layer.register_forward_hook(lambda m, args, out: out * 2):
        doubled = layer(cr.ones(1, 2))
    np.testing.assert_allclose(doubled.detach().numpy(), 2 * layer(cr.ones(1, 2)).detach().numpy())


def test_apply_visits_children_first() -> None:
    model = nn.Sequential(nn.Linear(2, 2), nn.Sequential(nn.ReLU()))
    order = []
    model.apply(lambda m: order.append(type(m).__name__))
    assert order == ["Linear", "ReLU", "Sequential", "Sequential"]
    model.apply(lambda m: nn.init.zeros_(m.weight) if isinstance(m, nn.Linear) else None)
    assert not model[0].weight.detach().numpy().any()


def test_deepcopy_and_pickle_give_independent_equal_models() -> None:
    model = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))
    for clone in (copy.deepcopy(model), pickle.loads(pickle.dumps(model))):
        assert isinstance(clone[0].weight, nn.Parameter) and clone[0].weight.requires_grad
        for (name, a), (_, b) in zip(
            model.state_dict().items(), clone.state_dict().items(), strict=True
        ):
            np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=name)
        with cr.no_grad():
            clone[0].weight.fill_(7.0)
        assert not (model[0].weight.detach().numpy() == 7.0).any()


def test_parameter_shares_storage_and_prints_like_torch() -> None:
    data = cr.tensor([1.0, 2.0])
    param = nn.Parameter(data)
    with cr.no_grad():
        param.mul_(3.0)
    assert data.tolist() == [3.0, 6.0]
    assert repr(param) == "Parameter containing:\ntensor([3., 6.], requires_grad=True)"
    frozen = nn.Parameter(cr.zeros(2), requires_grad=False)
    assert not frozen.requires_grad and isinstance(frozen, cr.Tensor)
    assert nn.Parameter().shape == (0,)


def test_get_submodule_and_missing_forward() -> None:
    model = nn.Sequential(nn.Sequential(nn.Linear(2, 2)))
    assert isinstance(model.get_submodule("0.0"), nn.Linear)
    with pytest.raises(AttributeError, match="no submodule"):
        model.get_submodule("0.5")
    with pytest.raises(NotImplementedError, match='missing the required "forward"'):
        nn.Module()(cr.ones(1))


def test_nested_repr_reads_like_pytorch() -> None:
    model = TwoLayer()
    model.blocks = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.ReLU())
    assert repr(model) == (
        "TwoLayer(\n"
        "  (hidden): Linear(in_features=3, out_features=4, bias=True)\n"
        "  (out): Linear(in_features=4, out_features=2, bias=True)\n"
        "  (blocks): Sequential(\n"
        "    (0): Conv2d(1, 2, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))\n"
        "    (1): ReLU()\n"
        "  )\n"
        ")"
    )


def test_functional_dropout_and_training_flag() -> None:
    x = cr.ones(4, 4)
    assert nn.functional.dropout(x, 0.5, training=False) is x
    cr.manual_seed(1)
    dropped = nn.functional.dropout(x, 0.5).numpy()
    assert set(np.unique(dropped)) <= {0.0, 2.0}

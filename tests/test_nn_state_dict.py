"""State dicts and module structure against PyTorch for the same architectures (an MLP and a
CNN with BatchNorm): keys, order, shapes, parameter order, repr; loading PyTorch's weights;
and all-or-nothing loading."""

from __future__ import annotations

from types import ModuleType

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn


@pytest.fixture
def torch() -> ModuleType:
    return pytest.importorskip("torch")


def make_mlp(nn: ModuleType):  # type: ignore[no-untyped-def]
    """The same MLP for ``chainrule.nn`` or ``torch.nn``."""
    return nn.Sequential(
        nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 16), nn.Tanh(), nn.Linear(16, 3)
    )


def make_cnn(nn: ModuleType):  # type: ignore[no-untyped-def]
    """A small CNN of the seeds' course family, for ``chainrule.nn`` or ``torch.nn``."""

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.features = nn.Sequential(
                nn.Conv2d(1, 8, 3, padding=1),
                nn.BatchNorm2d(8),
                nn.ReLU(),
                nn.MaxPool2d(2),
                nn.Dropout(0.1),
                nn.Conv2d(8, 16, 3, bias=False),
                nn.BatchNorm2d(16),
                nn.ReLU(),
            )
            self.gap = nn.AdaptiveAvgPool2d(1)
            self.blocks = nn.ModuleList([nn.Linear(16, 16), nn.Linear(16, 16), nn.SiLU()])
            self.heads = nn.ModuleDict({"norm": nn.LayerNorm(16), "out": nn.Linear(16, 10)})
            self.bn1d = nn.BatchNorm1d(16, momentum=None)

        def forward(self, x):  # type: ignore[no-untyped-def]
            x = self.gap(self.features(x)).flatten(1)
            for block in self.blocks:
                x = block(x)
            return self.heads["out"](self.heads["norm"](self.bn1d(x)))

    return Net()


ARCHITECTURES = {"mlp": (make_mlp, (5, 8)), "cnn": (make_cnn, (6, 1, 8, 8))}


def _to_torch_state(torch: ModuleType, model: nn.Module) -> dict:
    return {k: torch.from_numpy(v.numpy().copy()) for k, v in model.state_dict().items()}


def _snapshot(model: nn.Module) -> dict[str, np.ndarray]:
    """A copy of every parameter and buffer, by name."""
    tensors = dict(model.named_parameters())
    tensors.update(model.named_buffers())
    return {name: t.detach().numpy().copy() for name, t in tensors.items()}


def _assert_unchanged(model: nn.Module, before: dict[str, np.ndarray]) -> None:
    after = _snapshot(model)
    assert list(after) == list(before)
    for name, value in before.items():
        np.testing.assert_array_equal(after[name], value, err_msg=f"{name} changed")
        assert after[name].dtype == value.dtype


@pytest.mark.torch
@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_state_dict_keys_shapes_and_order_equal_torch(arch: str, torch: ModuleType) -> None:
    make, _ = ARCHITECTURES[arch]
    ours, theirs = make(nn), make(torch.nn)
    our_state, their_state = ours.state_dict(), theirs.state_dict()
    assert list(our_state) == list(their_state)
    for key in their_state:
        assert tuple(our_state[key].shape) == tuple(their_state[key].shape), key
        assert str(our_state[key].dtype) == str(their_state[key].dtype).replace("torch.", ""), key
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    assert [n for n, _ in ours.named_buffers()] == [n for n, _ in theirs.named_buffers()]
    assert [n for n, _ in ours.named_modules()] == [n for n, _ in theirs.named_modules()]
    assert [n for n, _ in ours.named_children()] == [n for n, _ in theirs.named_children()]
    assert sum(p.numel() for p in ours.parameters()) == sum(p.numel() for p in theirs.parameters())


@pytest.mark.torch
@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_repr_equals_torch(arch: str, torch: ModuleType) -> None:
    make, _ = ARCHITECTURES[arch]
    assert repr(make(nn)) == repr(make(torch.nn))


LAYERS = [
    lambda nn: nn.Linear(3, 2, bias=False),
    lambda nn: nn.Conv1d(2, 4, 3, padding=1),
    lambda nn: nn.Conv2d(2, 3, 3, padding="same", dilation=2, bias=False),
    lambda nn: nn.Conv2d(4, 8, (3, 1), stride=2, groups=4),
    lambda nn: nn.BatchNorm1d(3, momentum=None, affine=False),
    lambda nn: nn.BatchNorm2d(3, bias=False),
    lambda nn: nn.LayerNorm((2, 3), elementwise_affine=False),
    lambda nn: nn.LayerNorm(4, bias=False),
    lambda nn: nn.Dropout(0.2),
    lambda nn: nn.MaxPool2d(3, 1, 1),
    lambda nn: nn.AvgPool2d(2),
    lambda nn: nn.AdaptiveAvgPool2d((2, 3)),
    lambda nn: nn.Flatten(0),
    lambda nn: nn.Unflatten(1, (2, 3)),
    lambda nn: nn.Embedding(5, 3, padding_idx=1),
    lambda nn: nn.Identity(),
    lambda nn: nn.ReLU(inplace=True),
    lambda nn: nn.LeakyReLU(0.2),
    lambda nn: nn.ELU(),
    lambda nn: nn.GELU("tanh"),
    lambda nn: nn.Sigmoid(),
    lambda nn: nn.Tanh(),
    lambda nn: nn.SiLU(),
    lambda nn: nn.Softplus(2.0),
    lambda nn: nn.Softmax(1),
    lambda nn: nn.LogSoftmax(-1),
    lambda nn: nn.MSELoss(),
    lambda nn: nn.CrossEntropyLoss(label_smoothing=0.1),
    lambda nn: nn.ModuleList([nn.ReLU(), nn.ReLU(), nn.Linear(2, 2), nn.ReLU()]),
    lambda nn: nn.ModuleDict({"a": nn.Tanh()}),
    lambda nn: nn.Sequential(),
]


@pytest.mark.torch
@pytest.mark.parametrize("make", LAYERS)
def test_layer_repr_equals_torch(make, torch: ModuleType) -> None:  # type: ignore[no-untyped-def]
    assert repr(make(nn)) == repr(make(torch.nn))


@pytest.mark.torch
@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_loading_torch_weights_gives_identical_outputs(
    arch: str, torch: ModuleType, rng: np.random.Generator
) -> None:
    """PyTorch model trained a little (so BatchNorm statistics move), its state dict converted
    with .numpy(), loaded here: outputs agree in eval mode, and in train mode without dropout."""
    make, shape = ARCHITECTURES[arch]
    torch.manual_seed(0)
    theirs = make(torch.nn).double()
    for _ in range(3):
        theirs(torch.from_numpy(rng.standard_normal(shape)))
    ours = make(nn).double()
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    ours.eval()
    theirs.eval()
    x = rng.standard_normal(shape)
    with torch.no_grad():
        expected = theirs(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(ours(cr.tensor(x)).detach().numpy(), expected, rtol=1e-7, atol=1e-12)
    # and back: our state dict loads into PyTorch and reproduces our outputs
    back = make(torch.nn).double().eval()
    back.load_state_dict(_to_torch_state(torch, ours))
    with torch.no_grad():
        np.testing.assert_allclose(back(torch.from_numpy(x)).numpy(), expected, rtol=1e-12)


@pytest.mark.torch
def test_loading_torch_tensors_directly_and_float32_cast(torch: ModuleType) -> None:
    """Values may be PyTorch tensors themselves (read through numpy.asarray) and are cast to
    each parameter's dtype, as copy_ does."""
    theirs = make_mlp(torch.nn).double()
    ours = make_mlp(nn)  # float32
    ours.load_state_dict(theirs.state_dict())
    for (name, p), (_, q) in zip(ours.named_parameters(), theirs.named_parameters(), strict=True):
        assert p.dtype == np.float32
        np.testing.assert_allclose(p.detach().numpy(), q.detach().numpy(), rtol=1e-6, err_msg=name)


def test_state_dict_tensors_share_storage_and_are_detached() -> None:
    model = make_mlp(nn)
    state = model.state_dict()
    assert not any(t.requires_grad for t in state.values())
    with cr.no_grad():
        model[0].weight.fill_(0.5)
    assert float(state["0.weight"].numpy().max()) == 0.5
    kept = model.state_dict(keep_vars=True)
    assert kept["0.weight"] is model[0].weight


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_load_wrong_shape_raises_and_leaves_model_untouched(arch: str) -> None:
    make, _ = ARCHITECTURES[arch]
    model = make(nn)
    state = {k: np.full(v.shape, 0.25, v.numpy().dtype) for k, v in model.state_dict().items()}
    key = next(k for k in state if k.endswith("weight") and state[k].ndim == 2)
    good_shape = state[key].shape
    state[key] = np.zeros(
        good_shape[::-1] if good_shape[0] != good_shape[1] else (good_shape[0] + 1, good_shape[1])
    )
    before = _snapshot(model)
    with pytest.raises(RuntimeError) as info:
        model.load_state_dict(state)
    message = str(info.value)
    assert f"size mismatch for {key}" in message
    assert str(tuple(state[key].shape)) in message and str(tuple(good_shape)) in message
    assert "unchanged" in message
    _assert_unchanged(model, before)  # every other key was valid, yet none was loaded
    with pytest.raises(RuntimeError, match="size mismatch"):
        model.load_state_dict(state, strict=False)
    _assert_unchanged(model, before)


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_load_missing_or_unexpected_key_raises_and_leaves_model_untouched(arch: str) -> None:
    make, _ = ARCHITECTURES[arch]
    model = make(nn)
    full = {k: np.full(v.shape, 0.25, v.numpy().dtype) for k, v in model.state_dict().items()}
    missing_key = list(full)[-1]
    missing = {k: v for k, v in full.items() if k != missing_key}
    unexpected = dict(full, **{"extra.weight": np.zeros(3)})
    before = _snapshot(model)
    with pytest.raises(RuntimeError, match=f'Missing key\\(s\\) in state_dict: "{missing_key}"'):
        model.load_state_dict(missing)
    _assert_unchanged(model, before)
    with pytest.raises(RuntimeError, match='Unexpected key\\(s\\) in state_dict: "extra.weight"'):
        model.load_state_dict(unexpected)
    _assert_unchanged(model, before)
    result = model.load_state_dict(unexpected, strict=False)
    assert result.missing_keys == [] and result.unexpected_keys == ["extra.weight"]
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(value.numpy(), full[key], err_msg=key)
    result = model.load_state_dict(missing, strict=False)
    assert result.missing_keys == [missing_key] and result.unexpected_keys == []


def test_load_rejects_non_numeric_values_whole() -> None:
    model = make_mlp(nn)
    state = {k: v.numpy().copy() + 1 for k, v in model.state_dict().items()}
    state["2.bias"] = np.array(["a"] * 16)
    before = _snapshot(model)
    with pytest.raises(RuntimeError, match="2.bias"):
        model.load_state_dict(state)
    _assert_unchanged(model, before)


def test_batchnorm_state_dict_keys_and_dtypes() -> None:
    bn = nn.BatchNorm2d(4)
    state = bn.state_dict()
    assert list(state) == ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"]
    counter = state["num_batches_tracked"]
    assert counter.dtype == np.int64 and counter.shape == ()
    assert list(nn.BatchNorm1d(3, affine=False, track_running_stats=False).state_dict()) == []
    assert list(nn.BatchNorm1d(3, affine=False).state_dict()) == [
        "running_mean",
        "running_var",
        "num_batches_tracked",
    ]

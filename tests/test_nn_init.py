"""nn.init: each scheme's bounds and statistics follow PyTorch's formulas; gains and fans equal
torch's; Linear/Conv2d default init; seeding; setting the seeds' weights by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.nn import init

GAINS = [
    ("linear", None),
    ("conv1d", None),
    ("conv2d", None),
    ("sigmoid", None),
    ("tanh", None),
    ("relu", None),
    ("leaky_relu", None),
    ("leaky_relu", 0.2),
    ("leaky_relu", math.sqrt(5)),
    ("selu", None),
]
SHAPES = [(7, 5), (6, 3, 3, 3), (4, 2, 5), (3, 8, 2, 2, 2)]


@pytest.mark.torch
@pytest.mark.parametrize(("nonlinearity", "param"), GAINS)
def test_calculate_gain_equals_torch(nonlinearity: str, param: float | None) -> None:
    torch = pytest.importorskip("torch")
    assert init.calculate_gain(nonlinearity, param) == torch.nn.init.calculate_gain(
        nonlinearity, param
    )


@pytest.mark.torch
@pytest.mark.parametrize("shape", SHAPES)
def test_fan_in_and_fan_out_equal_torch(shape: tuple[int, ...]) -> None:
    torch = pytest.importorskip("torch")
    assert init._calculate_fan_in_and_fan_out(cr.zeros(*shape)) == (
        torch.nn.init._calculate_fan_in_and_fan_out(torch.zeros(*shape))
    )


def test_gain_and_fan_errors() -> None:
    with pytest.raises(ValueError, match="Unsupported nonlinearity"):
        init.calculate_gain("swish")
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        init._calculate_fan_in_and_fan_out(cr.zeros(5))
    with pytest.raises(ValueError, match="fan_in, fan_out"):
        init.kaiming_uniform_(cr.zeros(3, 3), mode="fan_avg")


@pytest.fixture(autouse=True)
def _seeded() -> None:
    """Statistics are checked on fixed draws, whatever ran before."""
    cr.manual_seed(1234)


def _check_uniform(values: np.ndarray, bound: float) -> None:
    """Within ±bound, reaching close to it, with the variance bound²/3 of U(−bound, bound)."""
    # float32 storage may round a draw just below the bound up to it, hence the 1e-7 slack
    assert np.abs(values).max() <= bound * (1 + 1e-7)
    assert np.abs(values).max() > 0.98 * bound
    assert abs(values.mean()) < 0.02 * bound
    assert values.var() == pytest.approx(bound**2 / 3, rel=0.03)


def _check_normal(values: np.ndarray, std: float) -> None:
    assert abs(values.mean()) < 0.02 * std
    assert values.std() == pytest.approx(std, rel=0.03)


@pytest.mark.parametrize("mode", ["fan_in", "fan_out"])
@pytest.mark.parametrize(
    ("nonlinearity", "a"),
    [("relu", 0.0), ("leaky_relu", math.sqrt(5)), ("tanh", 0.0), ("leaky_relu", 0.0)],
)
def test_kaiming_uniform_bound_is_gain_sqrt_3_over_fan(
    mode: str, nonlinearity: str, a: float
) -> None:
    w = cr.empty(64, 40, 3, 3)  # fan_in = 360, fan_out = 576
    init.kaiming_uniform_(w, a=a, mode=mode, nonlinearity=nonlinearity)
    fan = 360 if mode == "fan_in" else 576
    _check_uniform(w.numpy(), init.calculate_gain(nonlinearity, a) * math.sqrt(3.0 / fan))


@pytest.mark.parametrize("mode", ["fan_in", "fan_out"])
def test_kaiming_normal_std_is_gain_over_sqrt_fan(mode: str) -> None:
    w = cr.empty(300, 200)
    init.kaiming_normal_(w, mode=mode, nonlinearity="relu")
    _check_normal(w.numpy(), math.sqrt(2.0) / math.sqrt(200 if mode == "fan_in" else 300))


def test_xavier_uniform_and_normal() -> None:
    w = cr.empty(250, 150)
    init.xavier_uniform_(w, gain=2.0)
    _check_uniform(w.numpy(), 2.0 * math.sqrt(6.0 / 400))
    init.xavier_normal_(w, gain=0.5)
    _check_normal(w.numpy(), 0.5 * math.sqrt(2.0 / 400))


def test_simple_fills() -> None:
    w = cr.empty(200, 300)
    init.uniform_(w, -0.5, 1.5)
    assert w.numpy().min() >= -0.5 and w.numpy().max() < 1.5
    assert w.numpy().mean() == pytest.approx(0.5, abs=0.01)
    init.normal_(w, 3.0, 0.1)
    _check_normal(w.numpy() - 3.0, 0.1)
    assert (init.constant_(w, 0.7).numpy() == np.float32(0.7)).all()
    assert not init.zeros_(w).numpy().any()
    assert (init.ones_(w).numpy() == 1).all()


def test_init_is_in_place_on_parameters_and_seeded() -> None:
    layer = nn.Linear(10, 10)
    weight = layer.weight
    cr.manual_seed(5)
    init.kaiming_normal_(layer.weight)
    first = layer.weight.detach().numpy().copy()
    cr.manual_seed(5)
    init.kaiming_normal_(layer.weight)
    assert layer.weight is weight and weight.requires_grad and weight.grad_fn is None
    np.testing.assert_array_equal(weight.detach().numpy(), first)


@pytest.mark.parametrize(
    "make,fan_in",
    [
        (lambda: nn.Linear(90, 400), 90),
        (lambda: nn.Conv2d(10, 400, 3), 90),
        (lambda: nn.Conv1d(30, 400, 3), 90),
    ],
)
def test_default_init_of_linear_and_conv_follows_pytorch(make, fan_in: int) -> None:  # type: ignore[no-untyped-def]
    """kaiming_uniform_(a=√5) is U(±1/√fan_in) for the weight; the bias is U(±1/√fan_in)."""
    layer = make()
    bound = 1 / math.sqrt(fan_in)
    _check_uniform(layer.weight.detach().numpy().astype(np.float64), bound)
    bias = layer.bias.detach().numpy()
    assert np.abs(bias).max() <= bound * (1 + 1e-7) and np.abs(bias).max() > 0.9 * bound
    assert layer.weight.dtype == np.float32


def test_default_init_of_norm_and_embedding() -> None:
    bn = nn.BatchNorm2d(3)
    assert bn.weight.tolist() == [1, 1, 1] and bn.bias.tolist() == [0, 0, 0]
    emb = nn.Embedding(400, 50, padding_idx=3)
    _check_normal(np.delete(emb.weight.detach().numpy(), 3, axis=0), 1.0)
    assert not emb.weight.detach().numpy()[3].any()


def test_assign_sets_the_seeds_named_weights() -> None:
    """Seed 001's hidden layer: h1 = w1 i1 + w2 i2, h2 = w3 i1 + w4 i2."""
    hidden = nn.Linear(2, 2, bias=False).double()
    init.assign_(
        hidden.weight,
        [[0.15, 0.20], [0.25, 0.30]],
        names=[["w1", "w2"], ["w3", "w4"]],
        name="W_hidden",
    )
    assert hidden.weight.tolist() == [[0.15, 0.20], [0.25, 0.30]]
    assert hidden.weight.element_names.tolist() == [["w1", "w2"], ["w3", "w4"]]
    assert hidden.weight.name == "W_hidden" and hidden.weight.requires_grad
    h = hidden(cr.tensor([[0.05, 0.10]], dtype=cr.float64))
    assert h.tolist()[0] == pytest.approx([0.15 * 0.05 + 0.20 * 0.10, 0.25 * 0.05 + 0.30 * 0.10])
    with pytest.raises(ValueError, match="don't fit"):
        init.assign_(hidden.weight, [0.1, 0.2])
    with pytest.raises(ValueError, match="names of shape"):
        init.assign_(hidden.weight, [[0.1, 0.2], [0.3, 0.4]], names=["w1", "w2"])


def test_seed_network_from_layers_with_named_weights() -> None:
    """Seed 001's 2-2-2 sigmoid network built from nn layers, weights w1..w8 set by hand: the
    engine's gradients equal the seed's chain-rule formulas, the hidden layer's included."""
    i = np.array([0.05, 0.10])
    t = np.array([0.01, 0.99])
    w_hidden = np.array([[0.15, 0.20], [0.25, 0.30]])  # [[w1, w2], [w3, w4]]
    w_out = np.array([[0.40, 0.45], [0.50, 0.55]])  # [[w5, w6], [w7, w8]]
    net = nn.Sequential(
        nn.Linear(2, 2, bias=False), nn.Sigmoid(), nn.Linear(2, 2, bias=False), nn.Sigmoid()
    ).double()
    init.assign_(net[0].weight, w_hidden, names=[["w1", "w2"], ["w3", "w4"]])
    init.assign_(net[2].weight, w_out, names=[["w5", "w6"], ["w7", "w8"]])
    loss = nn.HalfSquaredError()(net(cr.tensor(i)), cr.tensor(t))
    loss.backward()
    a_h = 1 / (1 + np.exp(-(w_hidden @ i)))
    a_o = 1 / (1 + np.exp(-(w_out @ a_h)))
    assert loss.item() == pytest.approx(0.5 * np.sum((t - a_o) ** 2), rel=1e-14)
    delta_o = -(t - a_o) * a_o * (1 - a_o)  # ∂E_total/∂o
    np.testing.assert_allclose(net[2].weight.grad.numpy(), np.outer(delta_o, a_h), rtol=1e-13)
    delta_h = (w_out.T @ delta_o) * a_h * (1 - a_h)  # the part the seed leaves out
    np.testing.assert_allclose(net[0].weight.grad.numpy(), np.outer(delta_h, i), rtol=1e-13)
    assert str(net[2].weight.element_names[0, 0]) == "w5"

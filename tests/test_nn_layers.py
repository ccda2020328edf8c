"""Every layer and activation module against PyTorch: same weights, float64, forward values and
every input and parameter gradient under a random upstream gradient, in train and eval mode."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn

torch = pytest.importorskip("torch")
pytestmark = [
    pytest.mark.torch,
    pytest.mark.filterwarnings("ignore:Using padding='same':UserWarning"),
]

RTOL, ATOL = 1e-7, 1e-12


@dataclass(frozen=True)
class LayerCase:
    """A layer built by ``make(nn)``, the same call for ``chainrule.nn`` and ``torch.nn``."""

    name: str
    make: Callable
    shape: tuple[int, ...]
    integer_input: int = 0  # > 0: the input is class indices below this


CASES = [
    LayerCase("linear", lambda nn: nn.Linear(5, 3), (4, 5)),
    LayerCase("linear_no_bias_3d", lambda nn: nn.Linear(5, 3, bias=False), (2, 4, 5)),
    LayerCase("conv1d", lambda nn: nn.Conv1d(3, 4, 3, stride=2, padding=1), (2, 3, 9)),
    LayerCase(
        "conv1d_dilated_groups",
        lambda nn: nn.Conv1d(4, 6, 2, dilation=2, groups=2, bias=False),
        (2, 4, 8),
    ),
    LayerCase("conv2d", lambda nn: nn.Conv2d(3, 6, 3, padding=1), (2, 3, 7, 7)),
    LayerCase(
        "conv2d_strided_grouped",
        lambda nn: nn.Conv2d(
            4, 4, (3, 2), stride=(2, 1), padding=(1, 0), dilation=(1, 2), groups=2, bias=False
        ),
        (2, 4, 7, 6),
    ),
    LayerCase("conv2d_same", lambda nn: nn.Conv2d(2, 3, 4, padding="same"), (1, 2, 6, 5)),
    LayerCase("batchnorm1d_2d", lambda nn: nn.BatchNorm1d(4), (8, 4)),
    LayerCase("batchnorm1d_3d", lambda nn: nn.BatchNorm1d(3, momentum=0.3), (5, 3, 4)),
    LayerCase("batchnorm2d", lambda nn: nn.BatchNorm2d(3), (4, 3, 5, 5)),
    LayerCase("batchnorm2d_cumulative", lambda nn: nn.BatchNorm2d(2, momentum=None), (3, 2, 4, 4)),
    LayerCase("batchnorm2d_no_affine", lambda nn: nn.BatchNorm2d(2, affine=False), (3, 2, 3, 3)),
    LayerCase("batchnorm2d_no_bias", lambda nn: nn.BatchNorm2d(2, bias=False), (3, 2, 3, 3)),
    LayerCase(
        "batchnorm1d_untracked", lambda nn: nn.BatchNorm1d(3, track_running_stats=False), (6, 3)
    ),
    LayerCase("layernorm", lambda nn: nn.LayerNorm(5), (3, 4, 5)),
    LayerCase(
        "layernorm_2d_plain", lambda nn: nn.LayerNorm((4, 5), elementwise_affine=False), (3, 4, 5)
    ),
    LayerCase("maxpool2d", lambda nn: nn.MaxPool2d(2), (2, 3, 6, 6)),
    LayerCase("maxpool2d_padded", lambda nn: nn.MaxPool2d(3, stride=2, padding=1), (2, 2, 7, 7)),
    LayerCase("avgpool2d", lambda nn: nn.AvgPool2d(2), (2, 3, 6, 6)),
    LayerCase(
        "avgpool2d_padded",
        lambda nn: nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False),
        (2, 2, 7, 7),
    ),
    LayerCase("adaptive_avg_global", lambda nn: nn.AdaptiveAvgPool2d(1), (2, 3, 5, 5)),
    LayerCase("adaptive_avg_uneven", lambda nn: nn.AdaptiveAvgPool2d((3, 2)), (2, 2, 7, 5)),
    LayerCase("flatten", lambda nn: nn.Flatten(), (2, 3, 4, 4)),
    LayerCase("unflatten", lambda nn: nn.Unflatten(1, (3, 4)), (2, 12)),
    LayerCase("identity", lambda nn: nn.Identity(), (3, 4)),
    LayerCase("dropout", lambda nn: nn.Dropout(0.3), (4, 5)),  # compared in eval mode only
    LayerCase("embedding", lambda nn: nn.Embedding(10, 4), (3, 5), integer_input=10),
    LayerCase(
        "embedding_padding", lambda nn: nn.Embedding(7, 3, padding_idx=2), (4, 6), integer_input=7
    ),
    LayerCase("relu", lambda nn: nn.ReLU(), (4, 5)),
    LayerCase("leaky_relu", lambda nn: nn.LeakyReLU(0.2), (4, 5)),
    LayerCase("elu", lambda nn: nn.ELU(0.7), (4, 5)),
    LayerCase("gelu", lambda nn: nn.GELU(), (4, 5)),
    LayerCase("gelu_tanh", lambda nn: nn.GELU(approximate="tanh"), (4, 5)),
    LayerCase("sigmoid", lambda nn: nn.Sigmoid(), (4, 5)),
    LayerCase("tanh", lambda nn: nn.Tanh(), (4, 5)),
    LayerCase("softplus", lambda nn: nn.Softplus(beta=2.0, threshold=3.0), (4, 5)),
    LayerCase("silu", lambda nn: nn.SiLU(), (4, 5)),
    LayerCase("softmax", lambda nn: nn.Softmax(dim=1), (4, 5)),
    LayerCase("log_softmax", lambda nn: nn.LogSoftmax(dim=-1), (3, 4, 5)),
    LayerCase(
        "sequential_cnn",
        lambda nn: nn.Sequential(
            nn.Conv2d(2, 4, 3, padding=1),
            nn.BatchNorm2d(4),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(4, 3, 3),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.Linear(3, 2),
        ),
        (4, 2, 8, 8),
    ),
]


def _twins(case: LayerCase) -> tuple[nn.Module, torch.nn.Module]:
    """The chainrule layer and the PyTorch layer, float64, with the same weights."""
    ours = case.make(nn).double()
    theirs = case.make(torch.nn).double()
    theirs.load_state_dict(
        {key: torch.from_numpy(value.numpy().copy()) for key, value in ours.state_dict().items()}
    )
    return ours, theirs


def _inputs(case: LayerCase, rng: np.random.Generator) -> tuple[cr.Tensor, torch.Tensor]:
    if case.integer_input:
        data = rng.integers(0, case.integer_input, case.shape)
        return cr.tensor(data), torch.from_numpy(data)
    data = rng.standard_normal(case.shape)
    return (cr.tensor(data, requires_grad=True), torch.tensor(data, requires_grad=True))


def _compare(ours: cr.Tensor, theirs: torch.Tensor, what: str) -> None:
    assert ours is not None, f"{what}: chainrule has no value"
    np.testing.assert_allclose(
        ours.detach().numpy(), theirs.detach().numpy(), rtol=RTOL, atol=ATOL, err_msg=what
    )


def _step(
    case: LayerCase, ours: nn.Module, theirs: torch.nn.Module, rng: np.random.Generator, step: int
) -> None:
    """One forward and backward in both; values, input and parameter gradients must agree."""
    x_ours, x_theirs = _inputs(case, rng)
    out_ours, out_theirs = ours(x_ours), theirs(x_theirs)
    mode = "train" if ours.training else "eval"
    _compare(out_ours, out_theirs, f"{case.name} ({mode}, step {step}): output")
    upstream = rng.standard_normal(tuple(out_theirs.shape))
    out_ours.backward(cr.tensor(upstream))
    out_theirs.backward(torch.from_numpy(upstream))
    if not case.integer_input:
        _compare(x_ours.grad, x_theirs.grad, f"{case.name} ({mode}): input gradient")
    torch_params = dict(theirs.named_parameters())
    for name, param in ours.named_parameters():
        _compare(param.grad, torch_params[name].grad, f"{case.name} ({mode}): grad of {name}")
    torch_buffers = dict(theirs.named_buffers())
    for name, buffer in ours.named_buffers():
        _compare(buffer, torch_buffers[name], f"{case.name} ({mode}, step {step}): {name}")


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_layer_matches_torch_in_train_and_eval(case: LayerCase, rng: np.random.Generator) -> None:
    ours, theirs = _twins(case)
    if case.name != "dropout":  # random masks differ between libraries; see the dropout tests
        for step in range(3):  # several steps: BatchNorm's running statistics accumulate
            ours.zero_grad()
            theirs.zero_grad()
            _step(case, ours, theirs, rng, step)
    ours.eval()
    theirs.eval()
    ours.zero_grad()
    theirs.zero_grad()
    _step(case, ours, theirs, rng, 0)


def test_batchnorm_running_statistics_follow_pytorch_formula(rng: np.random.Generator) -> None:
    """Running mean/var after several steps equal the momentum formula with unbiased variance."""
    bn = nn.BatchNorm1d(3, momentum=0.2).double()
    mean, var = np.zeros(3), np.ones(3)
    for _ in range(4):
        x = rng.standard_normal((6, 3)) * 2 + 1
        bn(cr.tensor(x))
        mean = 0.8 * mean + 0.2 * x.mean(axis=0)
        var = 0.8 * var + 0.2 * x.var(axis=0, ddof=1)
    np.testing.assert_allclose(bn.running_mean.numpy(), mean, rtol=1e-12)
    np.testing.assert_allclose(bn.running_var.numpy(), var, rtol=1e-12)
    assert bn.num_batches_tracked.item() == 4
    assert bn.num_batches_tracked.dtype == np.int64


def test_batchnorm_eval_uses_running_statistics_and_leaves_them(rng: np.random.Generator) -> None:
    bn = nn.BatchNorm2d(2).double()
    with cr.no_grad():
        bn.running_mean.copy_(np.array([1.0, -2.0]))
        bn.running_var.copy_(np.array([4.0, 0.25]))
    bn.eval()
    x = rng.standard_normal((3, 2, 2, 2))
    out = bn(cr.tensor(x)).detach().numpy()
    expected = (x - np.array([1.0, -2.0])[:, None, None]) / np.sqrt(
        np.array([4.0, 0.25])[:, None, None] + 1e-5
    )
    np.testing.assert_allclose(out, expected, rtol=1e-12)
    assert bn.num_batches_tracked.item() == 0
    assert bn.running_mean.tolist() == [1.0, -2.0]


def test_dropout_train_mask_and_gradient(rng: np.random.Generator) -> None:
    """In training, kept elements are scaled by 1/(1-p) and the gradient uses the same mask;
    about p of the elements are dropped; in eval mode dropout is the identity."""
    cr.manual_seed(0)
    drop = nn.Dropout(0.25)
    x = cr.tensor(rng.uniform(1, 2, (200, 50)), requires_grad=True)
    out = drop(x)
    kept = out.detach().numpy() != 0
    assert abs(1 - kept.mean() - 0.25) < 0.02
    np.testing.assert_allclose(
        out.detach().numpy()[kept], x.detach().numpy()[kept] / 0.75, rtol=1e-6
    )
    upstream = rng.standard_normal(x.shape)
    out.backward(cr.tensor(upstream, dtype=cr.float64))
    np.testing.assert_allclose(x.grad.numpy(), upstream * kept / 0.75, rtol=1e-6)
    drop.eval()
    assert drop(x) is x


def test_dropout_is_seeded() -> None:
    drop = nn.Dropout(0.5)
    cr.manual_seed(3)
    first = drop(cr.ones(10, 10)).numpy().copy()
    cr.manual_seed(3)
    np.testing.assert_array_equal(drop(cr.ones(10, 10)).numpy(), first)


@pytest.mark.parametrize("dim", [None, 0, 1])
def test_softmax_module_default_dim_matches_torch(
    dim: int | None, rng: np.random.Generator
) -> None:
    """Softmax(dim=None) picks PyTorch's legacy dim (1 for 2-d input) and warns as it does."""
    x = rng.standard_normal((3, 4))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ours = nn.Softmax(dim)(cr.tensor(x)).numpy()
        theirs = torch.nn.Softmax(dim)(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(ours, theirs, rtol=RTOL)
    assert any("Implicit dimension" in str(w.message) for w in caught) == (dim is None)


def test_layer_errors_name_the_problem() -> None:
    with pytest.raises(ValueError, match="expected 4D input"):
        nn.BatchNorm2d(3)(cr.zeros(2, 3))
    with pytest.raises(ValueError, match="expected 3 channels"):
        nn.BatchNorm1d(3)(cr.zeros(2, 4))
    with pytest.raises(ValueError, match="divisible by groups"):
        nn.Conv2d(3, 4, 3, groups=2)
    with pytest.raises(ValueError, match="between 0 and 1"):
        nn.Dropout(1.5)
    with pytest.raises(ValueError, match="line up|doesn't fit"):
        nn.Linear(3, 2)(cr.zeros(4, 5))

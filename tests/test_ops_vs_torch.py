"""Every catalog case against PyTorch: values and input gradients in float64 (random upstream
gradients, rtol 1e-7), then the float32 run's dtypes and values; plus PyTorch's dtype
promotion, dropout's train mode and batch_norm's running statistics."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from op_catalog import (  # noqa: E402
    CATALOG,
    SPEC_OPS,
    compare_runs,
    run_case,
    torch_namespace,
)

import chainrule as cr  # noqa: E402

pytestmark = pytest.mark.torch

COMPARED = [c for c in CATALOG if c.vs_torch is None]
# PyTorch warns that 'same' padding with an even kernel copies the input; the case is on purpose
same_padding_warning = pytest.mark.filterwarnings("ignore:Using padding='same'")


@same_padding_warning
@pytest.mark.parametrize("case", COMPARED, ids=lambda c: c.name)
def test_float64_values_and_gradients(case):
    arrays = case.sample()
    expected = run_case(torch_namespace(), case, arrays)
    got = run_case(cr, case, arrays)
    compare_runs(case, got, expected, rtol=1e-7, atol=1e-12)


@same_padding_warning
@pytest.mark.parametrize("case", COMPARED, ids=lambda c: c.name)
def test_float32_dtypes_and_values(case):
    arrays = case.sample()
    expected = run_case(torch_namespace(), case, arrays, dtype="float32")
    got = run_case(cr, case, arrays, dtype="float32")
    compare_runs(case, got, expected, rtol=2e-5, atol=2e-6, label=" (float32)")


def case_op(name: str) -> str:
    """The SPEC op a case exercises: its name, or the longest SPEC op its name extends with a
    variant ("index_select_dim0" is index_select, not index; "log_softmax_1d" is not log)."""
    base = name.split("[")[0]
    ops = [op for op in SPEC_OPS if base == op or base.startswith(op + "_")]
    return max(ops, key=len) if ops else base


def test_case_op_takes_the_longest_spec_name():
    assert case_op("log_softmax_1d") == "log_softmax" and case_op("log") == "log"
    assert case_op("index_select_dim0") == "index_select" and case_op("index_int") == "index"


def test_catalog_covers_spec():
    covered = {case_op(c.name) for c in CATALOG}
    missing = [op for op in SPEC_OPS if op not in covered]
    assert not missing, f"SPEC section E ops with no catalog case: {missing}"


# ---- dtype promotion, as torch.result_type ----------------------------------------------------


def _f32(m):
    return m.tensor([1.5, -2.0, 3.0], dtype=m.float32)


def _f64(m):
    return m.tensor([0.5, 2.0, -1.0], dtype=m.float64)


def _i64(m):
    return m.tensor([3, -4, 5])


def _i32(m):
    return m.tensor([1, 2, 3], dtype=m.int32)


def _b(m):
    return m.tensor([True, False, True])


PROMOTIONS = {
    "f32 * np.float64 scalar": lambda m: _f32(m) * np.float64(2.0),
    "np.float64 scalar * f32": lambda m: np.float64(2.0) * _f32(m),
    "f32 + np.float32 scalar": lambda m: _f32(m) + np.float32(2.0),
    "f32 * python float": lambda m: _f32(m) * 2.5,
    "f32 + python int": lambda m: _f32(m) + 2,
    "f32 + f64": lambda m: _f32(m) + _f64(m),
    "f32 + 0-d f64": lambda m: _f32(m) + m.tensor(2.0, dtype=m.float64),
    "int / int": lambda m: _i64(m) / m.tensor([2, 3, 2]),
    "int / python int": lambda m: _i64(m) / 2,
    "int * python float": lambda m: _i64(m) * 0.5,
    "int * np.float32 scalar": lambda m: _i64(m) * np.float32(0.5),
    "int + python int": lambda m: _i64(m) + 2,
    "int + np.int32 scalar": lambda m: _i64(m) + np.int32(2),
    "int32 + int64": lambda m: _i32(m) + _i64(m),
    "int32 * python int": lambda m: _i32(m) * 3,
    "int + 0-d f64": lambda m: _i64(m) + m.tensor(1.0, dtype=m.float64),
    "int + f32": lambda m: _i64(m) + _f32(m),
    "bool * python int": lambda m: _b(m) * 2,
    "bool + bool": lambda m: _b(m) + _b(m),
    "bool * f32": lambda m: _b(m) * _f32(m),
    "int ** 2": lambda m: _i64(m) ** 2,
    "int ** 0.5": lambda m: m.abs(_i64(m)) ** 0.5,
    "f32 ** f64": lambda m: m.abs(_f32(m)) ** _f64(m),
    "2 ** int": lambda m: 2 ** m.abs(_i64(m)),
    "int.exp()": lambda m: _i64(m).exp(),
    "int sqrt": lambda m: m.sqrt(m.abs(_i64(m))),
    "int sigmoid": lambda m: m.sigmoid(_i64(m)),
    "int.sum()": lambda m: _i64(m).sum(),
    "int32.sum()": lambda m: _i32(m).sum(),
    "bool.sum()": lambda m: _b(m).sum(),
    "f32.sum()": lambda m: _f32(m).sum(),
    "int.prod()": lambda m: _i64(m).prod(),
    "int.amax()": lambda m: _i64(m).amax(),
    "int.max(dim)": lambda m: _i64(m).max(dim=0).values,
    "f32.argmax()": lambda m: _f32(m).argmax(),
    "int.mean(dtype)": lambda m: _i64(m).mean(dtype=m.float64),
    "maximum(f32, f64)": lambda m: m.maximum(_f32(m), _f64(m)),
    "minimum(int, f32)": lambda m: m.minimum(_i64(m), _f32(m)),
    "where(c, f32, f64)": lambda m: m.where(_b(m), _f32(m), _f64(m)),
    "where(c, f32, 0.0)": lambda m: m.where(_b(m), _f32(m), 0.0),
    "where(c, int, 1.5)": lambda m: m.where(_b(m), _i64(m), 1.5),
    "cat(f32, f64)": lambda m: m.cat([_f32(m), _f64(m)]),
    "cat(int, f32)": lambda m: m.cat([_i64(m), _f32(m)]),
    "f32 < f64": lambda m: _f32(m) < _f64(m),
    "int == 3": lambda m: _i64(m) == 3,
    "int relu": lambda m: m.relu(_i64(m)),
    "int sign": lambda m: m.sign(_i64(m)),
    "f64 @ f64": lambda m: _f64(m) @ _f64(m),
    "f32 clamp": lambda m: _f32(m).clamp(-1, 1),
    "int clamp": lambda m: _i64(m).clamp(-1, 1),
    "f32.var()": lambda m: _f32(m).var(),
    "f32 logsumexp": lambda m: m.logsumexp(_f32(m), dim=0),
    "one_hot": lambda m: m.one_hot(m.abs(_i64(m)), num_classes=6),
    "f32 relu": lambda m: m.relu(_f32(m)),
    "abs(int)": lambda m: abs(_i64(m)),
    "-int": lambda m: -_i64(m),
}


@pytest.mark.parametrize("name", list(PROMOTIONS))
def test_result_dtype_matches_torch(name):
    fn = PROMOTIONS[name]
    expected = fn(torch_namespace())
    got = fn(cr)
    assert str(got.dtype) == str(expected.dtype).removeprefix("torch."), (
        f"{name}: result dtype {got.dtype}, PyTorch gives {expected.dtype}"
    )
    np.testing.assert_allclose(
        got.numpy().astype(np.float64),
        expected.numpy().astype(np.float64),
        rtol=1e-6,
        err_msg=f"{name}: values differ from PyTorch's",
    )


GRADIENT_DTYPES = {
    "f32 * np.float64 scalar": lambda m, a, b: a * np.float64(2.0),
    "f32 * f64": lambda m, a, b: a * b,
    "f32 * python float": lambda m, a, b: a * 0.5,
    "f32 + 0-d f64": lambda m, a, b: a + b[0],
    "bool * f32": lambda m, a, b: (a > 0) * a,
    "cat(f32, f64)": lambda m, a, b: m.cat([a, b]),
}


@pytest.mark.parametrize("name", list(GRADIENT_DTYPES))
def test_gradient_dtype_matches_input(name):
    """Each float input's gradient has that input's dtype, even through promotion."""
    results = []
    for m in (torch_namespace(), cr):
        a = m.tensor([1.5, -2.0, 3.0], dtype=m.float32, requires_grad=True)
        b = m.tensor([0.5, 2.0, -1.0], dtype=m.float64, requires_grad=True)
        out = GRADIENT_DTYPES[name](m, a, b)
        upstream = np.linspace(-1.0, 2.0, out.numel()).reshape(tuple(out.shape))
        out.backward(m.tensor(upstream, dtype=out.dtype))
        results.append(
            [
                (str(t.grad.dtype).removeprefix("torch."), t.grad.numpy())
                for t in (a, b)
                if t.grad is not None
            ]
        )
    expected, got = results
    assert [d for d, _ in got] == [d for d, _ in expected], (
        f"{name}: gradient dtypes {[d for d, _ in got]}, PyTorch's {[d for d, _ in expected]}"
    )
    for (_, g), (_, e) in zip(got, expected, strict=True):
        np.testing.assert_allclose(g, e, rtol=1e-6, err_msg=f"{name}: gradient values")


@pytest.mark.parametrize(
    "compare",
    [lambda x, y: x < y, lambda x, y: x == y, lambda x, y: x >= 0.5, lambda x, y: x != y],
    ids=["lt", "eq", "ge_scalar", "ne"],
)
def test_comparisons_carry_no_gradient(compare):
    """A comparison of tensors that require grad is a bool tensor outside the graph."""
    for m in (torch_namespace(), cr):
        x = m.tensor([0.0, 1.0, 2.0], requires_grad=True)
        y = m.tensor([1.0, 1.0, 1.0], requires_grad=True)
        out = compare(x, y)
        assert str(out.dtype).removeprefix("torch.") == "bool"
        assert not out.requires_grad and out.grad_fn is None, f"{m}: comparison requires grad"


# ---- dropout in train mode: masks differ, the relation does not ---------------------------------


def test_dropout_train_mask_relation(rng):
    """out is 0 or x/(1-p); the gradient is grad/(1-p) exactly where out kept x, 0 elsewhere."""
    p = 0.3
    cr.manual_seed(3)
    x_data = rng.standard_normal((40, 50)) + 5.0  # no zeros in x
    x = cr.tensor(x_data, requires_grad=True)
    out = cr.dropout(x, p, training=True)
    kept = out.detach().numpy() != 0
    np.testing.assert_allclose(out.detach().numpy()[kept], x_data[kept] / (1 - p), rtol=1e-12)
    upstream = rng.standard_normal(x_data.shape)
    out.backward(cr.tensor(upstream))
    np.testing.assert_allclose(
        x.grad.numpy(),
        np.where(kept, upstream / (1 - p), 0.0),
        rtol=1e-12,
        err_msg="dropout: gradient isn't mask / (1 - p)",
    )
    # the same relation holds in PyTorch (the reference the rule is modelled on)
    tx = torch.tensor(x_data, requires_grad=True)
    tout = torch.nn.functional.dropout(tx, p, training=True)
    tkept = tout.detach().numpy() != 0
    tout.backward(torch.tensor(upstream))
    np.testing.assert_allclose(
        tx.grad.numpy(), np.where(tkept, upstream / (1 - p), 0.0), rtol=1e-12
    )


def test_dropout_train_statistics():
    """The kept fraction is 1-p (within 4 standard errors) and the mean is preserved."""
    p, n = 0.25, 200_000
    cr.manual_seed(11)
    out = cr.dropout(cr.ones(n, dtype=cr.float64), p, training=True).numpy()
    kept = np.mean(out != 0)
    standard_error = np.sqrt(p * (1 - p) / n)
    assert abs(kept - (1 - p)) < 4 * standard_error, f"dropout kept {kept:.4f}, expected {1 - p}"
    assert abs(out.mean() - 1.0) < 4 * standard_error / (1 - p)
    assert set(np.unique(out)) <= {0.0, 1 / (1 - p)}


def test_dropout_p1_zeroes_everything():
    x = cr.tensor(np.arange(1.0, 7.0), requires_grad=True)
    out = cr.dropout(x, 1.0, training=True)
    out.backward(cr.ones(6, dtype=cr.float64))
    tx = torch.tensor(np.arange(1.0, 7.0), requires_grad=True)
    tout = torch.nn.functional.dropout(tx, 1.0, training=True)
    tout.backward(torch.ones(6, dtype=torch.float64))
    np.testing.assert_array_equal(out.detach().numpy(), tout.detach().numpy())
    np.testing.assert_array_equal(x.grad.numpy(), tx.grad.numpy())


# ---- batch_norm's running statistics --------------------------------------------------------


@pytest.mark.parametrize("shape", [(6, 3), (4, 3, 5), (2, 3, 4, 4)])
def test_batch_norm_running_stats_match_torch(shape, rng):
    data = rng.standard_normal(shape) * 2 + 1
    results = {}
    for name, m in (("torch", torch_namespace()), ("chainrule", cr)):
        running_mean = m.tensor(np.array([0.1, -0.2, 0.3]))
        running_var = m.tensor(np.array([1.0, 0.5, 2.0]))
        for _ in range(3):
            m.batch_norm(m.tensor(data), running_mean, running_var, training=True, momentum=0.2)
        results[name] = (running_mean.numpy().copy(), running_var.numpy().copy())
    for k, what in enumerate(["running_mean", "running_var"]):
        np.testing.assert_allclose(
            results["chainrule"][k],
            results["torch"][k],
            rtol=1e-12,
            err_msg=f"batch_norm: {what} after 3 train steps",
        )

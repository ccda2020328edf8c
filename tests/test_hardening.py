"""Hardening found by a probe of files, arguments and big graphs: each case here failed before."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import chainrule as cr
from chainrule._source import in_package


# ---- cat / stack backward is linear in the number of inputs ----------------------------------
def _lines_run_inside_chainrule(work: Callable[[], Any]) -> int:
    """How many lines of chainrule's own code ``work()`` executes: work, not time."""
    count = 0

    def local(frame: Any, event: str, arg: Any) -> Any:
        nonlocal count
        if event == "line":
            count += 1
        return local

    def calls(frame: Any, event: str, arg: Any) -> Any:
        return local if in_package(frame.f_code.co_filename) else None

    sys.settrace(calls)
    try:
        work()
    finally:
        sys.settrace(None)
    return count


@pytest.mark.parametrize("join", [cr.cat, cr.stack], ids=["cat", "stack"])
def test_backward_through_many_joined_inputs_is_linear(join):
    def lines(n: int) -> int:
        xs = [cr.tensor(np.ones(2), requires_grad=True) for _ in range(n)]
        y = join(xs).sum()
        return _lines_run_inside_chainrule(y.backward)

    small, large = lines(300), lines(1200)
    assert large < 4.5 * small, (small, large)  # quadratic would be 16×


def test_a_hundred_thousand_inputs_join_and_backpropagate():
    xs = [cr.tensor([float(i)], requires_grad=True) for i in range(100_000)]
    weights = cr.arange(100_000, dtype=cr.float64).float()
    (cr.cat(xs) * weights).sum().backward()
    assert xs[0].grad.item() == 0.0 and xs[99_999].grad.item() == 99_999.0


# ---- the checkpoint loader: bounded, regular files only, always a state dict ---------------------
def _safetensors_with_header(path, header: bytes) -> None:
    path.write_bytes(len(header).to_bytes(8, "little") + header)


def test_a_deeply_nested_header_is_a_checkpoint_error_naming_the_file(tmp_path):
    path = tmp_path / "deep.safetensors"
    _safetensors_with_header(path, b'{"a":' * 100_000 + b"1" + b"}" * 100_000)
    with pytest.raises(cr.serialization.CheckpointError, match="deep.safetensors.*too deep"):
        cr.load(path)


def test_a_deeply_nested_layout_is_a_checkpoint_error(tmp_path):
    nested: dict = {"w": cr.ones(1)}
    for _ in range(200):
        nested = {"inner": nested}
    path = tmp_path / "nested.safetensors"
    cr.save(nested, path)  # saving is fine; loading refuses what no state dict needs
    with pytest.raises(cr.serialization.CheckpointError, match="nested.safetensors.*64 deep"):
        cr.load(path)


def test_load_always_returns_a_state_dict(tmp_path):
    import json

    path = tmp_path / "list.safetensors"
    meta = {"chainrule.structure": json.dumps({"list": [{"value": 1}]})}
    header = json.dumps({"__metadata__": meta}).encode()
    _safetensors_with_header(path, header)
    with pytest.raises(cr.serialization.CheckpointError, match="holds a list, not a state dict"):
        cr.load(path)


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="no /dev/zero here")
def test_load_refuses_a_device_instead_of_reading_it_forever():
    with pytest.raises(cr.serialization.CheckpointError, match="/dev/zero.*not a regular file"):
        cr.load("/dev/zero")


def test_load_refuses_a_fifo(tmp_path):
    fifo = tmp_path / "pipe.safetensors"
    os.mkfifo(fifo)
    with pytest.raises(cr.serialization.CheckpointError, match="not a regular file"):
        cr.load(fifo)  # would block forever if opened


def test_a_missing_checkpoint_is_file_not_found():
    with pytest.raises(FileNotFoundError, match="nowhere.safetensors"):
        cr.load("/nonexistent/nowhere.safetensors")


# ---- saving: through symlinks, keeping modes, cleaning up after a killed save ------------------
def test_saving_through_a_symlink_writes_its_target(tmp_path):
    target = tmp_path / "real.safetensors"
    cr.save({"w": cr.ones(2)}, target)
    link = tmp_path / "latest.safetensors"
    link.symlink_to(target)
    cr.save({"w": cr.zeros(2)}, link)
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert cr.load(target)["w"].tolist() == [0.0, 0.0]


def test_overwriting_keeps_the_existing_files_mode(tmp_path):
    path = tmp_path / "secret.safetensors"
    cr.save({"w": cr.ones(2)}, path)
    os.chmod(path, 0o600)
    cr.save({"w": cr.zeros(2)}, path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_the_next_save_removes_what_a_killed_save_left(tmp_path):
    path = tmp_path / "model.safetensors"
    dead = _finished_pid()  # a process that has exited
    stale = tmp_path / f".model.safetensors.{dead}.abc123.chainrule-partial.safetensors"
    stale.write_bytes(b"x" * 1000)  # what kill -9 during a save leaves
    alive = tmp_path / f".model.safetensors.{os.getpid()}.def456.chainrule-partial.safetensors"
    alive.write_bytes(b"y")  # another save in progress (this process): left alone
    other = tmp_path / f".other.safetensors.{dead}.abc.chainrule-partial.safetensors"
    other.write_bytes(b"z")  # a different target's: left alone
    cr.save({"w": cr.ones(2)}, path)
    assert not stale.exists() and alive.exists() and other.exists()
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith(".")) == [
        "model.safetensors"
    ]


def _finished_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


# ---- the IDX reader: the header first, bounded claims, streamed decompression -------------------
def _idx_header(code: int, shape: tuple[int, ...]) -> bytes:
    return bytes([0, 0, code, len(shape)]) + b"".join(n.to_bytes(4, "big") for n in shape)


def test_a_gzip_bomb_is_refused_without_being_decompressed(tmp_path):
    import gzip
    import tracemalloc
    import zlib

    from chainrule.datasets.idx import IDXError, read_idx

    # a header claiming 10 bytes, then 256 MB of zeros: about 250 KB compressed
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)  # gzip framing
    parts = [compressor.compress(_idx_header(0x08, (10,)))]
    block = bytes(1 << 20)
    parts += [compressor.compress(block) for _ in range(256)]
    parts.append(compressor.flush())
    bomb = tmp_path / "train-labels-idx1-ubyte.gz"
    bomb.write_bytes(b"".join(parts))
    assert bomb.stat().st_size < 1 << 20 and gzip.open(bomb).read(4) == b"\0\0\x08\x01"
    tracemalloc.start()
    try:
        with pytest.raises(IDXError, match="more than 1048576 unexpected bytes"):
            read_idx(bomb)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 16 << 20, peak  # it was 2.1 GB for a 1 MB bomb


@pytest.mark.parametrize(
    "shape, needle",
    [
        ((0xFFFFFFFF,) * 4, "claims"),  # the product overflows int64
        ((0, 0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF), "claims"),  # no data, an impossible shape
        ((1,) * 200, "200 dimensions"),  # more than NumPy's 64
        ((70_000, 28, 28), "claims"),  # 55 MB > max_bytes=1 MB below
    ],
    ids=["overflow", "zero-and-huge", "too-many-dims", "over-the-cap"],
)
def test_idx_headers_that_claim_too_much_are_idx_errors(tmp_path, shape, needle):
    from chainrule.datasets.idx import IDXError, read_idx

    path = tmp_path / "images-idx3-ubyte"
    path.write_bytes(_idx_header(0x08, shape) + b"\0" * 16)
    with pytest.raises(IDXError, match=needle) as info:
        read_idx(path, max_bytes=1 << 20)
    assert str(path) in str(info.value)


# ---- bad arguments: refused where PyTorch refuses, one error naming the argument -----------------
def _x4(m):
    return m.ones(1, 1, 5, 5)


# name -> (chainrule call, torch call, words the message must hold)
BAD_ARGUMENTS: dict[str, tuple[Callable[[], Any], Callable[[Any, Any], Any], tuple[str, ...]]] = {
    "bce target 2": (
        lambda: cr.nn.functional.binary_cross_entropy(cr.tensor([0.5]), cr.tensor([2.0])),
        lambda t, f: f.binary_cross_entropy(t.tensor([0.5]), t.tensor([2.0])),
        ("target", "between 0 and 1"),
    ),
    "randn(2.5)": (lambda: cr.randn(2.5), lambda t, f: t.randn(2.5), ("size", "2.5", "integer")),
    "rand(2.0)": (lambda: cr.rand(2.0), lambda t, f: t.rand(2.0), ("size", "integer")),
    "full((2.5,))": (lambda: cr.full((2.5,), 1.0), lambda t, f: t.full((2.5,), 1.0), ("2.5",)),
    "ones(2, 'a')": (lambda: cr.ones(2, "a"), lambda t, f: t.ones(2, "a"), ("'a'",)),
    "arange step 0": (lambda: cr.arange(0, 5, 0), lambda t, f: t.arange(0, 5, 0), ("step",)),
    "arange wrong way": (lambda: cr.arange(5, 0, 1), lambda t, f: t.arange(5, 0, 1), ("end",)),
    "Conv2d stride 0": (
        lambda: cr.nn.Conv2d(1, 1, 3, stride=0)(_x4(cr)),
        lambda t, f: t.nn.Conv2d(1, 1, 3, stride=0)(_x4(t)),
        ("stride", "positive", "0"),
    ),
    "Conv2d padding -1": (
        lambda: cr.nn.Conv2d(1, 1, 3, padding=-1)(_x4(cr)),
        lambda t, f: t.nn.Conv2d(1, 1, 3, padding=-1)(_x4(t)),
        ("padding", "-1"),
    ),
    "Conv2d dilation 0": (
        lambda: cr.nn.Conv2d(1, 1, 3, dilation=0)(_x4(cr)),
        lambda t, f: t.nn.Conv2d(1, 1, 3, dilation=0)(_x4(t)),
        ("dilation", "positive"),
    ),
    "conv2d stride 0": (
        lambda: cr.conv2d(_x4(cr), cr.ones(1, 1, 3, 3), stride=0),
        lambda t, f: f.conv2d(_x4(t), t.ones(1, 1, 3, 3), stride=0),
        ("stride",),
    ),
    "Conv2d groups 0": (
        lambda: cr.nn.Conv2d(2, 2, 3, groups=0),
        lambda t, f: t.nn.Conv2d(2, 2, 3, groups=0),
        ("groups", "positive"),
    ),
    "MaxPool2d(0)": (
        lambda: cr.nn.MaxPool2d(0)(_x4(cr)),
        lambda t, f: t.nn.MaxPool2d(0)(_x4(t)),
        ("kernel_size", "positive"),
    ),
    "MaxPool2d stride 0": (
        lambda: cr.nn.MaxPool2d(2, stride=0)(_x4(cr)),
        lambda t, f: t.nn.MaxPool2d(2, stride=0)(_x4(t)),
        ("stride",),
    ),
    "AvgPool2d(0)": (
        lambda: cr.nn.AvgPool2d(0)(_x4(cr)),
        lambda t, f: t.nn.AvgPool2d(0)(_x4(t)),
        ("kernel_size",),
    ),
    "Linear(-1, 2)": (
        lambda: cr.nn.Linear(-1, 2),
        lambda t, f: t.nn.Linear(-1, 2),
        ("in_features",),
    ),
    "Linear(2.5, 2)": (lambda: cr.nn.Linear(2.5, 2), lambda t, f: t.nn.Linear(2.5, 2), ("2.5",)),
    "Embedding(-1, 3)": (
        lambda: cr.nn.Embedding(-1, 3),
        lambda t, f: t.nn.Embedding(-1, 3),
        ("num_embeddings",),
    ),
    "BatchNorm1d(-1)": (
        lambda: cr.nn.BatchNorm1d(-1),
        lambda t, f: t.nn.BatchNorm1d(-1),
        ("num_features",),
    ),
    "LayerNorm(-1)": (
        lambda: cr.nn.LayerNorm(-1),
        lambda t, f: t.nn.LayerNorm(-1),
        ("normalized_shape",),
    ),
    "one_hot num_classes -2": (
        lambda: cr.nn.functional.one_hot(cr.tensor([0]), -2),
        lambda t, f: f.one_hot(t.tensor([0]), -2),
        ("num_classes",),
    ),
    "softmax dim 1.5": (
        lambda: cr.ones(3).softmax(dim=1.5),
        lambda t, f: t.ones(3).softmax(dim=1.5),
        ("dim", "integer"),
    ),
    "sum dim 'a'": (lambda: cr.ones(3).sum(dim="a"), lambda t, f: t.ones(3).sum(dim="a"), ("dim",)),
    "reshape(2.5, 2)": (
        lambda: cr.ones(4).reshape(2.5, 2),
        lambda t, f: t.ones(4).reshape(2.5, 2),
        ("2.5",),
    ),
    "leaky_relu slope 'a'": (
        lambda: cr.nn.functional.leaky_relu(cr.ones(2), "a"),
        lambda t, f: f.leaky_relu(t.ones(2), "a"),
        ("negative_slope",),
    ),
    "DataLoader batch_size 2.5": (
        lambda: cr.utils.data.DataLoader(cr.utils.data.TensorDataset(cr.ones(4)), batch_size=2.5),
        lambda t, f: _torch_loader(t, 2.5),
        ("batch_size", "2.5"),
    ),
    "DataLoader batch_size 0": (
        lambda: cr.utils.data.DataLoader(cr.utils.data.TensorDataset(cr.ones(4)), batch_size=0),
        lambda t, f: _torch_loader(t, 0),
        ("batch_size",),
    ),
}


def _torch_loader(torch: Any, batch_size: Any) -> Any:
    from torch.utils.data import DataLoader, TensorDataset

    return DataLoader(TensorDataset(torch.ones(4)), batch_size=batch_size)


@pytest.mark.parametrize("name", list(BAD_ARGUMENTS))
def test_bad_arguments_are_refused_as_pytorch_refuses_them(name):
    torch = pytest.importorskip("torch")
    ours, theirs, needles = BAD_ARGUMENTS[name]
    try:
        theirs(torch, torch.nn.functional)
    except Exception as error:  # noqa: BLE001 - its type is what is compared
        expected = type(error)
    else:
        raise AssertionError(f"{name}: PyTorch accepts it")
    with pytest.raises(Exception) as info:  # noqa: B017, PT011 - checked below
        ours()
    assert isinstance(info.value, expected), (type(info.value).__mro__, expected)
    message = str(info.value)
    for needle in needles:
        assert needle in message, (needle, message)
    assert info.value.__cause__ is None

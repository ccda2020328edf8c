"""chainrule.save / load: safetensors written with NumPy alone, readable by the safetensors
package and PyTorch and back, all-or-nothing on save and on load."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import chainrule as cr
from chainrule import serialization
from chainrule.serialization import CheckpointError, load, save


def _state() -> dict[str, Any]:
    rng = np.random.default_rng(0)
    f32 = rng.standard_normal((3, 4)).astype(np.float32)
    f32[0, 0], f32[0, 1], f32[0, 2] = np.nan, -0.0, np.inf  # bit-exact means these too
    return {
        "layer.weight": cr.tensor(f32),
        "layer.bias": cr.tensor(rng.standard_normal(4)),  # float64
        "steps": cr.tensor(12345678901234, dtype=cr.int64),  # 0-d
        "mask": cr.tensor(rng.random((2, 3)) > 0.5),
        "index": np.arange(-3, 3, dtype=np.int32),
        "pixels": np.arange(6, dtype=np.uint8).reshape(2, 3),
        "half": np.array([1.5, -2.25, 65504.0], dtype=np.float16),
        "empty": np.zeros((0, 5), dtype=np.float32),
        "strided": np.arange(12, dtype=np.int64).reshape(3, 4)[:, ::2],  # non-contiguous
    }


def _array(value: Any) -> np.ndarray:
    return value._data if isinstance(value, cr.Tensor) else np.asarray(value)


def _assert_bit_exact(got: dict[str, Any], expected: dict[str, Any]) -> None:
    assert sorted(got) == sorted(expected)
    for name, value in expected.items():
        a, b = _array(got[name]), np.asarray(_array(value))
        assert a.dtype == b.dtype and a.shape == b.shape, name
        assert a.tobytes() == np.ascontiguousarray(b).tobytes(), name


# ---- round trips --------------------------------------------------------------------------------
@pytest.mark.parametrize("suffix", [".safetensors", ".pt", ".npz"])
def test_round_trip_is_bit_exact(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"model{suffix}"
    save(_state(), path)
    loaded = load(path)
    _assert_bit_exact(loaded, _state())
    assert all(isinstance(v, cr.Tensor) for v in loaded.values())
    assert list(loaded) == list(_state())  # the state dict's order survives
    assert os.listdir(tmp_path) == [path.name]


def test_file_layout_is_safetensors(tmp_path: Path) -> None:
    path = tmp_path / "m.safetensors"
    save({"b": cr.zeros(3), "a": cr.tensor([1, 2], dtype=cr.int64)}, path, metadata={"by": "me"})
    raw = path.read_bytes()
    size = int.from_bytes(raw[:8], "little")
    assert size % 8 == 0  # data starts 8-byte aligned
    header = json.loads(raw[8 : 8 + size])
    assert header["__metadata__"] == {"by": "me"}
    assert header["a"] == {"dtype": "I64", "shape": [2], "data_offsets": [0, 16]}
    assert header["b"] == {"dtype": "F32", "shape": [3], "data_offsets": [16, 28]}
    assert len(raw) == 8 + size + 28
    assert np.frombuffer(raw[8 + size : 8 + size + 16], "<i8").tolist() == [1, 2]


def test_nested_optimizer_state_round_trips(tmp_path: Path) -> None:
    state = {
        "state": {
            0: {"step": cr.tensor(3.0), "exp_avg": cr.ones(2, 2)},
            1: {"step": cr.tensor(3.0), "momentum_buffer": None},
        },
        "param_groups": [
            {
                "lr": 1e-3,
                "betas": (0.9, 0.999),
                "eps": 1e-8,
                "params": [0, 1],
                "amsgrad": False,
                "name": "body",
                "raw": np.arange(3),
            }
        ],
    }
    for suffix in (".safetensors", ".npz"):
        path = tmp_path / f"optim{suffix}"
        save(state, path)
        back = load(path)
        assert back["param_groups"][0]["betas"] == (0.9, 0.999)
        assert back["param_groups"][0]["params"] == [0, 1]
        assert back["param_groups"][0]["amsgrad"] is False
        assert isinstance(back["param_groups"][0]["raw"], np.ndarray)
        assert back["state"][1]["momentum_buffer"] is None
        assert sorted(back["state"]) == [0, 1]  # int keys stay ints
        assert back["state"][0]["exp_avg"].tolist() == [[1.0, 1.0], [1.0, 1.0]]
        assert back["state"][0]["step"].shape == ()


def test_unsupported_values_are_refused_before_writing(tmp_path: Path) -> None:
    path = tmp_path / "m.safetensors"
    with pytest.raises(TypeError, match="'z' has dtype complex128"):
        save({"z": np.zeros(2, dtype=np.complex128)}, path)
    with pytest.raises(TypeError, match="expected a state dict"):
        save([cr.zeros(2)], path)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="can't store a object"):
        save({"a": {"b": object()}}, path)
    assert os.listdir(tmp_path) == []


# ---- the safetensors package and PyTorch --------------------------------------------------------
def test_safetensors_numpy_reads_ours_and_we_read_theirs(tmp_path: Path) -> None:
    st = pytest.importorskip("safetensors.numpy")
    path = tmp_path / "ours.safetensors"
    save(_state(), path)
    _assert_bit_exact(st.load_file(str(path)), _state())
    theirs = tmp_path / "theirs.safetensors"
    arrays = {k: np.ascontiguousarray(_array(v)) for k, v in _state().items()}
    st.save_file(arrays, str(theirs), metadata={"format": "np"})
    _assert_bit_exact(load(theirs), arrays)


@pytest.mark.torch
def test_torch_reads_ours(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    st_torch = pytest.importorskip("safetensors.torch")
    path = tmp_path / "ours.safetensors"
    save(_state(), path)
    tensors = st_torch.load_file(str(path))
    expected_dtypes = {
        "layer.weight": torch.float32,
        "layer.bias": torch.float64,
        "steps": torch.int64,
        "mask": torch.bool,
        "index": torch.int32,
        "pixels": torch.uint8,
        "half": torch.float16,
    }
    for name, dtype in expected_dtypes.items():
        assert tensors[name].dtype == dtype
    _assert_bit_exact({k: v.numpy() for k, v in tensors.items()}, _state())


@pytest.mark.torch
def test_torch_state_dict_saved_by_safetensors_loads_identically(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    st_torch = pytest.importorskip("safetensors.torch")
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Conv2d(1, 4, 3),
        torch.nn.BatchNorm2d(4),
        torch.nn.Flatten(),
        torch.nn.Linear(4 * 6 * 6, 3),
    )
    model(torch.randn(5, 1, 8, 8))  # move the running statistics off their defaults
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    state["extra.double"] = torch.randn(2, dtype=torch.float64)
    path = tmp_path / "torch.safetensors"
    st_torch.save_file(state, str(path))
    loaded = load(path)
    _assert_bit_exact(loaded, {k: v.numpy() for k, v in state.items()})
    assert loaded["1.num_batches_tracked"].dtype == cr.int64


@pytest.mark.torch
def test_bfloat16_from_torch_loads_as_float32(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    st_torch = pytest.importorskip("safetensors.torch")
    values = torch.tensor([1.0, -2.5, 3.140625, 1e30], dtype=torch.bfloat16)
    st_torch.save_file({"w": values}, str(tmp_path / "bf16.safetensors"))
    loaded = load(tmp_path / "bf16.safetensors")["w"]
    assert loaded.dtype == cr.float32
    assert loaded.tolist() == values.float().tolist()


# ---- bad files ----------------------------------------------------------------------------------
def _header_file(header: dict[str, Any], data: bytes) -> bytes:
    text = json.dumps(header).encode()
    return len(text).to_bytes(8, "little") + text + data


def _bad_files() -> list[tuple[str, bytes, str]]:
    good = {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}
    eight = bytes(8)
    return [
        ("empty", b"", "truncated: 0 bytes"),
        ("short", b"\x05\x00\x00", "truncated: 3 bytes"),
        ("huge header length", (10**6).to_bytes(8, "little") + b"{}", "header length 1000000"),
        ("header not json", (4).to_bytes(8, "little") + b"{{{{", "not valid JSON"),
        ("header not utf-8", (2).to_bytes(8, "little") + b"\xff\xfe", "not valid JSON"),
        ("header is a list", _header_file([], b""), "JSON is not an object"),  # type: ignore[arg-type]
        (
            "unknown dtype",
            _header_file({"w": {**good, "dtype": "F99"}}, eight),
            "unknown dtype 'F99'",
        ),
        ("bad shape", _header_file({"w": {**good, "shape": [-2]}}, eight), "has shape [-2]"),
        (
            "missing field",
            _header_file({"w": {"dtype": "F32", "shape": [2]}}, eight),
            "must have exactly dtype, shape and data_offsets",
        ),
        (
            "offsets past end",
            _header_file({"w": {**good, "data_offsets": [0, 16]}}, eight),
            "out of range of the 8 data bytes",
        ),
        (
            "offsets reversed",
            _header_file({"w": {**good, "data_offsets": [8, 0]}}, eight),
            "out of range",
        ),
        (
            "size mismatch",
            _header_file({"w": {**good, "shape": [3]}}, eight),
            "needs 12 bytes, data_offsets give 8",
        ),
        ("overlap", _header_file({"a": good, "b": good}, eight), "overlaps the tensor before it"),
        (
            "gap",
            _header_file({"w": {**good, "data_offsets": [4, 8], "shape": [1]}}, eight),
            "leaves a gap",
        ),
        ("trailing bytes", _header_file({"w": good}, eight + b"xx"), "2 bytes after the last"),
        (
            "bad metadata",
            _header_file({"__metadata__": {"a": 1}, "w": good}, eight),
            "__metadata__ must map strings to strings",
        ),
        (
            "bad structure",
            _header_file({"__metadata__": {"chainrule.structure": "{nope"}, "w": good}, eight),
            "corrupt chainrule.structure",
        ),
        ("garbage", np.random.default_rng(0).bytes(4096), "header length"),
        ("npz text", b"PK\x03\x04 not really a zip", "not a readable .npz file"),
    ]


@pytest.mark.parametrize("case, payload, problem", _bad_files(), ids=[c[0] for c in _bad_files()])
def test_bad_files_raise_one_clear_error(
    tmp_path: Path, case: str, payload: bytes, problem: str
) -> None:
    path = tmp_path / ("bad.npz" if case.startswith("npz") else "bad.safetensors")
    path.write_bytes(payload)
    with pytest.raises(CheckpointError) as info:
        load(path)
    assert isinstance(info.value, ValueError)
    assert str(info.value).startswith(f"{path}: ") and problem in str(info.value)


def test_truncated_real_checkpoint_at_every_cut(tmp_path: Path) -> None:
    path = tmp_path / "m.safetensors"
    save(_state(), path)
    raw = path.read_bytes()
    for cut in sorted({0, 4, 8, 9, 50, len(raw) // 2, len(raw) - 9, len(raw) - 1}):
        path.write_bytes(raw[:cut])
        with pytest.raises(CheckpointError, match=str(path)):
            load(path)


def test_folder_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="is a folder"):
        load(tmp_path)
    with pytest.raises(FileNotFoundError):
        load(tmp_path / "nope.safetensors")


# ---- all-or-nothing save ------------------------------------------------------------------------
def _fail_midway(exception: BaseException):
    calls = {"n": 0}

    def write_array(stream: Any, array: np.ndarray) -> None:
        calls["n"] += 1
        if calls["n"] == 2:
            stream.write(array.tobytes()[: max(1, array.nbytes // 2)])
            raise exception
        stream.write(array.tobytes())

    return write_array


@pytest.mark.parametrize(
    "exception",
    [OSError(28, "No space left on device"), KeyboardInterrupt()],
    ids=["disk-full", "ctrl-c"],
)
def test_interrupted_save_keeps_the_previous_file(
    tmp_path: Path, exception: BaseException, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "model.safetensors"
    save(_state(), path)
    before = path.read_bytes()
    new_state = {k: cr.zeros(50, 50) for k in ("a", "b", "c")}
    monkeypatch.setattr(serialization, "_write_array", _fail_midway(exception))
    with pytest.raises(type(exception)):
        save(new_state, path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["model.safetensors"]  # no temp file left behind
    _assert_bit_exact(load(path), _state())


def test_failed_rename_or_fsync_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom(*args: Any, **kwargs: Any) -> None:
        raise OSError("simulated failure")

    for target in ("replace", "fsync"):
        with monkeypatch.context() as patch:
            patch.setattr(serialization.os, target, boom)
            with pytest.raises(OSError, match="simulated"):
                save({"w": cr.zeros(3)}, tmp_path / "new.safetensors")
        assert os.listdir(tmp_path) == []
    with monkeypatch.context() as patch:
        patch.setattr(serialization.np.lib.format, "write_array", boom)
        with pytest.raises(OSError, match="simulated"):
            save({"w": cr.zeros(3)}, tmp_path / "new.npz")
    assert os.listdir(tmp_path) == []


# ---- with chainrule.nn models -------------------------------------------------------------------
def _nn() -> Any:
    nn = pytest.importorskip("chainrule.nn")
    for name in ("Linear", "Sequential", "ReLU"):
        if not hasattr(nn, name):
            pytest.skip(f"chainrule.nn.{name} is not there yet")
    return nn


def _mlp(nn: Any, hidden: int = 8) -> Any:
    return nn.Sequential(nn.Linear(4, hidden), nn.ReLU(), nn.Linear(hidden, 3))


def _params(model: Any) -> dict[str, bytes]:
    return {k: v._data.tobytes() for k, v in model.state_dict().items()}


@pytest.mark.torch
def test_chainrule_mlp_loads_into_torch_and_back(tmp_path: Path) -> None:
    nn = _nn()
    torch = pytest.importorskip("torch")
    st_torch = pytest.importorskip("safetensors.torch")
    cr.manual_seed(0)
    ours = _mlp(nn)
    save(ours.state_dict(), tmp_path / "ours.safetensors")
    theirs = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))
    theirs.load_state_dict(st_torch.load_file(str(tmp_path / "ours.safetensors")))
    x = np.random.default_rng(1).standard_normal((5, 4)).astype(np.float32)
    with torch.no_grad():
        expected = theirs(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(ours(cr.tensor(x)).detach().numpy(), expected, rtol=1e-6, atol=1e-7)

    with torch.no_grad():  # and back: new torch weights into a fresh chainrule model
        for p in theirs.parameters():
            p.mul_(-0.5).add_(0.01)
    st_torch.save_file(theirs.state_dict(), str(tmp_path / "theirs.safetensors"))
    again = _mlp(nn)
    again.load_state_dict(load(tmp_path / "theirs.safetensors"))
    with torch.no_grad():
        expected = theirs(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(again(cr.tensor(x)).detach().numpy(), expected, rtol=1e-6, atol=1e-7)
    for key, value in theirs.state_dict().items():
        assert again.state_dict()[key].numpy().tobytes() == value.numpy().tobytes()


@pytest.mark.torch
def test_cnn_with_batchnorm_state_dict_keys_match_torch(tmp_path: Path) -> None:
    nn = _nn()
    torch = pytest.importorskip("torch")
    st_torch = pytest.importorskip("safetensors.torch")
    for name in ("Conv2d", "BatchNorm2d", "Flatten"):
        if not hasattr(nn, name):
            pytest.skip(f"chainrule.nn.{name} is not there yet")
    ours = nn.Sequential(
        nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 3)
    )
    theirs = torch.nn.Sequential(
        torch.nn.Conv2d(1, 4, 3),
        torch.nn.BatchNorm2d(4),
        torch.nn.ReLU(),
        torch.nn.Flatten(),
        torch.nn.Linear(144, 3),
    )
    ours(cr.randn(6, 1, 8, 8))  # train mode: running statistics move
    save(ours.state_dict(), tmp_path / "cnn.safetensors")
    tensors = st_torch.load_file(str(tmp_path / "cnn.safetensors"))
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert sorted(tensors) == sorted(theirs.state_dict())
    theirs.load_state_dict(tensors)
    ours.eval()
    theirs.eval()
    x = np.random.default_rng(2).standard_normal((3, 1, 8, 8)).astype(np.float32)
    with torch.no_grad():
        expected = theirs(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(ours(cr.tensor(x)).detach().numpy(), expected, rtol=1e-5, atol=1e-6)


def test_wrong_key_or_shape_file_leaves_the_model_untouched(tmp_path: Path) -> None:
    nn = _nn()
    cr.manual_seed(0)
    model = _mlp(nn)
    before = _params(model)
    save(_mlp(nn, hidden=5).state_dict(), tmp_path / "shape.safetensors")
    wrong_keys = {f"x{k}": v for k, v in _mlp(nn).state_dict().items()}
    save(wrong_keys, tmp_path / "keys.safetensors")
    partly = dict(_mlp(nn).state_dict())
    partly["2.bias"] = cr.zeros(4)  # all right but the last tensor
    save(partly, tmp_path / "last.safetensors")
    for name in ("shape", "keys", "last"):
        with pytest.raises(RuntimeError):
            model.load_state_dict(load(tmp_path / f"{name}.safetensors"))
        assert _params(model) == before, name
    (tmp_path / "cut.safetensors").write_bytes((tmp_path / "last.safetensors").read_bytes()[:-10])
    with pytest.raises(CheckpointError):
        model.load_state_dict(load(tmp_path / "cut.safetensors"))
    assert _params(model) == before


def test_chainrule_model_round_trip_through_npz(tmp_path: Path) -> None:
    nn = _nn()
    cr.manual_seed(3)
    model = _mlp(nn)
    save(model.state_dict(), tmp_path / "m.npz")
    other = _mlp(nn)
    other.load_state_dict(load(tmp_path / "m.npz"))
    assert _params(other) == _params(model)


def test_saved_file_has_ordinary_permissions(tmp_path: Path) -> None:
    # a checkpoint is made under a temporary name (mkstemp: mode 0600) and must not keep that mode
    mask = os.umask(0o022)
    try:
        path = tmp_path / "model.safetensors"
        save({"w": cr.zeros(3)}, path)
        assert path.stat().st_mode & 0o777 == 0o644
    finally:
        os.umask(mask)

"""chainrule.datasets: the seeds' records, XOR, moons, spirals, digits, and MNIST from IDX files
(read from disk, or downloaded from a loopback HTTP server started here — never the network)."""

from __future__ import annotations

import gzip
import hashlib
import http.server
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

import chainrule as cr
from chainrule import datasets
from chainrule.datasets import (
    MNIST,
    ONE_WEIGHT,
    TWO_LAYER,
    TWO_LAYER_IDENTITY_OUTPUT,
    DownloadError,
    FashionMNIST,
    IDXError,
    read_idx,
    write_idx,
)
from chainrule.datasets import sklearn_digits as digits_module
from chainrule.utils.data import DataLoader, TensorDataset


# ---- the seeds' worked examples ---------------------------------------------------------------
def test_two_layer_example_numbers_are_the_seeds() -> None:
    assert TWO_LAYER.inputs == (0.05, 0.10)
    assert TWO_LAYER.targets == (0.5, 0.5)
    assert TWO_LAYER.named_weights() == {
        "w1": 0.15,
        "w2": 0.20,
        "w3": 0.25,
        "w4": 0.30,
        "w5": 0.40,
        "w6": 0.45,
        "w7": 0.50,
        "w8": 0.55,
    }
    assert TWO_LAYER.learning_rate == 0.5
    assert TWO_LAYER.hidden_weight() == ((0.15, 0.20), (0.25, 0.30))
    assert TWO_LAYER.output_weight() == ((0.40, 0.45), (0.50, 0.55))
    assert (TWO_LAYER.hidden_activation, TWO_LAYER.output_activation) == ("sigmoid", "sigmoid")
    assert TWO_LAYER_IDENTITY_OUTPUT.output_activation == "identity"
    assert TWO_LAYER_IDENTITY_OUTPUT.weights == TWO_LAYER.weights


def test_one_weight_example_numbers_are_the_seeds() -> None:
    e = ONE_WEIGHT
    assert (e.x, e.W, e.b, e.y, e.learning_rate) == (1.0, 0.5, 0.0, 0.0, 0.1)
    z = e.W * e.x + e.b
    assert (z, (z - e.y) ** 2, 2 * (z - e.y) * e.x) == (e.z, e.loss, e.grad_W)
    assert e.W - e.learning_rate * e.grad_W == e.W_after == 0.4


def test_seed_records_are_frozen() -> None:
    with pytest.raises(AttributeError):
        TWO_LAYER.learning_rate = 1.0  # type: ignore[misc]


# ---- XOR, moons, spirals -------------------------------------------------------------------------
def _linear_accuracy(x: np.ndarray, y: np.ndarray) -> float:
    """Training accuracy of the least-squares linear classifier (one-hot targets, with bias)."""
    features = np.c_[x, np.ones(len(x))]
    weights = np.linalg.lstsq(features, np.eye(y.max() + 1)[y], rcond=None)[0]
    return float(((features @ weights).argmax(1) == y).mean())


def _nearest_neighbour_accuracy(x: np.ndarray, y: np.ndarray) -> float:
    """Leave-one-out 1-NN accuracy: high when the classes are learnable by a non-linear model."""
    distances = ((x[:, None] - x[None]) ** 2).sum(-1)
    np.fill_diagonal(distances, np.inf)
    return float((y[distances.argmin(1)] == y).mean())


def test_xor() -> None:
    x, y = datasets.xor()
    assert x.dtype == cr.float32 and y.dtype == cr.int64
    assert x.tolist() == [[0, 0], [0, 1], [1, 0], [1, 1]] and y.tolist() == [0, 1, 1, 0]
    assert _linear_accuracy(x.numpy().astype(float), y.numpy()) <= 0.75
    assert datasets.xor(dtype=cr.float64)[0].dtype == cr.float64


@pytest.mark.parametrize(
    "make, kwargs, classes",
    [
        (datasets.moons, {"n_samples": 201}, 2),
        (datasets.spirals, {"n_samples": 301, "classes": 3}, 3),
        (datasets.spirals, {"n_samples": 250, "classes": 5}, 5),
    ],
)
def test_generated_shapes_balance_labels_and_determinism(make, kwargs, classes) -> None:
    x, y = make(**kwargs, seed=7)
    n = kwargs["n_samples"]
    assert x.shape == (n, 2) and y.shape == (n,)
    assert x.dtype == cr.float32 and y.dtype == cr.int64
    counts = np.bincount(y.numpy(), minlength=classes)
    assert len(counts) == classes and counts.max() - counts.min() <= 1
    x2, y2 = make(**kwargs, seed=7)
    assert np.array_equal(x.numpy(), x2.numpy()) and np.array_equal(y.numpy(), y2.numpy())
    x3, _ = make(**kwargs, seed=8)
    assert not np.array_equal(x.numpy(), x3.numpy())
    assert np.isfinite(x.numpy()).all() and np.abs(x.numpy()).max() < 3
    assert make(**kwargs, seed=7, dtype=cr.float64)[0].dtype == cr.float64


def test_generators_leave_the_global_generator_alone() -> None:
    cr.manual_seed(0)
    expected = cr.randn(3).tolist()
    cr.manual_seed(0)
    datasets.moons(seed=1)
    datasets.spirals(seed=1)
    assert cr.randn(3).tolist() == expected


@pytest.mark.parametrize(
    "make, linear_at_most",
    [
        (lambda: datasets.moons(400, noise=0.1, seed=0), 0.92),
        (lambda: datasets.spirals(300, classes=3, seed=0), 0.6),
        (lambda: datasets.spirals(400, classes=4, seed=0), 0.5),
    ],
)
def test_moons_and_spirals_need_a_non_linear_model(make, linear_at_most) -> None:
    x, y = make()
    x, y = x.numpy().astype(np.float64), y.numpy()
    assert _linear_accuracy(x, y) <= linear_at_most
    assert _nearest_neighbour_accuracy(x, y) >= 0.97


def test_spiral_arms_interleave_along_a_ray() -> None:
    x, y = datasets.spirals(3000, classes=3, noise=0.0, seed=0)
    x, y = x.numpy().astype(np.float64), y.numpy()
    angle = np.arctan2(x[:, 1], x[:, 0])
    near_ray = np.abs(np.angle(np.exp(1j * angle))) < 0.05  # points close to the +x axis
    by_radius = y[near_ray][np.argsort(np.hypot(*x[near_ray].T))]
    changes = int((np.diff(by_radius) != 0).sum())
    assert changes >= 2  # walking outwards we cross arms of different classes


def test_moons_interleave() -> None:
    x, y = datasets.moons(400, noise=0.0, seed=0)
    x, y = x.numpy(), y.numpy()
    # each moon's horizontal span reaches into the other's, and its tips into the other's hollow
    assert x[y == 0, 0].max() > x[y == 1, 0].min() and x[y == 1, 0].max() > x[y == 0, 0].max()
    assert x[y == 1, 1].max() > x[y == 0, 1].min()


# ---- digits -------------------------------------------------------------------------------------
def test_digits_split_is_fixed_disjoint_and_stratified() -> None:
    pytest.importorskip("sklearn")
    from sklearn.datasets import load_digits

    train_index, test_index = datasets.digits_split_indices()
    assert (len(train_index), len(test_index)) == (1438, 359)
    assert len(np.intersect1d(train_index, test_index)) == 0
    assert np.array_equal(np.union1d(train_index, test_index), np.arange(1797))
    # pinned: the split must never change between versions or machines
    assert test_index[:8].tolist() == [3, 10, 18, 21, 33, 41, 48, 49]
    assert hashlib.sha256(test_index.astype("<i8").tobytes()).hexdigest()[:16] == _TEST_HASH
    labels = load_digits().target
    test_counts = np.bincount(labels[test_index], minlength=10)
    assert np.array_equal(test_counts, np.round(0.2 * np.bincount(labels)).astype(int))


_TEST_HASH = "d32a8589aae1dfdd"


def test_digits_values_shapes_and_labels() -> None:
    pytest.importorskip("sklearn")
    from sklearn.datasets import load_digits

    bunch = load_digits()
    train_index, test_index = datasets.digits_split_indices()
    x, y = datasets.digits(train=True)
    assert x.shape == (1438, 1, 8, 8) and x.dtype == cr.float32 and y.dtype == cr.int64
    xt, yt = datasets.digits(train=False, flat=True, dtype=cr.float64)
    assert xt.shape == (359, 64) and xt.dtype == cr.float64
    assert 0.0 <= float(x.numpy().min()) and float(x.numpy().max()) == 1.0
    assert np.array_equal(xt.numpy(), bunch.data[test_index] / 16.0)
    assert np.array_equal(y.numpy(), bunch.target[train_index])
    assert sorted(set(yt.tolist())) == list(range(10))
    x.numpy()[...] = 5.0  # callers get copies, the cache stays intact
    assert float(datasets.digits()[0].numpy().max()) == 1.0


def test_digits_need_no_scikit_learn(monkeypatch: pytest.MonkeyPatch) -> None:
    """The images are bundled: with scikit-learn unimportable they load, the same numbers."""
    expected = datasets.digits(train=False, flat=True)[0].numpy()
    digits_module._load.cache_clear()
    monkeypatch.setitem(sys.modules, "sklearn", None)
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    try:
        x, y = datasets.digits(train=False, flat=True)
        assert x.shape == (359, 64) and np.array_equal(x.numpy(), expected)
        assert datasets.digits_split_indices()[1].tolist()[:8] == [3, 10, 18, 21, 33, 41, 48, 49]
    finally:
        digits_module._load.cache_clear()


def test_bundled_digits_equal_scikit_learns() -> None:
    pytest.importorskip("sklearn")
    from sklearn.datasets import load_digits

    bunch = load_digits()
    with np.load(digits_module.DIGITS_FILE, allow_pickle=False) as bundled:
        assert np.array_equal(bundled["pixels"], bunch.data)
        assert np.array_equal(bundled["labels"], bunch.target)


# ---- MNIST from IDX files -----------------------------------------------------------------------
_NAMES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)


def _fake_mnist(
    n_train: int = 12, n_test: int = 5, side: int = 6, seed: int = 0
) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        _NAMES[0]: rng.integers(0, 256, (n_train, side, side), dtype=np.uint8),
        _NAMES[1]: rng.integers(0, 10, n_train, dtype=np.uint8),
        _NAMES[2]: rng.integers(0, 256, (n_test, side, side), dtype=np.uint8),
        _NAMES[3]: rng.integers(0, 10, n_test, dtype=np.uint8),
    }


def _write_all(folder: Path, arrays: dict[str, np.ndarray], suffix: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, array in arrays.items():
        write_idx(folder / f"{name}{suffix}", array)


@pytest.mark.parametrize("suffix", ["", ".gz"], ids=["raw", "gz"])
@pytest.mark.parametrize("train", [True, False], ids=["train", "test"])
def test_mnist_reads_idx_files_exactly(tmp_path: Path, suffix: str, train: bool) -> None:
    arrays = _fake_mnist()
    _write_all(tmp_path, arrays, suffix)
    ds = MNIST(tmp_path, train=train)
    images, labels = (
        (arrays[_NAMES[0]], arrays[_NAMES[1]]) if train else (arrays[_NAMES[2]], arrays[_NAMES[3]])
    )
    assert len(ds) == len(labels)
    assert ds.data.dtype == cr.uint8 and np.array_equal(ds.data.numpy(), images)
    assert ds.targets.dtype == cr.int64 and np.array_equal(ds.targets.numpy(), labels)
    image, target = ds[2]
    assert image.shape == (1, 6, 6) and image.dtype == cr.float32
    assert np.array_equal(image.numpy()[0], images[2].astype(np.float32) / 255)
    assert target == int(labels[2]) and isinstance(target, int)


def test_idx_gz_is_really_compressed_and_round_trips(tmp_path: Path) -> None:
    for dtype in (np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64):
        array = (np.arange(24).reshape(2, 3, 4) - 5).astype(dtype)
        write_idx(tmp_path / "a.gz", array)
        assert (tmp_path / "a.gz").read_bytes()[:2] == b"\x1f\x8b"
        back = read_idx(tmp_path / "a.gz")
        assert back.dtype == np.dtype(dtype) and np.array_equal(back, array)


def test_mnist_torchvision_layout_transforms_and_loader(tmp_path: Path) -> None:
    arrays = _fake_mnist()
    _write_all(tmp_path / "FashionMNIST" / "raw", arrays, ".gz")
    ds = FashionMNIST(
        tmp_path,
        transform=lambda image: image * 2,
        target_transform=lambda t: FashionMNIST.classes[t],
    )
    image, target = ds[0]
    assert np.allclose(image.numpy(), arrays[_NAMES[0]][0][None] / 255 * 2)
    assert target == FashionMNIST.classes[int(arrays[_NAMES[1]][0])]
    plain = FashionMNIST(tmp_path)
    batches = list(DataLoader(plain, batch_size=5, shuffle=True, seed=0))
    assert [tuple(x.shape) for x, _ in batches] == [(5, 1, 6, 6), (5, 1, 6, 6), (2, 1, 6, 6)]
    seen = np.concatenate([y.numpy() for _, y in batches])
    assert sorted(seen.tolist()) == sorted(arrays[_NAMES[1]].tolist())
    direct = np.stack([plain[i][0].numpy() for i in range(len(plain))])
    fast = np.concatenate([x.numpy() for x, _ in DataLoader(plain, batch_size=5)])
    assert fast.dtype == np.float32 and np.array_equal(fast, direct)  # fast path == __getitem__
    with_transform = list(DataLoader(ds, batch_size=4))
    assert with_transform[0][1] == [FashionMNIST.classes[int(t)] for t in arrays[_NAMES[1]][:4]]


def _idx_bytes(array: np.ndarray, magic: bytes | None = None) -> bytes:
    header = magic or bytes([0, 0, 8, array.ndim])
    return header + b"".join(int(s).to_bytes(4, "big") for s in array.shape) + array.tobytes()


def _corrupt_cases() -> list[tuple[str, str, object]]:
    images = np.zeros((4, 3, 3), dtype=np.uint8)
    labels = np.zeros(4, dtype=np.uint8)
    return [
        ("bad magic", _NAMES[0], _idx_bytes(images, magic=b"\x12\x34\x08\x03")),
        ("bad type code", _NAMES[0], _idx_bytes(images, magic=b"\x00\x00\x07\x03")),
        ("wrong dims", _NAMES[0], _idx_bytes(images.reshape(4, 9))),
        ("wrong dims", _NAMES[1], _idx_bytes(labels.reshape(2, 2))),
        ("truncated", _NAMES[0], _idx_bytes(images)[:-5]),
        ("truncated header", _NAMES[0], _idx_bytes(images)[:9]),
        ("empty", _NAMES[1], b""),
        ("trailing", _NAMES[1], _idx_bytes(labels) + b"\x00"),
        ("count mismatch", _NAMES[1], _idx_bytes(np.zeros(3, dtype=np.uint8))),
        ("label range", _NAMES[1], _idx_bytes(np.array([0, 1, 12, 3], dtype=np.uint8))),
        ("float values", _NAMES[1], _idx_bytes(labels.astype(">f4"), magic=b"\x00\x00\x0d\x01")),
    ]


_EXPECTED = {
    "bad magic": "bad magic number 0x12340803",
    "bad type code": "bad magic number",
    "wrong dims": "dimensions",
    "truncated": "truncated: shape (4, 3, 3) needs 36",
    "truncated header": "truncated header",
    "empty": "truncated: 0 bytes",
    "trailing": "1 unexpected bytes",
    "count mismatch": "has 3 labels but",
    "label range": "label 12 at index 2",
    "float values": "type code 0x0D",
}


@pytest.mark.parametrize(
    "case, name, payload", _corrupt_cases(), ids=[f"{c[0]}-{c[1][:5]}" for c in _corrupt_cases()]
)
@pytest.mark.parametrize("suffix", ["", ".gz"], ids=["raw", "gz"])
def test_malformed_idx_names_the_file_and_problem(
    tmp_path: Path, case: str, name: str, payload: bytes, suffix: str
) -> None:
    _write_all(tmp_path, _fake_mnist(n_train=4, side=3), suffix)
    bad = tmp_path / f"{name}{suffix}"
    bad.write_bytes(gzip.compress(payload) if suffix else payload)
    with pytest.raises(IDXError) as info:
        MNIST(tmp_path, train=True)
    assert str(bad) in str(info.value) and info.value.path == str(bad)
    assert _EXPECTED[case] in str(info.value)


def test_corrupt_gzip_names_the_file(tmp_path: Path) -> None:
    _write_all(tmp_path, _fake_mnist(), ".gz")
    bad = tmp_path / f"{_NAMES[0]}.gz"
    bad.write_bytes(bad.read_bytes()[:30])
    with pytest.raises(IDXError, match=f"{bad}: not a readable gzip file"):
        MNIST(tmp_path)


# ---- download from a loopback HTTP server -------------------------------------------------------
class _Server:
    """Serves ``files`` (name -> bytes) on 127.0.0.1 and counts the requests."""

    def __init__(self, files: dict[str, bytes]) -> None:
        self.files = files
        self.requests: list[str] = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                server.requests.append(self.path)
                body = server.files.get(self.path.rsplit("/", 1)[-1])
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/mnist/"
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join()


@pytest.fixture()
def served(
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[tuple[_Server, dict[str, np.ndarray], dict[str, str]]]:
    monkeypatch.setenv("no_proxy", "127.0.0.1")
    arrays = _fake_mnist()
    files = {
        f"{name}.gz": gzip.compress(_idx_bytes(array), mtime=0) for name, array in arrays.items()
    }
    sha = {name: "sha256:" + hashlib.sha256(body).hexdigest() for name, body in files.items()}
    server = _Server(files)
    yield server, arrays, sha
    server.close()


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*") if p.is_file())


def test_nothing_downloads_unless_asked(tmp_path: Path, served) -> None:
    server, _, sha = served
    with pytest.raises(FileNotFoundError, match="pass download=True"):
        MNIST(tmp_path, base_url=server.url, checksums=sha)
    assert server.requests == [] and _leftovers(tmp_path) == []


def test_download_verifies_and_reads_back(tmp_path: Path, served) -> None:
    server, arrays, sha = served
    ds = MNIST(tmp_path / "data", train=False, download=True, base_url=server.url, checksums=sha)
    assert sorted(server.requests) == sorted(f"/mnist/{n}.gz" for n in _NAMES)
    assert _leftovers(tmp_path / "data") == sorted(f"{n}.gz" for n in _NAMES)
    assert np.array_equal(ds.data.numpy(), arrays[_NAMES[2]])
    assert np.array_equal(ds.targets.numpy(), arrays[_NAMES[3]])
    again = MNIST(tmp_path / "data", download=True, base_url=server.url, checksums=sha)
    assert len(server.requests) == 4  # already there: not fetched again
    assert np.array_equal(again.data.numpy(), arrays[_NAMES[0]])
    assert MNIST.base_url.startswith("https://") and "127.0.0.1" not in MNIST.base_url


def test_download_with_md5_from_the_class_table(
    tmp_path: Path, served, monkeypatch: pytest.MonkeyPatch
) -> None:
    server, arrays, _ = served
    md5 = {name: "md5:" + hashlib.md5(body).hexdigest() for name, body in server.files.items()}
    monkeypatch.setattr(MNIST, "base_url", server.url)
    monkeypatch.setattr(MNIST, "checksums", md5)
    ds = MNIST(tmp_path, download=True)
    assert np.array_equal(ds.targets.numpy(), arrays[_NAMES[1]])


def test_wrong_checksum_raises_and_leaves_no_file(tmp_path: Path, served) -> None:
    server, _, sha = served
    wrong = dict(sha)
    wrong[f"{_NAMES[0]}.gz"] = "sha256:" + "0" * 64
    with pytest.raises(DownloadError, match="checksum mismatch.*train-images-idx3-ubyte.gz"):
        MNIST(tmp_path, download=True, base_url=server.url, checksums=wrong)
    assert f"{_NAMES[0]}.gz" not in _leftovers(tmp_path)
    assert not [n for n in _leftovers(tmp_path) if n.endswith(".part")]


def test_tampered_file_on_server_is_rejected(tmp_path: Path, served) -> None:
    server, _, sha = served
    name = f"{_NAMES[1]}.gz"
    server.files[name] = server.files[name][:-3] + b"xyz"
    with pytest.raises(DownloadError, match=f"checksum mismatch.*{name}"):
        MNIST(tmp_path, download=True, base_url=server.url, checksums=sha)
    assert name not in _leftovers(tmp_path)


def test_http_error_and_missing_checksum(tmp_path: Path, served) -> None:
    server, _, sha = served
    del server.files[f"{_NAMES[2]}.gz"]
    with pytest.raises(DownloadError, match="could not download .*t10k-images.*404"):
        MNIST(tmp_path, download=True, base_url=server.url, checksums=sha)
    assert f"{_NAMES[2]}.gz" not in _leftovers(tmp_path)
    assert not [n for n in _leftovers(tmp_path) if n.endswith(".part")]
    with pytest.raises(DownloadError, match="no checksum known"):
        FashionMNIST(
            tmp_path / "other",
            download=True,
            base_url=server.url,
            checksums={f"{_NAMES[0]}.gz": None},
        )  # type: ignore[dict-item]


def test_class_tables_cover_every_file() -> None:
    for cls in (MNIST, FashionMNIST):
        assert sorted(cls.checksums) == sorted(f"{n}.gz" for n in _NAMES)
        assert all(v.startswith("md5:") and len(v) == 36 for v in cls.checksums.values())
        assert len(cls.classes) == 10


def test_tensor_dataset_of_generated_data_trains_in_a_loader() -> None:
    x, y = datasets.moons(64, seed=0)
    loader = DataLoader(TensorDataset(x, y), batch_size=16, shuffle=True, seed=0)
    assert sum(int(b.shape[0]) for b, _ in loader) == 64

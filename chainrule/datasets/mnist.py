"""MNIST and Fashion-MNIST read from the standard IDX files in a folder the user names; they are
downloaded (checksums verified before use, written atomically) only when ``download=True``."""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from chainrule.datasets.idx import IDXError, read_idx
from chainrule.tensor import Tensor
from chainrule.utils.data import Dataset

__all__ = ["MNIST", "DownloadError", "FashionMNIST", "download_file"]

_CHUNK = 1 << 20
_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)


class DownloadError(RuntimeError):
    """A download failed or its checksum did not match; nothing was written."""


def _parse_checksum(spec: str, url: str) -> tuple[str, str]:
    algorithm, sep, value = spec.partition(":")
    if not sep or algorithm not in ("md5", "sha256") or not value:
        raise ValueError(
            f"checksum for {url} must read 'md5:<hex>' or 'sha256:<hex>', got {spec!r}"
        )
    return algorithm, value.lower()


def download_file(
    url: str, path: str | os.PathLike[str], checksum: str, timeout: float = 60.0
) -> Path:
    """Fetch ``url`` into ``path`` atomically, after checking its ``checksum``.

    ``checksum`` reads ``"md5:<hex>"`` or ``"sha256:<hex>"``. Steps:

    1. stream the bytes into a temporary file in the destination folder, hashing them;
    2. compare the digest with ``checksum``;
    3. fsync and rename the temporary file onto ``path``.

    On any failure the temporary file is removed and DownloadError is raised, so ``path`` is
    either absent or complete and verified.
    """
    import urllib.error  # only a download needs the HTTP stack (it slows `import chainrule`)
    import urllib.request

    algorithm, expected = _parse_checksum(checksum, url)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        digest = hashlib.new(algorithm)
        with os.fdopen(fd, "wb") as out:
            try:
                with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310
                    for chunk in iter(lambda: response.read(_CHUNK), b""):
                        digest.update(chunk)
                        out.write(chunk)
            except (urllib.error.URLError, OSError, ValueError) as exc:
                raise DownloadError(f"could not download {url}: {exc}") from exc
            if digest.hexdigest() != expected:
                raise DownloadError(
                    f"checksum mismatch for {url}: expected {algorithm} "
                    f"{expected}, got {digest.hexdigest()}; the download was "
                    "discarded and nothing was written"
                )
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        if os.path.exists(tmp_name):
            os.remove(tmp_name)
        raise
    return path


class MNIST(Dataset):
    """The MNIST digits from the IDX files in ``root``, as ``torchvision.datasets.MNIST``.

    Files are looked for in ``root`` and then in ``root/<ClassName>/raw`` (torchvision's
    layout), raw (``train-images-idx3-ubyte``) before gzip (``...-idx3-ubyte.gz``).
    ``download=True`` fetches missing files from ``base_url`` (argument, else the class
    attribute) into ``root`` and verifies them against ``checksums`` (argument, else the class
    attribute, which the argument's entries update: file name -> ``"md5:<hex>"`` or
    ``"sha256:<hex>"``) before use. Nothing is ever
    downloaded unless asked.

    ``dataset[i]`` is ``(image, target)``: the image a float32 tensor (1, H, W) in [0, 1] —
    what torchvision's ``ToTensor`` would give; we have no PIL images — passed through
    ``transform``, and the target an int passed through ``target_transform``. ``data``
    (uint8, (N, H, W)) and ``targets`` (int64, (N,)) hold the whole split as tensors.
    """

    base_url: str = "https://ossci-datasets.s3.amazonaws.com/mnist/"
    checksums: dict[str, str] = {
        "train-images-idx3-ubyte.gz": "md5:f68b3c2dcbeaaa9fbdd348bbdeb94873",
        "train-labels-idx1-ubyte.gz": "md5:d53e105ee54ea40749a09fcbcd1e9432",
        "t10k-images-idx3-ubyte.gz": "md5:9fb629c4189551a2d022fa330f9573f3",
        "t10k-labels-idx1-ubyte.gz": "md5:ec29112dd5afa0611ce80d1b7f02629c",
    }
    classes: ClassVar[list[str]] = [
        "0 - zero",
        "1 - one",
        "2 - two",
        "3 - three",
        "4 - four",
        "5 - five",
        "6 - six",
        "7 - seven",
        "8 - eight",
        "9 - nine",
    ]

    def __init__(
        self,
        root: str | os.PathLike[str],
        train: bool = True,
        transform: Callable[[Tensor], Any] | None = None,
        target_transform: Callable[[int], Any] | None = None,
        download: bool = False,
        base_url: str | None = None,
        checksums: Mapping[str, str] | None = None,
    ) -> None:
        self.root = Path(root).expanduser()
        self.train = train
        self.transform = transform
        self.target_transform = target_transform
        if base_url is not None:
            self.base_url = base_url
        if checksums is not None:
            self.checksums = {**type(self).checksums, **checksums}
        prefix = "train" if train else "t10k"
        names = (f"{prefix}-images-idx3-ubyte", f"{prefix}-labels-idx1-ubyte")
        if download:
            self.download()
        images_path, labels_path = (self._find(name) for name in names)
        images = read_idx(images_path, ndim=3, type_code=0x08)
        labels = read_idx(labels_path, ndim=1, type_code=0x08)
        if images.shape[0] != labels.shape[0]:
            raise IDXError(
                labels_path,
                f"has {labels.shape[0]} labels but {images_path} has {images.shape[0]} images",
            )
        if labels.size and int(labels.max()) >= len(self.classes):
            bad = int(np.argmax(labels >= len(self.classes)))
            raise IDXError(
                labels_path,
                f"label {int(labels[bad])} at index {bad} is outside 0..{len(self.classes) - 1}",
            )
        self.data = Tensor._wrap(images)
        self.targets = Tensor._wrap(labels.astype(np.int64))

    # ---- files -------------------------------------------------------------------------------
    def _folders(self) -> list[Path]:
        return [self.root, self.root / type(self).__name__ / "raw"]

    def _existing(self, name: str) -> Path | None:
        for folder in self._folders():
            for candidate in (folder / name, folder / f"{name}.gz"):
                if candidate.is_file():
                    return candidate
        return None

    def _find(self, name: str) -> Path:
        path = self._existing(name)
        if path is None:
            folders = " or ".join(str(f) for f in self._folders())
            raise FileNotFoundError(
                f"{type(self).__name__}: {name} (or {name}.gz) not found in {folders}; pass "
                f"download=True to fetch it from {self.base_url}, or put the file there"
            )
        return path

    def download(self) -> None:
        """Fetch the four gzip files that are not on disk yet into root, each verified."""
        for name in _FILES:
            if self._existing(name) is not None:
                continue
            file_name = f"{name}.gz"
            url = self.base_url.rstrip("/") + "/" + file_name
            checksum = self.checksums.get(file_name)
            if checksum is None:
                raise DownloadError(
                    f"no checksum known for {file_name}, so it can't be verified; "
                    "pass checksums={name: 'md5:<hex>' or 'sha256:<hex>'}"
                )
            download_file(url, self.root / file_name, checksum)

    # ---- samples -----------------------------------------------------------------------------
    def __len__(self) -> int:
        return int(self.targets.shape[0])

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        image = Tensor._wrap(self.data._data[index][None].astype(np.float32) / np.float32(255))
        target: Any = int(self.targets._data[index])
        if self.transform is not None:
            image = self.transform(image)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return image, target

    def _get_batch(self, index: np.ndarray) -> tuple[Tensor, Tensor] | None:
        if self.transform is not None or self.target_transform is not None:
            return None
        images = self.data._data[index][:, None].astype(np.float32) / np.float32(255)
        return Tensor._wrap(images), Tensor._wrap(self.targets._data[index])

    def __repr__(self) -> str:
        split = "train" if self.train else "test"
        return f"{type(self).__name__}(root={str(self.root)!r}, split={split}, {len(self)} samples)"


class FashionMNIST(MNIST):
    """Zalando's Fashion-MNIST: MNIST's file names and format, clothing classes."""

    base_url: str = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
    checksums: dict[str, str] = {
        "train-images-idx3-ubyte.gz": "md5:8d4fb7e6c68d591d4c3dfef9ec88bf0d",
        "train-labels-idx1-ubyte.gz": "md5:25c81989df183df01b3e8a0aad5dffbe",
        "t10k-images-idx3-ubyte.gz": "md5:bef4ecab320f06d8554ea6380940ec79",
        "t10k-labels-idx1-ubyte.gz": "md5:bb300cfdad3c16e7a12a480ee83cd310",
    }
    classes: ClassVar[list[str]] = [
        "T-shirt/top",
        "Trouser",
        "Pullover",
        "Dress",
        "Coat",
        "Sandal",
        "Shirt",
        "Sneaker",
        "Bag",
        "Ankle boot",
    ]

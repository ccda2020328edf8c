"""Fuzz targets for the two readers of untrusted files: the IDX reader and the checkpoint loader.
Any exception but the reader's own error (IDXError, CheckpointError) is a bug.

    python fuzz/fuzz_readers.py -runs=100000        # atheris (pip install 'chainrule[dev]')
    python fuzz/fuzz_readers.py -max_total_time=60

tests/test_fuzz.py runs a short session of each in CI.
"""

from __future__ import annotations

import gzip
import os
import sys
import tempfile

import atheris

with atheris.instrument_imports():
    import chainrule as cr
    from chainrule.datasets.idx import IDXError, read_idx
    from chainrule.serialization import CheckpointError

FOLDER = tempfile.mkdtemp(prefix="chainrule-fuzz-")
TARGETS = ("idx", "idx.gz", "safetensors", "npz")


def one_input(data: bytes) -> None:
    if not data:
        return
    kind = TARGETS[data[0] % len(TARGETS)]
    body = data[1:]
    if kind == "idx.gz":
        body = gzip.compress(body, mtime=0)
    path = os.path.join(FOLDER, f"input.{kind}")
    with open(path, "wb") as stream:
        stream.write(body)
    try:
        if kind.startswith("idx"):
            read_idx(path, max_bytes=1 << 24)
        else:
            state = cr.load(path)
            assert isinstance(state, dict), type(state)
    except (IDXError, CheckpointError):
        pass


if __name__ == "__main__":
    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()

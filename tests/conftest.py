"""Shared test helpers: synthetic datasets in the real on-disk formats, and the offline mirror if present."""

from __future__ import annotations

import gzip
import os
import struct
from pathlib import Path

import numpy as np
import pytest

from lib.config import ROOT


def write_idx(path: Path, array: np.ndarray, compress: bool = False) -> None:
    """Write ``array`` (uint8) in the IDX format of the MNIST archives (big-endian header)."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    payload = header + array.tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(payload, mtime=0) if compress else payload)


def write_mnist_like(root: Path, name: str = "MNIST", n_train: int = 60, n_test: int = 20, seed: int = 0,
                     compress: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """A tiny MNIST-format dataset under ``root/name/raw`` (uncompressed, as torchvision leaves it after
    unpacking, or ``.gz`` archives as in a mirror). Returns the training images and labels written."""
    rng = np.random.default_rng(seed)
    suffix = ".gz" if compress else ""
    out = None
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        labels = (np.arange(n) % 10).astype(np.uint8)
        write_idx(root / name / "raw" / f"{prefix}-images-idx3-ubyte{suffix}", images, compress)
        write_idx(root / name / "raw" / f"{prefix}-labels-idx1-ubyte{suffix}", labels, compress)
        out = out or (images, labels)
    return out


def mirror() -> Path | None:
    """The offline mirror: ``$DATA_MIRROR`` if set, else ``../shared/data`` beside the repository if present."""
    env = os.environ.get("DATA_MIRROR")
    if env:
        return Path(env)
    shared = ROOT.parent / "shared" / "data"
    return shared if (shared / "MNIST" / "raw").is_dir() else None


@pytest.fixture
def mnist_root(tmp_path: Path) -> Path:
    write_mnist_like(tmp_path, "MNIST")
    write_mnist_like(tmp_path, "FashionMNIST", seed=1)
    return tmp_path

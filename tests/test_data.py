"""Data layer on tiny synthetic files in the real on-disk formats (no mirror, no network needed)."""

import gzip
import hashlib
import pickle

import numpy as np
import pytest
import torch
import torchvision

from lib.core import data
from tests.conftest import mirror, write_mnist_like


def test_mnist_tensors_come_from_the_idx_files(tmp_path):
    images, labels = write_mnist_like(tmp_path, "MNIST", n_train=50)
    x, y = data.tensors("MNIST", train=True, root=tmp_path)
    assert x.dtype == torch.uint8 and x.shape == (50, 1, 28, 28)
    assert torch.equal(x[:, 0], torch.from_numpy(images)) and torch.equal(y, torch.from_numpy(labels).long())
    x, _ = data.tensors("MNIST", train=False, root=tmp_path, limit=7)
    assert x.shape == (7, 1, 28, 28)


def test_prepare_pads_and_standardizes():
    x = torch.full((2, 1, 28, 28), 255, dtype=torch.uint8)
    out = data.prepare(x, "MNIST", size=32, standardize=False)
    assert out.shape == (2, 1, 32, 32)
    assert out[:, :, 2:30, 2:30].eq(1).all() and out[:, :, :2].eq(0).all() and out[:, :, :, 30:].eq(0).all()
    std = data.prepare(x, "MNIST")
    assert torch.allclose(std, torch.full_like(std, (1 - 0.1307) / 0.3081))
    with pytest.raises(ValueError, match="smaller"):
        data.prepare(x, "MNIST", size=20)


def test_tensor_loader_is_seeded_and_covers_every_sample_once():
    x, y = torch.arange(10).float().view(10, 1), torch.arange(10)
    a = [b[1].tolist() for b in data.TensorLoader(x, y, 4, shuffle=True, seed=3)]
    b = [b[1].tolist() for b in data.TensorLoader(x, y, 4, shuffle=True, seed=3)]
    assert a == b and sorted(sum(a, [])) == list(range(10)) and len(a) == 3
    assert [len(v) for v in a] == [4, 4, 2]
    loader = data.TensorLoader(x, y, 4, shuffle=True, seed=3)
    assert [t.tolist() for _, t in loader] != [t.tolist() for _, t in loader]  # a new order every epoch
    assert [t.tolist() for _, t in data.TensorLoader(x, y, 4)] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]


def test_loader_serves_padded_standardized_batches(mnist_root):
    batches = list(data.loader("FashionMNIST", True, batch_size=16, root=mnist_root, size=32))
    assert len(batches) == 4 and batches[0][0].shape == (16, 1, 32, 32) and batches[0][0].dtype == torch.float32


def test_missing_dataset_names_itself_the_place_and_the_command(tmp_path):
    with pytest.raises(data.DatasetMissing) as err:
        data.tensors("FashionMNIST", train=True, root=tmp_path)
    msg = str(err.value)
    assert (
        "FashionMNIST" in msg and str(tmp_path / "FashionMNIST") in msg and "make data" in msg and "DATA_MIRROR" in msg
    )


def test_imagenet_missing_says_where_to_place_the_archives(tmp_path):
    with pytest.raises(data.DatasetMissing, match="ILSVRC2012_img_train.tar"):
        data.open_dataset("ImageNet", True, tmp_path)


def test_unknown_dataset_is_rejected():
    with pytest.raises(ValueError, match="SVHN"):
        data.tensors("SVHN", True)


def _md5(path):
    return hashlib.md5(path.read_bytes()).hexdigest()


def test_fetch_copies_a_mirror_and_torchvision_verifies_and_unpacks(tmp_path, monkeypatch):
    """The archives' md5 sums are recorded as written (torchvision's list holds the official ones); the same archive
    with one pixel changed fails the fetch: torchvision finds it corrupt and, with no mirror to download from,
    refuses instead of unpacking it."""
    src = tmp_path / "mirror"
    images, _ = write_mnist_like(src, "MNIST", n_train=30, compress=True)
    raw = src / "MNIST" / "raw"
    resources = [(f.name, _md5(f)) for f in sorted(raw.iterdir())]
    monkeypatch.setattr(torchvision.datasets.MNIST, "resources", resources)
    monkeypatch.setattr(torchvision.datasets.MNIST, "mirrors", ["http://127.0.0.1:9/"])  # a port that refuses
    dst = tmp_path / "data"
    data.fetch("MNIST", dst, mirror=src)
    assert (dst / "MNIST" / "raw" / "train-images-idx3-ubyte").is_file()
    x, _ = data.tensors("MNIST", True, dst)
    assert torch.equal(x[:, 0], torch.from_numpy(images))
    archive = raw / "train-images-idx3-ubyte.gz"  # still a valid archive, one pixel changed: only its md5 tells
    damaged = bytearray(gzip.decompress(archive.read_bytes()))
    damaged[-1] ^= 0xFF
    archive.write_bytes(gzip.compress(bytes(damaged), mtime=0))
    with pytest.raises(data.DatasetMissing, match="Error downloading train-images-idx3-ubyte.gz"):
        data.fetch("MNIST", tmp_path / "again", mirror=src)
    assert not (tmp_path / "again" / "MNIST" / "raw" / "train-images-idx3-ubyte").exists()


def test_the_rotate_shift_turns_an_image_as_torchvision_does_about_its_centre():
    """One bright pixel on the background, turned by ``ROTATION_DEGREES`` (30°) counter-clockwise about the centre
    of a 28×28 image: it lands where the rotation matrix sends it, and the whole image equals torchvision's
    ``rotate`` of the raw image, prepared afterwards (the background stays background)."""
    raw = torch.zeros(1, 1, 28, 28, dtype=torch.uint8)
    raw[0, 0, 6, 20] = 255  # row 6, column 20: (x, y) = (6.5, -7.5) from the centre (13.5, 13.5), y down
    turned = data.shift(data.prepare(raw, "MNIST"), "MNIST", "rotate")
    expected = data.prepare(torchvision.transforms.functional.rotate(raw, 30.0), "MNIST")
    torch.testing.assert_close(turned, expected)
    bright = (turned[0, 0] == turned.max()).nonzero().tolist()
    # counter-clockwise on screen (y down): x' = x cos θ + y sin θ, y' = −x sin θ + y cos θ
    theta = np.deg2rad(data.ROTATION_DEGREES)
    x, y = 6.5 * np.cos(theta) - 7.5 * np.sin(theta), -6.5 * np.sin(theta) - 7.5 * np.cos(theta)
    assert bright == [[round(13.5 + y), round(13.5 + x)]] and data.ROTATION_DEGREES == 30.0
    assert turned[0, 0, 6, 20] == turned.min()  # where it was is background now


def test_fetch_from_a_mirror_without_the_dataset_fails_clearly(tmp_path):
    with pytest.raises(data.DatasetMissing, match="mirror"):
        data.fetch("CIFAR10", tmp_path / "data", mirror=tmp_path)


def _write_cifar(root, base, n, classes, key):
    folder = root / base
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    names = (
        ["data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5", "test_batch"]
        if classes == 10
        else ["train", "test"]
    )
    for name in names:
        batch = {"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8), key: list(np.arange(n) % classes)}
        (folder / name).write_bytes(pickle.dumps(batch))
    meta = "batches.meta" if classes == 10 else "meta"
    (folder / meta).write_bytes(
        pickle.dumps({"label_names" if classes == 10 else "fine_label_names": [str(i) for i in range(classes)]})
    )
    return folder


@pytest.mark.parametrize(
    "name, base, classes, key",
    [("CIFAR10", "cifar-10-batches-py", 10, "labels"), ("CIFAR100", "cifar-100-python", 100, "fine_labels")],
)
def test_cifar_tensors_from_the_real_pickle_format(tmp_path, monkeypatch, name, base, classes, key):
    _write_cifar(tmp_path, base, 12, classes, key)
    cls = getattr(torchvision.datasets, name)
    # the synthetic batches cannot carry the official md5 sums: check presence only
    monkeypatch.setattr(cls, "train_list", [[f, None] for f, _ in cls.train_list])
    monkeypatch.setattr(cls, "test_list", [[f, None] for f, _ in cls.test_list])
    monkeypatch.setitem(cls.meta, "md5", None)
    x, y = data.tensors(name, True, tmp_path)
    assert x.shape == (12 * len(cls.train_list), 3, 32, 32) and x.dtype == torch.uint8 and int(y.max()) < classes
    batches = list(data.loader(name, False, batch_size=5, root=tmp_path))
    assert batches[0][0].shape == (5, 3, 32, 32)


def test_absent_says_why_and_how_to_fetch_or_nothing_when_present(mnist_root, tmp_path):
    assert data.absent("MNIST", mnist_root) is None
    why = data.absent("CIFAR10", mnist_root)
    assert why.startswith("CIFAR10 (train split) not found") and data.FETCH_COMMAND in why


@pytest.mark.skipif(mirror() is None, reason="no offline mirror (../shared/data or $DATA_MIRROR)")
def test_the_recorded_split_sizes_are_the_official_ones(tmp_path):
    for name in ("MNIST", "FashionMNIST"):
        data.fetch(name, tmp_path, mirror())
        spec = data.SPECS[name]
        assert (len(data.labels(name, True, tmp_path)), len(data.labels(name, False, tmp_path))) == (
            spec.train,
            spec.test,
        )


@pytest.mark.skipif(mirror() is None, reason="no offline mirror (../shared/data or $DATA_MIRROR)")
def test_the_mirror_has_the_official_archives():
    for name in ("MNIST", "FashionMNIST"):
        cls = getattr(torchvision.datasets, name)
        for filename, md5 in cls.resources:
            assert _md5(mirror() / name / "raw" / filename) == md5

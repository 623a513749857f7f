"""Datasets: fetching them (from an offline mirror or the internet) and serving them as tensors.

Every dataset is opened through its real ``torchvision.datasets`` class under ``data/`` (torchvision's
own layout). Fetching copies the raw archives from a mirror folder when the environment variable
``DATA_MIRROR`` names one (same layout as ``data/``), and torchvision then verifies their md5 and
unpacks them; without a mirror torchvision downloads them. ImageNet cannot be downloaded: place
``ILSVRC2012_img_train.tar``, ``ILSVRC2012_img_val.tar`` and ``ILSVRC2012_devkit_t12.tar.gz`` in
``data/ImageNet/`` (or in ``$DATA_MIRROR/ImageNet/``) and run the fetch command.

Small datasets (MNIST, FashionMNIST, CIFAR) are held in memory as float tensors and batched by
slicing (no per-sample PIL transforms, which cost more than the MLP's whole epoch).

Command line::

    python -m lib.core.data                   # the datasets the active profile needs
    DATA_MIRROR=../shared/data python -m lib.core.data MNIST FashionMNIST
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
import torchvision
from torchvision.transforms import v2

from ..params.paths import DATA_ROOT
from ..params.profiles import load
from ..params.schema import DATASETS, SHIFTS, SUBSETS
from . import code

FETCH_COMMAND = "make data   (offline: DATA_MIRROR=/path/to/mirror make data)"


@dataclass(frozen=True)
class Spec:
    """What the project needs to know about a dataset.

    Attributes
    ----------
    mirror
        Paths below the data root that torchvision looks for; copied from ``DATA_MIRROR`` when set.
    channels, size
        Image shape as stored (``size`` is the side of a square image after the standard resize).
    classes
        Number of classes (0 for CelebA, which the project uses without labels).
    mean, std
        Per-channel statistics of the training set, for standardisation.
    in_memory
        Whether the whole dataset is held as a tensor (otherwise it is streamed by a DataLoader).
    train, test
        Images in the official training and held-out split (test; ImageNet's validation set), for sizing
        a profile whose data is not here (:mod:`lib.scale.sizing`).
    """

    mirror: tuple[str, ...]
    channels: int
    size: int
    classes: int
    mean: tuple[float, ...]
    std: tuple[float, ...]
    in_memory: bool
    train: int
    test: int


SPECS: dict[str, Spec] = {
    "MNIST": Spec(("MNIST/raw",), 1, 28, 10, (0.1307,), (0.3081,), True, 60_000, 10_000),
    "FashionMNIST": Spec(("FashionMNIST/raw",), 1, 28, 10, (0.2860,), (0.3530,), True, 60_000, 10_000),
    "CIFAR10": Spec(
        ("cifar-10-python.tar.gz",), 3, 32, 10, (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616), True, 50_000, 10_000
    ),
    "CIFAR100": Spec(
        ("cifar-100-python.tar.gz",),
        3,
        32,
        100,
        (0.5071, 0.4865, 0.4409),
        (0.2673, 0.2564, 0.2762),
        True,
        50_000,
        10_000,
    ),
    "CelebA": Spec(("celeba",), 3, 64, 0, (0.5063, 0.4258, 0.3832), (0.3106, 0.2904, 0.2897), False, 162_770, 19_962),
    "ImageNet": Spec(
        ("ImageNet",), 3, 224, 1000, (0.485, 0.456, 0.406), (0.229, 0.224, 0.225), False, 1_281_167, 50_000
    ),
}
assert tuple(SPECS) == DATASETS


class DatasetMissing(FileNotFoundError):
    """A dataset is not under the data root; the message gives the command that fetches it."""


def _check_name(name: str) -> Spec:
    if name not in SPECS:
        raise ValueError(f"unknown dataset {name!r}; allowed: {list(SPECS)}")
    return SPECS[name]


def open_dataset(name: str, train: bool, root: Path | None = None, download: bool = False, transform=None):
    """The torchvision dataset object for one split (``train`` or held-out test/validation).

    Raises
    ------
    DatasetMissing
        If the files are not under ``root`` and ``download`` is false.
    """
    root = DATA_ROOT if root is None else Path(root)
    _check_name(name)
    cls = getattr(torchvision.datasets, name)
    try:
        if name == "ImageNet" and not any(
            (root / "ImageNet" / f).exists() for f in ("meta.bin", "ILSVRC2012_devkit_t12.tar.gz")
        ):
            raise FileNotFoundError("no ILSVRC2012_devkit_t12.tar.gz")
        if name == "CelebA":
            return cls(
                str(root), split="train" if train else "test", target_type=[], download=download, transform=transform
            )
        if name == "ImageNet":
            return cls(str(root / "ImageNet"), split="train" if train else "val", transform=transform)
        return cls(str(root), train=train, download=download, transform=transform)
    except (RuntimeError, FileNotFoundError) as err:
        where = root / SPECS[name].mirror[0]
        hint = (
            "place ILSVRC2012_img_train.tar, ILSVRC2012_img_val.tar and ILSVRC2012_devkit_t12.tar.gz there, then run "
            if name == "ImageNet"
            else "fetch it with: "
        )
        raise DatasetMissing(
            f"{name} ({'train' if train else 'test'} split) not found or incomplete under {where} ({err}). "
            f"{hint}{FETCH_COMMAND}"
        ) from None


def fetch(name: str, root: Path | None = None, mirror: Path | None = None) -> None:
    """Make ``name`` available under ``root``: copy raw files from ``mirror`` if given, then let
    torchvision verify (md5) and unpack them, downloading whatever is still missing."""
    root = DATA_ROOT if root is None else Path(root)
    spec = _check_name(name)
    root.mkdir(parents=True, exist_ok=True)
    if mirror is not None:
        for rel in spec.mirror:
            src, dst = Path(mirror) / rel, root / rel
            if src.is_dir():
                shutil.copytree(src, dst, dirs_exist_ok=True)
            elif src.is_file():
                dst.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, dst)
            else:
                raise DatasetMissing(
                    f"{name}: the mirror {mirror} has no {rel}; the mirror must use torchvision's layout"
                )
    for train in (True, False):
        open_dataset(name, train, root, download=name != "ImageNet")


def subset(total: int, n: int | None, draw: int | None, train: bool) -> torch.Tensor:
    """The indices of a split's subset of ``n`` of its ``total`` samples (``None``: all): the first ``n`` if ``draw``
    is ``None`` (the official order), else the first ``n`` of a permutation of the whole split drawn from
    ``(draw, train)`` — each seed its own training and test images. A larger subset of one draw holds the smaller
    one first, so the samples after ``n`` in that order are never in it.

    >>> subset(10, 3, None, True).tolist(), subset(10, 3, 7, True).tolist() == subset(10, 5, 7, True)[:3].tolist()
    ([0, 1, 2], True)
    >>> subset(10, 3, 7, True).tolist() != subset(10, 3, 7, False).tolist() != subset(10, 3, 8, True).tolist()
    True
    """
    n = total if n is None else min(n, total)
    if draw is None:
        return torch.arange(n)
    order = np.random.default_rng((draw, int(train))).permutation(total)
    return torch.as_tensor(order[:n])


def draw(subsets: str, seed: int) -> int | None:
    """Which draw seed ``seed``'s subsets are (:func:`subset`) under a section's ``subsets`` (``SUBSETS``): the seed
    itself (``per_seed``), or ``None``, the first images of each split (``first``)."""
    if subsets not in SUBSETS:
        raise ValueError(f"subsets {subsets!r}; allowed: {list(SUBSETS)}")
    return seed if subsets == "per_seed" else None


def tensors(
    name: str, train: bool, root: Path | None = None, limit: int | None = None, draw: int | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """The split as ``uint8`` images ``N×C×H×W`` and ``int64`` labels, read straight from torchvision's arrays.

    ``limit`` keeps the first ``limit`` samples, or with ``draw`` a subset of that many drawn from it
    (:func:`subset`). CelebA is resized to ``64×64`` (centre crop) and carries all-zero labels; ImageNet is too
    large for memory (use :func:`loader`).
    """
    root = DATA_ROOT if root is None else Path(root)
    spec = _check_name(name)
    if name == "ImageNet":
        raise ValueError("ImageNet does not fit in memory: use lib.core.data.loader('ImageNet', ...)")
    if name == "CelebA":
        ds = open_dataset(name, train, root, transform=_resize(spec.size))
        idx = subset(len(ds), limit, draw, train)
        return torch.stack([ds[int(i)][0] for i in idx]), torch.zeros(len(idx), dtype=torch.long)
    ds = open_dataset(name, train, root)
    x = torch.as_tensor(ds.data)
    x = x.unsqueeze(1) if x.ndim == 3 else x.permute(0, 3, 1, 2)
    y = torch.as_tensor(ds.targets, dtype=torch.long)
    if draw is not None:
        idx = subset(len(y), limit, draw, train)
        x, y = x[idx], y[idx]
    elif limit is not None:
        x, y = x[:limit], y[:limit]
    return x.contiguous(), y


def sample(name: str, train: bool, n: int, seed: int, root: Path | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` random images (``uint8``, ``N×C×S×S`` at the dataset's standard side ``S``) and their labels."""
    root = DATA_ROOT if root is None else Path(root)
    ds = open_dataset(name, train, root, transform=_resize(_check_name(name).size))
    idx = torch.randperm(len(ds), generator=torch.Generator().manual_seed(seed))[:n].tolist()
    items = [ds[i] for i in idx]
    labels = [item[1] if isinstance(item[1], int) else 0 for item in items]
    return torch.stack([item[0] for item in items]), torch.tensor(labels, dtype=torch.long)


def absent(name: str, root: Path | None = None) -> str | None:
    """Why ``name`` cannot be opened here — the message with the command that fetches it — or ``None`` if both
    splits are here.

    >>> absent("MNIST", root=Path("/nonexistent")).startswith("MNIST (train split) not found")
    True
    """
    try:
        for train in (True, False):
            open_dataset(name, train, root)
    except DatasetMissing as err:
        return str(err)
    return None


def labels(name: str, train: bool, root: Path | None = None) -> torch.Tensor:
    """All labels of a split (all zeros for CelebA, which the project uses unlabelled)."""
    root = DATA_ROOT if root is None else Path(root)
    ds = open_dataset(name, train, root)
    targets = getattr(ds, "targets", None)
    return torch.zeros(len(ds), dtype=torch.long) if targets is None else torch.as_tensor(targets, dtype=torch.long)


def _resize(size: int) -> v2.Compose:
    return v2.Compose([v2.PILToTensor(), v2.Resize(size, antialias=True), v2.CenterCrop(size)])


def prepare(x: torch.Tensor, name: str, size: int | None = None, standardize: bool = True) -> torch.Tensor:
    """``uint8`` images → float tensor in ``[0, 1]``, zero-padded to ``size×size`` (e.g. 28 → 32 for VGG),
    then standardised with the dataset's mean and std if ``standardize``."""
    spec = _check_name(name)
    x = x.float().div_(255)
    if size is not None and size != x.shape[-1]:
        if size < x.shape[-1]:
            raise ValueError(f"size {size} is smaller than {name}'s images ({x.shape[-1]}); only padding is supported")
        total = size - x.shape[-1]
        x = F.pad(x, (total // 2, total - total // 2, total // 2, total - total // 2))
    if standardize:
        mean = torch.tensor(spec.mean).view(1, -1, 1, 1)
        std = torch.tensor(spec.std).view(1, -1, 1, 1)
        x = (x - mean) / std
    return x


#: The shifts of :func:`shift`: rotation angle in degrees, and noise standard deviation in units of the
#: standardised images (the dataset's standard deviation).
ROTATION_DEGREES, NOISE_SD = 30.0, 0.5


def shift(x: torch.Tensor, name: str, kind: str, seed: int = 0) -> torch.Tensor:
    """Prepared images of dataset ``name`` under a distribution shift: ``rotate`` (every image by
    :data:`ROTATION_DEGREES`, the uncovered corners filled with the background, pixel value 0) or ``noise``
    (Gaussian noise of :data:`NOISE_SD` standardised units, drawn from ``seed``); ``none`` returns ``x``.

    >>> x = prepare(torch.zeros(2, 1, 28, 28, dtype=torch.uint8), "MNIST")
    >>> torch.allclose(shift(x, "MNIST", "rotate"), x), shift(x, "MNIST", "noise").shape
    (True, torch.Size([2, 1, 28, 28]))
    """
    if kind not in SHIFTS:
        raise ValueError(f"shift {kind!r}; allowed: {list(SHIFTS)}")
    if kind == "none":
        return x
    if kind == "noise":
        gen = torch.Generator().manual_seed(seed)
        return x + NOISE_SD * torch.randn(x.shape, generator=gen).to(x)
    background = [(0.0 - m) / s for m, s in zip(_check_name(name).mean, _check_name(name).std)]
    return v2.functional.rotate(x, ROTATION_DEGREES, fill=background)


def splits(
    name: str,
    size: int | None = None,
    train_subset: int | None = None,
    test_subset: int | None = None,
    standardize: bool = True,
    channels_last: bool = False,
    draw: int | None = None,
) -> tuple[torch.Tensor, ...]:
    """Prepared in-memory ``(x_train, y_train, x_test, y_test)``: the first ``train_subset`` / ``test_subset``
    samples (``None``: all), or with ``draw`` subsets of those sizes drawn from the whole splits (:func:`subset`),
    through :func:`tensors` and :func:`prepare`, optionally in channels-last layout (faster convolutions on CPU).
    Read once per process and data root: the one data path of every protocol."""
    return _splits(str(DATA_ROOT), name, size, train_subset, test_subset, standardize, channels_last, draw)


@code.memoised(maxsize=4)
def _splits(root: str, name: str, size, train_subset, test_subset, standardize: bool, channels_last: bool, draw):
    out = []
    for train, limit in ((True, train_subset), (False, test_subset)):
        x, y = tensors(name, train, Path(root), limit=limit, draw=draw)
        x = prepare(x, name, size, standardize)
        out += [x.contiguous(memory_format=torch.channels_last) if channels_last else x, y]
    return tuple(out)


class TensorLoader:
    """Mini-batches of in-memory tensors, reshuffled every epoch from a seeded generator.

    Iterating twice over a loader made with the same ``seed`` gives the same batches in the same order,
    independent of any other random state.
    """

    def __init__(self, x: torch.Tensor, y: torch.Tensor, batch_size: int, shuffle: bool = False, seed: int = 0):
        if len(x) != len(y):
            raise ValueError(f"x and y differ in length: {len(x)} vs {len(y)}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be ≥ 1, got {batch_size}")
        self.x, self.y, self.batch_size, self.shuffle = x, y, batch_size, shuffle
        self.generator = torch.Generator().manual_seed(seed)

    def __len__(self) -> int:
        return -(-len(self.x) // self.batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        order = torch.randperm(len(self.x), generator=self.generator) if self.shuffle else None
        for start in range(0, len(self.x), self.batch_size):
            if order is None:
                yield self.x[start : start + self.batch_size], self.y[start : start + self.batch_size]
            else:
                idx = order[start : start + self.batch_size]
                yield self.x[idx], self.y[idx]


def loader(
    name: str,
    train: bool,
    batch_size: int,
    root: Path | None = None,
    size: int | None = None,
    limit: int | None = None,
    shuffle: bool | None = None,
    seed: int = 0,
    standardize: bool = True,
    workers: int = 4,
    pin_memory: bool = False,
    draw: int | None = None,
):
    """Batches ``(x, y)`` of a split, ready for a model: a :class:`TensorLoader` for the in-memory
    datasets, a ``DataLoader`` with the standard transforms for ImageNet (and CelebA beyond ``limit``). ``limit``
    and ``draw``: which samples (:func:`subset`).

    ``shuffle`` defaults to ``train``. ``size`` pads (small datasets) or resizes (ImageNet) to a side.
    ``pin_memory``: the ``DataLoader``'s batches in page-locked memory, for non-blocking copies to a GPU.
    """
    root = DATA_ROOT if root is None else Path(root)
    spec = _check_name(name)
    shuffle = train if shuffle is None else shuffle
    if spec.in_memory or (name == "CelebA" and limit is not None):
        x, y = tensors(name, train, root, limit, draw)
        return TensorLoader(prepare(x, name, size, standardize), y, batch_size, shuffle, seed)
    side = size or spec.size
    steps = [v2.PILToTensor()]
    steps += (
        [v2.RandomResizedCrop(side, antialias=True), v2.RandomHorizontalFlip()]
        if train
        else [v2.Resize(side * 8 // 7, antialias=True), v2.CenterCrop(side)]
    )
    steps += [v2.ToDtype(torch.float32, scale=True)]
    if standardize:
        steps += [v2.Normalize(spec.mean, spec.std)]
    ds = open_dataset(name, train, root, transform=v2.Compose(steps))
    if limit is not None or draw is not None:
        ds = torch.utils.data.Subset(ds, subset(len(ds), limit, draw, train).tolist())
    return torch.utils.data.DataLoader(
        ds,
        batch_size=batch_size,
        shuffle=shuffle,
        num_workers=workers,
        generator=torch.Generator().manual_seed(seed),
        pin_memory=pin_memory,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lib.core.data", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "names",
        nargs="*",
        help=f"datasets to fetch (default: data.datasets of the active profile); any of {list(SPECS)}",
    )
    parser.add_argument("--root", type=Path, default=DATA_ROOT, help="data root (default: %(default)s)")
    parser.add_argument(
        "--mirror",
        type=Path,
        default=os.environ.get("DATA_MIRROR") or None,
        help="folder in torchvision's layout to copy raw archives from (default: $DATA_MIRROR)",
    )
    args = parser.parse_args(argv)
    names = args.names or load("data").datasets
    for name in names:
        _check_name(name)
    if args.mirror is not None and not Path(args.mirror).is_dir():
        parser.error(f"DATA_MIRROR={args.mirror} is not a folder")
    for name in names:
        try:
            fetch(name, args.root, args.mirror)
        except DatasetMissing as err:
            print(err, file=sys.stderr)
            return 1
        print(f"{name}: ready under {args.root}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""FlexRel's base networks (§IV): the data they see, how they are built and trained, and where they are stored.

Every seed trains one pre-pruning network (a VGG shared by notebooks 01-03 and trained only by 01; notebook 08
also trains LeNet-300-100). This module is the
part of the protocol that happens *before* any pruning setting matters: a run store key covers the source
of the modules it imports (:func:`lib.store.runs.code`), so editing a pruning criterion never retrains a base
network.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import nn

from lib.core import data, models, train
from lib.store import runs

if TYPE_CHECKING:  # annotations only: the schema of section flexrel is no part of a base network's key
    from lib.params.flexrel import FlexRelParams

#: Fields of section ``flexrel`` in no run's key: they only choose which runs exist (the grid) or how the
#: results are read (``targets_rel``). ``device`` is replaced by the device a run actually used.
GRID = ("seeds", "methods", "baselines", "factors", "recovery_factors", "random_draws", "delta", "deltas", "delta_factors",
        "targets_rel", "device")
#: Fields the base network's training never reads (pruning, BatchNorm re-estimation, recovery), also left out
#: of its key; it sees its section through a :class:`lib.store.runs.View` that raises on them.
NOT_READ = ("relevance_images", "unfolded_input", "composite", "relevance_target", "relevance_split", "relevance_shift",
            "normalisation", "partner", "prune_steps", "test_shift", "prune_linear", "scope", "bn_batches", "epochs_post",
            "lr_post", "post_subset")
#: What to run when a stage needs the base networks and they are not stored.
MISSING = "Notebook 01 trains the base networks: run `dvc repro 01_flexrel_accuracy_vs_pruning` first."


def device(p: FlexRelParams) -> torch.device:
    """The torch device the profile asks for (:func:`lib.core.train.device`)."""
    return train.device(p.device)


def batches(p: FlexRelParams, part: str, seed: int = 0, shuffle: bool | None = None, limit: int | None = None,
            dev: torch.device | None = None, shift: str = "none"):
    """A fresh loader over ``part`` (``train``: shuffled from ``seed``; ``test``: in order), optionally over
    the first ``limit`` samples, serving batches on ``dev`` (default: the CPU): every training phase starts
    from the same batch order, whatever ran before it in this process. In-memory datasets move to ``dev``
    once; the others load into pinned memory and copy without blocking. ``shift``: the images under
    :func:`lib.core.data.shift` (in-memory datasets only)."""
    dev = dev or torch.device("cpu")
    train_split = part == "train"
    shuffle = train_split if shuffle is None else shuffle
    if data.SPECS[p.dataset].in_memory:
        x_tr, y_tr, x_te, y_te = data.splits(p.dataset, p.image_size, p.train_subset, p.test_subset, channels_last=True)
        x, y = (x_tr, y_tr) if train_split else (x_te, y_te)
        x = data.shift(x[:limit], p.dataset, shift, seed)
        return data.TensorLoader(x.to(dev), y[:limit].to(dev), p.batch_size if train_split else 256,
                                 shuffle=shuffle, seed=seed)
    if shift != "none":
        raise NotImplementedError(f"shift {shift!r} is implemented for in-memory datasets only, not {p.dataset}")
    size = p.train_subset if train_split else p.test_subset
    if limit is not None:
        size = limit if size is None else min(size, limit)
    loader = data.loader(p.dataset, train_split, p.batch_size, size=p.image_size, limit=size, shuffle=shuffle, seed=seed,
                         pin_memory=dev.type == "cuda")
    return loader if dev.type == "cpu" else _Copied(loader, dev)


class _Copied:
    """A loader's batches copied to ``dev`` without blocking (from pinned memory)."""

    def __init__(self, loader, dev: torch.device) -> None:
        self.loader, self.dev = loader, dev

    def __len__(self) -> int:
        return len(self.loader)

    def __iter__(self):
        for x, y in self.loader:
            yield x.to(self.dev, non_blocking=True), y.to(self.dev, non_blocking=True)


def build(p: FlexRelParams, seed: int) -> nn.Module:
    """A freshly initialised network for ``seed``."""
    torch.manual_seed(seed)
    spec = data.SPECS[p.dataset]
    if p.model == "lenet300":
        return models.mlp([spec.channels * p.image_size**2, 300, 100, spec.classes])
    return models.vgg16(spec.classes, spec.channels, p.width, batch_norm=p.model == "vgg16_bn", image_size=p.image_size,
                        dropout=p.dropout)


def place(model: nn.Module, dev: torch.device) -> nn.Module:
    return model.to(dev, memory_format=torch.channels_last)


def fit(model: nn.Module, p: FlexRelParams, seed: int, epochs: int, lr: float, schedule: str, limit: int | None,
        dev: torch.device) -> list[dict]:
    """Train ``epochs`` epochs from a fresh optimizer (schedule over the whole phase); one row per epoch.
    Data-parallel over the processes of a ``torchrun`` launch (:func:`lib.core.train.parallel`)."""
    torch.manual_seed(seed)
    train_batches = batches(p, "train", seed, limit=limit, dev=dev)
    net = train.parallel(model)
    opt = train.make_optimizer(p.optimizer, net.parameters(), lr, p.momentum, p.weight_decay)
    sched = train.make_scheduler(schedule, opt, epochs * len(train_batches))
    rows = []
    for _ in range(epochs):
        epoch = train.train_epoch(net, train_batches, opt, sched, amp=p.amp)
        rows.append({"train_acc": epoch["acc"], "train_loss": epoch["loss"], **evaluate(model, p, dev), "seconds": epoch["seconds"]})
    train.local_batchnorm(model)
    return rows


#: Base networks already loaded in this process, by cache key: every pruning run starts from one, and building
#: and loading a VGG cost about as much as the retention measurement itself. Pruning works on a copy.
_LOADED: dict[str, tuple[nn.Module, list[dict]]] = {}


def pretrained(p: FlexRelParams, seed: int, train_if_missing: bool = True,
               dev: torch.device | None = None) -> tuple[nn.Module, list[dict]]:
    """The pre-pruning network of ``seed`` after ``epochs_pre`` epochs on ``dev`` (default: the device ``p`` asks
    for), and one row per epoch (stored; callers must not modify the network — :func:`lib.core.prune.prune` copies
    it). ``train_if_missing=False``: load it or fail with what to run (stages after 01 never train base networks
    themselves)."""
    q, dev = runs.View(p, GRID + NOT_READ), dev or device(p)
    run = {"seed": seed, "device": str(dev)}
    key = runs.config_hash({"params": q.params(), "run": run, "store": str(runs.RUNS)})
    if key not in _LOADED:

        def train_base(q: runs.View, model: nn.Module) -> list[dict]:
            rows = fit(place(model, dev), q, seed, q.epochs_pre, q.lr, q.lr_schedule, None, dev)
            return [{"method": "unpruned", "factor": 0.0, "seed": seed, "stage": "pretrain", "epoch": e, **r}
                    for e, r in enumerate(rows, 1)]

        model, rows = runs.cached_model(store_kind(p), q, run, lambda q: build(q, seed), train_base, train=train_if_missing,
                                          missing=MISSING)
        _LOADED[key] = place(model, dev).eval(), rows
    return _LOADED[key]


def store_kind(p: FlexRelParams) -> str:
    """Where a base network is stored: ``flexrel-pre`` for the VGGs (notebook 01's output, which 03 depends on),
    ``flexrel-pre-<model>`` for the others (trained by notebook 08 as its second architecture)."""
    return "flexrel-pre" if p.model.startswith("vgg") else f"flexrel-pre-{p.model}"


def example_input(p: FlexRelParams) -> torch.Tensor:
    spec = data.SPECS[p.dataset]
    return torch.zeros(1, spec.channels, p.image_size, p.image_size)


def evaluate(model: nn.Module, p: FlexRelParams, dev, shift: str = "none") -> dict:
    """Held-out test accuracy and loss (on images under ``shift``)."""
    out = train.evaluate(model, batches(p, "test", dev=dev, shift=shift), amp=p.amp)
    return {"test_acc": out["acc"], "test_loss": out["loss"]}

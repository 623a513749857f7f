"""FlexRel's base networks (§IV): the data they see, how they are built and trained, and where they are stored.

Every seed trains one pre-pruning network (a VGG shared by notebooks 01-03 and trained only by 01; notebook 08
also trains LeNet-300-100, notebook 09 a ResNet-18). This module is the
part of the protocol that happens *before* any pruning setting matters: a stored run records the code it executed
(:mod:`lib.core.code`), so editing a pruning criterion never retrains a base network.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar

import torch
from torch import nn

from ..core import code, data, models, train
from ..params.catalogue import NETWORKS
from ..store import runs

if TYPE_CHECKING:  # annotations only: the schema of section flexrel is no part of a base network's key
    from ..params.flexrel import FlexRelParams

#: Fields of section ``flexrel`` in no run's key: they only choose which runs exist (the grid) or how the
#: results are read (``targets_rel``). ``device`` is replaced by the device a run actually used.
GRID = (
    "seeds",
    "methods",
    "baselines",
    "factors",
    "recovery_factors",
    "random_draws",
    "delta",
    "deltas",
    "delta_factors",
    "targets_rel",
    "device",
)
#: Fields the base network's training never reads (pruning, BatchNorm re-estimation, recovery), also left out
#: of its key; it sees its section through a :class:`lib.store.runs.View` that raises on them.
NOT_READ = (
    "relevance_images",
    "unfolded_input",
    "composite",
    "relevance_target",
    "relevance_split",
    "relevance_shift",
    "normalisation",
    "partner",
    "prune_steps",
    "test_shift",
    "prune_linear",
    "scope",
    "bn_batches",
    "epochs_post",
    "lr_post",
    "post_subset",
)
#: What to run when a stage needs the base networks and they are not stored.
MISSING = "Notebook 01 trains the base networks: run `dvc repro 01_flexrel_accuracy_vs_pruning` first."


def device(p: FlexRelParams | runs.View) -> torch.device:
    """The torch device the profile asks for (:func:`lib.core.train.device`): a protocol resolves it once and
    hands it down."""
    return train.device(p.device)


@dataclass(frozen=True)
class Images:
    """A section's images, read from its fields once (:meth:`of`): the lower layers get loaders from it, never the
    section itself."""

    dataset: str
    image_size: int
    train_subset: int | None
    test_subset: int | None
    batch_size: int
    #: the seed whose subsets these are (``subsets: per_seed``), or ``None``: the first images of each split
    draw: int | None = None
    per_seed: bool = False

    @classmethod
    def of(cls, p: FlexRelParams, seed: int | None = None) -> Images:
        """The images of section ``p`` that seed ``seed`` trains and is tested on (``subsets``); without a seed only
        :meth:`example` can be asked for under ``subsets: per_seed``."""
        per_seed = p.subsets == "per_seed"
        draw = None if seed is None else data.draw(p.subsets, seed)
        return cls(p.dataset, p.image_size, p.train_subset, p.test_subset, p.batch_size, draw, per_seed)

    def batches(
        self,
        part: str,
        seed: int = 0,
        shuffle: bool | None = None,
        limit: int | None = None,
        dev: torch.device | None = None,
        shift: str = "none",
    ):
        """A fresh loader over ``part`` (``train``: shuffled from ``seed``; ``test``: in order), optionally over
        the first ``limit`` samples, serving batches on ``dev`` (default: the CPU): every training phase starts
        from the same batch order, whatever ran before it in this process. In-memory datasets move to ``dev``
        once; the others load into pinned memory and copy without blocking. ``shift``: the images under
        :func:`lib.core.data.shift` (in-memory datasets only)."""
        if self.per_seed and self.draw is None:
            raise ValueError("subsets: per_seed draws each seed's images: make these Images with the run's seed")
        dev = dev or torch.device("cpu")
        train_split = part == "train"
        shuffle = train_split if shuffle is None else shuffle
        if data.SPECS[self.dataset].in_memory:
            x_tr, y_tr, x_te, y_te = data.splits(
                self.dataset, self.image_size, self.train_subset, self.test_subset, channels_last=True, draw=self.draw
            )
            x, y = (x_tr, y_tr) if train_split else (x_te, y_te)
            x = data.shift(x[:limit], self.dataset, shift, seed)
            return data.TensorLoader(
                x.to(dev), y[:limit].to(dev), self.batch_size if train_split else 256, shuffle=shuffle, seed=seed
            )
        if shift != "none":
            raise NotImplementedError(f"shift {shift!r} is implemented for in-memory datasets only, not {self.dataset}")
        size = self.train_subset if train_split else self.test_subset
        if limit is not None:
            size = limit if size is None else min(size, limit)
        loader = data.loader(
            self.dataset,
            train_split,
            self.batch_size,
            size=self.image_size,
            limit=size,
            shuffle=shuffle,
            seed=seed,
            pin_memory=dev.type == "cuda",
            draw=self.draw,
        )
        return loader if dev.type == "cpu" else _Copied(loader, dev)

    def example(self) -> torch.Tensor:
        """One all-zero input image (batch of one): what parameter and MAC counts trace."""
        spec = data.SPECS[self.dataset]
        return torch.zeros(1, spec.channels, self.image_size, self.image_size)


@dataclass(frozen=True)
class Recipe:
    """How one phase of training runs, read from a section once: the optimizer and its settings, the learning
    rate and its schedule, the epochs, how many training images (``None``: all), mixed precision, and the epochs
    the schedule spans (``None``: this phase's) of which ``skip`` ran in an earlier phase (study 2's schedule
    carried on across the pruning point)."""

    optimizer: str
    lr: float
    momentum: float
    weight_decay: float
    schedule: str
    epochs: int
    limit: int | None = None
    amp: bool = False
    span: int | None = None
    skip: int = 0

    @classmethod
    def pretraining(cls, p: FlexRelParams) -> Recipe:
        """The base network's training (``epochs_pre`` epochs at ``lr`` under ``lr_schedule``)."""
        return cls(p.optimizer, p.lr, p.momentum, p.weight_decay, p.lr_schedule, p.epochs_pre, None, p.amp)

    @classmethod
    def recovery(cls, p: FlexRelParams) -> Recipe:
        """The fine-tune after pruning (``epochs_post`` epochs on ``post_subset`` images, cosine from ``lr_post``)."""
        return cls(p.optimizer, p.lr_post, p.momentum, p.weight_decay, "cosine", p.epochs_post, p.post_subset, p.amp)


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
    return models.BUILDERS[p.model](spec.classes, spec.channels, p.image_size, p.width, p.dropout)


def place(model: nn.Module, dev: torch.device) -> nn.Module:
    """``model`` on ``dev`` in channels-last memory format (faster convolutions), except a residual network: with
    torch 2.14.1 on a CPU, a pruned ResNet-18 in channels-last hung in backward after the first optimizer step, and
    crashed (segmentation fault) with one thread; in the default format it trains. (Its one-channel inputs are
    both formats at once; a three-channel channels-last input would switch the convolutions back.)"""
    return model.to(dev, memory_format=torch.contiguous_format if models.residual(model) else torch.channels_last)


def fit(model: nn.Module, images: Images, recipe: Recipe, seed: int, dev: torch.device) -> list[dict]:
    """Train ``model`` (on ``dev``) by ``recipe`` from a fresh optimizer (the schedule over the whole phase) on
    ``images`` shuffled from ``seed``; one row per epoch with the held-out accuracy after it. Data-parallel over
    the processes of a ``torchrun`` launch (:func:`lib.core.train.parallel`)."""
    torch.manual_seed(seed)
    train_batches = images.batches("train", seed, limit=recipe.limit, dev=dev)
    net = train.parallel(model)
    opt = train.make_optimizer(recipe.optimizer, net.parameters(), recipe.lr, recipe.momentum, recipe.weight_decay)
    per_epoch = len(train_batches)
    sched = train.make_scheduler(
        recipe.schedule, opt, (recipe.span or recipe.epochs) * per_epoch, recipe.skip * per_epoch
    )
    rows = []
    for _ in range(recipe.epochs):
        epoch = train.train_epoch(net, train_batches, opt, sched, amp=recipe.amp)
        rows.append(
            {
                "train_acc": epoch["acc"],
                "train_loss": epoch["loss"],
                **evaluate(model, images, dev, recipe.amp),
                "seconds": epoch["seconds"],
            }
        )
    train.local_batchnorm(model)
    return rows


#: Base networks already loaded in this process, by run: every pruning run starts from one, and building and loading
#: a VGG cost about as much as the retention measurement itself. Pruning works on a copy.
_LOADED: dict[tuple, tuple[tuple[nn.Module, list[dict]], dict[str, str]]] = {}


@dataclass(frozen=True)
class Base(runs.Run):
    """A seed's pre-pruning network, trained ``epochs_pre`` epochs on ``device`` (a stored run: :meth:`result`).
    ``trains``: whether a missing one is trained here (notebook 01, 08 and 09 train theirs) or refused with what to
    run (every stage that only reads them); it is no part of the run's identity."""

    device: str
    trains: bool = field(default=True, compare=False)
    phase: ClassVar[int] = 0

    @classmethod
    def of(cls, p: FlexRelParams | runs.View, seed: int, dev: torch.device | None = None, trains: bool = True) -> Base:
        """Section (or view) ``p``'s base network of ``seed`` on ``dev`` (default: the device ``p`` asks for)."""
        view = p.narrow(NOT_READ) if isinstance(p, runs.View) else runs.View(p, GRID + NOT_READ)
        return cls(view, seed, str(dev or device(p)), trains)

    @property
    def kind(self) -> str:  # type: ignore[override]
        """Where it is stored: ``flexrel-pre`` for the VGGs (notebook 01's output, which 03 depends on),
        ``flexrel-pre-<model>`` for the others (trained by notebooks 08 and 09 for their architectures)."""
        return NETWORKS[self.view.model].kind

    def key(self) -> dict:
        return {"seed": self.seed, "device": self.device}

    def result(self) -> tuple[nn.Module, list[dict]]:
        """The network (on its device, in eval mode; callers must not modify it — :func:`lib.core.prune.prune`
        copies it) and one row per epoch."""
        return code.remembered(_LOADED, (self.identity(), str(runs.RUNS)), self._load)

    def _load(self) -> tuple[nn.Module, list[dict]]:
        model, rows = runs.cached_model(
            self, lambda: build(self.view, self.seed), self._train, train=self.trains, missing=MISSING
        )
        return place(model, torch.device(self.device)).eval(), rows

    def recipe(self) -> Recipe:
        """How it trains: the section's pre-training (:meth:`Recipe.pretraining`)."""
        return Recipe.pretraining(self.view)

    def _train(self, model: nn.Module) -> list[dict]:
        dev = torch.device(self.device)
        rows = fit(place(model, dev), Images.of(self.view, self.seed), self.recipe(), self.seed, dev)
        return [
            {"method": "unpruned", "factor": 0.0, "seed": self.seed, "stage": "pretrain", "epoch": e, **r}
            for e, r in enumerate(rows, 1)
        ]


def evaluate(model: nn.Module, images: Images, dev: torch.device, amp: bool = False, shift: str = "none") -> dict:
    """Held-out test accuracy and loss on ``images``' test split (under ``shift``)."""
    out = train.evaluate(model, images.batches("test", dev=dev, shift=shift), amp=amp)
    return {"test_acc": out["acc"], "test_loss": out["loss"]}

"""Parameters: ``params.yaml``, its profiles, and their validation.

``params.yaml`` names the active ``profile`` and a ``seed`` at the top level, holds every section once
(``data`` for ``00_data``, ``flexrel`` for 01-03, ``split``, ``rank``, ``vae``, ``beyond`` for 07-08: the
``default`` profile), and
under ``profiles:`` a short block of overrides per profile — every section present, ``{}`` where it
overrides nothing (the stages track ``profiles.<active>.<section>``, see ``dvc.yaml``). A profile's section
is the base section updated by its overrides. Every section is a frozen dataclass below: its fields are the
only keys allowed, with their types and ranges, so a typo, a wrong type or a value out of range stops the
run before any work with one message naming the key, the value and what is allowed.

Run ``python -m lib.config`` to validate the file and print the active profile (every stage runs it first).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import random
import sys
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
import yaml

from lib.train import DEVICES, OPTIMIZERS, SCHEDULES

ROOT = Path(__file__).resolve().parents[1]
PARAMS_FILE = ROOT / "params.yaml"
DATA_ROOT = ROOT / "data"
RESULTS = ROOT / "results"
FIGURES = ROOT / "figures"
#: Finished training runs, keyed by a hash of their configuration (resumable stages).
RUNS = ROOT / "cache" / "runs"

PROFILES = ("smoke", "default", "paper", "cifar")
#: FlexRel's pruning criteria: the paper's three, raw or BatchNorm-folded magnitude, and the random control.
FLEXREL_METHODS = ("magnitude", "magnitude_bn", "relevance", "flexrel", "random")
#: Today's criteria beside the papers' (``lib.scores.library_scores``: torch-pruning's first-order Taylor, LAMP and
#: BatchNorm-scale importances) and the rank paper's contribution on filters (``lib.scores.filter_contribution``).
BASELINES = ("taylor", "lamp", "bn_scale", "contribution")
#: FlexRel's networks: torchvision's VGG-16 with or without BatchNorm, and LeNet-300-100 (a second architecture).
FLEXREL_MODELS = ("vgg16_bn", "vgg16", "lenet300")
#: zennit composites that give LRP's rules (``lib.scores.COMPOSITES``); the paper does not name its rules.
COMPOSITE_NAMES = ("EpsilonPlusFlat", "EpsilonGammaBox", "EpsilonAlpha2Beta1")
#: Whose logit LRP starts from: the image's true class or the network's predicted class.
RELEVANCE_TARGETS = ("label", "predicted")
#: Where relevance's reference images come from: the first training images (seen in training), or training-split
#: images after ``train_subset`` (never trained on).
RELEVANCE_SPLITS = ("train", "unseen")
#: Data shifts (``lib.data.shift``): none, rotation by 30°, additive Gaussian noise of 0.5 standard deviations.
SHIFTS = ("none", "rotate", "noise")
#: How FlexRel puts magnitude and relevance on one scale: min-max within each layer (the paper's "normalised"), or
#: over the whole network on per-filter totals or per-parameter means (the same within a layer, not across).
NORMALISATIONS = ("layer", "network_total", "network_mean")
#: What relevance is combined with in FlexRel's score: magnitude (the paper), BatchNorm-folded magnitude or Taylor.
PARTNERS = ("magnitude", "magnitude_bn", "taylor")
#: The rows of notebook 07: each unstated choice of the FlexRel paper as overrides of section ``flexrel`` for
#: FlexRel, and for the criterion it is compared with (``magnitude`` unless the row says otherwise).
VARIANTS: dict[str, dict[str, Any]] = {
    "composite=EpsilonGammaBox": {"flexrel": {"composite": "EpsilonGammaBox"}},
    "composite=EpsilonAlpha2Beta1": {"flexrel": {"composite": "EpsilonAlpha2Beta1"}},
    "target=predicted": {"flexrel": {"relevance_target": "predicted"}},
    "images=128": {"flexrel": {"relevance_images": 128}},
    "images=unseen": {"flexrel": {"relevance_split": "unseen"}},
    "scope=global": {"flexrel": {"scope": "global"}, "baseline": {"scope": "global"}},
    "normalisation=network_total": {"flexrel": {"normalisation": "network_total"}},
    "normalisation=network_mean": {"flexrel": {"normalisation": "network_mean"}},
    "magnitude=bn_folded": {"flexrel": {"partner": "magnitude_bn"}, "method": "magnitude_bn"},
}
#: Fields of section ``flexrel`` that notebooks 07-08 vary on a profile's section (``VARIANTS``, the second
#: architecture, the shifts, the partner, dynamic pruning): a stored run that differs from a profile's section only
#: in them is one of those studies' runs, and still current (``lib.runs.why_stale``).
STUDY_FIELDS = ("model", "prune_linear", "composite", "relevance_target", "relevance_split", "relevance_images",
                "relevance_shift", "scope", "normalisation", "partner", "prune_steps", "test_shift")
DATASETS = ("MNIST", "FashionMNIST", "CIFAR10", "CIFAR100", "CelebA", "ImageNet")
#: The rank paper's two readings of its contribution (``lib.contribution.CONTRIBUTION_PRESETS`` has one preset each).
READINGS = ("paper", "original_code")
#: Train-time pruning arms: lowest contribution pruned, uniform random, highest pruned (the code's "random"), none.
RANK_METHODS = ("rank", "random", "worst", "none")
#: Where Fig. 3's device-side computation time comes from: timed on this machine, or an assumed throughput.
DEVICE_TIMES = ("measured", "assumed")
#: How pruning amounts apply (``lib.prune.prune``): the same fraction per layer, or one ranking over all layers.
SCOPES = ("layer", "global")
#: How a convolution's input relevance enters eq. (1)'s unfolded form (``lib.scores.layer_relevance``).
UNFOLDED_INPUTS = ("copy", "share")


class ParamsError(ValueError):
    """``params.yaml`` is malformed: the message names the key, the value and what is allowed."""


@dataclass(frozen=True)
class DataParams:
    """Section ``data`` (notebook ``00_data``).

    Attributes
    ----------
    datasets
        Datasets to fetch (``make data``) and to show; any of ``DATASETS``.
    grid
        Number of sample images per dataset in the sample grid.
    """

    datasets: list[str]
    grid: int

    def __post_init__(self) -> None:
        for name in self.datasets:
            _check_choice("data.datasets", name, DATASETS)
        _check_range("data.grid", self.grid, 1, 1024)


def _check_fractions(key: str, values: list[float], high_open: bool) -> None:
    for v in values:
        if not (0.0 <= v < 1.0 if high_open else 0.0 <= v <= 1.0):
            raise ParamsError(f"params.yaml: {key} contains {v!r}; allowed: 0 ≤ value {'<' if high_open else '≤'} 1")


@dataclass(frozen=True)
class FlexRelParams:
    """Section ``flexrel`` (notebooks ``01``-``03``): the FlexRel protocol of §IV.

    Attributes
    ----------
    dataset, model, width, image_size, dropout
        Data and network: ``model`` is ``vgg16_bn`` or ``vgg16`` (torchvision's, no BatchNorm) with a width
        multiplier; small images are zero-padded to ``image_size``; ``dropout`` in the classifier (VGG: 0.5).
    train_subset, test_subset
        First samples of the official training / held-out test split to use (``null``: all).
    batch_size, optimizer, lr, lr_schedule, momentum, weight_decay
        Pre-training (the paper: Adam, lr 0.05, no schedule); ``lr_schedule`` is ``constant``, ``cosine`` or
        ``onecycle`` over the whole phase.
    epochs_pre
        Epochs before pruning (the paper: 10).
    epochs_post, lr_post, post_subset
        Recovery: fine-tuning epochs after pruning on the first ``post_subset`` training images (``null``:
        all), learning rate decaying from ``lr_post`` to 0 (cosine); the paper trains 40 epochs.
    seeds
        One base network per seed (initialisation and batch order); every method is compared on the same ones.
    methods
        Any of ``magnitude`` (raw |w|, the paper's), ``magnitude_bn`` (|w| with BatchNorm folded in),
        ``relevance``, ``flexrel``, ``random`` (the control).
    baselines
        Today's criteria, measured on retention beside ``methods`` (never in recovery or in the paper's
        verdicts): any of ``BASELINES``.
    factors
        Retention grid: fraction of filters removed (per layer with ``scope: layer``); the x-axes show the
        fraction of parameters removed.
    recovery_factors
        The few factors at which recovery (fine-tuning) runs.
    random_draws
        Independent random prunings per seed and factor (averaged per seed) for retention.
    delta
        FlexRel's δ in Fig. 2 (0 = magnitude only, 1 = relevance only). The paper does not state it.
    deltas, delta_factors
        The δ sweep of Fig. 4 and the pruning factors it is run at.
    scope
        ``layer`` (every layer loses the same fraction) or ``global`` (one ranking over all layers).
    prune_linear
        Also prune the classifier's hidden neurons (the paper prunes convolution filters only).
    relevance_images
        Training images relevance is computed on (the paper: unspecified "input data").
    unfolded_input
        ``copy`` or ``share``: how a convolution's input relevance enters eq. (1)'s unfolded form.
    composite, relevance_target, relevance_split, relevance_shift
        LRP's rules (``COMPOSITE_NAMES``), whose logit it starts from (``label`` or ``predicted``), where its
        reference images come from (``train`` or ``unseen``) and how they are shifted (``SHIFTS``). Unstated
        in the paper; notebook 07 runs the alternatives.
    normalisation, partner
        How FlexRel scales magnitude and relevance (``NORMALISATIONS``) and what relevance is combined with
        (``PARTNERS``; the paper: magnitude).
    prune_steps
        Prune in this many steps to the same final width, recomputing every score (and BatchNorm statistics)
        between them (1: one shot, the paper).
    test_shift
        Shift of the held-out test images a pruned network is measured on (``SHIFTS``; notebook 08).
    bn_batches
        Training batches used to re-estimate BatchNorm statistics right after pruning.
    targets_rel
        Accuracy targets relative to the seed's unpruned accuracy (Fig. 2's reach, Fig. 3); the paper's
        absolute ImageNet targets have no FashionMNIST equivalent.
    device
        ``auto`` (CUDA if available), ``cpu`` or ``cuda``.
    amp
        Mixed precision (bfloat16 autocast) where the run is on CUDA; CPUs always compute in float32, so it
        has no effect there (``true`` with ``device: cpu`` is an error).
    """

    dataset: str
    model: str
    width: float
    image_size: int
    dropout: float
    train_subset: int | None
    test_subset: int | None
    batch_size: int
    optimizer: str
    lr: float
    lr_schedule: str
    momentum: float
    weight_decay: float
    epochs_pre: int
    epochs_post: int
    lr_post: float
    post_subset: int | None
    seeds: list[int]
    methods: list[str]
    baselines: list[str]
    factors: list[float]
    recovery_factors: list[float]
    random_draws: int
    delta: float
    deltas: list[float]
    delta_factors: list[float]
    scope: str
    prune_linear: bool
    relevance_images: int
    unfolded_input: str
    composite: str
    relevance_target: str
    relevance_split: str
    relevance_shift: str
    normalisation: str
    partner: str
    prune_steps: int
    test_shift: str
    bn_batches: int
    targets_rel: list[float]
    device: str
    amp: bool

    def __post_init__(self) -> None:
        _check_choice("flexrel.dataset", self.dataset, [d for d in DATASETS if d != "CelebA"])
        _check_choice("flexrel.model", self.model, FLEXREL_MODELS)
        _check_range("flexrel.width", self.width, 0.01, 4)
        _check_range("flexrel.dropout", self.dropout, 0.0, 0.99)
        _check_choice("flexrel.optimizer", self.optimizer, OPTIMIZERS)
        _check_choice("flexrel.lr_schedule", self.lr_schedule, SCHEDULES)
        for m in self.methods:
            _check_choice("flexrel.methods", m, FLEXREL_METHODS)
        for m in self.baselines:
            _check_choice("flexrel.baselines", m, BASELINES)
        if "bn_scale" in self.baselines and self.model != "vgg16_bn":
            raise ParamsError(f"params.yaml: flexrel.baselines has 'bn_scale' but flexrel.model = {self.model!r} has no "
                              "BatchNorm; remove it or use model 'vgg16_bn'")
        if self.model == "lenet300" and not self.prune_linear:
            raise ParamsError("params.yaml: flexrel.model = 'lenet300' has no convolutions; set flexrel.prune_linear: true")
        if self.relevance_split == "unseen" and self.train_subset is None:
            raise ParamsError("params.yaml: flexrel.relevance_split = 'unseen' needs a train_subset (the unseen images "
                              "are the training-split images after it); set train_subset or use 'train'")
        for key, allowed in (("composite", COMPOSITE_NAMES), ("relevance_target", RELEVANCE_TARGETS),
                             ("relevance_split", RELEVANCE_SPLITS), ("relevance_shift", SHIFTS), ("test_shift", SHIFTS),
                             ("normalisation", NORMALISATIONS), ("partner", PARTNERS)):
            _check_choice(f"flexrel.{key}", getattr(self, key), allowed)
        _check_range("flexrel.prune_steps", self.prune_steps, 1, 100)
        if self.prune_steps > 1 and self.scope != "layer":
            raise ParamsError("params.yaml: flexrel.prune_steps > 1 prunes each layer to its one-shot width; it needs scope 'layer'")
        if "random" not in self.methods:
            raise ParamsError("params.yaml: flexrel.methods must contain 'random' (the control every verdict is gated on)")
        _check_fractions("flexrel.factors", self.factors, high_open=True)
        _check_fractions("flexrel.recovery_factors", self.recovery_factors, high_open=True)
        for key in ("factors", "recovery_factors", "delta_factors"):
            if 0.0 in getattr(self, key):
                raise ParamsError(f"params.yaml: flexrel.{key} contains 0; the unpruned network is always included")
        _check_fractions("flexrel.delta_factors", self.delta_factors, high_open=True)
        _check_fractions("flexrel.deltas", self.deltas, high_open=False)
        _check_fractions("flexrel.delta", [self.delta], high_open=False)
        _check_fractions("flexrel.targets_rel", self.targets_rel, high_open=False)
        _check_choice("flexrel.scope", self.scope, SCOPES)
        _check_choice("flexrel.unfolded_input", self.unfolded_input, UNFOLDED_INPUTS)
        _check_choice("flexrel.device", self.device, DEVICES)
        _check_amp("flexrel", self.device, self.amp)
        _check_seeds("flexrel.seeds", self.seeds)
        for key in ("epochs_pre", "epochs_post", "batch_size", "relevance_images", "random_draws", "bn_batches"):
            _check_range(f"flexrel.{key}", getattr(self, key), 1, 10**9)
        for key in ("train_subset", "test_subset", "post_subset"):
            if getattr(self, key) is not None:
                _check_range(f"flexrel.{key}", getattr(self, key), 1, 10**9)
        for key in ("lr", "lr_post"):
            _check_range(f"flexrel.{key}", getattr(self, key), 1e-9, 10)
        _check_range("flexrel.momentum", self.momentum, 0.0, 0.999)
        _check_range("flexrel.weight_decay", self.weight_decay, 0.0, 1.0)
        _check_range("flexrel.image_size", self.image_size, 32, 1024)


@dataclass(frozen=True)
class SplitParams:
    """Section ``split`` (notebook ``02``): the split-learning cost model of Fig. 3.

    Attributes
    ----------
    cut_layer
        Module whose output the mobile device sends to the edge server (a name from ``named_modules()``).
    uplink_mbps, downlink_mbps
        Link rates; the paper: 150 and 20 Mbit/s (5G, OpenSignal 2023).
    bytes_per_value
        Size of one transmitted activation or gradient value (4 = float32).
    device_time
        ``measured``: the device's computation time is the forward and backward pass up to the cut, timed on
        this machine's CPU for every pruned network; ``assumed``: modelled from ``device_gmacs`` like the
        server's (deterministic). The figure says which.
    device_gmacs, server_gmacs
        Sustained throughput of the mobile device and the edge server, in 10⁹ multiply-accumulates per
        second (assumptions; the paper gives none). ``device_gmacs`` is read only with ``device_time: assumed``.
    backward_factor
        Cost of a backward pass relative to the forward pass (≈2: gradients w.r.t. inputs and weights).
    """

    cut_layer: str
    uplink_mbps: float
    downlink_mbps: float
    bytes_per_value: int
    device_time: str
    device_gmacs: float
    server_gmacs: float
    backward_factor: float

    def __post_init__(self) -> None:
        for key in ("uplink_mbps", "downlink_mbps", "bytes_per_value", "device_gmacs", "server_gmacs"):
            _check_range(f"split.{key}", getattr(self, key), 1e-9, 1e12)
        _check_range("split.backward_factor", self.backward_factor, 0, 10)
        _check_choice("split.device_time", self.device_time, DEVICE_TIMES)


@dataclass(frozen=True)
class ScheduleParams:
    """The train-time pruning schedule shared by sections ``rank`` and ``vae``.

    Attributes
    ----------
    initial_epochs, recovery_epochs, final_epochs
        Epochs before the first pruning round, between rounds, and after the last one.
    prune_fraction
        Fraction of each hidden layer's *current* width removed per round.
    target_removed
        Stop pruning once this fraction of the original hidden neurons is gone.
    """

    SECTION: ClassVar[str] = "schedule"
    initial_epochs: int
    recovery_epochs: int
    final_epochs: int
    prune_fraction: float
    target_removed: float

    def __post_init__(self) -> None:
        section = self.SECTION
        _check_fractions(f"{section}.prune_fraction", [self.prune_fraction], high_open=True)
        _check_fractions(f"{section}.target_removed", [self.target_removed], high_open=True)
        for key in ("initial_epochs", "recovery_epochs", "final_epochs"):
            _check_range(f"{section}.{key}", getattr(self, key), 0 if key == "final_epochs" else 1, 10**6)


@dataclass(frozen=True)
class RankParams(ScheduleParams):
    """Section ``rank`` (notebooks ``04``-``05``): train-time pruning by neuron contribution.

    Attributes
    ----------
    datasets
        Datasets of Fig. 1 (the 784-50-30-10 MLP).
    table_datasets
        Rows of Table 1 that are run: MNIST / FashionMNIST with the MLP, CIFAR10 / CIFAR100 with the
        appendix CNN (rows not listed say "not run").
    readings
        ``paper`` (the text: λ1 C_avg + λ2 C_max, signed, post-activation, every forward pass) and/or
        ``original_code`` (the public code: C_avg only, |w|·|a|, pre-activation, last mini-batch).
    methods
        ``rank`` (lowest contribution pruned), ``random`` (uniform), ``worst`` (highest contribution pruned:
        what the original code's "random" baseline did), ``none`` (no pruning).
    lam_avg, lam_max
        λ1 and λ2 of the ``paper`` reading (the text's example: 0.5 and 0.5).
    bias
        Linear layers with bias (the text does not say; the public code has none).
    optimizer, lr, momentum, batch_size
        Training (the public code: SGD, lr 0.1, batch 5000).
    initial_epochs, recovery_epochs, final_epochs, prune_fraction, target_removed
        The schedule (:class:`ScheduleParams`); the public code: 30 initial epochs, ≈ 10 % of the current width
        every 15 epochs; the paper reports recovery up to ≈ 70 % removed.
    train_subset
        First training samples used (``null``: all); accuracy is reported on the full held-out test split.
    seeds
        Seeds (initialisation, batch order, random pruning).
    device
        ``auto`` (CUDA if available), ``cpu`` or ``cuda``.
    amp
        Mixed precision (bfloat16 autocast) where the run is on CUDA; CPUs always compute in float32, so it
        has no effect there (``true`` with ``device: cpu`` is an error).
    """

    SECTION: ClassVar[str] = "rank"
    datasets: list[str]
    table_datasets: list[str]
    readings: list[str]
    methods: list[str]
    lam_avg: float
    lam_max: float
    bias: bool
    optimizer: str
    lr: float
    momentum: float
    batch_size: int
    train_subset: int | None
    seeds: list[int]
    device: str
    amp: bool

    def __post_init__(self) -> None:
        for d in self.datasets:
            _check_choice("rank.datasets", d, ("MNIST", "FashionMNIST"))
        for d in self.table_datasets:
            _check_choice("rank.table_datasets", d, ("MNIST", "FashionMNIST", "CIFAR10", "CIFAR100"))
        for r in self.readings:
            _check_choice("rank.readings", r, READINGS)
        for m in self.methods:
            _check_choice("rank.methods", m, RANK_METHODS)
        super().__post_init__()
        _check_choice("rank.optimizer", self.optimizer, OPTIMIZERS)
        _check_range("rank.batch_size", self.batch_size, 1, 10**6)
        for key in ("lam_avg", "lam_max"):
            _check_range(f"rank.{key}", getattr(self, key), 0.0, 1.0)
        _check_range("rank.lr", self.lr, 1e-9, 10)
        _check_range("rank.momentum", self.momentum, 0.0, 0.999)
        if self.train_subset is not None:
            _check_range("rank.train_subset", self.train_subset, 1, 10**9)
        _check_seeds("rank.seeds", self.seeds)
        _check_choice("rank.device", self.device, DEVICES)
        _check_amp("rank", self.device, self.amp)


@dataclass(frozen=True)
class VaeParams(ScheduleParams):
    """Section ``vae`` (notebook ``06``): train-time pruning of a convolutional VAE (Fig. 2).

    Attributes
    ----------
    dataset, image_size
        ``FashionMNIST`` at 28 (default) or ``CelebA`` at 64 (the paper).
    channels, hidden, latent
        Encoder convolution channels (two blocks, mirrored in the decoder), hidden fully-connected widths
        (mirrored in the decoder) and latent size. Latent and output widths are never pruned.
    beta
        Loss = BCE + β·KLD (the paper "magnifies" the KLD coefficient without giving it).
    reading
        Contribution reading (``paper`` or ``original_code``), as in section ``rank``.
    optimizer, lr, batch_size, initial_epochs, recovery_epochs, final_epochs, prune_fraction, target_removed
        Schedule as in section ``rank``; the paper prunes ≈ 8-10 % per round to ≈ 30 %.
    train_subset, test_subset
        First samples of each split used (``null``: all).
    n_images
        Fixed test images shown as reconstructions (of the first seed's runs).
    seeds
        Seeds; each runs the pruned, unpruned and from-scratch VAE (the claim is judged as a paired difference
        per seed, so at least two give an interval).
    device
        ``auto`` (CUDA if available), ``cpu`` or ``cuda``.
    amp
        Mixed precision (bfloat16 autocast) where the run is on CUDA; CPUs always compute in float32, so it
        has no effect there (``true`` with ``device: cpu`` is an error).
    """

    SECTION: ClassVar[str] = "vae"
    dataset: str
    image_size: int
    channels: list[int]
    hidden: list[int]
    latent: int
    beta: float
    reading: str
    optimizer: str
    lr: float
    batch_size: int
    train_subset: int | None
    test_subset: int | None
    n_images: int
    seeds: list[int]
    device: str
    amp: bool

    def __post_init__(self) -> None:
        _check_choice("vae.dataset", self.dataset, ("FashionMNIST", "MNIST", "CelebA"))
        _check_choice("vae.reading", self.reading, READINGS)
        _check_choice("vae.optimizer", self.optimizer, OPTIMIZERS)
        super().__post_init__()
        if len(self.channels) != 2:
            raise ParamsError(f"params.yaml: vae.channels = {self.channels!r}; give two encoder block widths")
        for key in ("channels", "hidden"):
            for width in getattr(self, key):
                _check_range(f"vae.{key}", width, 1, 10**6)
        for key in ("image_size", "latent", "batch_size", "n_images"):
            _check_range(f"vae.{key}", getattr(self, key), 1, 10**6)
        for key in ("train_subset", "test_subset"):
            if getattr(self, key) is not None:
                _check_range(f"vae.{key}", getattr(self, key), 1, 10**9)
        _check_range("vae.beta", self.beta, 0.0, 1e6)
        _check_range("vae.lr", self.lr, 1e-9, 10)
        _check_seeds("vae.seeds", self.seeds)
        _check_choice("vae.device", self.device, DEVICES)
        _check_amp("vae", self.device, self.amp)


@dataclass(frozen=True)
class BeyondParams:
    """Section ``beyond`` (notebooks ``07``-``08``): studies beyond the papers, on section ``flexrel``'s base
    networks and protocol.

    Attributes
    ----------
    factors
        Pruning levels (fraction of filters per layer) every comparison is made at; default Fig. 4's.
    variants
        Rows of notebook 07's sensitivity table: names of ``VARIANTS``.
    second_model
        Notebook 08's second architecture for the δ sweep (a ``flexrel.model``, trained like the first).
    shifts
        Notebook 08's data shifts (``SHIFTS`` other than ``none``).
    prune_steps
        Notebook 08's dynamic relevance: steps to the same final width, relevance recomputed between them.
    cross_dataset
        Notebook 08's crossing of the papers: the dataset of the rank paper's MLP schedule scored by relevance.
    """

    factors: list[float]
    variants: list[str]
    second_model: str
    shifts: list[str]
    prune_steps: int
    cross_dataset: str

    def __post_init__(self) -> None:
        _check_fractions("beyond.factors", self.factors, high_open=True)
        if not self.factors or 0.0 in self.factors:
            raise ParamsError(f"params.yaml: beyond.factors = {self.factors!r}; give pruning levels in (0, 1)")
        for v in self.variants:
            _check_choice("beyond.variants", v, VARIANTS)
        _check_choice("beyond.second_model", self.second_model, FLEXREL_MODELS)
        for s in self.shifts:
            _check_choice("beyond.shifts", s, SHIFTS[1:])
        _check_range("beyond.prune_steps", self.prune_steps, 2, 100)
        _check_choice("beyond.cross_dataset", self.cross_dataset, ("MNIST", "FashionMNIST"))


SECTIONS: dict[str, type] = {"data": DataParams, "flexrel": FlexRelParams, "split": SplitParams, "rank": RankParams,
                             "vae": VaeParams, "beyond": BeyondParams}
TOP_LEVEL = ("profile", "seed", *SECTIONS, "profiles")


def _check_seeds(key: str, seeds: list[int]) -> None:
    if not seeds:
        raise ParamsError(f"params.yaml: {key} is empty; give at least one seed")
    if len(set(seeds)) != len(seeds):
        raise ParamsError(f"params.yaml: {key} = {seeds!r} repeats a seed; give distinct seeds")


def _check_choice(key: str, value: Any, allowed: typing.Iterable[Any]) -> None:
    allowed = tuple(allowed)
    if value not in allowed:
        raise ParamsError(f"params.yaml: {key} = {value!r} is not allowed; choose one of {list(allowed)}")


def _check_amp(section: str, device: str, amp: bool) -> None:
    if amp and device == "cpu":
        raise ParamsError(f"params.yaml: {section}.amp is true but {section}.device is 'cpu'; mixed precision runs on "
                          "CUDA only (use device 'auto' or 'cuda', or amp: false)")


def _check_range(key: str, value: float, low: float, high: float) -> None:
    if not low <= value <= high:
        raise ParamsError(f"params.yaml: {key} = {value!r} is out of range; allowed: {low} ≤ {key} ≤ {high}")


def _matches(value: Any, hint: Any) -> bool:
    """Whether a YAML value fits a (simple) type hint: int, float, str, bool, None, list[...], unions."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return any(_matches(value, h) for h in typing.get_args(hint))
    if origin is list:
        (item,) = typing.get_args(hint)
        return isinstance(value, list) and all(_matches(v, item) for v in value)
    if hint is type(None):
        return value is None
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, hint)


def _build(section: str, cls: type, base: Any, overrides: Any, profile: str) -> Any:
    """Section ``section`` of ``profile``: the base section updated by the profile's overrides, checked."""
    for where, raw in ((section, base), (f"profiles.{profile}.{section}", overrides)):
        if not isinstance(raw, dict):
            raise ParamsError(f"params.yaml: {where} must be a mapping of keys (`{{}}` for none), got {raw!r}")
    hints = typing.get_type_hints(cls)
    fields = [f.name for f in dataclasses.fields(cls)]
    for where, raw in ((section, base), (f"profiles.{profile}.{section}", overrides)):
        for key in raw:
            if key not in fields:
                raise ParamsError(f"params.yaml: unknown key {where}.{key} (value {raw[key]!r}); allowed keys: {fields}")
    resolved = {**base, **overrides}
    for key in fields:
        where = f"profiles.{profile}.{section}" if key in overrides else section
        if key not in resolved:
            raise ParamsError(f"params.yaml: missing key {section}.{key}; section '{section}' needs {fields}")
        if not _matches(resolved[key], hints[key]):
            raise ParamsError(f"params.yaml: {where}.{key} = {resolved[key]!r} has the wrong type; expected {hints[key]}")
    try:
        return cls(**resolved)
    except ParamsError as err:  # say which profile the offending value sits in
        raise ParamsError(f"{err} (profile {profile!r})") from None


def validate(raw: Any) -> dict[str, dict[str, Any]]:
    """Check a parsed ``params.yaml`` completely and return ``{profile: {section: dataclass}}``.

    Raises
    ------
    ParamsError
        On an unknown or missing key, an unknown profile or dataset, a wrong type or a value out of range.
    """
    if not isinstance(raw, dict):
        raise ParamsError("params.yaml must be a mapping with keys " + str(list(TOP_LEVEL)))
    for key in raw:
        if key not in TOP_LEVEL:
            raise ParamsError(f"params.yaml: unknown top-level key {key!r} (value {raw[key]!r}); allowed: {list(TOP_LEVEL)}")
    for key in TOP_LEVEL:
        if key not in raw:
            raise ParamsError(f"params.yaml: missing top-level key {key!r}")
    _check_choice("profile", raw["profile"], PROFILES)
    if not _matches(raw["seed"], int):
        raise ParamsError(f"params.yaml: seed = {raw['seed']!r} must be an integer")
    profiles = raw["profiles"]
    if not isinstance(profiles, dict):
        raise ParamsError("params.yaml: profiles must be a mapping of profile name to sections")
    for name in profiles:
        _check_choice("profiles.<name>", name, PROFILES)
    built: dict[str, dict[str, Any]] = {}
    for name in PROFILES:
        block = profiles.get(name)
        if not isinstance(block, dict):
            raise ParamsError(f"params.yaml: profile {name!r} is missing or not a mapping (needs sections {list(SECTIONS)})")
        for section in block:
            _check_choice(f"profiles.{name}.<section>", section, SECTIONS)
        for section in SECTIONS:
            if section not in block:
                raise ParamsError(f"params.yaml: profiles.{name}.{section} is missing; write `{section}: {{}}` if the "
                                  "profile overrides nothing in it (dvc.yaml tracks it)")
        built[name] = {s: _build(s, cls, raw[s], block[s], name) for s, cls in SECTIONS.items()}
    return built


def read(path: Path = PARAMS_FILE) -> dict[str, Any]:
    """Parse ``params.yaml`` (no validation)."""
    with open(path) as f:
        return yaml.safe_load(f)


def active_profile(path: Path = PARAMS_FILE, profile: str | None = None) -> str:
    """The profile to run: ``profile`` if given (checked), else the one ``params.yaml`` names."""
    raw = read(path)
    validate(raw)
    name = raw["profile"] if profile is None else profile
    _check_choice("profile", name, PROFILES)
    return name


def load(section: str, profile: str | None = None, path: Path = PARAMS_FILE) -> Any:
    """Validate the whole ``params.yaml`` and return one section of a profile as its dataclass.

    Parameters
    ----------
    section
        One of ``SECTIONS``.
    profile
        Profile to use; ``None`` means the one named by ``profile:`` in the file.
    path
        The parameters file.
    """
    _check_choice("section", section, SECTIONS)
    raw = read(path)
    built = validate(raw)
    name = raw["profile"] if profile is None else profile
    _check_choice("profile", name, PROFILES)
    return built[name][section]


def seed(path: Path = PARAMS_FILE) -> int:
    """The top-level ``seed`` of ``params.yaml``."""
    raw = read(path)
    validate(raw)
    return int(raw["seed"])


def config_hash(obj: Any) -> str:
    """A short stable hash of a JSON-serialisable configuration (dataclasses allowed)."""
    if dataclasses.is_dataclass(obj):
        obj = dataclasses.asdict(obj)
    text = json.dumps(obj, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def seed_everything(value: int) -> None:
    """Seed python, numpy and torch, and make torch's CPU kernels deterministic."""
    random.seed(value)
    np.random.seed(value)
    torch.manual_seed(value)
    torch.use_deterministic_algorithms(True, warn_only=True)


def main() -> int:
    try:
        name = active_profile()
    except ParamsError as err:
        print(err, file=sys.stderr)
        return 2
    print(f"params.yaml is valid; active profile: {name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

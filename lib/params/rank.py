"""Sections ``rank`` (notebooks ``04``-``05``) and the train-time pruning schedule it shares with ``vae``."""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import Field

from .schema import OPTIMIZERS, READINGS, SUBSETS, Count, Level, OnDevice, Rate, Section, Seeds

#: Train-time pruning arms: lowest contribution pruned, uniform random, highest pruned (the code's "random"), none.
RANK_METHODS = ("rank", "random", "worst", "none")
#: Notebook 08's crossing of the papers: the reading of a rank run scored by FlexRel's LRP relevance
#: (:class:`lib.protocols.crossed.Crossed`) in place of the contribution.
CROSSED_READING = "relevance"
Epochs = Annotated[int, Field(ge=1, le=10**6)]


class Schedule(Section):
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

    initial_epochs: Epochs
    recovery_epochs: Epochs
    final_epochs: Annotated[int, Field(ge=0, le=10**6)]
    prune_fraction: Level
    target_removed: Level


class RankParams(Schedule, OnDevice):
    """Section ``rank``: train-time pruning by neuron contribution.

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
        The schedule (:class:`Schedule`); the public code: 30 initial epochs, ≈ 10 % of the current width
        every 15 epochs; the paper reports recovery up to ≈ 70 % removed.
    train_subset
        Training samples used (``null``: all), as ``subsets`` says; accuracy is reported on the full held-out test
        split.
    subsets
        ``first``: the first ``train_subset`` samples of the official splits for every seed;
        ``per_seed``: each seed draws its own subsets of those sizes from the whole splits (``SUBSETS``).
    seeds
        Seeds (initialisation, batch order, random pruning).
    device, amp
        As :class:`lib.params.schema.OnDevice`.
    """

    SECTION: ClassVar[str] = "rank"
    datasets: list[Literal["MNIST", "FashionMNIST"]]
    table_datasets: list[Literal["MNIST", "FashionMNIST", "CIFAR10", "CIFAR100"]]
    readings: list[Literal[READINGS]]
    methods: list[Literal[RANK_METHODS]]
    lam_avg: Annotated[float, Field(ge=0.0, le=1.0)]
    lam_max: Annotated[float, Field(ge=0.0, le=1.0)]
    bias: bool
    optimizer: Literal[OPTIMIZERS]
    lr: Rate
    momentum: Annotated[float, Field(ge=0.0, le=0.999)]
    batch_size: Annotated[int, Field(ge=1, le=10**6)]
    train_subset: Count | None
    subsets: Literal[SUBSETS]
    seeds: Seeds

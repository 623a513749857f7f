"""Section ``flexrel`` (notebooks ``01``-``03``, and the base of ``07``-``08``): the FlexRel protocol of §IV, and
its choice lists."""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal, Self

from pydantic import Field, model_validator

from .catalogue import COMPOSITES, CRITERIA, NETWORKS, with_role
from .schema import (
    DATASETS,
    OPTIMIZERS,
    SCHEDULES,
    SCOPES,
    SHIFTS,
    SUBSETS,
    Count,
    Levels,
    OnDevice,
    Rate,
    Seeds,
    Share,
)

#: FlexRel's methods (:mod:`lib.params.catalogue`): the criteria in the ``paper`` role (magnitude raw or
#: BatchNorm-folded, relevance), FlexRel's mix (the combinator) and the random control.
FLEXREL_METHODS = with_role("paper", "combinator", "control")
#: Today's criteria beside the papers' (the ``baseline`` role: torch-pruning's first-order Taylor, LAMP and
#: BatchNorm-scale importances, the rank paper's contribution on filters).
BASELINES = with_role("baseline")
#: Datasets FlexRel runs on (CelebA has no class labels).
FLEXREL_DATASETS = tuple(d for d in DATASETS if d != "CelebA")
#: FlexRel's networks (:data:`lib.params.catalogue.NETWORKS`).
FLEXREL_MODELS = tuple(NETWORKS)
#: Whose logit LRP starts from: the image's true class or the network's predicted class.
RELEVANCE_TARGETS = ("label", "predicted")
#: Where relevance's reference images come from: the first training images (seen in training), or training-split
#: images after ``train_subset`` (never trained on).
RELEVANCE_SPLITS = ("train", "unseen")
#: How FlexRel puts magnitude and relevance on one scale: min-max within each layer (the paper's "normalised"), or
#: over the whole network on per-filter totals or per-parameter means (the same within a layer, not across).
NORMALISATIONS = ("layer", "network_total", "network_mean")
#: What relevance is combined with in FlexRel's score: any other criterion that scores (the paper: magnitude).
PARTNERS = tuple(n for n, c in CRITERIA.items() if c.scores and n != "relevance")
#: How a convolution's input relevance enters eq. (1)'s unfolded form (:func:`lib.criteria.filters.layer_relevance`).
UNFOLDED_INPUTS = ("copy", "share")


class FlexRelParams(OnDevice):
    """Section ``flexrel`` (notebooks ``01``-``03``): the FlexRel protocol of §IV.

    Attributes
    ----------
    dataset, model, width, image_size, dropout
        Data and network: ``model`` is ``vgg16_bn`` or ``vgg16`` (torchvision's, no BatchNorm) with a width
        multiplier, ``lenet300`` (LeNet-300-100, notebook 08's second architecture) or ``resnet18`` (ResNet-18
        with a CIFAR stem and the same width multiplier, notebook 09); small images are zero-padded to ``image_size``;
        ``dropout`` in the classifier (VGG: 0.5).
    train_subset, test_subset
        Samples of the official training / held-out test split to use (``null``: all), as ``subsets`` says.
    subsets
        ``first``: the first ``train_subset`` / ``test_subset`` samples of the official splits for every seed;
        ``per_seed``: each seed draws its own subsets of those sizes from the whole splits (``SUBSETS``).
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
        LRP's rules (:data:`lib.params.catalogue.COMPOSITES`), whose logit it starts from (``label`` or
        ``predicted``), where its reference images come from (``train`` or ``unseen``) and how they are shifted
        (``SHIFTS``). Unstated in the paper; notebook 07 runs the alternatives.
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
    device, amp
        As :class:`lib.params.schema.OnDevice`.
    """

    SECTION: ClassVar[str] = "flexrel"
    dataset: Literal[FLEXREL_DATASETS]
    model: Literal[FLEXREL_MODELS]
    width: Annotated[float, Field(ge=0.01, le=4.0)]
    image_size: Annotated[int, Field(ge=32, le=1024)]
    dropout: Annotated[float, Field(ge=0.0, le=0.99)]
    train_subset: Count | None
    test_subset: Count | None
    subsets: Literal[SUBSETS]
    batch_size: Count
    optimizer: Literal[OPTIMIZERS]
    lr: Rate
    lr_schedule: Literal[SCHEDULES]
    momentum: Annotated[float, Field(ge=0.0, le=0.999)]
    weight_decay: Annotated[float, Field(ge=0.0, le=1.0)]
    epochs_pre: Count
    epochs_post: Count
    lr_post: Rate
    post_subset: Count | None
    seeds: Seeds
    methods: list[Literal[FLEXREL_METHODS]]
    baselines: list[Literal[BASELINES]]
    factors: Levels
    recovery_factors: Levels
    random_draws: Count
    delta: Share
    deltas: list[Share]
    delta_factors: Levels
    scope: Literal[SCOPES]
    prune_linear: bool
    relevance_images: Count
    unfolded_input: Literal[UNFOLDED_INPUTS]
    composite: Literal[COMPOSITES]
    relevance_target: Literal[RELEVANCE_TARGETS]
    relevance_split: Literal[RELEVANCE_SPLITS]
    relevance_shift: Literal[SHIFTS]
    normalisation: Literal[NORMALISATIONS]
    partner: Literal[PARTNERS]
    prune_steps: Annotated[int, Field(ge=1, le=100)]
    test_shift: Literal[SHIFTS]
    bn_batches: Count
    targets_rel: list[Share]

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if "random" not in self.methods:
            raise ValueError("flexrel.methods must contain 'random' (the control every verdict is gated on)")
        network = NETWORKS[self.model]
        if unfit := [c for c in dict.fromkeys([*self.baselines, self.partner]) if not CRITERIA[c].applies(network)]:
            fits = [n for n, net in NETWORKS.items() if all(CRITERIA[c].applies(net) for c in unfit)]
            raise ValueError(
                f"flexrel.baselines or partner has {unfit}, which read BatchNorm layers, but flexrel.model = "
                f"{self.model!r} has no BatchNorm; remove them or use a model of {fits}"
            )
        if not network.convolutional and not self.prune_linear:
            raise ValueError(f"flexrel.model = {self.model!r} has no convolutions; set flexrel.prune_linear: true")
        if self.relevance_split == "unseen" and self.train_subset is None:
            raise ValueError(
                "flexrel.relevance_split = 'unseen' needs a train_subset (the unseen images are the "
                "training-split images after it); set train_subset or use 'train'"
            )
        if self.prune_steps > 1 and self.scope != "layer":
            raise ValueError("flexrel.prune_steps > 1 prunes each layer to its one-shot width; it needs scope 'layer'")
        return self

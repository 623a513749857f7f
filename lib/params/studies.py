"""Section ``studies`` (notebooks ``07``-``09``): studies beyond the papers, on section ``flexrel``'s base
networks and protocol, and the table of notebook 07's rows."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal, TypeVar

from pydantic import Field

from .flexrel import FLEXREL_MODELS, FlexRelParams
from .schema import SHIFTS, Count, Level, Levels, ParamsError, Section, Share

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


class StudiesParams(Section):
    """Section ``studies``.

    Attributes
    ----------
    seeds
        How many seeds the studies (notebooks 07-09) run on: the first ``seeds`` of section ``flexrel``'s (and of
        section ``rank``'s, for notebook 08's crossed schedule), or all of them if there are fewer.
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
    residual_width, residual_train_subset, residual_epochs
        Notebook 09's residual network: ResNet-18 with a CIFAR stem at this width multiplier (section ``flexrel``'s
        ``width``), pre-trained on the first ``residual_train_subset`` training images (``null``: all) for
        ``residual_epochs`` epochs; everything else as section ``flexrel`` trains and prunes.
    residual_draws, residual_deltas
        Its random draws per seed and level, and its δ sweep (at ``factors``).
    residual_recovery, residual_post_subset
        Its recovery runs: the level (fraction of filters per layer), fine-tuned ``flexrel.epochs_post`` epochs on
        the first ``residual_post_subset`` training images.
    """

    SECTION: ClassVar[str] = "studies"
    seeds: Count
    factors: Annotated[Levels, Field(min_length=1)]
    variants: list[Literal[tuple(VARIANTS)]]
    second_model: Literal[FLEXREL_MODELS]
    shifts: list[Literal[SHIFTS[1:]]]
    prune_steps: Annotated[int, Field(ge=2, le=100)]
    cross_dataset: Literal["MNIST", "FashionMNIST"]
    residual_width: Annotated[float, Field(ge=0.01, le=4.0)]
    residual_train_subset: Count | None
    residual_epochs: Count
    residual_draws: Count
    residual_deltas: Annotated[list[Share], Field(min_length=2)]
    residual_recovery: Annotated[Level, Field(gt=0.0)]
    residual_post_subset: Count | None


S = TypeVar("S", bound=Section)


def first_seeds(p: S, b: StudiesParams) -> S:
    """Section ``p`` (``flexrel`` or ``rank``) on the studies' seeds: its first ``b.seeds``."""
    return p.replace(seeds=p.seeds[: b.seeds])


def baseline_label(p: FlexRelParams, name: str) -> str:
    """The label of the arm that variant ``name`` of :data:`VARIANTS`'s FlexRel is compared with: ``magnitude`` (the
    default arm) where its comparison is the default magnitude run, else ``<name> · baseline``."""
    spec = VARIANTS[name]
    ours = (p.replace(**spec.get("baseline", {})), spec.get("method", "magnitude"))
    return "magnitude" if ours == (p, "magnitude") else f"{name} · baseline"


def residual(p: FlexRelParams, b: StudiesParams) -> FlexRelParams:
    """Section ``flexrel`` on notebook 09's residual network: ResNet-18 with a CIFAR stem at ``residual_width``,
    pre-trained on ``residual_train_subset`` images for ``residual_epochs`` epochs, recovered on
    ``residual_post_subset`` images at ``residual_recovery``; magnitude, relevance, FlexRel and random as the methods
    (BatchNorm-folded magnitude, notebook 07's question, is not asked here), ``residual_draws`` random draws,
    ``residual_deltas`` as its δ sweep, convolutions only. Raises :class:`lib.params.schema.ParamsError` if the
    sweep lacks an end or ``flexrel.delta``."""
    missing = sorted({0.0, 1.0, p.delta} - set(b.residual_deltas))
    if missing:
        raise ParamsError(
            f"params.yaml: studies.residual_deltas = {b.residual_deltas} lacks {missing}: the δ sweep needs "
            "both ends (0, 1) and flexrel.delta"
        )
    return p.replace(
        model="resnet18",
        width=b.residual_width,
        train_subset=b.residual_train_subset,
        epochs_pre=b.residual_epochs,
        post_subset=b.residual_post_subset,
        random_draws=b.residual_draws,
        deltas=b.residual_deltas,
        methods=["magnitude", "relevance", "flexrel", "random"],
        prune_linear=False,
        recovery_factors=[b.residual_recovery],
    )

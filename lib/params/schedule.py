"""Section ``schedule`` (notebook ``10``, study 2): FlexRel judged on the paper's own measure — the held-out accuracy a
pruned network *reaches* after the paper's training schedule (§IV: "a total of 50 training epochs: 10 with the full
DNN, and 40 with the pruned DNN") — on section ``flexrel``'s data, network and training recipe."""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal, Self

from pydantic import Field, model_validator

from .flexrel import FLEXREL_METHODS, FlexRelParams
from .schema import SCOPES, Count, Levels, Section, Seeds, Share

#: How the learning-rate schedule meets the pruning point. ``continue``: one schedule over the whole budget, the
#: pruned network trained on from where the full one stopped (the paper counts "a total of 50 training epochs", one
#: training run); ``restart``: the full network's share and the pruned network's each run a schedule of their own
#: (pruning, then fine-tuning as a new run).
LR_ACROSS = ("continue", "restart")


class ScheduleParams(Section):
    """Section ``schedule``: study 2's runs on section ``flexrel``'s network and recipe.

    Attributes
    ----------
    budget
        Training epochs in all, before and after pruning (the paper: 50).
    pre_fraction
        The share of ``budget`` trained on the full network before scoring and pruning (the paper: 10 of 50, 0.2).
    lr_across
        ``continue`` or ``restart`` (:data:`LR_ACROSS`): the learning-rate schedule (``flexrel.lr_schedule``) runs on
        across the pruning point, or starts again after it.
    train_subset
        Training images per epoch (``null``: section ``flexrel``'s).
    seeds
        One network per seed; fresh seeds, never run by study 1 (its pilot 0-5, its confirmatory run 100-111, the
        studies' 300-311).
    pilot_seeds
        The pilot's seeds (``docs/pilot-schedule``), never the confirmatory run's.
    methods
        FlexRel's methods, ``random`` (the control) among them.
    factors
        Fraction of filters removed per layer (``scope: layer``) at which every method runs.
    delta
        FlexRel's δ in Fig. 2.
    deltas, delta_factors
        Fig. 4: FlexRel at these δ (0 and 1 are magnitude and relevance, run anyway) at these factors.
    scope
        ``layer`` (the primaries) or ``global`` (one ranking, each criterion its own architecture).
    random_draws
        Random prunings per seed and factor.
    targets_rel
        Accuracy targets relative to the seed's unpruned network trained for the whole budget (Fig. 2, Fig. 3).
    """

    SECTION: ClassVar[str] = "schedule"
    budget: Annotated[int, Field(ge=2, le=1000)]
    pre_fraction: Annotated[float, Field(gt=0.0, lt=1.0)]
    lr_across: Literal[LR_ACROSS]
    train_subset: Count | None
    seeds: Seeds
    pilot_seeds: Seeds
    methods: list[Literal[FLEXREL_METHODS]]
    factors: Levels
    delta: Share
    deltas: list[Share]
    delta_factors: Levels
    scope: Literal[SCOPES]
    random_draws: Count
    targets_rel: list[Share]

    @property
    def epochs_pre(self) -> int:
        """Epochs on the full network: ``budget × pre_fraction``, rounded."""
        return round(self.budget * self.pre_fraction)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if not 1 <= self.epochs_pre < self.budget:
            raise ValueError(
                f"schedule.budget × pre_fraction = {self.budget} × {self.pre_fraction} rounds to {self.epochs_pre} "
                f"epochs before pruning; it must be at least 1 and less than the budget"
            )
        if "random" not in self.methods:
            raise ValueError("schedule.methods must contain 'random' (the control)")
        if shared := sorted(set(self.seeds) & set(self.pilot_seeds)):
            raise ValueError(f"schedule.seeds and pilot_seeds share {shared}; the confirmatory seeds are fresh")
        if not set(self.delta_factors) <= set(self.factors):
            raise ValueError(f"schedule.delta_factors {self.delta_factors} must be among its factors {self.factors}")
        return self


class ScheduledParams(FlexRelParams):
    """Section ``flexrel`` under study 2's schedule (:func:`scheduled`): its runs' view, stored apart from study 1's.
    ``epochs_pre`` and ``epochs_post`` split the ``budget``; the pruned network trains by the same recipe
    (``lr_post`` = ``lr``, every training image)."""

    SECTION: ClassVar[str] = "schedule"
    budget: Annotated[int, Field(ge=2, le=1000)]
    lr_across: Literal[LR_ACROSS]


def scheduled(p: FlexRelParams, s: ScheduleParams, seeds: list[int] | None = None) -> ScheduledParams:
    """Section ``flexrel`` ``p`` under section ``schedule`` ``s`` (on ``seeds``; default: its confirmatory seeds)."""
    fields = p.model_dump() | {
        "train_subset": s.train_subset or p.train_subset,
        "seeds": seeds or s.seeds,
        "methods": s.methods,
        "baselines": [],
        "factors": s.factors,
        "recovery_factors": s.factors,
        "random_draws": s.random_draws,
        "delta": s.delta,
        "deltas": s.deltas,
        "delta_factors": s.delta_factors,
        "scope": s.scope,
        "targets_rel": s.targets_rel,
        "epochs_pre": s.epochs_pre,
        "epochs_post": s.budget - s.epochs_pre,
        "lr_post": p.lr,
        "post_subset": None,
        "prune_steps": 1,
    }
    return ScheduledParams.model_validate(fields | {"budget": s.budget, "lr_across": s.lr_across})

"""One registry of pruning criteria: each catalogued criterion (:data:`lib.params.catalogue.CRITERIA`, its name,
role, label and what it reads) that scores a network registers its function beside its implementation
(``@criterion("name")``), and every user reads it here: the protocols' scoring
(:func:`lib.protocols.flexrel.criterion_scores`) and the torch-pruning importance every criterion becomes
(:class:`lib.criteria.importance.CriterionImportance`). The same for LRP's composites (``@composite("name")``).

A criterion is ``score(model, reference) → {layer name: one score per unit}`` (higher = more important) over every
prunable layer, where ``reference`` (:class:`Reference`) hands it the reference images and labels (loaded once, on
first use) and LRP's settings. Adding one is its catalogue entry, a registered function and its test (the
catalogue's documentation shows one).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import nn

from ..core.prune import Scores
from ..params import catalogue


@dataclass
class Reference:
    """What a criterion reads besides the network: the reference images and labels (``load()``, called once, on the
    first :meth:`images`) and LRP's settings (:class:`lib.params.flexrel.FlexRelParams` names them)."""

    load: Callable[[], tuple[torch.Tensor, torch.Tensor]]
    composite: str = "EpsilonPlusFlat"
    target: str = "label"
    unfolded_input: str = "copy"
    layers: list[str] | None = None
    _loaded: tuple[torch.Tensor, torch.Tensor] | None = field(default=None, repr=False)

    def images(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The reference images and their labels."""
        if self._loaded is None:
            self._loaded = self.load()
        return self._loaded


@dataclass(frozen=True)
class Criterion:
    """A registered criterion: its catalogue entry and its score."""

    entry: catalogue.Criterion
    score: Callable[[nn.Module, Reference], Scores]

    @property
    def reads(self) -> tuple[str, ...]:
        return self.entry.reads

    def applies(self, model: nn.Module) -> bool:
        """Whether it can score ``model`` (one that reads BatchNorm needs BatchNorm layers)."""
        return "batchnorm" not in self.reads or any(isinstance(m, nn.BatchNorm2d) for m in model.modules())


#: Every registered criterion by name, in the order registered.
CRITERIA: dict[str, Criterion] = {}


#: zennit's composites (LRP's rules) by name, each built for reference inputs ``x`` (without canonizers: the graph
#: gives them, :mod:`lib.criteria.graph`): registered beside their definitions in :mod:`lib.criteria.filters`
#: (``@composite("name")``).
COMPOSITES: dict[str, Callable[[torch.Tensor], object]] = {}


def composite(name: str) -> Callable:
    """Register the decorated ``build(x) → zennit composite`` as LRP rules ``name`` (one of
    :data:`lib.params.catalogue.COMPOSITES`)."""
    if name not in catalogue.COMPOSITES or name in COMPOSITES:
        raise ValueError(f"composite {name!r}: not in the catalogue {list(catalogue.COMPOSITES)}, or registered twice")

    def register(build: Callable[[torch.Tensor], object]) -> Callable[[torch.Tensor], object]:
        COMPOSITES[name] = build
        return build

    return register


def criterion(name: str) -> Callable:
    """Register the decorated ``score(model, reference)`` as catalogued criterion ``name`` (one that scores)."""
    entry = catalogue.CRITERIA.get(name)
    if entry is None or not entry.scores or name in CRITERIA:
        raise ValueError(
            f"criterion {name!r}: not in the catalogue {list(catalogue.CRITERIA)}, of a role without a score "
            f"({entry.role if entry else None!r}), or registered twice"
        )

    def register(score: Callable[[nn.Module, Reference], Scores]) -> Callable[[nn.Module, Reference], Scores]:
        CRITERIA[name] = Criterion(entry, score)
        return score

    return register

"""One registry of pruning criteria: each is registered beside its implementation (``@criterion("name", ...)``), with
what it reads, and every user reads it here — the choices ``params.yaml`` accepts (:mod:`lib.params.registered` reads
the registrations from the source, without importing torch), the protocols' scoring
(:func:`lib.protocols.flexrel.criterion_scores`) and the torch-pruning importance every criterion becomes
(:class:`lib.criteria.importance.CriterionImportance`).

A criterion is ``score(model, reference) → {layer name: one score per unit}`` (higher = more important) over every
prunable layer, where ``reference`` (:class:`Reference`) hands it the reference images and labels (loaded once, on
first use) and LRP's settings. Adding one is a registered function and its test::

    @criterion("l2", "baseline")
    def l2(model: nn.Module, reference: Reference) -> Scores:
        return {name: m.weight.detach().flatten(1).norm(dim=1) for name, m in prunable_layers(model).items()}
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import nn

from ..core.prune import Scores

#: What a criterion may read besides the network's weights: the reference images, their labels, the gradients of the
#: loss on them, and BatchNorm layers (a criterion that reads them applies only to a network that has them).
READS = ("images", "labels", "gradients", "batchnorm")
#: Where a criterion appears: among FlexRel's methods (Fig. 2's, the paper's own and its magnitude variant) or
#: among today's criteria measured beside them (never in the paper's verdicts).
ROLES = ("paper", "baseline")


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
    """A registered criterion: its name, its role (:data:`ROLES`), what it reads (:data:`READS`) and its score."""

    name: str
    role: str
    reads: tuple[str, ...]
    score: Callable[[nn.Module, Reference], Scores]

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
    """Register the decorated ``build(x) → zennit composite`` as LRP rules ``name`` (a literal, read from the source
    by :mod:`lib.params.registered`)."""

    def register(build: Callable[[torch.Tensor], object]) -> Callable[[torch.Tensor], object]:
        COMPOSITES[name] = build
        return build

    return register


def criterion(name: str, role: str, reads: tuple[str, ...] = ()) -> Callable:
    """Register the decorated ``score(model, reference)`` as criterion ``name`` (its arguments must be literals:
    :mod:`lib.params.registered` reads them from the source)."""
    if role not in ROLES or set(reads) - set(READS) or name in CRITERIA:
        raise ValueError(
            f"criterion {name!r}: role {role!r} (allowed {list(ROLES)}), reads {reads} (allowed "
            f"{list(READS)}), registered once"
        )

    def register(score: Callable[[nn.Module, Reference], Scores]) -> Callable[[nn.Module, Reference], Scores]:
        CRITERIA[name] = Criterion(name, role, tuple(reads), score)
        return score

    return register

"""FlexRel, LRP relevance and the rank paper's contribution as torch-pruning importances:
prune *your* network with them.

torch-pruning's pruners (``tp.pruner.MetaPruner`` / ``BasePruner``, per layer or global, ``round_to``) ask an
``Importance`` for one score per unit of each **group**: the units that must go together (a convolution's filters,
its BatchNorm, the next layer's input channels, and every convolution a residual addition ties to them). The
importances here score a group the way torch-pruning's ``GroupMagnitudeImportance`` does — a score per unit of
each layer the group prunes, reduced over the group (``group_reduction``, default the mean) and optionally
normalised — with the layer scores of :mod:`lib.criteria.filters`:

- :class:`RelevanceImportance` — eq. (1)'s per-unit LRP relevance (zennit; a composite and its canonizers as
  arguments), of every convolution or linear layer whose outputs the group removes;
- :class:`CriterionImportance` — any registered criterion (:mod:`lib.criteria.registry`), e.g. the rank paper's
  contribution of each filter or neuron to the layers that read it;
- :class:`FlexRelImportance` — ``(1 − δ)·P̂ + δ·R̂`` per layer: relevance mixed with a partner's layer scores
  (default: magnitude, the paper's "lowest average magnitude"), each min-max normalised within the layer, then
  reduced over the group.

The reproduction's protocols prune with the same reduction (:class:`lib.core.prune.ScoreImportance`, of which
these are subclasses) and the same layer scores. A network zennit cannot attribute faithfully is refused before
any work, naming the layer type (:func:`lib.criteria.filters.check_attributable`): grouped or depthwise convolutions
(eq. (1)'s unfolded form needs ``groups=1``), and torchvision's residual blocks whose addition no canonizer turns into a
module (its ResNet blocks need ``zennit.torchvision.ResNetCanonizer``; MobileNetV2's inverted residuals have none). A
residual addition written in a custom module's ``forward`` (``x + f(x)``) cannot be seen from the modules and is not
detected.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable

import torch
import torch_pruning as tp
from torch import nn
from zennit.core import Composite

from lib.core.prune import OUTPUTS, ScoreImportance, prunable_layers
from lib.criteria import filters
from lib.criteria.registry import CRITERIA, Reference


class _Computed(ScoreImportance):
    """Layer scores of ``model`` computed by :meth:`compute` on the first call and again whenever a layer's width
    has changed since (after a pruning step; :meth:`reset` after training the network between steps), then
    reduced over each group (:class:`lib.core.prune.ScoreImportance`)."""

    def __init__(self, model: nn.Module, group_reduction: str = "mean", normalizer: str | None = None) -> None:
        super().__init__(None, group_reduction, normalizer)
        self.model = model

    @abstractmethod
    def compute(self) -> dict[str, torch.Tensor]:
        """``{layer name: score of each output unit}`` of every prunable layer of the model as it is now."""

    def layer_scores(self) -> dict[nn.Module, torch.Tensor]:
        layers = prunable_layers(self.model)
        if any(m not in self.scores or len(self.scores[m]) != m.weight.shape[0] for m in layers.values()):
            with torch.enable_grad():  # LRP is a modified gradient, tracing needs one: the pruner calls under no_grad
                found = self.compute()
            self.scores = {layers[n]: s.detach().cpu() for n, s in found.items()}
        return self.scores

    def reset(self) -> None:
        """Forget the scores computed so far (the next call recomputes them): after training between steps."""
        self.scores = {}

    def __call__(self, group: tp.Group) -> torch.Tensor | None:
        root = group[0].dep.target.module
        if group[0].dep.handler in OUTPUTS and root not in self.layer_scores():
            raise ValueError(
                f"{type(root).__name__} {tuple(root.weight.shape)} has no score: the output layer (pass it "
                "in the pruner's ignored_layers) or a network other than the one this importance scores"
            )
        return super().__call__(group)


class RelevanceImportance(_Computed):
    """LRP relevance of each unit (eq. (1), :func:`lib.criteria.filters.relevance`) on reference images ``x``
    (targets ``y``; ``None``: the predicted class), reduced over the group like torch-pruning's magnitude.

    The relevance of every prunable layer of ``model`` is computed in one LRP pass, when first asked and after
    every change of width. ``composite``: a zennit composite with the canonizers the network needs (default:
    :func:`lib.criteria.filters.default_composite` of ``model``: ``ResNetCanonizer`` for torchvision ResNets);
    a network it cannot attribute raises before any work (:func:`lib.criteria.filters.check_attributable`).

    Eq. (1)'s input term is the relevance reaching a layer's input tensor; in a residual block that tensor also
    feeds the skip path, so the term carries the skip's relevance too. It is the same for every unit of a layer:
    rankings within a layer or group are unaffected, but with global pruning (one threshold over groups) and no
    ``normalizer`` groups are compared with it included.
    """

    def __init__(
        self,
        model: nn.Module,
        x: torch.Tensor,
        y: torch.Tensor | None = None,
        composite: Composite | None = None,
        unfolded_input: str = "copy",
        group_reduction: str = "mean",
        normalizer: str | None = None,
    ) -> None:
        super().__init__(model, group_reduction, normalizer)
        self.composite = composite or filters.default_composite(model)
        filters.check_attributable(model, self.composite)
        self.x, self.y, self.unfolded_input = x, y, unfolded_input

    def compute(self) -> dict[str, torch.Tensor]:
        return filters.relevance(self.model, self.x, self.y, self.composite, unfolded_input=self.unfolded_input)


class CriterionImportance(_Computed):
    """Any registered criterion (:data:`lib.criteria.registry.CRITERIA`: magnitude, the rank paper's contribution,
    torch-pruning's Taylor, ...) as a torch-pruning importance: its layer scores of ``model`` on reference images ``x``
    (labels ``y``; LRP's settings as :class:`lib.criteria.registry.Reference` names them), reduced over the group.
    A criterion that reads images or labels refuses to be built without them."""

    def __init__(
        self,
        model: nn.Module,
        criterion: str,
        x: torch.Tensor | None = None,
        y: torch.Tensor | None = None,
        group_reduction: str = "mean",
        normalizer: str | None = None,
        **reference,
    ) -> None:
        if criterion not in CRITERIA:
            raise ValueError(f"criterion {criterion!r}; registered: {list(CRITERIA)}")
        reads = CRITERIA[criterion].reads
        if ("images" in reads and x is None) or ("labels" in reads and y is None):
            raise ValueError(
                f"criterion {criterion!r} reads {', '.join(r for r in reads if r in ('images', 'labels'))}: "
                "pass reference images x (and their labels y)"
            )
        super().__init__(model, group_reduction, normalizer)
        self.criterion, self.reference = CRITERIA[criterion], Reference(lambda: (x, y), **reference)

    def compute(self) -> dict[str, torch.Tensor]:
        return self.criterion.score(self.model, self.reference)


class FlexRelImportance(_Computed):
    """FlexRel's score (δ weighting relevance, as :func:`lib.criteria.filters.flexrel` reads the paper), computed the
    way the reproduction computes it: per layer ``(1 − δ)·P̂ + δ·R̂`` with ``P`` the ``partner`` scores (default
    :func:`lib.criteria.filters.magnitude`, the paper's "average magnitude") and ``R`` the layer relevance of
    ``relevance`` (its images, targets, composite), each min-max normalised within the layer, then reduced over
    the group (the mean, as :class:`lib.core.prune.ScoreImportance` reduces every criterion). So the units kept
    are those of the reproduction's protocol on any network: a plain chain (one layer per group) and a residual
    one (notebook 09) alike (``tests/test_importance.py``)."""

    def __init__(
        self,
        relevance: RelevanceImportance,
        delta: float = 0.5,
        partner: Callable[[nn.Module], dict[str, torch.Tensor]] = filters.magnitude,
        group_reduction: str = "mean",
        normalizer: str | None = None,
    ) -> None:
        filters.flexrel({}, {}, delta)  # the mix of no layers: checks δ now, before any pruning, with the same message
        super().__init__(relevance.model, group_reduction, normalizer)
        self.relevance, self.delta, self.partner = relevance, float(delta), partner

    def compute(self) -> dict[str, torch.Tensor]:
        return filters.flexrel(self.partner(self.model), self.relevance.compute(), self.delta)

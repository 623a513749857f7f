"""FlexRel, LRP relevance and the rank paper's contribution as torch-pruning importances:
prune *your* network with them.

torch-pruning's pruners (``tp.pruner.MetaPruner`` / ``BasePruner``, per layer or global, ``round_to``) ask an
``Importance`` for one score per unit of each **group**: the units that must go together (a convolution's filters,
its BatchNorm, the next layer's input channels, and every convolution a residual addition ties to them). The
importances here score a group the way torch-pruning's ``GroupMagnitudeImportance`` does — a score per unit of
each layer the group prunes, reduced over the group (``group_reduction``, default the mean) and optionally
normalised — with the layer scores of :mod:`lib.criteria.filters`:

- :class:`RelevanceImportance` — eq. (1)'s per-unit LRP relevance (zennit; a composite as argument), of every
  convolution or linear layer whose outputs the group removes;
- :class:`CriterionImportance` — any registered criterion (:mod:`lib.criteria.registry`), e.g. the rank paper's
  contribution of each filter or neuron to the layers that read it;
- :class:`FlexRelImportance` — ``(1 − δ)·P̂ + δ·R̂`` per layer: relevance mixed with a partner's layer scores
  (default: magnitude, the paper's "lowest average magnitude"), each min-max normalised within the layer, then
  reduced over the group.

The reproduction's protocols prune with the same reduction (:class:`lib.core.prune.ScoreImportance`, of which
these are subclasses) and the same layer scores. Relevance is computed on a traced copy of the network canonized
from its graph (:mod:`lib.criteria.graph`: residual additions, squeeze-and-excitation gates, BatchNorm, output
layers), so the user's model is only ever changed by the pruner; what LRP cannot attribute is refused when the
importance is built, naming the operation and the module it is in.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable

import torch
import torch_pruning as tp
from torch import nn
from zennit.core import Composite

from ..core.prune import OUTPUTS, ScoreImportance, prunable_layers
from . import filters, graph
from .registry import CRITERIA, Reference


class _Computed(ScoreImportance):
    """Layer scores of ``model`` computed by :meth:`compute` on the first call and again whenever a layer's width
    has changed since (after a pruning step; :meth:`reset` after training the network between steps), then
    reduced over each group (:class:`lib.core.prune.ScoreImportance`).

    The first call computes every layer's scores before the pruner removes anything, so a failure leaves the model
    as it was; the scores are computed on copies (:mod:`lib.criteria.graph`), so a success leaves it as it was too
    (no parameter, buffer or ``.grad`` changed) until the pruner prunes it. ``example``: a batch the model accepts,
    to read its graph — the output layers (never scored: their groups get no importance, so the pruner leaves them),
    what torch-pruning cannot prune by filters (a channel shuffle: :class:`lib.criteria.graph.NotPrunable`) and, for a
    criterion that reads relevance, what LRP cannot attribute, each refused here, before any work. Without
    one (a criterion that reads no images), the output layer is the last convolution or linear layer defined."""

    def __init__(
        self,
        model: nn.Module,
        example: torch.Tensor | None = None,
        group_reduction: str = "mean",
        normalizer: str | None = None,
        relevance: bool = False,
    ) -> None:
        if not isinstance(model, nn.Module):
            raise TypeError(f"the first argument is the network to prune (an nn.Module), got {type(model).__name__}")
        super().__init__(None, group_reduction, normalizer)
        self.model = model
        traced = None
        if example is not None:
            traced = graph.canonized(model, example) if relevance else graph.Graph.of(graph.trace(model, example))
            graph.refuse_unprunable(traced.module)
        self.names = {m: n for n, m in model.named_modules()}
        if traced is None:  # no example to trace: the layers the criterion scores are the prunable ones
            units = [n for n, m in model.named_modules() if isinstance(m, graph.UNITS)]
            self.unscored = set(units) - set(prunable_layers(model))
        else:
            self.unscored = {*traced.outputs, *(set(traced.layers) - set(traced.prunable))}

    @abstractmethod
    def compute(self) -> dict[str, torch.Tensor]:
        """``{layer name: score of each output unit}`` of every prunable layer of the model as it is now."""

    def layer_scores(self) -> dict[nn.Module, torch.Tensor]:
        modules = dict(self.model.named_modules())
        stale = not self.scores or any(len(s) != m.weight.shape[0] for m, s in self.scores.items())
        if stale:
            with torch.enable_grad():  # LRP is a modified gradient, tracing needs one: the pruner calls under no_grad
                found = self.compute()
            self.scores = {modules[n]: s.detach().cpu() for n, s in found.items() if n not in self.unscored}
        return self.scores

    def reset(self) -> None:
        """Forget the scores computed so far (the next call recomputes them): after training between steps."""
        self.scores = {}

    def __call__(self, group: tp.Group) -> torch.Tensor | None:
        root = group[0].dep.target.module
        if group[0].dep.handler in OUTPUTS and root not in self.layer_scores():
            name = self.names.get(root)
            if name in self.unscored:
                return None  # an output layer, or one that only computes a gate: left as it is
            raise ValueError(
                f"{name or type(root).__name__} ({type(root).__name__} {tuple(root.weight.shape)}) has no score: "
                "not a layer of the network this importance scores; pass the same model to both"
            )
        return super().__call__(group)


class RelevanceImportance(_Computed):
    """LRP relevance of each unit (eq. (1), :func:`lib.criteria.filters.relevance`) on reference images ``x``
    (targets ``y``; ``None``: the predicted class), reduced over the group like torch-pruning's magnitude.

    The relevance of every prunable layer of ``model`` is computed in one LRP pass on a traced, canonized copy
    (:mod:`lib.criteria.graph`: additions summed, gates held, BatchNorm merged, output layers found), when first
    asked and after every change of width. ``composite``: a zennit composite without canonizers (default
    ``EpsilonPlusFlat``). A network LRP cannot attribute is refused here, before any work, naming the operation and
    the module it is in (:class:`lib.criteria.graph.NotAttributable`).

    Eq. (1)'s input term is the relevance reaching a layer's input tensor; in a residual block that tensor also
    feeds the skip path, so the term carries the skip's relevance too. It is the same for every unit of a layer
    (of a group, for a grouped convolution): rankings within a layer are unaffected, but with global pruning (one
    threshold over groups) and no ``normalizer`` groups are compared with it included.
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
        if not isinstance(x, torch.Tensor):
            raise TypeError("RelevanceImportance(model, x, y): x are reference images the model accepts (a tensor)")
        super().__init__(model, x, group_reduction, normalizer, relevance=True)
        self.composite = composite
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
        super().__init__(model, x, group_reduction, normalizer, relevance=criterion == "relevance")
        self.criterion, self.reference = CRITERIA[criterion], Reference(lambda: (x, y), **reference)

    def compute(self) -> dict[str, torch.Tensor]:
        return self.criterion.score(self.model, self.reference)


class FlexRelImportance(_Computed):
    """FlexRel's score (δ weighting relevance, as :func:`lib.criteria.filters.flexrel` reads the paper), computed the
    way the reproduction computes it: per layer ``(1 − δ)·P̂ + δ·R̂`` with ``P`` the ``partner``'s scores
    (``partner(model)``; default :func:`lib.criteria.filters.magnitude`, the paper's "average magnitude", raw even
    behind BatchNorm: on this project's BatchNorm VGG the folded magnitude pruned worse than random, and FlexRel
    with it worse than with the raw one — README) and ``R`` the layer relevance, each
    min-max normalised within the layer, then reduced over the group (the mean, as
    :class:`lib.core.prune.ScoreImportance` reduces every criterion). So the units kept are those of the
    reproduction's protocol on any network: a plain chain (one layer per group) and a residual one (notebook 09)
    alike (``tests/test_importance.py``).

    ``FlexRelImportance(model, x, y)`` scores relevance on reference images ``x`` (labels ``y``; ``None``: the
    predicted class) with :class:`RelevanceImportance`'s defaults; pass a :class:`RelevanceImportance` instead for
    other LRP settings."""

    def __init__(
        self,
        relevance: RelevanceImportance | nn.Module,
        x: torch.Tensor | None = None,
        y: torch.Tensor | None = None,
        delta: float = 0.5,
        partner: Callable[[nn.Module], dict[str, torch.Tensor]] | None = None,
        group_reduction: str = "mean",
        normalizer: str | None = None,
    ) -> None:
        if isinstance(delta, torch.Tensor) or not isinstance(delta, int | float):
            raise TypeError(f"delta is FlexRel's weight of relevance, a number in [0, 1]; got a {type(delta).__name__}")
        filters.flexrel({}, {}, delta)  # the mix of no layers: checks δ now, before any pruning, with the same message
        if not isinstance(relevance, RelevanceImportance):
            if x is None:
                raise TypeError(
                    "FlexRelImportance(model, x, y): pass reference images x (and their labels y) for the "
                    "relevance, or a RelevanceImportance(model, x, y, ...) in place of the model"
                )
            relevance = RelevanceImportance(relevance, x, y)
        elif x is not None:
            raise TypeError(
                "FlexRelImportance(RelevanceImportance(...)): the images are the relevance's; pass none here"
            )
        super().__init__(relevance.model, None, group_reduction, normalizer)
        self.unscored = relevance.unscored
        self.relevance, self.delta, self.partner = relevance, float(delta), partner

    def compute(self) -> dict[str, torch.Tensor]:
        r = self.relevance.compute()
        partner = filters.magnitude(self.model, layers=r) if self.partner is None else self.partner(self.model)
        if missing := [n for n in r if n not in partner]:
            raise ValueError(
                f"the partner scores no unit of {missing}, which relevance scores: it must score every one"
            )
        return filters.flexrel({n: partner[n] for n in r}, r, self.delta)

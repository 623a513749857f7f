"""FlexRel and LRP relevance as torch-pruning importances: prune *your* network with them.

torch-pruning's pruners (``tp.pruner.MetaPruner`` / ``BasePruner``, per layer or global, ``round_to``) ask an
``Importance`` for one score per unit of each **group**: the units that must go together (a convolution's filters,
its BatchNorm, the next layer's input channels, and every convolution a residual addition ties to them). The
importances here score a group the way torch-pruning's ``GroupMagnitudeImportance`` does — a score per unit of
each layer the group prunes, reduced over the group (``group_reduction``, default the mean) and optionally
normalised — with the layer scores of :mod:`lib.criteria.filters`:

- :class:`RelevanceImportance` — eq. (1)'s per-unit LRP relevance (zennit; a composite and its canonizers as
  arguments), of every convolution or linear layer whose outputs the group removes;
- :class:`FlexRelImportance` — ``(1 − δ)·P̂ + δ·R̂``: relevance mixed with a partner importance (default: the
  magnitude of the group's first layer, as the paper's "lowest average magnitude"), each min-max normalised
  within the group.

A network zennit cannot attribute faithfully is refused before any work, naming the layer type
(:func:`check_attributable`): grouped or depthwise convolutions (eq. (1)'s unfolded form needs ``groups=1``), and
torchvision's residual blocks whose addition no canonizer turns into a module (its ResNet blocks need
``zennit.torchvision.ResNetCanonizer``; MobileNetV2's inverted residuals have none). A residual addition written
in a custom module's ``forward`` (``x + f(x)``) cannot be seen from the modules and is not detected.
"""

from __future__ import annotations

import torch
import torch_pruning as tp
from torch import nn
from torchvision.models.mobilenetv2 import InvertedResidual
from torchvision.models.resnet import BasicBlock, Bottleneck
from zennit.canonizers import CompositeCanonizer
from zennit.core import Composite
from zennit.torchvision import ResNetCanonizer

from lib.core.prune import prunable_layers
from lib.criteria import filters

#: torch-pruning's handlers that remove a layer's output units: where a group's scores are read.
OUTPUTS = (tp.prune_conv_out_channels, tp.prune_linear_out_channels)


def _canonizers(composite: Composite) -> list:
    """Every canonizer of ``composite``, those inside composite canonizers included."""
    found, todo = [], list(composite.canonizers or [])
    while todo:
        c = todo.pop()
        found.append(c)
        if isinstance(c, CompositeCanonizer):
            todo += list(c.canonizers)
    return found


def check_attributable(model: nn.Module, composite: Composite) -> None:
    """Raise ``TypeError`` naming the first module of ``model`` whose relevance eq. (1) and ``composite`` cannot
    give: a grouped convolution, a torchvision ResNet block without ``ResNetCanonizer`` in the composite, or a
    MobileNetV2 inverted residual with its skip connection (zennit has no canonizer for it)."""
    resnet = any(isinstance(c, ResNetCanonizer) for c in _canonizers(composite))
    for name, m in model.named_modules():
        if isinstance(m, nn.Conv2d) and m.groups != 1:
            raise TypeError(f"{name}: Conv2d with groups={m.groups} (a grouped or depthwise convolution); FlexRel's "
                            "relevance (eq. (1) on the unfolded input) is defined for groups=1 only")
        if isinstance(m, (BasicBlock, Bottleneck)) and not resnet:
            raise TypeError(f"{name}: {type(m).__name__} adds its residual outside any module; pass a composite with "
                            "zennit.torchvision.ResNetCanonizer, e.g. EpsilonPlusFlat(canonizers=[ResNetCanonizer()])")
        if isinstance(m, InvertedResidual) and m.use_res_connect:
            raise TypeError(f"{name}: InvertedResidual adds its skip connection outside any module and zennit has no "
                            "canonizer for it: its relevance would not be LRP")


class RelevanceImportance(tp.importance.GroupMagnitudeImportance):
    """LRP relevance of each unit (eq. (1), :func:`lib.criteria.filters.relevance`) on reference images ``x``
    (targets ``y``; ``None``: the predicted class), reduced over the group like torch-pruning's magnitude.

    The relevance of every prunable layer of ``model`` is computed in one LRP pass (with gradients on, inside the
    pruner's ``no_grad``), on the first call, and again whenever a layer's width has changed since (after a pruning
    step; :meth:`reset` after training the network between steps). ``composite``: a zennit composite with the
    canonizers the network needs (default: :func:`lib.criteria.filters.default_composite`, for plain chains).

    Eq. (1)'s input term is the relevance reaching a layer's input tensor; in a residual block that tensor also
    feeds the skip path, so the term carries the skip's relevance too. It is the same for every unit of a layer:
    rankings within a layer or group are unaffected, but with global pruning (one threshold over groups) and no
    ``normalizer`` groups are compared with it included.
    """

    def __init__(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor | None = None, composite: Composite | None = None,
                 unfolded_input: str = "copy", group_reduction: str = "mean", normalizer: str | None = None) -> None:
        super().__init__(p=1, group_reduction=group_reduction, normalizer=normalizer)
        self.composite = composite or filters.default_composite()
        check_attributable(model, self.composite)
        self.model, self.x, self.y, self.unfolded_input = model, x, y, unfolded_input
        self._scores: dict[nn.Module, torch.Tensor] = {}

    def layer_scores(self) -> dict[nn.Module, torch.Tensor]:
        """``{layer: relevance of each of its output units}`` for every prunable layer of the model as it is now."""
        layers = prunable_layers(self.model)
        if any(m not in self._scores or len(self._scores[m]) != m.weight.shape[0] for m in layers.values()):
            with torch.enable_grad():  # LRP is a modified gradient: the pruner calls importances under no_grad
                found = filters.relevance(self.model, self.x, self.y, self.composite, unfolded_input=self.unfolded_input)
            self._scores = {layers[n]: s.detach().cpu() for n, s in found.items()}
        return self._scores

    def reset(self) -> None:
        """Forget the relevance computed so far (the next call recomputes it): after training between steps."""
        self._scores = {}

    def __call__(self, group: tp.Group) -> torch.Tensor | None:
        scores = self.layer_scores()
        root = group[0].dep.target.module
        if group[0].dep.handler in OUTPUTS and root not in scores:
            raise ValueError(f"{type(root).__name__} {tuple(root.weight.shape)} has no relevance score: the output layer "
                             "(pass it in the pruner's ignored_layers) or a network other than the one this importance scores")
        values, roots = [], []
        for i, (dep, idxs) in enumerate(group):
            layer = dep.target.module
            if dep.handler in OUTPUTS and layer in scores:
                values.append(scores[layer][torch.as_tensor(idxs)].float())
                roots.append(group[i].root_idxs)
        return self._normalize(self._reduce(values, roots), self.normalizer)


class FlexRelImportance(tp.importance.Importance):
    """FlexRel's score (δ weighting relevance, as :func:`lib.criteria.filters.flexrel` reads the paper):
    ``(1 − δ)·P̂ + δ·R̂`` with ``R`` the group's :class:`RelevanceImportance` and ``P`` its ``partner`` importance
    (default: the summed ``|w|`` of the group's first layer — per filter the paper's "average magnitude" times the
    filter's size, the same after normalisation), each min-max normalised within the group.

    With per-layer pruning on a plain chain a group is one layer, and the units kept are those of the
    reproduction's ``flexrel`` scores (``tests/test_importance.py``)."""

    def __init__(self, relevance: RelevanceImportance, delta: float = 0.5, partner: tp.importance.Importance | None = None) -> None:
        filters.flexrel({}, {}, delta)  # the mix of no layers: checks δ now, before any pruning, with the same message
        self.relevance, self.delta = relevance, float(delta)
        self.partner = partner or tp.importance.GroupMagnitudeImportance(p=1, group_reduction="first", normalizer=None)

    def __call__(self, group: tp.Group) -> torch.Tensor | None:
        p, r = self.partner(group), self.relevance(group)
        if p is None or r is None:
            return None
        mixed = filters.flexrel({"group": p.float().cpu()}, {"group": r.float().cpu()}, self.delta)
        return mixed["group"]

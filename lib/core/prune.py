"""Physical structured pruning with torch-pruning's dependency graph, driven by our scores.

:func:`prune` removes whole filters / neurons: the returned model is smaller (fewer channels, parameters
and MACs) and every consumer — BatchNorm, the next convolution or linear layer, a flatten — is sliced
consistently by torch-pruning. Our scores enter as a torch-pruning ``Importance`` (:class:`ScoreImportance`),
reduced over each group of units that must go together (e.g. every channel a residual addition ties). Pruning
creates new parameter tensors: build the optimizer *after* pruning.
"""

from __future__ import annotations

import copy

import torch
import torch_pruning as tp
from torch import nn

from ..params.schema import SCOPES

#: Scores: one importance per output unit of each prunable layer (higher = more important), keyed by
#: the layer's qualified name in ``model.named_modules()``.
Scores = dict[str, torch.Tensor]
PRUNABLE = (nn.Conv2d, nn.Linear)


def prunable_layers(model: nn.Module) -> dict[str, nn.Module]:
    """Every ``nn.Conv2d`` and ``nn.Linear`` of ``model`` in definition order, except the last one (the
    output layer, whose units are the classes)."""
    layers = {name: m for name, m in model.named_modules() if isinstance(m, PRUNABLE)}
    if len(layers) < 2:
        raise ValueError("the model needs at least one prunable layer before its output layer")
    return dict(list(layers.items())[:-1])


def random_scores(model: nn.Module, seed: int) -> Scores:
    """Independent uniform scores for every unit (a control: what a criterion must beat)."""
    gen = torch.Generator().manual_seed(seed)
    return {name: torch.rand(m.weight.shape[0], generator=gen) for name, m in prunable_layers(model).items()}


#: torch-pruning's handlers that remove a layer's output units (where a group's scores are read), and those that
#: remove a consumer's input channels.
OUTPUTS = (tp.prune_conv_out_channels, tp.prune_depthwise_conv_out_channels, tp.prune_linear_out_channels)
INPUTS = (tp.prune_conv_in_channels, tp.prune_depthwise_conv_in_channels, tp.prune_linear_in_channels)


def removes_outputs(layer: nn.Module):
    """torch-pruning's handler that removes ``layer``'s output units (a depthwise convolution has its own)."""
    if isinstance(layer, nn.Linear):
        return tp.prune_linear_out_channels
    if tp.ops.module2type(layer) == tp.ops.OPTYPE.DEPTHWISE_CONV:
        return tp.prune_depthwise_conv_out_channels
    return tp.prune_conv_out_channels


class ScoreImportance(tp.importance.GroupMagnitudeImportance):
    """A torch-pruning ``Importance`` from per-unit scores of layers (``{layer: one score per output unit}``): the
    scores of every layer whose outputs the group removes, reduced over the group like torch-pruning's magnitude
    (``group_reduction``, default the mean; on a plain chain a group has one such layer and its scores are
    returned as they are) and optionally normalised (``normalizer``). A group without a scored layer gets ``None``
    (not pruned). Subclasses compute the scores in :meth:`layer_scores`."""

    def __init__(
        self,
        scores: dict[nn.Module, torch.Tensor] | None = None,
        group_reduction: str = "mean",
        normalizer: str | None = None,
    ) -> None:
        super().__init__(p=1, group_reduction=group_reduction, normalizer=normalizer)
        self.scores = scores or {}

    def layer_scores(self) -> dict[nn.Module, torch.Tensor]:
        """``{layer: score of each of its output units}``."""
        return self.scores

    @torch.no_grad()
    def __call__(self, group: tp.Group) -> torch.Tensor | None:
        scores = self.layer_scores()
        values, roots = [], []
        for i, (dep, idxs) in enumerate(group):
            if dep.handler in OUTPUTS and dep.target.module in scores:
                values.append(scores[dep.target.module][torch.as_tensor(idxs)].float())
                roots.append(group[i].root_idxs)
        return self._normalize(self._reduce(values, roots), self.normalizer) if values else None


def prune(
    model: nn.Module,
    scores: Scores,
    amount: float | dict[str, int],
    scope: str = "layer",
    example_inputs: torch.Tensor | None = None,
    worst: bool = False,
    round_to: int | None = None,
) -> nn.Module:
    """A pruned copy of ``model`` without its lowest-score units: the ``amount`` fraction, or down to target widths.

    Parameters
    ----------
    model
        The network; it is not modified.
    scores
        ``{layer name: one score per output unit}``; only these layers are pruned.
    amount
        Fraction of units to remove, in ``[0, 1)``: per scored layer (``scope="layer"``, keeping
        ``⌊(1 − amount)·n⌋`` of its ``n`` units) or over all scored units at once (``scope="global"``; compare
        scores across layers only when they are on one scale, e.g. normalised); or, per scored layer name, the
        number of units it keeps (its target width, ``1 ≤ k ≤ n``; ``scope="layer"`` only).
    scope
        ``"layer"`` or ``"global"``.
    example_inputs
        A batch the model accepts, to trace the dependency graph.
    worst
        Remove the *highest*-score units instead (anti-ranked; what the rank paper's code called "random").
    round_to
        Keep a multiple of this many units per layer (torch-pruning's ``round_to``: channel counts that CPU and
        GPU kernels handle well); ``None``: exactly ``⌊(1 − amount)·n⌋``.
    """
    if isinstance(amount, dict):
        if set(amount) != set(scores):
            raise ValueError(f"target widths for layers {sorted(amount)}, scores for {sorted(scores)}")
    elif not 0.0 <= amount < 1.0:
        raise ValueError(f"amount must be in [0, 1), got {amount!r}")
    if scope not in SCOPES:
        raise ValueError(f"scope={scope!r}; allowed: {list(SCOPES)}")
    if isinstance(amount, dict) and scope != "layer":
        raise ValueError("per-layer target widths need scope 'layer'")
    if example_inputs is None:
        raise ValueError("prune needs example_inputs to trace the model")
    layers = prunable_layers(model)
    unknown = set(scores) - set(layers)
    if unknown:
        raise ValueError(f"scores for layers that are not prunable: {sorted(unknown)}; prunable: {list(layers)}")
    for name, s in scores.items():
        if s.shape != (layers[name].weight.shape[0],):
            raise ValueError(f"layer {name}: {tuple(s.shape)} scores for {layers[name].weight.shape[0]} units")
    # a target width k of n units is torch-pruning's ratio 1 − (k + ½)/n: it removes round(n·ratio) = n − k units
    widths = {n: layers[n].weight.shape[0] for n in scores}
    if isinstance(amount, dict) and not all(1 <= k <= widths[n] for n, k in amount.items()):
        raise ValueError(f"target widths {amount} outside [1, units] of layers {widths}")
    ratios = {n: max(0.0, 1 - (k + 0.5) / widths[n]) for n, k in amount.items()} if isinstance(amount, dict) else None
    pruned = copy.deepcopy(model)
    if not any(ratios.values() if ratios else [amount]):
        return pruned
    modules = dict(pruned.named_modules())
    importance = ScoreImportance({modules[n]: (-s if worst else s).detach().cpu() for n, s in scores.items()})
    ignored = [m for n, m in modules.items() if isinstance(m, (nn.Conv2d, nn.Linear)) and n not in scores]
    was_training = pruned.training
    pruned.eval()
    pruner = tp.pruner.BasePruner(
        pruned,
        example_inputs,
        importance=importance,
        pruning_ratio=0.0 if ratios else amount,
        pruning_ratio_dict={modules[n]: r for n, r in ratios.items()} if ratios else None,
        global_pruning=scope == "global",
        ignored_layers=ignored,
        round_to=round_to,
    )
    pruner.step()
    pruned.train(was_training)
    return pruned


def count(model: nn.Module, example_inputs: torch.Tensor) -> dict[str, int]:
    """``{"params": parameters, "macs": multiply-accumulates of one forward pass of example_inputs}``."""
    was_training = model.training
    model.eval()
    macs, params = tp.utils.count_ops_and_params(model, example_inputs)
    model.train(was_training)
    return {"params": int(params), "macs": int(macs)}

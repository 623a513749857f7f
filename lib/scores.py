"""FlexRel's pruning criteria (Chiasserini et al., IEEE Network 2026): one score per convolution filter
or linear neuron, as :data:`lib.prune.Scores` (higher = more important).

- :func:`magnitude` — mean ``|w|`` over each unit's weights ("lowest average magnitude"), raw or with the
  following BatchNorm folded in.
- :func:`parameter_relevance` — eq. (1), ``rel(w_kj) = Σ_i [rel(a_ik) + rel(b_ij)]`` on the layer's
  fully-connected form: ``i`` runs over the samples and, for a convolution, over every output position of
  its unfolded (im2col) form, ``k`` over the unfolded input (``c_in × kh × kw``), ``j`` over output units.
  ``rel`` is LRP relevance from zennit, started at the output as the logit of the target class.
- :func:`relevance` — per-unit relevance, the sum of eq. (1) over the unit's weights.
- :func:`flexrel` — ``s = (1 − δ)·M̂ + δ·R̂`` on per-layer min-max normalised magnitude ``M̂`` and relevance
  ``R̂``.

**Consequence of eq. (1) at filter granularity.** For unit ``j`` the sum over its weights is
``Σ_k rel(w_kj) = K·Σ_i rel(b_ij) + Σ_k Σ_i rel(a_ik)`` with ``K`` its number of weights. The second term
does not depend on ``j``: it is the same for every filter of a layer. Per-unit relevance is therefore an
increasing affine function of the output channel's summed relevance ``Σ_i rel(b_ij)``, and after per-layer
min-max normalisation the two are *identical*: the input relevance has no influence on which filters are
pruned. ``tests/test_scores.py`` checks this numerically.

The random control is :func:`lib.prune.random_scores`; the rank paper's criterion is :mod:`lib.contribution`.
"""

from __future__ import annotations

import copy
import math
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.grad import conv2d_weight
from zennit.canonizers import SequentialMergeBatchNorm
from zennit.composites import EpsilonPlusFlat
from zennit.core import Composite

from lib.config import UNFOLDED_INPUTS
from lib.prune import Scores, prunable_layers


def magnitude(model: nn.Module, fold_batchnorm: bool = False) -> Scores:
    """Mean absolute weight of each output unit (filter or neuron).

    With ``fold_batchnorm`` the weights are first merged with the BatchNorm that follows each layer
    (zennit's ``SequentialMergeBatchNorm``: ``w·γ/√(σ² + ε)``), i.e. the magnitude of the weights the
    network effectively applies in eval mode. Behind BatchNorm a filter's raw ``|w|`` is scale-free (the
    normalisation divides it out); the paper's VGG16 has no BatchNorm, where both variants coincide.

    >>> net = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.ReLU(), nn.Flatten(), nn.Linear(2, 3), nn.Linear(3, 2))
    >>> sorted(magnitude(net, fold_batchnorm=True)) == sorted(magnitude(net))
    True
    """
    if not fold_batchnorm:
        return {name: m.weight.detach().abs().flatten(1).mean(1) for name, m in prunable_layers(model).items()}
    merged = copy.deepcopy(model).eval()
    SequentialMergeBatchNorm().apply(merged)  # merges in place; the copy is thrown away, nothing to undo
    return magnitude(merged)


def default_composite() -> Composite:
    """zennit's ``EpsilonPlusFlat`` (ε for dense layers, z⁺ for convolutions, flat for the first layer) with
    BatchNorm merged into the preceding layer."""
    return EpsilonPlusFlat(canonizers=[SequentialMergeBatchNorm()])


def _unfolded_input_sum(layer: nn.Module, rel_a: torch.Tensor, out_shape: torch.Size, unfolded_input: str) -> torch.Tensor:
    """``Σ_i rel(a_ik)`` for every column ``k`` of the layer's fully-connected form, shaped like one unit's weights.

    For a convolution the unfolded input repeats each input element once per output position whose receptive
    field covers it. ``unfolded_input="copy"`` gives every copy the element's full relevance (the unfolded
    relevance map); ``"share"`` divides it among the copies, so the unfolded form conserves relevance.
    The sum over rows is a convolution weight-gradient with an all-ones output gradient (no im2col matrix).
    """
    if isinstance(layer, nn.Linear):
        return rel_a.reshape(-1, rel_a.shape[-1]).sum(0)
    if layer.groups != 1:
        raise NotImplementedError("grouped convolutions are not supported")
    rel_a = rel_a.sum(0, keepdim=True)  # the row sum is linear: sum the samples first
    if unfolded_input == "share":
        geometry = dict(kernel_size=layer.kernel_size, dilation=layer.dilation, padding=layer.padding, stride=layer.stride)
        ones = torch.ones(1, 1, *rel_a.shape[2:], dtype=rel_a.dtype, device=rel_a.device)
        cover = F.fold(F.unfold(ones, **geometry), rel_a.shape[2:], **geometry)  # copies of each input element
        rel_a = rel_a / cover.clamp(min=1)
    grad_out = torch.ones(1, 1, *out_shape[2:], dtype=rel_a.dtype, device=rel_a.device)
    return conv2d_weight(rel_a, (1, *layer.weight.shape[1:]), grad_out, layer.stride, layer.padding, layer.dilation)[0]


def _target(logits: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
    """Output relevance: the target class's logit, all other outputs 0 (``y=None``: predicted class)."""
    y = logits.argmax(1) if y is None else y
    mask = torch.zeros_like(logits).scatter_(1, y.view(-1, 1), 1.0)
    return logits.detach() * mask


def layer_relevance(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor | None = None,
    composite: Composite | None = None,
    batch_size: int = 256,
    unfolded_input: str = "copy",
) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """The two sums of eq. (1) for every prunable layer: ``(Σ_i rel(a_ik), Σ_i rel(b_ij))``.

    The first is shaped like one unit's weights (``in_features`` or ``c_in × kh × kw``), the second has one
    entry per output unit. ``rel`` is the LRP relevance zennit propagates: the modified gradient arriving at
    the layer's output (``b``) and leaving towards its input (``a``). Parameters as in
    :func:`parameter_relevance`.
    """
    if unfolded_input not in UNFOLDED_INPUTS:
        raise ValueError(f"unfolded_input={unfolded_input!r}; allowed: {list(UNFOLDED_INPUTS)}")
    layers = prunable_layers(model)
    sums: dict[str, list] = {name: [0.0, 0.0] for name in layers}
    captured: dict[str, dict] = {name: {} for name in layers}
    handles = []
    for name, layer in layers.items():
        def pre(module, args, name=name):
            args[0].register_hook(lambda g: captured[name].__setitem__("a", g))

        def post(module, args, out, name=name):
            captured[name]["out_shape"] = out.shape
            out.register_hook(lambda g: captured[name].__setitem__("b", g))

        # prepend: run before zennit's own hooks, so the hooks see the layer's true input and output tensors
        handles += [layer.register_forward_pre_hook(pre, prepend=True), layer.register_forward_hook(post, prepend=True)]
    was_training = model.training
    model.eval()
    composite = composite or default_composite()
    try:
        with composite.context(model) as modified:
            for start in range(0, len(x), batch_size):
                xb = x[start : start + batch_size].detach().clone().requires_grad_(True)
                yb = None if y is None else y[start : start + batch_size]
                logits = modified(xb)
                torch.autograd.backward(logits, _target(logits, yb))
                for name, layer in layers.items():
                    c = captured[name]
                    sums[name][0] = sums[name][0] + _unfolded_input_sum(layer, c["a"], c["out_shape"], unfolded_input)
                    sums[name][1] = sums[name][1] + c["b"].transpose(0, 1).reshape(c["b"].shape[1], -1).sum(1)
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    return {name: (a.detach(), b.detach()) for name, (a, b) in sums.items()}


def parameter_relevance(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor | None = None,
    composite: Composite | None = None,
    batch_size: int = 256,
    unfolded_input: str = "copy",
) -> dict[str, torch.Tensor]:
    """FlexRel eq. (1) for every weight of every prunable layer, shaped like ``layer.weight``.

    Parameters
    ----------
    model
        The network; it is put in eval mode for the pass and restored afterwards.
    x, y
        Reference inputs and their target classes (``y=None``: the predicted class).
    composite
        zennit composite giving the LRP rules; default :func:`default_composite`.
    batch_size
        Chunk size; eq. (1) sums over samples, so chunking changes nothing but memory.
    unfolded_input
        How a convolution's input relevance enters the unfolded form: ``"copy"`` (default; every unfolded
        copy of an input element carries its relevance, the literal unfolded relevance map) or ``"share"``
        (divided among the copies, so the unfolded form conserves relevance). The paper does not say.

    Returns
    -------
    dict
        ``{layer name: tensor shaped like layer.weight}`` with ``rel(w)[j, k] = Σ_i rel(a_ik) + Σ_i rel(b_ij)``.
    """
    sums = layer_relevance(model, x, y, composite, batch_size, unfolded_input)
    out = {}
    for name, layer in prunable_layers(model).items():
        a, b = sums[name]
        shape = layer.weight.shape
        out[name] = (b.view(-1, *([1] * (len(shape) - 1))) + a.unsqueeze(0)).expand(shape).clone()
    return out


def relevance(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor | None = None,
    composite: Composite | None = None,
    **kwargs,
) -> Scores:
    """Per-unit relevance: the sum of :func:`parameter_relevance` over each unit's weights."""
    return {name: r.flatten(1).sum(1) for name, r in parameter_relevance(model, x, y, composite, **kwargs).items()}


def normalize(scores: Scores, method: Literal["minmax"] = "minmax") -> Scores:
    """Map each layer's scores to ``[0, 1]`` (min-max). A layer whose scores are all equal maps to 0."""
    if method != "minmax":
        raise ValueError(f"normalize method={method!r}; allowed: 'minmax'")
    out = {}
    for name, s in scores.items():
        span = s.max() - s.min()
        out[name] = (s - s.min()) / span if span > 0 else torch.zeros_like(s)
    return out


def flexrel(magnitude_scores: Scores, relevance_scores: Scores, delta: float) -> Scores:
    """FlexRel score ``s = (1 − δ)·M̂ + δ·R̂`` with per-layer min-max normalised magnitude and relevance.

    **Orientation of δ.** The paper contradicts itself: Table I writes ``s ← δM + (1−δ)R``, while the text
    says a low-magnitude, high-relevance parameter scores "close to δ", and the Fig. 4 discussion calls
    ``δ = 0`` "magnitude alone" and ``δ = 1`` "relevance alone". Three statements against one: here δ
    weights **relevance** — ``δ = 0`` is magnitude pruning, ``δ = 1`` relevance pruning — and every figure
    labels its axis "δ (0 = magnitude only, 1 = relevance only)". Table I's reading is ``1 − δ`` here.

    Raises
    ------
    ValueError
        If δ is NaN or outside ``[0, 1]``, or the two score dicts cover different layers or shapes.
    """
    if not isinstance(delta, (int, float)) or math.isnan(delta) or not 0.0 <= delta <= 1.0:
        raise ValueError(f"delta must be a number in [0, 1] (0 = magnitude only, 1 = relevance only), got {delta!r}")
    if magnitude_scores.keys() != relevance_scores.keys():
        raise ValueError(f"layers differ: {sorted(magnitude_scores)} vs {sorted(relevance_scores)}")
    m, r = normalize(magnitude_scores), normalize(relevance_scores)
    for name in m:
        if m[name].shape != r[name].shape:
            raise ValueError(f"layer {name}: {tuple(m[name].shape)} magnitude vs {tuple(r[name].shape)} relevance scores")
    return {name: (1.0 - delta) * m[name] + delta * r[name] for name in m}

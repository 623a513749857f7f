"""Importance scores for structured pruning: one score per output unit (conv filter or linear neuron).

Scores are ``dict[str, Tensor]``: key = qualified module name (``model.named_modules()``) of a prunable
``nn.Conv2d`` / ``nn.Linear`` (every one but the network's output layer, see :func:`prunable_layers`),
value = 1-D tensor with one score per output unit. Higher score = more important.

FlexRel (Chiasserini et al., IEEE Network 2026)
-----------------------------------------------
- :func:`magnitude` — mean ``|w|`` over each unit's weights ("lowest average magnitude").
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

Rank-based train-time pruning (Reddy et al.)
--------------------------------------------
- :func:`contribution` — ``λ1·C_avg + λ2·C_max`` (eqs. 1-2) for hidden neurons of fully-connected layers,
  with the text's reading as default and the public code's reading as the preset ``original_code``.
- :func:`random_scores` — the control. The original code's "random" baseline removed the *most*
  important neurons instead; that is ``lib.prune.prune(..., worst=True)``.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterable
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.grad import conv2d_weight
from zennit.canonizers import SequentialMergeBatchNorm
from zennit.composites import EpsilonPlusFlat
from zennit.core import Composite

Scores = dict[str, torch.Tensor]
PRUNABLE = (nn.Conv2d, nn.Linear)


def prunable_layers(model: nn.Module) -> dict[str, nn.Module]:
    """Every ``nn.Conv2d`` and ``nn.Linear`` of ``model`` in definition order, except the last one (the
    output layer, whose units are the classes)."""
    layers = {name: m for name, m in model.named_modules() if isinstance(m, PRUNABLE)}
    if len(layers) < 2:
        raise ValueError("the model needs at least one prunable layer before its output layer")
    return dict(list(layers.items())[:-1])


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


def random_scores(model: nn.Module, seed: int) -> Scores:
    """Independent uniform scores for every unit (a control: what a criterion must beat)."""
    gen = torch.Generator().manual_seed(seed)
    return {name: torch.rand(m.weight.shape[0], generator=gen) for name, m in prunable_layers(model).items()}


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
        ones = torch.ones(1, 1, *rel_a.shape[2:], dtype=rel_a.dtype)
        cover = F.fold(F.unfold(ones, **geometry), rel_a.shape[2:], **geometry)  # copies of each input element
        rel_a = rel_a / cover.clamp(min=1)
    grad_out = torch.ones(1, 1, *out_shape[2:], dtype=rel_a.dtype)
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
    unfolded_input: Literal["copy", "share"] = "copy",
) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """The two sums of eq. (1) for every prunable layer: ``(Σ_i rel(a_ik), Σ_i rel(b_ij))``.

    The first is shaped like one unit's weights (``in_features`` or ``c_in × kh × kw``), the second has one
    entry per output unit. ``rel`` is the LRP relevance zennit propagates: the modified gradient arriving at
    the layer's output (``b``) and leaving towards its input (``a``). Parameters as in
    :func:`parameter_relevance`.
    """
    if unfolded_input not in ("copy", "share"):
        raise ValueError(f"unfolded_input={unfolded_input!r}; allowed: 'copy', 'share'")
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
    unfolded_input: Literal["copy", "share"] = "copy",
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


CONTRIBUTION_PRESETS: dict[str, dict] = {
    # The paper's text: eqs. (1)-(2), signed weights and activations after the nonlinearity, every forward pass.
    # Signed ratios whose denominator cancels (|Σ w·a| < 10 % of Σ |w·a|) count as 0, so |r| ≤ 10 (see `cancel_tol`).
    "paper": dict(lam_avg=0.5, lam_max=0.5, absolute=False, activation="post", last_batch_only=False, cancel_tol=0.1),
    # The public code: |w|·|a| of pre-activation outputs, only the last mini-batch, C_max computed but unused.
    "original_code": dict(lam_avg=1.0, lam_max=0.0, absolute=True, activation="pre", last_batch_only=True),
}


def linear_pairs(model: nn.Module, x: torch.Tensor) -> list[tuple[str, str]]:
    """``(layer, next layer)`` names of consecutive ``nn.Linear`` layers in the order one forward pass of ``x``
    calls them: the hidden layers :func:`contribution` scores, each with the layer its neurons feed."""
    names = {m: n for n, m in model.named_modules() if isinstance(m, nn.Linear)}
    order: list[str] = []
    handles = [m.register_forward_hook(lambda m, a, o: order.append(names[m])) for m in names]
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(x)
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    return list(zip(order[:-1], order[1:]))


@torch.no_grad()
def contribution(
    model: nn.Module,
    batches: Iterable[torch.Tensor | tuple[torch.Tensor, ...]],
    lam_avg: float = 0.5,
    lam_max: float = 0.5,
    absolute: bool = False,
    activation: Literal["post", "pre"] = "post",
    last_batch_only: bool = False,
    pairs: list[tuple[str, str]] | None = None,
    cancel_tol: float = 0.0,
    chunk: int = 1 << 22,
) -> Scores:
    """The rank paper's neuron contribution ``λ1·C_avg + λ2·C_max`` for every hidden fully-connected layer.

    For neuron ``k`` of layer ``L`` with activation ``a_kf`` in forward pass ``f`` and next-layer weights
    ``w_kj`` (``j`` over the ``M`` neurons of ``L+1``), the contribution ratio is
    ``r_fkj = w_kj·a_kf / Σ_i w_ij·a_if`` (the next layer's pre-activation without its bias);
    ``C_avg = (1 / F·M) Σ_f Σ_j r_fkj`` (eq. 1) and ``C_max = max_{f,j} r_fkj`` (eq. 2). Every sample is one
    forward pass, so how the samples are split into batches changes nothing. A zero denominator (a
    next-layer neuron that receives nothing) contributes a ratio of 0, never NaN or inf.

    **Guard for signed ratios.** With signed weights and activations the denominator ``Σ_i w_ij·a_if`` can
    cancel to nearly zero while its terms do not, and the ratios then explode (``C_max`` becomes an outlier
    statistic of one forward pass). A denominator whose magnitude is below ``cancel_tol`` times its absolute
    sum ``Σ_i |w_ij·a_if|`` is treated like a zero one (its ratios count 0), which bounds ``|r| ≤ 1 / cancel_tol``.
    The ``paper`` preset uses 0.1; ``cancel_tol = 0`` keeps only the exact-zero guard.

    Parameters
    ----------
    model
        Network whose fully-connected layers are called in sequence; a layer is scored if another linear
        layer follows it in the forward pass (the output layer is not scored).
    batches
        Iterable of inputs, or of ``(inputs, ...)`` tuples (a data loader).
    lam_avg, lam_max
        λ1 and λ2.
    absolute
        Use ``|w|`` and ``|a|`` (the public code) instead of signed values (the text).
    activation
        ``"post"``: the neuron's output after its nonlinearity, i.e. the next layer's input (the text);
        ``"pre"``: the layer's output before it (the public code).
    last_batch_only
        Use only the last batch (the public code) instead of every forward pass (the text).
    pairs
        Explicit ``(layer, next layer)`` names, for networks whose linear layers are not one chain (a VAE's
        encoder feeds two latent heads); default: :func:`linear_pairs`.
    cancel_tol
        Relative size below which a denominator counts as cancelled (see above); 0 to 1.
    chunk
        Elements per block when forming ``r`` for ``C_max`` (memory only).
    """
    if activation not in ("post", "pre"):
        raise ValueError(f"activation={activation!r}; allowed: 'post', 'pre'")
    if not 0.0 <= cancel_tol < 1.0:
        raise ValueError(f"cancel_tol must be in [0, 1), got {cancel_tol!r}")
    batches = [b[0] if isinstance(b, (tuple, list)) else b for b in batches]
    if not batches:
        raise ValueError("contribution needs at least one batch")
    if last_batch_only:
        batches = batches[-1:]
    was_training = model.training
    model.eval()
    modules = dict(model.named_modules())
    pairs = [((a, modules[a]), (b, modules[b])) for a, b in (pairs or linear_pairs(model, batches[0][:1]))]
    acts: dict[str, torch.Tensor] = {}
    handles = []
    for (name, layer), (_, nxt) in pairs:
        if activation == "pre":
            handles.append(layer.register_forward_hook(lambda m, a, o, name=name: acts.__setitem__(name, o)))
        else:
            handles.append(nxt.register_forward_pre_hook(lambda m, a, name=name: acts.__setitem__(name, a[0])))
    total = {name: torch.zeros(layer.out_features, dtype=torch.float64) for (name, layer), _ in pairs}
    peak = {name: torch.full((layer.out_features,), -math.inf, dtype=torch.float64) for (name, layer), _ in pairs}
    count = 0
    try:
        for xb in batches:
            model(xb)
            count += len(xb)
            for (name, _), (_, nxt) in pairs:
                a = acts[name].reshape(len(xb), -1).double()
                w = nxt.weight.double()  # (M, N): w[j, k] links neuron k to next neuron j
                if absolute:
                    a, w = a.abs(), w.abs()
                z = a @ w.T  # (F, M)
                cancelled = z.abs() <= cancel_tol * (a.abs() @ w.abs().T)
                inv = torch.where(cancelled | (z == 0), torch.zeros_like(z), 1.0 / z)
                total[name] += (a * (inv @ w)).sum(0)  # Σ_f Σ_j a_fk w_jk / z_fj
                step = max(1, chunk // (w.numel()))
                for s in range(0, len(a), step):
                    r = a[s : s + step, :, None] * w.T[None] * inv[s : s + step, None, :]  # (f, k, j)
                    peak[name] = torch.maximum(peak[name], r.amax(dim=(0, 2)))
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    out = {}
    for (name, layer), (_, nxt) in pairs:
        c_avg = total[name] / (count * nxt.out_features)
        out[name] = (lam_avg * c_avg + lam_max * peak[name]).float()
    return out

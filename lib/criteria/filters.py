"""FlexRel's pruning criteria (Chiasserini et al., IEEE Network 2026): one score per convolution filter
or linear neuron, as :data:`lib.core.prune.Scores` (higher = more important).

- :func:`magnitude` — mean ``|w|`` over each unit's weights ("lowest average magnitude"), raw or with the
  following BatchNorm folded in.
- :func:`parameter_relevance` — eq. (1), ``rel(w_kj) = Σ_i [rel(a_ik) + rel(b_ij)]`` on the layer's
  fully-connected form: ``i`` runs over the samples and, for a convolution, over every output position of
  its unfolded (im2col) form, ``k`` over the unfolded input (``c_in × kh × kw``), ``j`` over output units.
  ``rel`` is LRP relevance from zennit, started at the output as the logit of the target class.
- :func:`relevance` — per-unit relevance, the sum of eq. (1) over the unit's weights.
- :func:`flexrel` — ``s = (1 − δ)·M̂ + δ·R̂`` on per-layer min-max normalised magnitude ``M̂`` and relevance
  ``R̂`` (or normalised over the whole network, :data:`lib.params.flexrel.NORMALISATIONS`).

Baselines beside the paper's: :func:`library_scores` (torch-pruning's first-order Taylor, LAMP and
BatchNorm-scale importances) and :func:`filter_contribution` (the rank paper's contribution,
read on filters). The LRP rules come from :data:`COMPOSITES`, one place that lists the choices.

**Consequence of eq. (1) at filter granularity.** For unit ``j`` the sum over its weights is
``Σ_k rel(w_kj) = K·Σ_i rel(b_ij) + Σ_k Σ_i rel(a_ik)`` with ``K`` its number of weights. The second term
does not depend on ``j``: it is the same for every filter of a layer. Per-unit relevance is therefore an
increasing affine function of the output channel's summed relevance ``Σ_i rel(b_ij)``, and after per-layer
min-max normalisation the two are *identical*: the input relevance has no influence on which filters are
pruned. ``tests/test_criteria.py`` checks this numerically.

The random control is :func:`lib.core.prune.random_scores`; the rank paper's criterion is
:mod:`lib.criteria.contribution`.
"""

from __future__ import annotations

import copy
import functools
import math
from collections.abc import Iterable
from typing import Any

import torch
import torch.nn.functional as F
import torch_pruning as tp
from torch import nn
from torch.nn.grad import conv2d_input, conv2d_weight
from zennit.composites import EpsilonAlpha2Beta1, EpsilonGammaBox, EpsilonPlusFlat
from zennit.core import Composite, Hook, ParamMod, RemovableHandle, RemovableHandleList
from zennit.layer import Sum
from zennit.rules import Norm, ZPlus
from zennit.types import Convolution

from ..core.prune import INPUTS, Scores, prunable_layers, removes_outputs
from ..params.flexrel import NORMALISATIONS, UNFOLDED_INPUTS
from . import graph
from .registry import COMPOSITES, Reference, composite, criterion


def magnitude(model: nn.Module, fold_batchnorm: bool = False, layers: Iterable[str] | None = None) -> Scores:
    """Mean absolute weight of each output unit (filter or neuron) of the prunable layers (or of ``layers``).

    With ``fold_batchnorm`` the weights are first merged with the BatchNorm that follows each layer in the traced
    graph (:func:`lib.criteria.graph.batchnorm_merged`: ``w·γ/√(σ² + ε)``), i.e. the magnitude of the weights the
    network effectively applies in eval mode; a layer no BatchNorm follows directly (DenseNet's, whose BatchNorm
    comes before the next convolution) keeps its raw ``|w|``. Behind BatchNorm a filter's raw ``|w|`` is scale-free (the
    normalisation divides it out); the paper's VGG16 has no BatchNorm, where both variants coincide.

    >>> net = nn.Sequential(
    ...     nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.ReLU(), nn.Flatten(), nn.Linear(2, 3), nn.Linear(3, 2)
    ... )
    >>> sorted(magnitude(net, fold_batchnorm=True)) == sorted(magnitude(net))
    True
    """
    if not fold_batchnorm:
        units = prunable_layers(model) if layers is None else {n: dict(model.named_modules())[n] for n in layers}
        return {name: m.weight.detach().abs().flatten(1).mean(1) for name, m in units.items()}
    layers = list(prunable_layers(model)) if layers is None else list(layers)
    return magnitude(graph.batchnorm_merged(model), layers=layers)  # a merged copy: the model is left as it is


@criterion("magnitude")
def raw_magnitude(model: nn.Module, reference: Reference) -> Scores:
    """The paper's "lowest average magnitude": mean raw ``|w|`` (:func:`magnitude`)."""
    return magnitude(model)


@criterion("magnitude_bn")
def folded_magnitude(model: nn.Module, reference: Reference) -> Scores:
    """Mean ``|w|`` with the following BatchNorm folded in (:func:`magnitude`)."""
    return magnitude(model, fold_batchnorm=True)


# zennit's composites (LRP's rules), each built for reference inputs ``x``. They carry no canonizers: every network is
# canonized from its traced graph (:mod:`lib.criteria.graph`).


def stabilized(x: torch.Tensor, epsilon: float = 1e-6) -> torch.Tensor:
    """zennit's default stabilizer (:func:`zennit.core.stabilize`: ``x`` moved ``epsilon`` away from 0, zero counted
    positive), bit for bit, in four passes over ``x`` where zennit's takes six (``tests/test_criteria.py``)."""
    return torch.where(x >= 0, x + epsilon, x - epsilon)


class ZPlusOnPositive(ZPlus):
    """zennit's z⁺ rule, computed from its positive part alone where the layer's input has no negative entry (any
    layer behind a ReLU): there z⁺'s negative part (negative inputs times negative weights) is exactly zero, so the
    relevance is bit-identical to :class:`zennit.rules.ZPlus`'s at half the modified passes. On a 2-d convolution the
    modified gradient is the convolution's own input gradient (:func:`torch.nn.grad.conv2d_input`, the kernel autograd
    calls) with no graph built for it. An input with a negative entry gets zennit's rule unchanged."""

    def __init__(self, stabilizer: float = 1e-6, zero_params: list[str] | None = None) -> None:
        super().__init__(stabilizer, zero_params)
        self.settings = (stabilizer, zero_params)

    def copy(self) -> ZPlusOnPositive:
        return ZPlusOnPositive(*self.settings)

    def backward(self, module: nn.Module, grad_input: tuple, grad_output: tuple) -> tuple:
        x = self.stored_tensors["input"][0]
        if bool((x < 0).any()):
            return super().backward(module, grad_input, grad_output)
        x = self.input_modifiers[0](x)  # clamp(min=0): a new tensor, no clone needed
        if type(module) is nn.Conv2d and not grad_output[0].requires_grad:
            with ParamMod.ensure(self.param_modifiers[0])(module) as positive:
                weight = positive.weight
                z = positive.forward(x)
            scaled = self.gradient_mapper(grad_output[0], [z])[0]
            gradient = conv2d_input(
                x.shape, weight, scaled, module.stride, module.padding, module.dilation, module.groups
            )
        else:
            x = x.requires_grad_()
            with ParamMod.ensure(self.param_modifiers[0])(module) as positive, torch.autograd.enable_grad():
                z = positive.forward(x)
            (gradient,) = torch.autograd.grad(
                z,
                x,
                grad_outputs=self.gradient_mapper(grad_output[0], [z])[0],
                create_graph=grad_output[0].requires_grad,
            )
        relevance = x * gradient
        return tuple(relevance if g.shape == relevance.shape else None for g in grad_input)


class NormOnSum(Norm):
    """zennit's Norm rule on a canonized addition (:class:`zennit.layer.Sum` over the stacked summands): each summand
    gets its share ``a / stabilized(a + b)`` of the relevance, computed from the sum the forward pass made (held by
    :class:`Direct`) where zennit's rule sums again and differentiates the sum; bit for bit the same."""

    def __init__(self, stabilizer: Any = 1e-6) -> None:
        super().__init__(stabilizer)
        self.settings = stabilizer

    def copy(self) -> NormOnSum:
        return NormOnSum(self.settings)

    def backward(self, module: nn.Module, grad_input: tuple, grad_output: tuple) -> tuple:
        x, out = self.stored_tensors["input"][0], self.stored_tensors.get("output")
        if type(module) is not Sum or out is None or module.dim != -1:
            return super().backward(module, grad_input, grad_output)
        relevance = x * self.gradient_mapper(grad_output[0], [out]).unsqueeze(-1)
        return tuple(relevance if g.shape == relevance.shape else None for g in grad_input)


class _Attached(torch.autograd.Function):
    """A layer's output joined to its input by an LRP rule alone: its backward is the rule's relevance, never the
    layer's own input gradient (which zennit's hooks have autograd compute, then discard)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, out: torch.Tensor, hook: Direct, module: nn.Module) -> torch.Tensor:
        ctx.x, ctx.out, ctx.hook, ctx.module = x, out, hook, module
        return out.clone()  # a tensor of its own: later in-place operations (ReLU) and views (permute) act on it

    @staticmethod
    def backward(ctx, relevance: torch.Tensor) -> tuple:
        rule = ctx.hook.rule
        rule.stored_tensors.update(input=(ctx.x,), output=ctx.out)
        (found,) = rule.backward(ctx.module, (ctx.x,), (relevance,))
        del ctx.x, ctx.out
        return found, None, None, None


class Direct(Hook):
    """zennit's rule ``rule`` (any :class:`zennit.core.Hook`) on a layer, at the cost of the rule alone: the layer
    runs forward on its input detached, recording no graph, and its output is joined to the input by
    :class:`_Attached`, whose backward is the rule's. zennit's own hooks keep the layer's graph, so autograd also
    computes the layer's ordinary input gradient and the rule then replaces it; this skips that pass and the input
    copies around it. The relevance is the rule's, bit for bit (``tests/test_criteria.py``)."""

    def __init__(self, rule: Hook) -> None:
        super().__init__()
        self.rule = rule

    def copy(self) -> Direct:
        return Direct(self.rule.copy())

    def register(self, module: nn.Module) -> RemovableHandleList:
        return RemovableHandleList(
            [
                RemovableHandle(self),
                module.register_forward_pre_hook(self.pre_forward),
                module.register_forward_hook(self.post_forward),
            ]
        )

    def pre_forward(self, module: nn.Module, input: tuple) -> tuple | None:
        if not input[0].requires_grad:
            return None
        self.stored_tensors["input"] = input[0]
        return (input[0].detach(), *input[1:])

    def post_forward(self, module: nn.Module, input: tuple, output: torch.Tensor) -> torch.Tensor | None:
        x = self.stored_tensors.pop("input", None)
        return None if x is None else _Attached.apply(x, output, self, module)

    def remove(self) -> None:
        super().remove()
        self.rule.remove()


@composite("EpsilonPlusFlat")
def epsilon_plus_flat(x: torch.Tensor) -> Composite:
    """ε for dense layers, z⁺ for convolutions (:class:`ZPlusOnPositive`), flat for the first layer (the default),
    each rule :class:`Direct`: at the cost of the rule alone."""
    c = EpsilonPlusFlat(
        epsilon=stabilized,
        stabilizer=stabilized,
        layer_map=[(Sum, NormOnSum(stabilized)), (Convolution, ZPlusOnPositive(stabilized))],
    )
    c.layer_map = [(types, Direct(rule)) for types, rule in c.layer_map]
    c.first_map = [(types, Direct(rule)) for types, rule in c.first_map]
    return c


@composite("EpsilonGammaBox")
def epsilon_gamma_box(x: torch.Tensor) -> Composite:
    """γ = 0.25 for convolutions, zᴮ for the first layer bounded by ``x``'s range."""
    return EpsilonGammaBox(low=float(x.min()), high=float(x.max()))


@composite("EpsilonAlpha2Beta1")
def epsilon_alpha2_beta1(x: torch.Tensor) -> Composite:
    """α = 2, β = 1 for convolutions."""
    return EpsilonAlpha2Beta1()


def _unfolded_input_sum(
    layer: nn.Module, rel_a: torch.Tensor, out_shape: torch.Size, unfolded_input: str
) -> torch.Tensor:
    """``Σ_i rel(a_ik)`` for every column ``k`` of the layer's fully-connected form, shaped like one unit's weights
    (a grouped convolution: one such sum per group, ``groups × c_in/groups × kh × kw``).

    For a convolution the unfolded input repeats each input element once per output position whose receptive
    field covers it. A unit of a grouped (or depthwise) convolution reads the channels of its own group only: its
    unfolded input, and so its ``k``, are those of its group. ``unfolded_input="copy"`` gives every copy the
    element's full relevance (the unfolded relevance map); ``"share"`` divides it among the copies, so the unfolded
    form conserves relevance.
    The sum over rows is a convolution weight-gradient with an all-ones output gradient (no im2col matrix).
    """
    if isinstance(layer, nn.Linear):
        return rel_a.reshape(-1, rel_a.shape[-1]).sum(0)
    rel_a = rel_a.sum(0, keepdim=True)  # the row sum is linear: sum the samples first
    if unfolded_input == "share":
        geometry = dict(
            kernel_size=layer.kernel_size, dilation=layer.dilation, padding=layer.padding, stride=layer.stride
        )
        ones = torch.ones(1, 1, *rel_a.shape[2:], dtype=rel_a.dtype, device=rel_a.device)
        cover = F.fold(F.unfold(ones, **geometry), rel_a.shape[2:], **geometry)  # copies of each input element
        rel_a = rel_a / cover.clamp(min=1)
    groups = layer.groups
    grad_out = torch.ones(1, groups, *out_shape[2:], dtype=rel_a.dtype, device=rel_a.device)
    found = conv2d_weight(
        rel_a, (groups, *layer.weight.shape[1:]), grad_out, layer.stride, layer.padding, layer.dilation, groups
    )
    return found[0] if groups == 1 else found


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
    """The two sums of eq. (1) for every prunable layer (every convolution and linear layer but the output ones,
    read from the graph): ``(Σ_i rel(a_ik), Σ_i rel(b_ij))``.

    The first is shaped like one unit's weights (``in_features`` or ``c_in × kh × kw``; a grouped convolution:
    one per group), the second has one entry per output unit. ``rel`` is the LRP relevance zennit propagates: the
    modified gradient arriving at the layer's output (``b``) and leaving towards its input (``a``), on a traced
    copy of ``model`` canonized from its graph (:func:`lib.criteria.graph.canonized`: additions summed, gates held,
    BatchNorm merged); ``model`` itself is not touched, and a network LRP cannot attribute is refused before any
    pass. Parameters as in :func:`parameter_relevance`.
    """
    if unfolded_input not in UNFOLDED_INPUTS:
        raise ValueError(f"unfolded_input={unfolded_input!r}; allowed: {list(UNFOLDED_INPUTS)}")
    composite = composite or epsilon_plus_flat(x)
    traced = graph.canonized(model, x)
    model, modules = traced.module, dict(traced.module.named_modules())
    model.requires_grad_(False)  # a copy: LRP's modified gradient reaches the inputs, never the weights
    layers = {name: modules[name] for name in _in_order(model, traced.prunable)}
    sums: dict[str, list] = {name: [0.0, 0.0] for name in layers}
    captured: dict[str, dict] = {name: {} for name in layers}
    handles = []

    def pre(module, args, name):
        args[0].register_hook(lambda g: captured[name].__setitem__("a", g))

    def post(module, args, out, name):
        captured[name]["out_shape"] = out.shape
        out.register_hook(lambda g: captured[name].__setitem__("b", g))

    # the input before the rule's hooks (prepended), the output after them: the tensors the relevance flows through
    for name, layer in layers.items():
        handles.append(layer.register_forward_pre_hook(functools.partial(pre, name=name), prepend=True))
    try:
        with composite.context(model) as modified:
            for name, layer in layers.items():
                handles.append(layer.register_forward_hook(functools.partial(post, name=name)))
            for start in range(0, len(x), batch_size):
                xb = x[start : start + batch_size].detach().clone().requires_grad_(True)
                yb = None if y is None else y[start : start + batch_size]
                logits = modified(xb)
                torch.autograd.backward(logits, _target(logits, yb))
                for name, layer in layers.items():
                    c = captured[name]
                    sums[name][0] = sums[name][0] + _unfolded_input_sum(layer, c["a"], c["out_shape"], unfolded_input)
                    # units first: a convolution's channels (dimension 1), a linear layer's features (the last one,
                    # also where it reads channels-last images, as ConvNeXt's do)
                    b = c["b"].movedim(-1, 0) if isinstance(layer, nn.Linear) else c["b"].transpose(0, 1)
                    sums[name][1] = sums[name][1] + b.reshape(b.shape[0], -1).sum(1)
    finally:
        for h in handles:
            h.remove()
    return {name: (a.detach(), b.detach()) for name, (a, b) in sums.items()}


def _in_order(model: nn.Module, names: Iterable[str]) -> list[str]:
    """``names`` in the order ``model`` defines its modules (scores come back in a stable order)."""
    wanted = set(names)
    return [n for n, _ in model.named_modules() if n in wanted]


def parameter_relevance(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor | None = None, composite: Composite | None = None, **options: Any
) -> dict[str, torch.Tensor]:
    """FlexRel eq. (1) for every weight of every prunable layer, shaped like ``layer.weight``.

    Parameters
    ----------
    model
        The network; it is not modified (LRP runs on a traced, canonized copy in eval mode).
    x, y
        Reference inputs and their target classes (``y=None``: the predicted class).
    composite
        zennit composite giving the LRP rules, without canonizers (the graph gives them); default zennit's
        ``EpsilonPlusFlat``. A network LRP cannot attribute raises :class:`lib.criteria.graph.NotAttributable`.
    options
        Of :func:`layer_relevance`: ``batch_size`` (default 256), the chunk size (eq. (1) sums over samples, so
        chunking changes nothing but memory), and ``unfolded_input``, how a convolution's input relevance enters
        the unfolded form: ``"copy"`` (default; every unfolded copy of an input element carries its relevance,
        the literal unfolded relevance map) or ``"share"`` (divided among the copies, so the unfolded form
        conserves relevance). The paper does not say.

    Returns
    -------
    dict
        ``{layer name: tensor shaped like layer.weight}`` with ``rel(w)[j, k] = Σ_i rel(a_ik) + Σ_i rel(b_ij)``.
    """
    sums = layer_relevance(model, x, y, composite, **options)
    modules, out = dict(model.named_modules()), {}
    for name, (a, b) in sums.items():
        shape = modules[name].weight.shape
        # a grouped convolution's input term is one per group: each unit takes its own group's
        inputs = a.repeat_interleave(shape[0] // len(a), 0) if a.dim() == len(shape) else a.unsqueeze(0)
        out[name] = (b.view(-1, *([1] * (len(shape) - 1))) + inputs).expand(shape).clone()
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


@criterion("relevance")
def reference_relevance(model: nn.Module, reference: Reference) -> Scores:
    """Eq. (1)'s per-unit relevance (:func:`relevance`) on the reference images, LRP started at the true class's logit
    (or the predicted class's: ``reference.target``), with its composite."""
    x, y = reference.images()
    return relevance(
        model,
        x,
        y if reference.target == "label" else None,
        COMPOSITES[reference.composite](x),
        unfolded_input=reference.unfolded_input,
    )


def normalize(scores: Scores, over: str = "layer") -> Scores:
    """Min-max map scores to ``[0, 1]``: each layer on its own (``over="layer"``; a layer whose scores are all
    equal maps to 0), or all layers on one scale (``"network"``).

    >>> normalize({"a": torch.tensor([1.0, 3.0]), "b": torch.tensor([2.0, 5.0])}, over="network")["b"]
    tensor([0.2500, 1.0000])
    """
    if over not in ("layer", "network"):
        raise ValueError(f"normalize over={over!r}; allowed: 'layer', 'network'")
    if over == "network" and scores:
        every = torch.cat([s.flatten() for s in scores.values()])
        low, span = every.min(), every.max() - every.min()
        return {n: (s - low) / span if span > 0 else torch.zeros_like(s) for n, s in scores.items()}
    out = {}
    for name, s in scores.items():
        span = s.max() - s.min()
        out[name] = (s - s.min()) / span if span > 0 else torch.zeros_like(s)
    return out


def flexrel(
    magnitude_scores: Scores,
    relevance_scores: Scores,
    delta: float,
    normalisation: str = "layer",
    sizes: dict[str, int] | None = None,
) -> Scores:
    """FlexRel score ``s = (1 − δ)·M̂ + δ·R̂`` with per-layer min-max normalised magnitude and relevance.

    **Normalisation** (unstated in the paper; :data:`lib.params.flexrel.NORMALISATIONS`). ``layer``: min-max within each
    layer — per filter or per parameter give the same, as a layer's filters have equally many weights.
    ``network_total`` / ``network_mean``: one min-max over the whole network, of per-filter totals
    (magnitude × weights per unit ``sizes``, relevance as given) or of per-parameter means (magnitude as given,
    relevance ÷ ``sizes``); then a layer's mix of the two depends on its place in the network's range.
    ``magnitude_scores`` are per-parameter means (:func:`magnitude`), ``relevance_scores`` per-unit totals
    (:func:`relevance`).

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
    if normalisation not in NORMALISATIONS:
        raise ValueError(f"normalisation={normalisation!r}; allowed: {list(NORMALISATIONS)}")
    m, r = magnitude_scores, relevance_scores
    if normalisation != "layer":
        if sizes is None or set(sizes) < set(m):
            raise ValueError(f"normalisation {normalisation!r} needs the weights per unit of every layer (sizes)")
        if normalisation == "network_total":
            m = {n: v * sizes[n] for n, v in m.items()}
        else:
            r = {n: v / sizes[n] for n, v in r.items()}
    over = "layer" if normalisation == "layer" else "network"
    m, r = normalize(m, over), normalize(r, over)
    for name in m:
        if m[name].shape != r[name].shape:
            raise ValueError(
                f"layer {name}: {tuple(m[name].shape)} magnitude vs {tuple(r[name].shape)} relevance scores"
            )
    return {name: (1.0 - delta) * m[name] + delta * r[name] for name in m}


def weights_per_unit(model: nn.Module) -> dict[str, int]:
    """Weights of one output unit (filter or neuron) of each prunable layer."""
    return {name: m.weight[0].numel() for name, m in prunable_layers(model).items()}


def library_scores(
    model: nn.Module,
    importance: tp.importance.Importance,
    x: torch.Tensor,
    y: torch.Tensor,
    layers: list[str] | None = None,
    batch_size: int = 256,
) -> Scores:
    """Per-unit scores of torch-pruning's ``importance`` for the prunable ``layers`` (default: all).

    Each layer's score is torch-pruning's importance of the group that removing its units prunes (the layer,
    its BatchNorm and the next layer's inputs), so the scores enter :func:`lib.core.prune.prune` like ours. An
    importance that reads gradients (first-order Taylor) gets those of the summed cross-entropy of ``(x, y)`` (eval
    mode; the model is not modified).
    """
    net = copy.deepcopy(model).eval()
    if isinstance(importance, tp.importance.TaylorImportance):
        net.zero_grad()
        for start in range(0, len(x), batch_size):
            F.cross_entropy(
                net(x[start : start + batch_size]), y[start : start + batch_size], reduction="sum"
            ).backward()
    deps = tp.DependencyGraph().build_dependency(net, example_inputs=x[:1])
    modules = dict(net.named_modules())
    out = {}
    for layer_name in prunable_layers(model) if layers is None else layers:
        layer = modules[layer_name]
        group = deps.get_pruning_group(layer, removes_outputs(layer), idxs=list(range(layer.weight.shape[0])))
        found = importance(group)
        if found is None:
            raise ValueError(
                f"{type(importance).__name__} gives no score for layer {layer_name} (e.g. BatchNorm scale on a "
                "layer without BatchNorm)"
            )
        out[layer_name] = found.detach().float().cpu()
    return out


@criterion("taylor")
def taylor(model: nn.Module, reference: Reference) -> Scores:
    """torch-pruning's first-order Taylor ``|w·∂L/∂w|`` (Molchanov et al. 2019) on the reference images."""
    return library_scores(model, tp.importance.TaylorImportance(), *reference.images(), reference.layers)


@criterion("lamp")
def lamp(model: nn.Module, reference: Reference) -> Scores:
    """torch-pruning's LAMP (Lee et al. 2021; per layer it ranks like the L2 magnitude); the images trace the graph."""
    return library_scores(model, tp.importance.LAMPImportance(), *reference.images(), reference.layers)


@criterion("bn_scale")
def bn_scale(model: nn.Module, reference: Reference) -> Scores:
    """torch-pruning's BatchNorm scale ``|γ|`` (Liu et al. 2017); the images trace the graph."""
    return library_scores(model, tp.importance.BNScaleImportance(), *reference.images(), reference.layers)


def consumers(model: nn.Module, x: torch.Tensor) -> dict[str, list[nn.Module]]:
    """Per prunable layer, the convolution and linear layers that read its outputs, from torch-pruning's dependency
    graph traced on ``x[:1]``: on a chain the next prunable layer; in a residual stream every layer that reads the
    sum the layer's outputs are added into; through a depthwise layer (which reads each channel alone), the layers
    that mix the channels it passes on."""
    with torch.enable_grad():
        deps = tp.DependencyGraph().build_dependency(model, example_inputs=x[:1])
    out = {}
    for name, layer in prunable_layers(model).items():
        group = deps.get_pruning_group(layer, removes_outputs(layer), idxs=list(range(layer.weight.shape[0])))
        # a depthwise layer reads each unit alone (a share of 1 for every unit): the unit is read where the channels
        # it is coupled into are mixed, by the layers after it
        out[name] = [
            dep.target.module
            for dep, _ in group
            if dep.handler in INPUTS and dep.handler != tp.prune_depthwise_conv_in_channels
        ]
    return out


@torch.no_grad()
def filter_contribution(
    model: nn.Module, x: torch.Tensor, lam_avg: float = 0.5, lam_max: float = 0.5, batch_size: int = 256
) -> Scores:
    """The rank paper's contribution ``λ1·C_avg + λ2·C_max`` (:func:`lib.criteria.contribution.contribution`) read on
    filters and neurons: unit ``k`` feeds each unit ``j`` of every layer that reads its outputs (:func:`consumers`)
    with ``u_k·w_jk``, where ``u_k`` is the summed ``|activation|`` of the consumer's input channel ``k`` over
    positions and ``w_jk`` the summed ``|weight|`` linking them (for a convolution, exact up to the image border);
    ``r = u_k·w_jk / Σ_i u_i·w_ji`` per image, averaged (C_avg) and maximised (C_max) over images and every
    consumer's ``j``. Absolute values, as the channel sums are. In a residual stream the input a consumer reads is
    the sum of the coupled layers' outputs: they share one score. A unit feeds only the consumer units of its own
    group in a grouped convolution; a depthwise one is read past (:func:`consumers`). A consumer that reads more
    channels than the layer has (a concatenation) raises ``NotImplementedError``.
    """
    modules, layers = dict(model.named_modules()), prunable_layers(model)
    reads = consumers(model, x)
    inputs: dict[nn.Module, torch.Tensor] = {}
    handles = [
        m.register_forward_pre_hook(lambda m, a: inputs.__setitem__(m, a[0]))
        for m in {c for cs in reads.values() for c in cs}
    ]
    total = {n: 0.0 for n in layers}
    peak = {n: torch.full((modules[n].weight.shape[0],), -math.inf) for n in layers}
    was_training = model.training
    model.eval()
    try:
        for start in range(0, len(x), batch_size):
            model(x[start : start + batch_size])
            for name in layers:
                units, shares = modules[name].weight.shape[0], []
                for nxt in reads[name]:
                    a = inputs[nxt].abs().double()
                    w = nxt.weight.abs().double()
                    if isinstance(nxt, nn.Conv2d):
                        if a.shape[1] != units:
                            raise NotImplementedError(
                                f"contribution of {name}: {type(nxt).__name__} reads {a.shape[1]} "
                                f"channels, {name} has {units} (a concatenation)"
                            )
                        u, w = a.flatten(2).sum(2), w.flatten(2).sum(2)  # (N, units), (M, units / groups)
                        if nxt.groups > 1:  # a unit feeds only its group's consumers: zeros outside the groups
                            w = torch.block_diag(*w.split(len(w) // nxt.groups))  # (M, units)
                        c = u[:, :, None] * w.T[None]  # (N, units, M)
                    else:
                        c = torch.einsum("nkp,mkp->nkm", a.reshape(len(a), units, -1), w.reshape(len(w), units, -1))
                    shares.append(c / c.sum(1, keepdim=True).clamp_min(1e-12))
                r = torch.cat(shares, 2)
                total[name] = total[name] + r.mean(2).sum(0).cpu()
                peak[name] = torch.maximum(peak[name], r.amax(dim=(0, 2)).float().cpu())
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    return {n: (lam_avg * total[n] / len(x) + lam_max * peak[n]).float() for n in layers}


@criterion("contribution")
def contribution(model: nn.Module, reference: Reference) -> Scores:
    """The rank paper's contribution on filters and neurons (:func:`filter_contribution`) on the reference images."""
    return filter_contribution(model, reference.images()[0])

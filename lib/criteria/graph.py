"""A network as LRP sees it: traced by ``torch.fx`` on a copy (the user's model is never touched), canonized so that
relevance is conserved, or refused before any work, naming the operation and the module it is in.

What the trace finds, and what becomes of it:

- **additions** of two tensors — a residual skip in torchvision's blocks (ResNet, MobileNetV2/V3's inverted
  residuals, EfficientNet's MBConv, RegNet) or ``x + f(x)`` in your own ``forward()``, however written (``+``,
  ``+=``, ``torch.add``, ``operator.add``) — become a stack and zennit's ``Sum`` (a ``Sum`` of your own stays
  one), whose ``Norm`` rule splits the relevance between the terms in proportion to their contributions;
- **products by a held factor**: a gate (a sigmoid or hard sigmoid: squeeze-and-excitation) or a parameter of the
  network (ConvNeXt's layer scale) is held constant, and the relevance reaches the signal unchanged (LRP's reading
  of a product by a per-channel constant; the plain gradient would scale it by the gate's value or the scale);
- **BatchNorm** right after a convolution or linear layer (whose output nothing else reads) is merged into it
  (zennit's ``NamedMergeBatchNorm`` with pairs from the graph, not from definition order); any other BatchNorm
  (a pre-activation one, as in DenseNet) passes relevance through unchanged (zennit's ``Pass`` rule);
- **concatenations** need nothing: each channel's relevance returns to the tensor it came from;
- **activations written as functions** (``torch.relu(x)``) become modules, which zennit passes relevance through;
- **averages written as functions** (``F.adaptive_avg_pool2d``, ``x.mean((2, 3))``) become average-pooling
  modules, whose ``Norm`` rule conserves relevance (as a function, the gradient would divide it by the positions);
- any other operation on two tensors (a product without a gate, a subtraction, a division, a matrix product) is
  refused, as is a network ``torch.fx`` cannot trace.

The **output layers** are read from the graph as well: the convolution and linear layers whose outputs reach the
network's output through no other such layer (their units are the classes: never pruned, never scored).
"""

from __future__ import annotations

import copy
import operator
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import fx, nn
from torch.fx.passes.shape_prop import ShapeProp
from zennit.canonizers import NamedMergeBatchNorm
from zennit.layer import Sum

#: The layers that hold units: their output channels (filters) or neurons are what pruning removes.
UNITS = (nn.Conv2d, nn.Linear)
_ADD = {operator.add, operator.iadd, torch.add}
_MUL = {operator.mul, operator.imul, torch.mul}
_GATES = (nn.Sigmoid, nn.Hardsigmoid)
_GATE_FUNCTIONS = {torch.sigmoid, F.sigmoid, F.hardsigmoid}
#: Operations on two or more tensors that LRP can attribute as they are (each input keeps its own channels' share).
_JOINS = {torch.cat, torch.concat, torch.stack}
#: Averages written as functions: relevance, which zennit passes as a gradient, would be divided by the positions
#: averaged; as zennit's average-pooling modules they get its ``Norm`` rule, which conserves it.
_POOLS = {F.adaptive_avg_pool2d, torch.mean, F.avg_pool2d}
#: Activations written as functions, as the modules zennit gives its ``Pass`` rule (as functions, their derivative
#: would mask the relevance passing through, which does not conserve it).
_ACTIVATIONS = {
    torch.relu: nn.ReLU,
    F.relu: nn.ReLU,
    F.relu6: nn.ReLU6,
    F.silu: nn.SiLU,
    F.gelu: nn.GELU,
    F.hardswish: nn.Hardswish,
    "relu": nn.ReLU,
}


class NotAttributable(TypeError):
    """A network LRP cannot attribute faithfully, found before any work: the message names the operation, the module
    it is in and what to do."""


class NotPrunable(TypeError):
    """A network torch-pruning cannot prune by filters, found before any work (its own error would come from inside
    the pruner's dependency graph and name nothing): the message names the operation and the module it is in."""


def _shuffles(node: fx.Node) -> bool:
    """Whether ``node`` splits the channels into groups for a channel shuffle (ShuffleNet: a reshape to five
    dimensions whose result has its group and channel dimensions transposed)."""
    reshape = (node.op == "call_method" and node.target in ("view", "reshape")) or node.target is torch.reshape
    sizes = node.args[1:] if reshape else ()
    sizes = sizes[0] if len(sizes) == 1 and isinstance(sizes[0], tuple | list) else sizes
    swaps = lambda user: user.target in ("transpose", torch.transpose) and set(user.args[1:3]) == {1, 2}  # noqa: E731
    return len(sizes) == 5 and any(swaps(user) for user in node.users)


def refuse_unprunable(gm: fx.GraphModule) -> None:
    """Raise :class:`NotPrunable` on what torch-pruning cannot prune by filters: a channel shuffle, whose permuted
    channels torch-pruning 1.6.1 cannot couple (building its dependency graph divides by zero)."""
    for node in gm.graph.nodes:
        if _shuffles(node):
            raise NotPrunable(
                f"{_where(node)}: a channel shuffle ({node.format_node()}, then a transpose of its groups and "
                "channels); torch-pruning cannot couple the channels it permutes (its dependency graph fails with "
                "ZeroDivisionError), so this network cannot be pruned by filters here"
            )


@dataclass(frozen=True)
class Graph:
    """A traced, canonized copy of a network (:func:`canonized`).

    Attributes
    ----------
    module
        The copy, a ``torch.fx.GraphModule`` with the original's module names: additions summed by zennit's ``Sum``,
        held factors passing relevance unchanged, BatchNorm merged where a layer feeds it alone.
    layers
        The names of its convolution and linear layers in the order the forward pass runs them.
    outputs
        Those whose outputs reach the network's output through no other such layer (the output layers).
    prunable
        The others whose outputs reach the network's output other than through a gate: the layers relevance
        reaches, whose units may be scored and pruned (a squeeze-and-excitation block's own layers, which only
        compute a gate held constant, carry no relevance and are not among them).
    merged
        ``(layer, BatchNorm)`` name pairs merged into one.
    """

    module: fx.GraphModule
    layers: tuple[str, ...]
    outputs: tuple[str, ...]
    prunable: tuple[str, ...]
    merged: tuple[tuple[str, str], ...]

    @classmethod
    def of(cls, gm: fx.GraphModule) -> Graph:
        """The layers and output layers of a traced network, uncanonized (for criteria that read no relevance)."""
        return _layers(gm, merge=False)


def _where(node: fx.Node) -> str:
    """The module a node was traced in (its qualified name), for a message."""
    stack = node.meta.get("nn_module_stack") or {}
    return next(reversed(stack.values()), ("the model's own forward()",))[0] if stack else "the model's own forward()"


def _tensor(node: object) -> bool:
    return isinstance(node, fx.Node) and isinstance(
        node.meta.get("tensor_meta"), torch.fx.passes.shape_prop.TensorMetadata
    )


def _held(gm: fx.GraphModule, node: fx.Node) -> bool:
    """Whether ``node`` is a factor LRP holds constant in a product: a gate (a sigmoid or hard sigmoid, as module,
    function or method) or a parameter or buffer of the network (a layer scale)."""
    if node.op == "call_module":
        return isinstance(gm.get_submodule(node.target), _GATES)
    if node.op == "call_function":
        return node.target in _GATE_FUNCTIONS
    return node.op == "get_attr" or node.op == "call_method" and node.target in ("sigmoid", "hardsigmoid")


class _HeldProduct(torch.autograd.Function):
    """``signal * factor`` with the factor held constant: in backward the relevance (zennit passes it as the gradient)
    reaches the signal unchanged and the factor none. This is LRP's reading of a product by a per-channel constant (a
    diagonal linear layer, all of whose output comes from its input); the plain gradient would scale it by the factor
    (a layer scale of 1e-6, or a gate's value)."""

    @staticmethod
    def forward(ctx, signal: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
        return signal * factor

    @staticmethod
    def backward(ctx, relevance: torch.Tensor) -> tuple[torch.Tensor, None]:
        return relevance, None


def held_product(signal: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
    """``signal * factor``, relevance passing to ``signal`` unchanged (:class:`_HeldProduct`)."""
    return _HeldProduct.apply(signal, factor)


class _Tracer(fx.Tracer):
    """``torch.fx``'s tracer keeping zennit's ``Sum`` a module: traced through, a ``Sum`` in the user's own network
    became a plain ``torch.sum``, which hands each term the whole relevance instead of its share (zennit's ``Norm``
    rule, which the composite gives the module)."""

    def is_leaf_module(self, m: nn.Module, module_qualified_name: str) -> bool:
        return isinstance(m, Sum) or super().is_leaf_module(m, module_qualified_name)


def trace(model: nn.Module, example: torch.Tensor | None = None) -> fx.GraphModule:
    """A copy of ``model`` traced by ``torch.fx`` (in eval mode), every node annotated with the shape it has on
    ``example`` (one input suffices; none: no shapes, enough to read which layer feeds which). Raises
    :class:`NotAttributable` if it cannot be traced."""
    net = copy.deepcopy(model).eval()
    try:
        gm = fx.GraphModule(net, _Tracer().trace(net), type(net).__name__)
    except Exception as err:  # noqa: BLE001 - any tracing failure: the network cannot be analysed
        raise NotAttributable(
            f"torch.fx cannot trace {type(model).__name__} ({type(err).__name__}: {err}); which layer feeds "
            "which (its additions, its BatchNorm) cannot be read, so neither its relevance nor a BatchNorm fold "
            "would be faithful"
        ) from None
    if example is not None:
        with torch.no_grad():
            ShapeProp(gm).propagate(example[:1].detach())
    return gm


def batchnorm_merged(model: nn.Module) -> fx.GraphModule:
    """A traced copy of ``model`` (eval mode, the original's module names) with every BatchNorm that directly follows
    a convolution or linear layer, whose output nothing else reads, merged into that layer (:attr:`Graph.merged`:
    pairs read from the graph, not from definition order, which would pair a pre-activation BatchNorm such as
    DenseNet's with the layer defined before it). Other BatchNorm stays as it is. Raises :class:`NotAttributable`
    if the network cannot be traced.

    >>> net = nn.Sequential(nn.BatchNorm2d(1), nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.Flatten(), nn.Linear(8, 1))
    >>> _ = net[2].weight.data.fill_(3.0), net[1].bias.data.zero_()
    >>> merged = batchnorm_merged(net)
    >>> torch.allclose(merged.get_submodule("1").weight, net[1].weight * 3 / (1 + 1e-5) ** 0.5)
    True
    >>> torch.equal(merged.get_submodule("0").weight, net[0].weight)  # a BatchNorm before a layer: not merged
    True
    """
    return _layers(trace(model)).module


def canonized(model: nn.Module, example: torch.Tensor) -> Graph:
    """``model`` traced on ``example`` (:func:`trace`) and canonized for LRP (see the module's documentation);
    raises :class:`NotAttributable` before any work on what cannot be attributed."""
    gm = trace(model, example)
    graph, sums = gm.graph, 0
    for node in list(graph.nodes):
        if _pooled(gm, node) or _activation(gm, node):
            continue
        args = [a for a in node.args if _tensor(a)]
        name = node.target if node.op == "call_function" else node.target if node.op == "call_method" else None
        if (
            node.op == "call_function"
            and node.target in _JOINS
            or len(args) < 2
            or node.op in ("call_module", "output")
        ):
            continue
        is_add = node.target in _ADD if node.op == "call_function" else node.target in ("add", "add_")
        is_mul = node.target in _MUL if node.op == "call_function" else node.target in ("mul", "mul_")
        a, b = node.args[:2]
        if is_add and not node.kwargs and _tensor(a) and _tensor(b):
            if a.meta["tensor_meta"].shape != b.meta["tensor_meta"].shape:
                raise NotAttributable(
                    f"{_where(node)}: an addition of tensors shaped {tuple(a.meta['tensor_meta'].shape)} "
                    f"and {tuple(b.meta['tensor_meta'].shape)} (broadcast); LRP's sum rule needs equal shapes"
                )
            sums += 1
            gm.add_submodule(f"lrp_sum_{sums}", Sum())
            with graph.inserting_before(node):
                stacked = graph.call_function(torch.stack, ((a, b), -1))
                summed = graph.call_module(f"lrp_sum_{sums}", (stacked,))
            summed.meta = dict(node.meta)
            node.replace_all_uses_with(summed)
            graph.erase_node(node)
        elif is_mul and not node.kwargs and _tensor(a) and _tensor(b) and (_held(gm, a) or _held(gm, b)):
            factor = a if _held(gm, a) else b
            signal = b if factor is a else a
            if signal.meta["tensor_meta"].shape != node.meta["tensor_meta"].shape:
                raise NotAttributable(
                    f"{_where(node)}: a product of {tuple(signal.meta['tensor_meta'].shape)} by a factor shaped "
                    f"{tuple(factor.meta['tensor_meta'].shape)} (the factor broadcasts the signal); LRP holds a "
                    "factor constant only where it scales the signal elementwise"
                )
            with graph.inserting_before(node):  # the factor detached: no backward pass into a gate's own layers
                held = graph.call_function(held_product, (signal, graph.call_method("detach", (factor,))))
            held.meta = dict(node.meta)
            node.replace_all_uses_with(held)
            graph.erase_node(node)
        else:
            what = getattr(name, "__name__", name)
            raise NotAttributable(
                f"{_where(node)}: `{what}` of two tensors ({node.format_node()}); LRP has no rule for it "
                "here (additions, gates and concatenations are handled): restructure the forward, or "
                "prune with a criterion that needs no relevance"
            )
    graph.lint()
    gm.recompile()
    return _layers(gm)


def _activation(gm: fx.GraphModule, node: fx.Node) -> bool:
    """Rewrite an activation written as a function into its module; whether ``node`` was one."""
    if node.op not in ("call_function", "call_method") or node.target not in _ACTIVATIONS or not _tensor(node.args[0]):
        return False
    name = f"lrp_activation_{sum(1 for n, _ in gm.named_modules() if n.startswith('lrp_activation'))}"
    gm.add_submodule(name, _ACTIVATIONS[node.target]())
    with gm.graph.inserting_before(node):
        module = gm.graph.call_module(name, (node.args[0],))
    module.meta = dict(node.meta)  # the same tensor: later rewrites read its shape
    node.replace_all_uses_with(module)
    gm.graph.erase_node(node)
    return True


def _pooled(gm: fx.GraphModule, node: fx.Node) -> bool:
    """Rewrite a global average over the spatial positions written as a function into zennit-visible modules
    (``AdaptiveAvgPool2d``, then a flatten unless the dimensions are kept); whether ``node`` was one."""
    fn = (
        node.target
        if node.op == "call_function"
        else {"mean": torch.mean}.get(node.target)
        if node.op == "call_method"
        else None
    )
    if fn not in _POOLS or not _tensor(node.args[0]) or len(node.args[0].meta["tensor_meta"].shape) != 4:
        return False
    args = {**dict(zip(("input", "dim" if fn is torch.mean else "output_size"), node.args)), **node.kwargs}
    size = args.get("output_size")
    dims = args.get("dim")
    dims = tuple(d % 4 for d in (dims if isinstance(dims, tuple | list) else [dims])) if dims is not None else None
    if fn is F.avg_pool2d or (fn is torch.mean and dims != (2, 3)) or (size is not None and size not in (1, (1, 1))):
        return False
    name = f"lrp_pool_{sum(1 for n, _ in gm.named_modules() if n.startswith('lrp_pool'))}"
    gm.add_submodule(name, nn.AdaptiveAvgPool2d(1))
    with gm.graph.inserting_before(node):
        pooled = gm.graph.call_module(name, (args["input"],))
        if fn is torch.mean and not args.get("keepdim", False):
            pooled = gm.graph.call_function(torch.flatten, (pooled, 1))
    pooled.meta = dict(node.meta)
    node.replace_all_uses_with(pooled)
    gm.graph.erase_node(node)
    return True


def _layers(gm: fx.GraphModule, merge: bool = True) -> Graph:
    """The layers of a canonized trace in execution order, its output layers, and the BatchNorm merged into them."""
    modules = dict(gm.named_modules())
    calls = [n for n in gm.graph.nodes if n.op == "call_module"]
    layers = tuple(dict.fromkeys(n.target for n in calls if isinstance(modules[n.target], UNITS)))
    # the output layers: walk back from the output through every node that is not a unit layer; the layers
    # relevance reaches: walk back through every node but a held factor
    outputs, todo, seen = set(), [n for n in gm.graph.nodes if n.op == "output"], set()
    while todo:
        node = todo.pop()
        for src in node.all_input_nodes:
            if src in seen:
                continue
            seen.add(src)
            if src.op == "call_module" and isinstance(modules[src.target], UNITS):
                outputs.add(src.target)
            else:
                todo.append(src)
    reached, todo, seen = set(), [n for n in gm.graph.nodes if n.op == "output"], set()
    while todo:
        node = todo.pop()
        for src in node.args[:1] if node.target is held_product else node.all_input_nodes:
            if src not in seen:
                seen.add(src)
                todo.append(src)
                if src.op == "call_module" and isinstance(modules[src.target], UNITS):
                    reached.add(src.target)
    merged = []
    for n in calls:
        if isinstance(modules[n.target], nn.BatchNorm2d | nn.BatchNorm1d):
            src = n.args[0]
            if (
                isinstance(src, fx.Node)
                and src.op == "call_module"
                and isinstance(modules[src.target], UNITS)
                and len(src.users) == 1
                and src.target not in outputs
            ):
                merged.append((src.target, n.target))
    counts = {}
    for layer, _ in merged:
        counts[layer] = counts.get(layer, 0) + 1
    if [layer for layer, k in counts.items() if k > 1]:  # a layer called twice (shared weights): no single merge
        merged = [(layer, bn) for layer, bn in merged if counts[layer] == 1]
    if merge:
        NamedMergeBatchNorm([((layer,), bn) for layer, bn in merged]).apply(gm)  # the copy keeps the merge
    prunable = tuple(n for n in layers if n in reached and n not in outputs)
    return Graph(gm, layers, tuple(n for n in layers if n in outputs), prunable, tuple(merged))

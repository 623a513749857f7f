"""FlexRel on the networks people prune (issue 33): every torchvision family with residual additions, depthwise and
grouped convolutions, squeeze-and-excitation gates, concatenations, pre-activation BatchNorm, a CNN whose additions
are written in its own forward() with its output layer defined first, and an MLP — each is pruned through
torch-pruning with FlexRelImportance as first called, or refused before any work; the model is never left
half-changed, and relevance is conserved through the canonized additions and depthwise blocks."""

from __future__ import annotations

import operator
import os

import pytest
import torch
import torch_pruning as tp
import torchvision
from torch import nn
from zennit.composites import EpsilonPlusFlat, LayerMapComposite, layer_map_base
from zennit.layer import Sum
from zennit.rules import Epsilon
from zennit.types import Convolution, Linear

from lib.criteria import graph
from lib.criteria.importance import CriterionImportance, FlexRelImportance, RelevanceImportance
from lib.params.paths import ROOT


class OwnResidual(nn.Module):
    """A CNN with its addition in its own forward() and its output layer defined first."""

    def __init__(self, bias: bool = True, op: str = "add") -> None:
        super().__init__()
        self.fc = nn.Linear(16, 10, bias=bias)
        self.stem = nn.Conv2d(3, 16, 3, padding=1, bias=bias)
        self.branch = nn.Conv2d(16, 16, 3, padding=1, bias=bias)
        self.op = op

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.relu(self.stem(x))
        out = h + torch.relu(self.branch(h)) if self.op == "add" else h - torch.relu(self.branch(h))
        return self.fc(out.mean((2, 3)))


class DepthwiseBlock(nn.Module):
    """MobileNetV2's inverted residual in miniature, bias-free: expand, depthwise, project, skip."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, padding=1, bias=False)
        self.expand = nn.Conv2d(8, 24, 1, bias=False)
        self.depthwise = nn.Conv2d(24, 24, 3, padding=1, groups=24, bias=False)
        self.project = nn.Conv2d(24, 8, 1, bias=False)
        self.fc = nn.Linear(8, 10, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.relu(self.stem(x))
        h = h + self.project(torch.relu(self.depthwise(torch.relu(self.expand(h)))))
        return self.fc(h.mean((2, 3)))


class Branchy(nn.Module):
    """Control flow on the data: torch.fx cannot trace it."""

    def __init__(self) -> None:
        super().__init__()
        self.conv, self.fc = nn.Conv2d(3, 4, 3), nn.Linear(4, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv(x)
        return self.fc((h if h.sum() > 0 else -h).mean((2, 3)))


def mlp() -> nn.Module:
    return nn.Sequential(
        nn.Flatten(), nn.Linear(3 * 64 * 64, 64), nn.ReLU(), nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10)
    )


def state(model: nn.Module) -> dict[str, torch.Tensor]:
    """Every parameter and buffer, copied, and which parameters hold a gradient."""
    return {
        **{k: v.detach().clone() for k, v in model.state_dict().items()},
        **{f"{n}.grad": p.grad.clone() for n, p in model.named_parameters() if p.grad is not None},
    }


def assert_same(before: dict[str, torch.Tensor], model: nn.Module) -> None:
    after = state(model)
    assert set(after) == set(before), set(after) ^ set(before)
    for k, v in before.items():
        assert torch.equal(after[k], v), k


def torchvision_model(name: str, **kw):
    return lambda: getattr(torchvision.models, name)(num_classes=10, **kw)


#: One network of each CNN family torchvision has (weights=None, 10 classes), then a CNN with its addition in its own
#: forward() and an MLP: the README's table of what prunes, written from this test's run.
FAMILIES = {
    "AlexNet": torchvision_model("alexnet"),
    "VGG-11-BN": torchvision_model("vgg11_bn"),
    "ResNet-18": torchvision_model("resnet18"),
    "ResNet-50": torchvision_model("resnet50"),
    "ResNeXt-50 32x4d": torchvision_model("resnext50_32x4d"),
    "Wide ResNet-50-2": torchvision_model("wide_resnet50_2"),
    "DenseNet-121": torchvision_model("densenet121"),
    "SqueezeNet 1.1": torchvision_model("squeezenet1_1"),
    "GoogLeNet": torchvision_model("googlenet", aux_logits=False, init_weights=True),
    "MobileNetV2": torchvision_model("mobilenet_v2"),
    "MobileNetV3-Small": torchvision_model("mobilenet_v3_small"),
    "MnasNet 0.5": torchvision_model("mnasnet0_5"),
    "EfficientNet-B0": torchvision_model("efficientnet_b0"),
    "EfficientNetV2-S": torchvision_model("efficientnet_v2_s"),
    "RegNetX-400MF": torchvision_model("regnet_x_400mf"),
    "ShuffleNetV2 x0.5": torchvision_model("shufflenet_v2_x0_5"),
    "ConvNeXt-Tiny": torchvision_model("convnext_tiny"),
    "a CNN with x + f(x) in its own forward()": OwnResidual,
    "an MLP": mlp,
}
README_TABLE = (
    "<!-- networks: written by tests/test_networks.py (UPDATE_README=1 rewrites it) -->",
    "<!-- /networks -->",
)


def pruned_or_refused(build) -> str:
    """What ``FlexRelImportance(model, x, y)`` with torch-pruning's pruner at 30 % (no ignored layers) does to a
    network: the parameters before and after, checking that the output layer is kept, the network runs and keeps no
    gradient; or the refusal, checking that the model is exactly as it was."""
    torch.manual_seed(0)
    model = build().eval()
    x, y = torch.rand(4, 3, 64, 64), torch.randint(0, 10, (4,))
    before, size = state(model), tp.utils.count_ops_and_params(model, x[:1])[1]
    try:
        importance = FlexRelImportance(model, x, y, delta=0.5)
        tp.pruner.BasePruner(model, x[:1], importance=importance, pruning_ratio=0.3).step()
    except (graph.NotAttributable, graph.NotPrunable) as refusal:
        assert_same(before, model)
        return f"refused: {type(refusal).__name__}, {str(refusal).split(' (')[0]}"
    with torch.no_grad():
        assert model(x).shape == (4, 10)  # coupled widths agree (else the forward fails) and the classes are kept
    pruned = tp.utils.count_ops_and_params(model, x[:1])[1]
    assert pruned < 0.8 * size and not [n for n, p in model.named_parameters() if p.grad is not None]
    count = lambda n: f"{n / 1e6:.2f} M" if n >= 1e5 else f"{n / 1e3:.1f} k"  # noqa: E731
    return f"prunes: {count(size)} → {count(pruned)} parameters"


@pytest.mark.slow
def test_every_family_prunes_or_is_refused_as_the_readme_says():
    """Each network of :data:`FAMILIES` is pruned as first called or refused before any work, and the README's table
    says which, from this run (``UPDATE_README=1`` writes the table; otherwise a table that differs fails)."""
    rows = [f"| {name} | {pruned_or_refused(build)} |" for name, build in FAMILIES.items()]
    header = ["| network | at 30 % of every layer's filters |", "|---|---|"]
    table = "\n".join([README_TABLE[0], *header, *rows, README_TABLE[1]])
    readme = ROOT / "README.md"
    text = readme.read_text()
    start, end = text.index(README_TABLE[0]), text.index(README_TABLE[1]) + len(README_TABLE[1])
    if os.environ.get("UPDATE_README"):
        readme.write_text(text := text[:start] + table + text[end:])
        end = start + len(table)
    assert text[start:end] == table, f"the README's table is not this run's; this run's:\n{table}"
    assert sum("refused" in row for row in rows) <= 1, rows  # ShuffleNet's channel shuffle (torch-pruning)


def test_the_contribution_reads_a_depthwise_consumer_per_group():
    """A depthwise layer reads each unit alone (a share of 1 for every unit, no information): a unit's contribution
    is read where its channel is mixed, past the depthwise layer; MobileNetV2 pruned by the contribution runs
    afterwards."""
    from lib.criteria import filters

    torch.manual_seed(0)
    net, x = DepthwiseBlock().eval(), torch.rand(4, 3, 16, 16)
    assert filters.consumers(net, x)["expand"] == [net.project]
    assert filters.filter_contribution(net, x)["expand"].std() > 0
    model = torchvision.models.mobilenet_v2(num_classes=10, width_mult=0.5).eval()
    x = torch.rand(4, 3, 32, 32)
    tp.pruner.BasePruner(
        model, x[:1], importance=CriterionImportance(model, "contribution", x), pruning_ratio=0.3
    ).step()
    with torch.no_grad():
        assert model(x).shape == (4, 10)


def test_what_lrp_cannot_attribute_is_refused_before_any_work_naming_the_operation():
    x = torch.rand(2, 3, 32, 32)
    net = OwnResidual(op="sub").eval()
    before = state(net)
    with pytest.raises(graph.NotAttributable, match="`sub` of two tensors"):
        FlexRelImportance(net, x)
    assert_same(before, net)


def test_a_failure_while_scoring_leaves_the_model_exactly_as_it_was():
    """The contribution cannot read DenseNet's concatenations: it fails on the pruner's first group, before any unit
    is removed, and every parameter and buffer is as before (compared tensor by tensor)."""
    model = torchvision.models.densenet121(num_classes=10).eval()
    x = torch.rand(2, 3, 32, 32)
    before = state(model)
    pruner = tp.pruner.BasePruner(
        model, x[:1], importance=CriterionImportance(model, "contribution", x), pruning_ratio=0.3
    )
    with pytest.raises(NotImplementedError, match="concatenation"):
        pruner.step()
    assert_same(before, model)


class Normed(nn.Module):
    """A CNN with BatchNorm (running statistics, a batch counter) and an addition in its own forward(); with
    ``broadcast`` the addition adds a per-pixel mean to every channel (shapes differ)."""

    def __init__(self, broadcast: bool = False) -> None:
        super().__init__()
        self.stem, self.bn = nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8)
        self.branch, self.fc = nn.Conv2d(8, 8, 3, padding=1), nn.Linear(8, 10)
        self.broadcast = broadcast

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.relu(self.bn(self.stem(x)))
        h = h + (h.mean(1, keepdim=True) if self.broadcast else torch.relu(self.branch(h)))
        return self.fc(h.mean((2, 3)))


def used(model: nn.Module) -> nn.Module:
    """``model`` in training mode as a user's may be mid-training: BatchNorm statistics drawn at random and a gradient
    on every parameter, so that a scoring that ran the model, stepped a BatchNorm or cleared a gradient shows."""
    torch.manual_seed(1)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.normal_(), m.running_var.uniform_(0.5, 2.0), m.num_batches_tracked.fill_(7)
    for p in model.parameters():
        p.grad = torch.randn_like(p)
    return model.train()


def test_every_refusal_and_every_scoring_leaves_the_model_as_it_was():
    """Tensor by tensor, buffers and ``.grad`` included, and in the same mode: a bad δ, a pruner on another network,
    a network torch.fx cannot trace, a broadcast addition, a held factor that widens its signal and a partner that
    scores too few layers are refused; a
    relevance, FlexRel or folded-magnitude scoring succeeds; either way the model is as it was."""
    x, y = torch.rand(4, 3, 16, 16), torch.randint(0, 10, (4,))

    def pruned_by(importance, model):
        """A pruner's step; torch-pruning's pruner itself puts the model in eval mode when it is built (on success
        too), so the mode is set back: only what the importance does is under test."""
        try:
            tp.pruner.BasePruner(
                model, x[:1], importance=importance, pruning_ratio=0.3, ignored_layers=[model.fc]
            ).step()
        finally:
            model.train()

    net, other, branchy, broadcast = used(Normed()), used(Normed()), used(Branchy()), used(Normed(broadcast=True))
    widening = used(Scaled("widening"))
    before = {m: state(m) for m in (net, other, branchy, broadcast, widening)}
    refusals = [
        (ValueError, "delta must be a number in", lambda: FlexRelImportance(RelevanceImportance(net, x), delta=1.5)),
        (ValueError, "has no score", lambda: pruned_by(RelevanceImportance(net, x), other)),
        (graph.NotAttributable, "torch.fx cannot trace Branchy", lambda: RelevanceImportance(branchy, x)),
        (graph.NotAttributable, r"\(broadcast\)", lambda: FlexRelImportance(broadcast, x, y)),
        (graph.NotAttributable, "the factor broadcasts the signal", lambda: FlexRelImportance(widening, x, y)),
        (
            ValueError,
            "the partner scores no unit",
            lambda: pruned_by(FlexRelImportance(net, x, y, partner=lambda m: {}), net),
        ),
    ]
    for error, message, call in refusals:
        with pytest.raises(error, match=message):
            call()
        for model, saved in before.items():
            assert_same(saved, model)
            assert model.training
    scorings = [
        RelevanceImportance(net, x, y),
        FlexRelImportance(net, x, y, delta=0.5),
        CriterionImportance(net, "magnitude_bn", x),
    ]
    for importance in scorings:
        scores = importance.layer_scores()
        assert {importance.names[m] for m in scores} == {"stem", "branch"}
        assert all(s.isfinite().all() and s.std() > 0 for s in scores.values())
        assert_same(before[net], net)
        assert net.training


class Misordered(nn.Module):
    """A BatchNorm defined after one convolution and applied after the next (same width: pairing by definition order
    would fold it into the wrong one without an error)."""

    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Conv2d(3, 4, 3, padding=1)
        self.bn = nn.BatchNorm2d(4)
        self.b = nn.Conv2d(4, 4, 3, padding=1)
        self.fc = nn.Linear(4, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.relu(self.bn(self.b(torch.relu(self.a(x))))).mean((2, 3)))


@pytest.mark.slow
def test_batchnorm_is_folded_into_the_layer_the_graph_feeds_it_from():
    """The folded magnitude merges each BatchNorm into the layer whose output it reads in the traced graph: in a
    network that defines it after another layer the fold lands on the right one, the model untouched; DenseNet-121,
    whose BatchNorm reads concatenations before each convolution, prunes with it (definition order paired a
    convolution with the next block's BatchNorm and failed inside ``step()`` on mismatched sizes)."""
    from lib.criteria import filters

    torch.manual_seed(0)
    net = Misordered().eval()
    net.bn.weight.data.fill_(2.0)
    before = state(net)
    folded = filters.magnitude(net, fold_batchnorm=True)
    assert torch.allclose(folded["b"], net.b.weight.abs().flatten(1).mean(1) * 2 / (1 + net.bn.eps) ** 0.5)
    assert torch.equal(folded["a"], filters.magnitude(net)["a"])
    assert_same(before, net)
    model = torchvision.models.densenet121(num_classes=10).eval()
    x = torch.rand(2, 3, 32, 32)
    importance = CriterionImportance(model, "magnitude_bn", x)
    tp.pruner.BasePruner(model, x[:1], importance=importance, pruning_ratio=0.3).step()
    with torch.no_grad():
        assert model(x).shape == (2, 10)


def test_the_natural_first_calls_work_or_say_what_to_pass():
    model = OwnResidual().eval()
    x, y = torch.rand(4, 3, 32, 32), torch.randint(0, 10, (4,))
    with pytest.raises(TypeError, match=r"FlexRelImportance\(model, x, y\): pass reference images x"):
        FlexRelImportance(model)
    with pytest.raises(TypeError, match="delta is FlexRel's weight of relevance"):
        FlexRelImportance(model, x, y, torch.rand(2))  # a tensor where δ goes: said so, not printed
    with pytest.raises(TypeError, match="the first argument is the network to prune"):
        RelevanceImportance(x, x)
    mobile = torchvision.models.mobilenet_v2(num_classes=10, width_mult=0.25).eval()
    tp.pruner.BasePruner(mobile, x[:1], importance=CriterionImportance(mobile, "magnitude"), pruning_ratio=0.3).step()
    assert mobile.classifier[1].out_features == 10  # no images to trace: the output layer is the last one defined
    importance = FlexRelImportance(model, x, y)
    assert importance.unscored == {"fc"}  # the output layer, from the graph (it is defined first)
    tp.pruner.BasePruner(model, x[:1], importance=importance, pruning_ratio=0.5).step()
    assert (model.stem.out_channels, model.branch.out_channels, model.fc.out_features) == (8, 8, 10)


def test_squeeze_excitation_layers_only_compute_a_gate_and_are_left_as_they_are():
    model = torchvision.models.mobilenet_v3_small(num_classes=10).eval()
    traced = graph.canonized(model, torch.rand(1, 3, 32, 32))
    gates = set(traced.layers) - set(traced.prunable) - set(traced.outputs)
    assert gates and all(".fc1" in n or ".fc2" in n for n in gates)  # the SE blocks' own convolutions
    assert "classifier.3" in traced.outputs


class Scaled(nn.Module):
    """Bias-free: a product of a signal by a held factor, a squeeze-and-excitation gate (written with functions, a
    functional activation feeding the product) or a per-channel layer scale of 0.1 (ConvNeXt's); ``widening``
    scales a one-channel signal into eight channels (refused: the factor broadcasts the signal)."""

    def __init__(self, factor: str) -> None:
        super().__init__()
        self.stem, self.fc = nn.Conv2d(3, 8, 3, padding=1, bias=False), nn.Linear(8, 10, bias=False)
        self.squeeze, self.excite = nn.Conv2d(8, 4, 1, bias=False), nn.Conv2d(4, 8, 1, bias=False)
        self.gamma = nn.Parameter(torch.full((8, 1, 1), 0.1))
        self.factor = factor

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.relu(self.stem(x))
        if self.factor == "gate":
            h = h * torch.sigmoid(self.excite(torch.relu(self.squeeze(h.mean((2, 3), keepdim=True)))))
        elif self.factor == "widening":  # one channel times a per-channel scale: the factor broadcasts the signal
            h = self.gamma * h.mean(1, keepdim=True)
        else:
            h = self.gamma * h
        return self.fc(h.mean((2, 3)))


@pytest.mark.parametrize(
    "build",
    [lambda: OwnResidual(bias=False), DepthwiseBlock, lambda: Scaled("gate"), lambda: Scaled("layer scale")],
    ids=["residual", "depthwise", "gate", "layer-scale"],
)
def test_relevance_is_conserved_through_canonized_additions_products_and_depthwise_convolutions(build):
    """Bias-free networks under LRP-ε with ε → 0: the relevance reaching the input (zennit passes it as the gradient)
    sums to the target logit, through zennit's Sum at each addition found in the graph, a product by a held gate or
    layer scale (the plain gradient scaled it by the gate, about 0.5 here: half the relevance was lost), a
    depthwise convolution, and the activations and averages written as functions in the forward (made modules: as
    functions their derivatives would mask or divide the relevance)."""
    torch.manual_seed(0)
    net = build().eval()
    x = torch.rand(3, 3, 16, 16).requires_grad_(True)
    traced = graph.canonized(net, x.detach())
    canonized = [n for n, _ in traced.module.named_modules() if n.startswith("lrp_sum")]
    assert canonized or any(node.target is graph.held_product for node in traced.module.graph.nodes)
    rules = LayerMapComposite(layer_map_base() + [(Convolution, Epsilon(1e-9)), (Linear, Epsilon(1e-9))])
    with rules.context(traced.module) as modified:
        out = modified(x)
        target = torch.zeros_like(out).scatter_(1, out.argmax(1, keepdim=True), 1.0) * out.detach()
        (grad,) = torch.autograd.grad(out, x, target)
    # float32 sums: 1e-4 relative (an addition left to autograd doubles the relevance of its branch)
    torch.testing.assert_close(grad.sum((1, 2, 3)), target.sum(1), rtol=1e-4, atol=1e-6)


class Spelled(nn.Module):
    """One function, its addition spelled ``spelling``: a stem, a branch of two convolutions added to it, one more
    convolution and the classes, each convolution with BatchNorm."""

    def __init__(self, spelling: str) -> None:
        super().__init__()
        self.spelling, self.sum = spelling, Sum()
        self.stem, self.c1, self.c2, self.c3 = (nn.Conv2d(3 if i == 0 else 8, 8, 3, padding=1) for i in range(4))
        self.b0, self.b1, self.b2, self.b3 = (nn.BatchNorm2d(8) for _ in range(4))
        self.fc = nn.Linear(8, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.b0(self.stem(x)))
        h = self.b2(self.c2(torch.relu(self.b1(self.c1(x)))))
        if self.spelling == "+":
            x = x + h
        elif self.spelling == "+=":
            x += h
        elif self.spelling == "torch.add":
            x = torch.add(x, h)
        elif self.spelling == "operator.add":
            x = operator.add(x, h)
        else:
            x = self.sum(torch.stack([x, h], -1))
        return self.fc(torch.relu(self.b3(self.c3(torch.relu(x)))).mean((2, 3)))


def test_one_function_gets_one_relevance_however_its_addition_is_written():
    """``x + h``, ``+=``, ``torch.add``, ``operator.add`` and zennit's ``Sum`` of a stack give every layer the same
    relevance (random BatchNorm statistics), and the relevance reaching the addition's two terms sums to what leaves
    it. Traced through, a ``Sum`` of the network's own was a plain ``torch.sum``, whose gradient hands each term the
    whole relevance: the stem got 15 times its share."""
    from lib.criteria import filters

    torch.manual_seed(0)
    reference = Spelled("+")
    for m in reference.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.normal_(), m.running_var.uniform_(0.5, 2.0), m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.normal_()
    x = torch.rand(8, 3, 16, 16)
    found = {}
    for spelling in ("+", "+=", "torch.add", "operator.add", "Sum"):
        net = Spelled(spelling)
        net.load_state_dict(reference.state_dict())
        torch.testing.assert_close(net.eval()(x), reference.eval()(x))
        found[spelling] = filters.relevance(net, x)
    for spelling, scores in found.items():
        for layer, s in scores.items():
            torch.testing.assert_close(s, found["+"][layer], rtol=1e-5, atol=1e-6, msg=f"{spelling}: {layer}")
    traced = graph.canonized(Spelled("Sum").eval(), x)
    (summed,) = [m for n, m in traced.module.named_modules() if isinstance(m, Sum)]  # the user's, kept a module
    seen = {}
    summed.register_forward_pre_hook(lambda m, a: a[0].register_hook(lambda g: seen.__setitem__("in", g)) and None)
    summed.register_forward_hook(lambda m, a, out: out.register_hook(lambda g: seen.__setitem__("out", g)) and None)
    with EpsilonPlusFlat().context(traced.module) as modified:
        logits = modified(x)
        torch.autograd.backward(logits, torch.eye(10)[logits.argmax(1)] * logits.detach())
    terms = seen["in"].sum((1, 2, 3))  # per sample, each term: x's and the branch's
    torch.testing.assert_close(terms.sum(-1), seen["out"].sum((1, 2, 3)), rtol=1e-4, atol=1e-6)
    assert (terms > 0).all()  # both terms get a share

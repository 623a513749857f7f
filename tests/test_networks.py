"""FlexRel on the networks people prune (issue 33): every torchvision family with residual additions, depthwise and
grouped convolutions, squeeze-and-excitation gates, concatenations, pre-activation BatchNorm, a CNN whose additions
are written in its own forward() with its output layer defined first, and an MLP — each is pruned through
torch-pruning with FlexRelImportance as first called, or refused before any work; the model is never left
half-changed, and relevance is conserved through the canonized additions and depthwise blocks."""

from __future__ import annotations

import pytest
import torch
import torch_pruning as tp
import torchvision
from torch import nn
from zennit.composites import LayerMapComposite, layer_map_base
from zennit.rules import Epsilon
from zennit.types import Convolution, Linear

from lib.criteria import graph
from lib.criteria.importance import CriterionImportance, FlexRelImportance, RelevanceImportance


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


def mlp() -> nn.Module:
    return nn.Sequential(
        nn.Flatten(), nn.Linear(3 * 32 * 32, 64), nn.ReLU(), nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10)
    )


ZOO = {
    **{
        name: (lambda name=name: getattr(torchvision.models, name)(num_classes=10))
        for name in (
            "resnet18",
            "resnet50",
            "vgg11_bn",
            "mobilenet_v2",
            "mobilenet_v3_small",
            "efficientnet_b0",
            "regnet_x_400mf",
            "densenet121",
            "squeezenet1_1",
        )
    },
    "own_residual": OwnResidual,
    "mlp": mlp,
}


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


@pytest.mark.slow
@pytest.mark.parametrize("name", list(ZOO))
def test_every_network_is_pruned_as_first_called_and_left_clean(name):
    """FlexRelImportance(model, x, y) and torch-pruning's pruner with no ignored layers: the output layer is found
    from the graph and kept; the pruned network runs, is smaller, and no parameter keeps a gradient."""
    torch.manual_seed(0)
    model = ZOO[name]().eval()
    x, y = torch.rand(4, 3, 32, 32), torch.randint(0, 10, (4,))
    size = tp.utils.count_ops_and_params(model, x[:1])[1]
    importance = FlexRelImportance(model, x, y, delta=0.5)
    tp.pruner.BasePruner(model, x[:1], importance=importance, pruning_ratio=0.3).step()
    with torch.no_grad():
        assert model(x).shape == (4, 10)  # coupled widths agree (else the forward fails) and the classes are kept
    assert tp.utils.count_ops_and_params(model, x[:1])[1] < 0.8 * size
    assert not [n for n, p in model.named_parameters() if p.grad is not None]


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

    class Branchy(nn.Module):  # control flow on the data: torch.fx cannot trace it
        def __init__(self) -> None:
            super().__init__()
            self.conv, self.fc = nn.Conv2d(3, 4, 3), nn.Linear(4, 10)

        def forward(self, x):
            h = self.conv(x)
            return self.fc((h if h.sum() > 0 else -h).mean((2, 3)))

    with pytest.raises(graph.NotAttributable, match="torch.fx cannot trace Branchy"):
        RelevanceImportance(Branchy(), x)


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
    a network torch.fx cannot trace, a broadcast addition and a partner that scores too few layers are refused; a
    relevance, FlexRel or folded-magnitude scoring succeeds; either way the model is as it was."""
    x, y = torch.rand(4, 3, 16, 16), torch.randint(0, 10, (4,))

    class Branchy(nn.Module):  # control flow on the data: torch.fx cannot trace it
        def __init__(self) -> None:
            super().__init__()
            self.conv, self.fc = nn.Conv2d(3, 4, 3), nn.Linear(4, 10)

        def forward(self, x):
            h = self.conv(x)
            return self.fc((h if h.sum() > 0 else -h).mean((2, 3)))

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
    before = {m: state(m) for m in (net, other, branchy, broadcast)}
    refusals = [
        (ValueError, "delta must be a number in", lambda: FlexRelImportance(RelevanceImportance(net, x), delta=1.5)),
        (ValueError, "has no score", lambda: pruned_by(RelevanceImportance(net, x), other)),
        (graph.NotAttributable, "torch.fx cannot trace Branchy", lambda: RelevanceImportance(branchy, x)),
        (graph.NotAttributable, r"\(broadcast\)", lambda: FlexRelImportance(broadcast, x, y)),
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


@pytest.mark.parametrize("build", [lambda: OwnResidual(bias=False), DepthwiseBlock], ids=["residual", "depthwise"])
def test_relevance_is_conserved_through_canonized_additions_and_depthwise_convolutions(build):
    """Bias-free networks under LRP-ε with ε → 0: the relevance reaching the input (zennit passes it as the gradient)
    sums to the target logit, through zennit's Sum at each addition found in the graph, a depthwise convolution,
    and the activations and averages written as functions in the forward (made modules: as functions their
    derivatives would mask or divide the relevance)."""
    torch.manual_seed(0)
    net = build().eval()
    x = torch.rand(3, 3, 16, 16).requires_grad_(True)
    traced = graph.canonized(net, x.detach())
    assert any(n.startswith("lrp_sum") for n, _ in traced.module.named_modules())
    rules = LayerMapComposite(layer_map_base() + [(Convolution, Epsilon(1e-9)), (Linear, Epsilon(1e-9))])
    with rules.context(traced.module) as modified:
        out = modified(x)
        target = torch.zeros_like(out).scatter_(1, out.argmax(1, keepdim=True), 1.0) * out.detach()
        (grad,) = torch.autograd.grad(out, x, target)
    # float32 sums: 1e-4 relative (an addition left to autograd doubles the relevance of its branch)
    torch.testing.assert_close(grad.sum((1, 2, 3)), target.sum(1), rtol=1e-4, atol=1e-6)

"""Scores: eq. (1) against a brute-force unfold, LRP conservation, FlexRel's δ, contribution ratios by hand."""

import math

import pytest
import torch
import torch.nn.functional as F
import torch_pruning as tp
from torch import nn
from zennit.attribution import Gradient
from zennit.composites import LayerMapComposite
from zennit.rules import Epsilon

from lib.core import models, prune
from lib.criteria import contribution, filters


def epsilon_only(eps: float = 1e-9):
    """One rule everywhere, so relevance at any point equals the relevance of the sub-network starting there."""
    return LayerMapComposite([(nn.Conv2d, Epsilon(epsilon=eps)), (nn.Linear, Epsilon(epsilon=eps))])


def input_relevance(net: nn.Module, x: torch.Tensor, y: torch.Tensor, composite) -> torch.Tensor:
    """zennit's own attributor: relevance of ``x`` with the output started at the target logit."""
    with Gradient(model=net, composite=composite) as attributor:
        _, rel = attributor(x, lambda out: out * F.one_hot(y, out.shape[1]).to(out))
    return rel


def conv_net() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(2, 3, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(3, 4, 3, stride=2, padding=1),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(4 * 4 * 4, 6),
        nn.ReLU(),
        nn.Linear(6, 5),
    ).double()


@pytest.mark.parametrize("unfolded_input", ["copy", "share"])
def test_eq1_matches_brute_force_unfold_for_conv_and_linear(unfolded_input):
    net = conv_net()
    x = torch.randn(3, 2, 8, 8, dtype=torch.double)
    y = torch.tensor([0, 3, 1])
    comp = epsilon_only()
    got = filters.parameter_relevance(net, x, y, comp, unfolded_input=unfolded_input)

    # conv layer "2": a = output of net[:2], b = its output; relevance of each from the sub-network that starts there
    h1 = net[:2](x)
    rel_a = input_relevance(net[2:], h1.detach(), y, comp)
    rel_b = input_relevance(net[3:], net[2](h1).detach(), y, comp)
    unfolded = F.unfold(rel_a, kernel_size=3, stride=2, padding=1)  # (N, c_in*kh*kw, positions): the FC form's rows
    if unfolded_input == "share":
        cover = F.fold(
            F.unfold(torch.ones_like(rel_a[:1, :1]), 3, stride=2, padding=1), rel_a.shape[2:], 3, stride=2, padding=1
        )
        unfolded = F.unfold(rel_a / cover, kernel_size=3, stride=2, padding=1)
    a_sum = unfolded.sum(dim=(0, 2))  # Σ_i over samples and output positions
    b_sum = rel_b.sum(dim=(0, 2, 3))
    brute = torch.stack([torch.stack([a_sum[k] + b_sum[j] for k in range(a_sum.numel())]) for j in range(4)])
    assert torch.allclose(got["2"].flatten(1), brute, atol=1e-9)

    # linear layer "5": a = flattened ReLU output, b = its output
    h2 = net[:5](x)
    rel_a = input_relevance(net[5:], h2.detach(), y, comp)
    rel_b = input_relevance(net[6:], net[5](h2).detach(), y, comp)
    brute = torch.stack([torch.stack([rel_a[:, k].sum() + rel_b[:, j].sum() for k in range(64)]) for j in range(6)])
    assert torch.allclose(got["5"], brute, atol=1e-9)
    # and the first layer's input relevance is zennit's input attribution
    rel_x = input_relevance(net, x, y, comp)
    assert torch.allclose(
        filters.layer_relevance(net, x, y, comp, unfolded_input=unfolded_input)["0"][0],
        (
            F.unfold(rel_x, 3, padding=1)
            if unfolded_input == "copy"
            else F.unfold(
                rel_x / F.fold(F.unfold(torch.ones_like(rel_x[:1, :1]), 3, padding=1), (8, 8), 3, padding=1),
                3,
                padding=1,
            )
        )
        .sum(dim=(0, 2))
        .view(2, 3, 3),
        atol=1e-9,
    )


def test_chunking_changes_nothing():
    net = conv_net()
    x = torch.randn(7, 2, 8, 8, dtype=torch.double)
    a = filters.parameter_relevance(net, x, batch_size=7)
    b = filters.parameter_relevance(net, x, batch_size=2)
    assert all(torch.allclose(a[k], b[k]) for k in a)


@pytest.mark.parametrize("composite", [epsilon_only(), None], ids=["epsilon", "EpsilonPlusFlat"])
def test_lrp_conserves_relevance_layer_by_layer_on_a_bias_free_net(composite):
    torch.manual_seed(1)
    net = nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1, bias=False),
        nn.ReLU(),
        nn.Conv2d(4, 4, 3, padding=1, bias=False),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(4 * 36, 12, bias=False),
        nn.ReLU(),
        nn.Linear(12, 3, bias=False),
    ).double()
    x = torch.randn(5, 1, 6, 6, dtype=torch.double)
    logits = net(x)
    y = logits.argmax(1)
    total = logits.gather(1, y.view(-1, 1)).sum()
    sums = filters.layer_relevance(net, x, None, composite)
    for name, (a, b) in sums.items():
        assert b.sum().item() == pytest.approx(total.item(), rel=1e-4), f"layer {name} output"
    # inputs of dense layers are not repeated: their relevance is conserved too
    assert sums["5"][0].sum().item() == pytest.approx(total.item(), rel=1e-4)


def test_filter_ranking_equals_output_channel_relevance_after_minmax():
    """The docstring's consequence of eq. (1): the input term is the same for every filter of a layer."""
    torch.manual_seed(2)
    net = models.vgg16(10, 1, width=0.125, image_size=32).eval()
    x = torch.randn(6, 1, 32, 32)
    per_unit = filters.normalize(filters.relevance(net, x))
    out_only = filters.normalize({n: b for n, (a, b) in filters.layer_relevance(net, x).items()})
    for name in per_unit:
        assert torch.allclose(per_unit[name], out_only[name], atol=1e-4), name


def test_magnitude_and_random():
    net = models.mlp([4, 3, 2])
    with torch.no_grad():
        net[1].weight.copy_(torch.tensor([[1.0, -1, 1, -1], [0, 0, 0, 2], [-3, 0, 0, 0]]))
    assert torch.allclose(filters.magnitude(net)["1"], torch.tensor([1.0, 0.5, 0.75]))
    assert list(filters.magnitude(net)) == ["1"]  # the output layer is never scored
    a, b = prune.random_scores(net, 3), prune.random_scores(net, 3)
    assert torch.equal(a["1"], b["1"]) and not torch.equal(a["1"], prune.random_scores(net, 4)["1"])


def test_normalize_minmax():
    out = filters.normalize({"a": torch.tensor([2.0, 4.0, 3.0]), "b": torch.tensor([5.0, 5.0])})
    assert torch.allclose(out["a"], torch.tensor([0.0, 1.0, 0.5])) and torch.equal(out["b"], torch.zeros(2))
    with pytest.raises(ValueError, match="zscore"):
        filters.normalize({}, "zscore")


def test_flexrel_delta_extremes_are_the_pure_normalized_rankings():
    m = {"l": torch.tensor([1.0, 3.0, 2.0, 0.0])}
    r = {"l": torch.tensor([-5.0, 0.0, 10.0, 2.0])}
    assert torch.allclose(filters.flexrel(m, r, 0.0)["l"], filters.normalize(m)["l"])
    assert torch.allclose(filters.flexrel(m, r, 1.0)["l"], filters.normalize(r)["l"])
    mid = filters.flexrel(m, r, 0.25)["l"]
    assert torch.allclose(mid, 0.75 * filters.normalize(m)["l"] + 0.25 * filters.normalize(r)["l"])
    # the text's reading: low magnitude, high relevance scores close to δ
    assert filters.flexrel({"l": torch.tensor([0.0, 1.0])}, {"l": torch.tensor([1.0, 0.0])}, 0.3)["l"][
        0
    ].item() == pytest.approx(0.3)


@pytest.mark.parametrize("delta", [-0.1, 1.0001, math.nan, float("inf")])
def test_flexrel_rejects_delta_outside_unit_interval(delta):
    with pytest.raises(ValueError, match="delta"):
        filters.flexrel({"l": torch.ones(2)}, {"l": torch.ones(2)}, delta)


def hand_net() -> nn.Sequential:
    """2-2-2 network: identity first layer (so hidden activations = inputs),
    next-layer weights W2 = [[1, 1], [2, -1]]."""
    net = models.mlp([2, 2, 2], bias=False)
    with torch.no_grad():
        net[1].weight.copy_(torch.eye(2))
        net[3].weight.copy_(torch.tensor([[1.0, 1.0], [2.0, -1.0]]))
    return net


def test_contribution_by_hand_signed_with_a_zero_denominator():
    # a = [1, 2]: z_0 = 1·1 + 1·2 = 3, z_1 = 2·1 − 1·2 = 0 (zero denominator → ratio 0)
    # ratios j=0: [1/3, 2/3]; j=1: [0, 0] → C_avg = [1/6, 1/3], C_max = [1/3, 2/3]
    c_avg = contribution.contribution(hand_net(), [torch.tensor([[1.0, 2.0]])], lam_avg=1, lam_max=0)["1"]
    c_max = contribution.contribution(hand_net(), [torch.tensor([[1.0, 2.0]])], lam_avg=0, lam_max=1)["1"]
    assert torch.allclose(c_avg, torch.tensor([1 / 6, 1 / 3])) and torch.allclose(c_max, torch.tensor([1 / 3, 2 / 3]))
    both = contribution.contribution(hand_net(), [torch.tensor([[1.0, 2.0]])])["1"]
    assert torch.allclose(both, 0.5 * c_avg + 0.5 * c_max) and torch.isfinite(both).all()


def test_contribution_by_hand_absolute():
    # |W2| = [[1, 1], [2, 1]]: z = [3, 4]; ratios j=0: [1/3, 2/3], j=1: [1/2, 1/2]
    c_avg = contribution.contribution(hand_net(), [torch.tensor([[1.0, 2.0]])], lam_avg=1, lam_max=0, absolute=True)[
        "1"
    ]
    c_max = contribution.contribution(hand_net(), [torch.tensor([[1.0, 2.0]])], lam_avg=0, lam_max=1, absolute=True)[
        "1"
    ]
    assert torch.allclose(c_avg, torch.tensor([5 / 12, 7 / 12])) and torch.allclose(c_max, torch.tensor([1 / 2, 2 / 3]))


def test_contribution_pre_versus_post_activation_and_mean_over_passes():
    # x = [1, -2]: post-ReLU a = [1, 0] → z = [1, 2]; ratios j=0: [1, 0], j=1: [1, 0]
    # pre-ReLU a = [1, -2] → z = [-1, 4]; ratios j=0: [-1, 2], j=1: [1/2, 1/2]
    x = torch.tensor([[1.0, -2.0]])
    post = contribution.contribution(hand_net(), [x], lam_avg=1, lam_max=0)["1"]
    pre = contribution.contribution(hand_net(), [x], lam_avg=1, lam_max=0, activation="pre")["1"]
    assert torch.allclose(post, torch.tensor([1.0, 0.0])) and torch.allclose(pre, torch.tensor([-0.25, 1.25]))
    # two forward passes: C_avg averages them ([1/6, 1/3] and [1, 0]), C_max takes the larger
    two = [torch.tensor([[1.0, 2.0], [1.0, -2.0]])]
    assert torch.allclose(
        contribution.contribution(hand_net(), two, lam_avg=1, lam_max=0)["1"], torch.tensor([7 / 12, 1 / 6])
    )
    assert torch.allclose(
        contribution.contribution(hand_net(), two, lam_avg=0, lam_max=1)["1"], torch.tensor([1.0, 2 / 3])
    )
    # the public code's reading uses only the last batch
    split = [torch.tensor([[1.0, 2.0]]), torch.tensor([[1.0, -2.0]])]
    last = contribution.contribution(hand_net(), split, lam_avg=1, lam_max=0, last_batch_only=True)["1"]
    assert torch.allclose(last, torch.tensor([1.0, 0.0]))


def test_contribution_does_not_depend_on_how_samples_are_batched():
    torch.manual_seed(3)
    net = models.mlp([20, 8, 6, 3])
    x = torch.randn(30, 20)
    one = contribution.contribution(net, [x])
    many = contribution.contribution(net, list(x.split(7)))
    as_loader = contribution.contribution(net, [(b, torch.zeros(len(b))) for b in x.split(4)])
    assert set(one) == {"1", "3"}
    for k in one:
        assert torch.allclose(one[k], many[k], atol=1e-6) and torch.allclose(one[k], as_loader[k], atol=1e-6)


def test_original_code_preset():
    torch.manual_seed(4)
    net = models.mlp([20, 8, 6, 3], bias=False)
    batches = list(torch.randn(30, 20).split(10))
    got = contribution.contribution(net, batches, **contribution.CONTRIBUTION_PRESETS["original_code"])
    want = contribution.contribution(net, batches[-1:], lam_avg=1, lam_max=0, absolute=True, activation="pre")
    assert all(torch.allclose(got[k], want[k]) for k in got)
    assert all((v >= 0).all() for v in got.values())  # |w|·|a| ratios are non-negative


def test_magnitude_folds_batchnorm_scale():
    net = nn.Sequential(
        nn.Conv2d(1, 3, 3), nn.BatchNorm2d(3), nn.ReLU(), nn.Flatten(), nn.Linear(27, 4), nn.Linear(4, 2)
    )
    net(torch.rand(2, 1, 5, 5))
    bn = net[1]
    with torch.no_grad():
        bn.weight.copy_(torch.tensor([2.0, -0.5, 1.0]))
        bn.running_var.copy_(torch.tensor([4.0, 1.0, 0.25]))
    raw, folded = filters.magnitude(net), filters.magnitude(net, fold_batchnorm=True)
    scale = bn.weight.abs() / (bn.running_var + bn.eps).sqrt()
    assert torch.allclose(folded["0"], raw["0"] * scale.detach())
    assert torch.equal(folded["4"], raw["4"]) and torch.equal(net[1].weight, torch.tensor([2.0, -0.5, 1.0]))


def test_contribution_guard_bounds_cancelling_ratios():
    net = nn.Sequential(nn.Linear(2, 2, bias=False), nn.ReLU(), nn.Linear(2, 1, bias=False))
    with torch.no_grad():
        net[0].weight.copy_(torch.eye(2))
        net[2].weight.copy_(torch.tensor([[1.0, -0.999]]))
    x = torch.tensor([[1.0, 1.0]])  # next-layer input sums to 0.001: ratios 1000 and −999 without the guard
    loose = contribution.contribution(net, [x], lam_avg=0.0, lam_max=1.0)["0"]
    guarded = contribution.contribution(net, [x], lam_avg=0.0, lam_max=1.0, cancel_tol=0.1)["0"]
    assert loose.max() > 900 and guarded.abs().max() == 0
    with pytest.raises(ValueError, match="cancel_tol"):
        contribution.contribution(net, [x], cancel_tol=1.5)


def test_filter_contribution_on_neurons_is_the_rank_papers_absolute_contribution():
    """On fully-connected layers the filter reading is exactly lib.criteria.contribution's |w|·|a| reading
    (λ 0.5, 0.5)."""
    torch.manual_seed(0)
    net = models.mlp([12, 7, 5, 3])
    x = torch.randn(40, 12)
    ours = filters.filter_contribution(net, x, batch_size=16)
    theirs = contribution.contribution(net, [x[:16], x[16:32], x[32:]], absolute=True, activation="post")
    assert ours.keys() == theirs.keys() == {"1", "3"}
    for name in ours:
        assert torch.allclose(ours[name], theirs[name], rtol=1e-5, atol=1e-6)


def test_filter_contribution_scores_every_filter_of_a_cnn():
    net = conv_net().float()
    out = filters.filter_contribution(net, torch.randn(5, 2, 8, 8))
    assert {n: tuple(v.shape) for n, v in out.items()} == {"0": (3,), "2": (4,), "5": (6,)}
    assert all(torch.isfinite(v).all() and (v >= 0).all() for v in out.values())


def test_library_scores_are_torch_pruning_importances_per_unit():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 3))
    with torch.no_grad():
        net[1].weight.copy_(torch.tensor([0.5, -2.0, 0.1, 1.0]))
    x, y = torch.randn(8, 1, 8, 8), torch.randint(0, 3, (8,))
    bn = filters.library_scores(net, tp.importance.BNScaleImportance(), x, y)
    assert torch.equal(bn["0"].argsort(), torch.tensor([2, 0, 3, 1]))  # ranks like |γ|
    for importance in (tp.importance.TaylorImportance(), tp.importance.LAMPImportance()):
        assert filters.library_scores(net, importance, x, y)["0"].shape == (4,)
    assert net[0].weight.grad is None  # Taylor's gradients live on a copy
    with pytest.raises(ValueError, match="gives no score for layer 4"):
        filters.library_scores(net, tp.importance.BNScaleImportance(), x, y, layers=["4"])


def test_network_normalisation_mixes_layers_on_one_scale():
    m = {"a": torch.tensor([1.0, 2.0, 3.0]), "b": torch.tensor([0.5, 0.1])}
    r = {"a": torch.tensor([3.0, 2.0, 1.0]), "b": torch.tensor([9.0, 30.0])}
    sizes = {"a": 2, "b": 10}
    layer = filters.flexrel(m, r, 0.5)
    total = filters.flexrel(m, r, 0.5, "network_total", sizes)
    mean = filters.flexrel(m, r, 0.5, "network_mean", sizes)
    assert not torch.allclose(total["b"], layer["b"]) and not torch.allclose(total["b"], mean["b"])
    for norm in ("network_total", "network_mean"):  # at δ = 0 and 1 each layer still ranks like the pure criterion
        assert torch.equal(filters.flexrel(m, r, 0.0, norm, sizes)["a"].argsort(), m["a"].argsort())
        assert torch.equal(filters.flexrel(m, r, 1.0, norm, sizes)["b"].argsort(), r["b"].argsort())
    with pytest.raises(ValueError, match="sizes"):
        filters.flexrel(m, r, 0.5, "network_mean")


def test_the_default_rules_z_plus_is_zennits_bit_for_bit_in_one_pass_behind_a_relu(monkeypatch):
    """ZPlusOnPositive skips z⁺'s negative part only where the input has no negative entry (behind a ReLU), and
    gives zennit's ZPlus relevance bit for bit either way."""
    from zennit.composites import EpsilonPlusFlat
    from zennit.rules import ZPlus

    fallbacks = []
    original = ZPlus.backward
    monkeypatch.setattr(ZPlus, "backward", lambda self, *a: fallbacks.append(1) or original(self, *a))
    x, y = torch.randn(6, 2, 8, 8, dtype=torch.float64), torch.tensor([0, 1, 2, 3, 4, 0])
    behind_relu, no_relu = conv_net(), conv_net()
    no_relu[1] = nn.Identity()  # the second convolution reads negative inputs
    for net, passes in ((behind_relu, 0), (no_relu, 1)):
        fallbacks.clear()
        ours = filters.relevance(net, x, y)
        assert len(fallbacks) == passes  # the first layer is flat's; the second z⁺: in one pass behind the ReLU
        zennits = filters.relevance(net, x, y, composite=EpsilonPlusFlat())
        assert all(torch.equal(ours[k], zennits[k]) for k in ours)


def test_the_default_rules_skip_the_layers_own_backward_and_give_zennits_relevance_bit_for_bit(monkeypatch):
    """Each rule of the default composite is :class:`lib.criteria.filters.Direct`: the layer runs forward without a
    graph and backward is the rule's alone; on a VGG and a residual network (its additions canonized to zennit's Sum,
    Norm's rule) the relevance is that of zennit's own hooks bit for bit, and it costs no input-gradient pass."""
    from zennit.composites import EpsilonPlusFlat
    from zennit.core import stabilize
    from zennit.rules import Norm
    from zennit.types import Convolution

    from lib.core import models

    fallbacks = []
    original = Norm.backward
    monkeypatch.setattr(
        Norm, "backward", lambda self, m, *a: fallbacks.append(type(m).__name__) or original(self, m, *a)
    )
    x, y = torch.randn(8, 1, 32, 32).clamp(min=-0.5), torch.arange(8) % 10
    for name in ("vgg16_bn", "resnet18"):
        torch.manual_seed(0)
        net = models.BUILDERS[name](10, 1, 32, 0.0625, 0.0).eval()
        fallbacks.clear()
        ours = filters.relevance(net, x, y)
        assert "Sum" not in fallbacks  # the canonized additions share relevance from the forward's own sums
        zennits = filters.relevance(
            net, x, y, composite=EpsilonPlusFlat(layer_map=[(Convolution, filters.ZPlusOnPositive())])
        )
        assert ours.keys() == zennits.keys() and all(torch.equal(ours[k], zennits[k]) for k in ours), name
    c = filters.epsilon_plus_flat(x)
    assert all(isinstance(rule, filters.Direct) for _, rule in [*c.layer_map, *c.first_map])
    for dtype in (torch.float32, torch.float64):
        z = torch.randn(10_000, dtype=dtype)
        z[:100] = 0.0
        assert torch.equal(filters.stabilized(z), stabilize(z))

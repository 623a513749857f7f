"""Physical pruning: the function is kept at amount 0, removed units behave as zeroed activations, MACs fall."""

import pytest
import torch
from torch import nn

from lib.core import models, prune
from lib.criteria import filters


def small_vgg() -> nn.Sequential:
    """conv-BN-ReLU ×2, pool, flatten, linear-ReLU, linear — with non-trivial BatchNorm statistics."""
    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Conv2d(2, 8, 3, padding=1),
        nn.BatchNorm2d(8),
        nn.ReLU(),
        nn.Conv2d(8, 6, 3, padding=1),
        nn.BatchNorm2d(6),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(6 * 4 * 4, 10),
        nn.ReLU(),
        nn.Linear(10, 3),
    )
    for m in net:
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-1, 1)
            m.running_var.uniform_(0.5, 2)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.5, 0.5)
    return net.eval()


X = torch.randn(4, 2, 8, 8)
ACTIVATION_OF = {"0": 2, "3": 5, "8": 9}  # scored layer → the ReLU whose output its units feed on


def zeroed_reference(net: nn.Module, removed: dict[str, torch.Tensor]) -> torch.Tensor:
    """The unpruned network's output with the removed units' activations set to zero."""
    handles = []
    for name, idx in removed.items():

        def hook(module, args, out, idx=idx):
            out = out.clone()
            out[:, idx] = 0
            return out

        handles.append(net[ACTIVATION_OF[name]].register_forward_hook(hook))
    with torch.no_grad():
        out = net(X)
    for h in handles:
        h.remove()
    return out


def test_amount_zero_keeps_the_function():
    net = small_vgg()
    pruned = prune.prune(net, filters.magnitude(net), 0.0, example_inputs=X[:1])
    assert pruned is not net
    with torch.no_grad():
        assert torch.equal(pruned(X), net(X))


@pytest.mark.parametrize("worst", [False, True])
def test_pruned_model_equals_unpruned_with_removed_units_zeroed(worst):
    net = small_vgg()
    s = prune.random_scores(net, seed=5)
    pruned = prune.prune(net, s, 0.5, example_inputs=X[:1], worst=worst)
    removed = {n: v.argsort(descending=worst)[: len(v) // 2] for n, v in s.items()}
    assert [pruned[i].out_channels for i in (0, 3)] == [4, 3] and pruned[8].out_features == 5
    assert pruned[1].num_features == 4 and pruned[8].in_features == 3 * 16 and pruned[10].in_features == 5
    with torch.no_grad():
        assert torch.allclose(pruned(X), zeroed_reference(net, removed), atol=1e-5)
    # the original is untouched
    assert net[0].out_channels == 8


def test_only_scored_layers_are_pruned_and_global_scope_ranks_across_layers():
    net = small_vgg()
    s = {"0": torch.arange(8.0), "3": torch.arange(6.0) + 100}  # every unit of "3" outranks every unit of "0"
    local = prune.prune(net, s, 0.5, example_inputs=X[:1])
    assert (local[0].out_channels, local[3].out_channels, local[8].out_features) == (4, 3, 10)
    glob = prune.prune(net, s, 0.5, scope="global", example_inputs=X[:1])
    assert (glob[0].out_channels, glob[3].out_channels) == (1, 6)  # 7 of 14 removed, all from layer "0"


def test_bad_arguments_are_rejected_before_any_work():
    net = small_vgg()
    s = filters.magnitude(net)
    for amount in (-0.1, 1.0, 1.5):
        with pytest.raises(ValueError, match="amount"):
            prune.prune(net, s, amount, example_inputs=X[:1])
    with pytest.raises(ValueError, match="scope"):
        prune.prune(net, s, 0.5, scope="row", example_inputs=X[:1])
    with pytest.raises(ValueError, match="not prunable"):
        prune.prune(net, {"10": torch.ones(3)}, 0.5, example_inputs=X[:1])
    with pytest.raises(ValueError, match="units"):
        prune.prune(net, {"0": torch.ones(3)}, 0.5, example_inputs=X[:1])


def test_half_of_vgg16_filters_cut_macs_by_about_three_quarters():
    net = models.vgg16(10, 1, width=0.25, image_size=32).eval()
    x = torch.randn(1, 1, 32, 32)
    conv = {n: s for n, s in filters.magnitude(net).items() if isinstance(dict(net.named_modules())[n], nn.Conv2d)}
    assert len(conv) == 13
    before = prune.count(net, x)
    after = prune.count(prune.prune(net, conv, 0.5, example_inputs=x), x)
    cut = 1 - after["macs"] / before["macs"]
    assert 0.70 < cut < 0.78, cut
    assert after["params"] < before["params"]


def test_vgg16_at_imagenet_size_is_torchvision_vgg16():
    from torchvision.models import vgg16_bn

    ours, theirs = models.vgg16(1000, 3, 1.0, image_size=224), vgg16_bn()
    assert [tuple(p.shape) for p in ours.parameters()] == [tuple(p.shape) for p in theirs.parameters()]


def test_target_widths_prune_each_layer_to_exactly_its_width():
    net = small_vgg()
    s = filters.magnitude(net)
    widths = {n: max(1, m.weight.shape[0] - 1 - i) for i, (n, m) in enumerate(prune.prunable_layers(net).items())}
    pruned = prune.prune(net, s, widths, example_inputs=X[:1])
    assert {n: m.weight.shape[0] for n, m in prune.prunable_layers(pruned).items()} == widths
    full = {n: m.weight.shape[0] for n, m in prune.prunable_layers(net).items()}
    assert prune.count(prune.prune(net, s, full, example_inputs=X[:1]), X[:1]) == prune.count(net, X[:1])
    for bad in ({**widths, next(iter(widths)): 0}, {next(iter(widths)): 1}):
        with pytest.raises(ValueError, match="target widths"):
            prune.prune(net, s, bad, example_inputs=X[:1])
    with pytest.raises(ValueError, match="scope 'layer'"):
        prune.prune(net, s, widths, scope="global", example_inputs=X[:1])

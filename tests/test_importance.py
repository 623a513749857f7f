"""FlexRel, relevance and contribution as torch-pruning importances (lib.criteria.importance): the README's example
runs on two torchvision architectures, a residual group is pruned consistently and scored by its reduced
relevance, the importances keep exactly the filters the reproduction keeps, the contribution reads every layer
that consumes a unit, and a bad δ or a pruner on another network is refused (tests/test_networks.py: every
architecture)."""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import subprocess
import sys

import pytest
import torch
import torch_pruning as tp
import torchvision
from zennit.composites import EpsilonPlusFlat

from lib.core import models, prune
from lib.criteria import filters
from lib.criteria.importance import CriterionImportance, FlexRelImportance, RelevanceImportance
from lib.params.paths import ROOT


def readme_example() -> str:
    """The first Python block under the README's "Use FlexRel on your own network"."""
    text = (ROOT / "README.md").read_text()
    section = text.split("## Use FlexRel on your own network", 1)[1].split("\n## ", 1)[0]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def kept(n: int, ratio: float = 0.3) -> int:
    """Units torch-pruning keeps of ``n`` at ``pruning_ratio`` ``ratio``: ⌊(1 − ratio)·n⌋."""
    return int(n * (1 - ratio))


@pytest.mark.slow
@pytest.mark.parametrize("architecture", ["resnet18", "mobilenet_v2", "squeezenet1_1"])
def test_the_readme_example_prunes_a_torchvision_network_and_exports_it(architecture, tmp_path, monkeypatch):
    """ResNet-18 (residual additions, BatchNorm), MobileNetV2 (depthwise convolutions, inverted residuals) and
    SqueezeNet 1.1 (concatenated expand branches, a convolution as classifier): the README's block with only the
    constructor swapped — the output layer is found from the graph, BatchNorm re-estimated after pruning."""
    code = readme_example()
    assert len(code.strip().splitlines()) <= 15 and "recalibrate_batchnorm(model" in code
    code = code.replace("torchvision.models.resnet18(", f"torchvision.models.{architecture}(")
    monkeypatch.chdir(tmp_path)
    scope: dict = {}
    exec(compile(code, "README.md", "exec"), scope)
    model, unpruned, x, y, record = (scope[k] for k in ("model", "unpruned", "x", "y", "record"))
    widths = record["pruning"]["filters_kept"]
    assert all(k == kept(n) for k, n in widths.values()), widths
    assert record["pruning"]["pruned"]["params"] < 0.6 * record["pruning"]["unpruned"]["params"]
    with torch.no_grad():
        logits = model(x)
    assert logits.shape == (len(x), 10)
    program = torch.export.load(tmp_path / "pruned" / "model.pt2").module()
    torch.testing.assert_close(program(x[:3]), logits[:3])
    accuracy = lambda out: float((out.argmax(1) == y).float().mean())  # noqa: E731 - random images: only that it is measured
    assert accuracy(program(x)) == accuracy(logits)  # the exported program scores what the pruned network scores
    assert json.loads((tmp_path / "pruned" / "record.json").read_text())["input"]["shape"] == [3, 64, 64]
    if architecture == "resnet18":  # the residual stream: the stem and every block of layer1 keep the same channels
        widths = {
            model.conv1.out_channels,
            model.layer1[0].conv2.out_channels,
            model.layer1[1].conv2.out_channels,
            model.layer2[0].conv1.in_channels,
        }
        assert widths == {kept(64)}, widths


def test_a_residual_group_is_scored_by_its_reduced_relevance():
    torch.manual_seed(0)
    model = torchvision.models.resnet18(num_classes=10).eval()
    x, y = torch.rand(4, 3, 32, 32), torch.randint(0, 10, (4,))
    importance = RelevanceImportance(model, x, y, composite=EpsilonPlusFlat())
    graph = tp.DependencyGraph().build_dependency(model, example_inputs=x[:1])
    group = graph.get_pruning_group(model.conv1, tp.prune_conv_out_channels, idxs=list(range(64)))
    coupled = [dep.target.module for dep, _ in group if dep.handler == tp.prune_conv_out_channels]
    assert {model.conv1, model.layer1[0].conv2, model.layer1[1].conv2} <= set(coupled)
    # the oracle: eq. (1)'s relevance of each layer straight from filters.relevance, by name, averaged over the group
    names = {m: n for n, m in model.named_modules()}
    relevance = filters.relevance(copy.deepcopy(model), x, y, EpsilonPlusFlat())
    expected = torch.stack([relevance[names[m]] for m in coupled]).mean(0)
    torch.testing.assert_close(importance(group), expected, rtol=1e-5, atol=0)
    assert not torch.allclose(expected, relevance["conv1"], rtol=1e-3)  # the mean over the group, not one layer


def test_per_layer_flexrel_importance_keeps_the_reproductions_filters():
    """On the reproduction's VGG (a plain chain: a group is one layer), torch-pruning's own pruner with
    FlexRelImportance keeps the filters lib.core.prune keeps with lib.criteria.filters.flexrel's scores."""
    torch.manual_seed(0)
    net = models.vgg16(10, 1, 0.125, batch_norm=True, image_size=32).eval()
    x, y = torch.randn(8, 1, 32, 32), torch.randint(0, 10, (8,))
    convs = {n: m for n, m in prune.prunable_layers(net).items() if isinstance(m, torch.nn.Conv2d)}
    scores = filters.flexrel(
        {n: s for n, s in filters.magnitude(net).items() if n in convs},
        {n: s for n, s in filters.relevance(net, x, y).items() if n in convs},
        0.5,
    )
    ours = prune.prune(net, scores, 0.3, example_inputs=x[:1])
    model = copy.deepcopy(net)
    importance = FlexRelImportance(RelevanceImportance(model, x, y), delta=0.5)
    ignored = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
    tp.pruner.BasePruner(model, x[:1], importance=importance, pruning_ratio=0.3, ignored_layers=ignored).step()
    for name, layer in prune.prunable_layers(ours).items():
        torch.testing.assert_close(dict(model.named_modules())[name].weight, layer.weight, rtol=0, atol=0)


def test_flexrel_importance_keeps_the_protocols_filters_on_a_residual_network():
    """On notebook 09's ResNet (residual groups of several layers) the importance mixes per layer, then takes the
    group's mean, as the protocol (lib.core.prune with lib.criteria.filters.flexrel's scores) does."""
    torch.manual_seed(0)
    net = models.resnet18(10, 1, 0.125).eval()
    x, y = torch.randn(8, 1, 32, 32), torch.randint(0, 10, (8,))
    convs = {n for n, m in prune.prunable_layers(net).items() if isinstance(m, torch.nn.Conv2d)}
    scores = filters.flexrel(
        {n: s for n, s in filters.magnitude(net).items() if n in convs},
        {n: s for n, s in filters.relevance(net, x, y).items() if n in convs},
        0.5,
    )
    ours = prune.prune(net, scores, 0.3, example_inputs=x[:1])
    model = copy.deepcopy(net)
    tp.pruner.BasePruner(
        model,
        x[:1],
        importance=FlexRelImportance(RelevanceImportance(model, x, y), delta=0.5),
        pruning_ratio=0.3,
        ignored_layers=[model[-1]],
    ).step()
    for name, layer in prune.prunable_layers(ours).items():
        torch.testing.assert_close(dict(model.named_modules())[name].weight, layer.weight, rtol=0, atol=0)


def test_the_contribution_reads_every_consumer_and_keeps_the_reproductions_filters():
    torch.manual_seed(0)
    net = models.resnet18(10, 1, 0.125).eval()
    x = torch.randn(8, 1, 32, 32)
    reads = filters.consumers(net, x)
    _, block = dict(net.named_modules())["0"], net[3][0]
    assert {block.conv1, net[3][1].conv1} <= set(reads["0"]) and reads["3.0.conv1"] == [block.conv2]
    scores = filters.filter_contribution(net, x)
    torch.testing.assert_close(scores["0"], scores["3.0.conv2"])  # one residual stream: one score
    assert not torch.equal(scores["0"], scores["3.0.conv1"])
    vgg = models.vgg16(10, 1, 0.125, batch_norm=True, image_size=32).eval()
    ours = prune.prune(
        vgg,
        {
            n: s
            for n, s in filters.filter_contribution(vgg, x).items()
            if isinstance(dict(vgg.named_modules())[n], torch.nn.Conv2d)
        },
        0.3,
        example_inputs=x[:1],
    )
    model = copy.deepcopy(vgg)
    ignored = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
    tp.pruner.BasePruner(
        model,
        x[:1],
        importance=CriterionImportance(model, "contribution", x),
        pruning_ratio=0.3,
        ignored_layers=ignored,
    ).step()
    for name, layer in prune.prunable_layers(ours).items():
        torch.testing.assert_close(dict(model.named_modules())[name].weight, layer.weight, rtol=0, atol=0)


def test_a_bad_delta_or_another_network_is_refused():
    net = models.vgg16(10, 1, 0.0625, batch_norm=True, image_size=32).eval()
    x = torch.randn(2, 1, 32, 32)
    with pytest.raises(ValueError, match="delta"):
        FlexRelImportance(RelevanceImportance(net, x), delta=1.5)
    other = copy.deepcopy(net)  # a pruner on another network than the importance's: refused, not a silent no-op
    ignored = [m for m in other.modules() if isinstance(m, torch.nn.Linear)]
    with pytest.raises(ValueError, match="has no score"):
        tp.pruner.BasePruner(
            other, x[:1], importance=RelevanceImportance(net, x), pruning_ratio=0.3, ignored_layers=ignored
        ).step()


def test_the_public_names_resolve_from_the_top_of_pruning_companion_and_prune_score_and_save(tmp_path):
    """Each name ``lib.PUBLIC`` lists, taken from the top of the installed package, is the object its module defines
    (not another name's), and together they prune, re-estimate BatchNorm, record and save a network."""
    import pruning_companion as pc

    from lib import PUBLIC

    assert set(PUBLIC) == {
        "FlexRelImportance",
        "RelevanceImportance",
        "CriterionImportance",
        "recalibrate_batchnorm",
        "pruning_record",
        "save",
    }
    for name, module in PUBLIC.items():
        found = getattr(pc, name)
        assert (found.__name__, found.__module__) == (name, f"pruning_companion.{module}")
    with pytest.raises(AttributeError, match="has no attribute 'prune'"):
        pc.prune  # noqa: B018 - the lookup is the test
    torch.manual_seed(0)
    model = torchvision.models.resnet18(num_classes=10).eval()
    unpruned, x, y = copy.deepcopy(model), torch.rand(4, 3, 32, 32), torch.randint(0, 10, (4,))
    for importance in (
        pc.FlexRelImportance(pc.RelevanceImportance(model, x, y), delta=0.5),
        pc.CriterionImportance(model, "magnitude"),
    ):
        tp.pruner.BasePruner(model, x[:1], importance=importance, pruning_ratio=0.2, ignored_layers=[model.fc]).step()
    pc.recalibrate_batchnorm(model, [(x, y)], 1)
    record = pc.save(model.eval(), x[:2], tmp_path / "pruned", {"pruning": pc.pruning_record(unpruned, model, x[:1])})
    assert record["pruning"]["filters_kept"]["conv1"] == [kept(kept(64, 0.2), 0.2), 64]
    assert {p.name for p in (tmp_path / "pruned").iterdir()} == {"model.pt2", "state_dict.pt", "record.json"}


@pytest.mark.slow
def test_the_installed_package_is_pruning_companion_beside_a_users_own_lib_folder(tmp_path):
    """``pip install .`` installs the package as ``pruning_companion`` (no top-level ``lib``), and its public
    names import and prune from a folder where the user's own ``lib/`` package comes first on the path."""
    source, target = tmp_path / "source", tmp_path / "site"  # built from a copy: the build leaves build/ behind
    shutil.copytree(ROOT / "lib", source / "lib", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", source)
    pip = [sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check", "--no-deps"]
    subprocess.run([*pip, "--no-build-isolation", "--target", str(target), str(source)], check=True, cwd=tmp_path)
    assert sorted(p.name for p in target.iterdir() if not p.name.endswith(".dist-info")) == ["pruning_companion"]
    assert (target / "pruning_companion" / "publish" / "templates").is_dir()
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "__init__.py").write_text("raise ImportError('the user lib was imported')\n")
    script = (
        "import sys, torch, torchvision, torch_pruning as tp\n"
        "import pruning_companion\n"
        "from pruning_companion import FlexRelImportance, recalibrate_batchnorm\n"
        "model = torchvision.models.mobilenet_v2(num_classes=10).eval()\n"
        "x, y = torch.rand(4, 3, 32, 32), torch.randint(0, 10, (4,))\n"
        "tp.pruner.BasePruner(model, x[:1], importance=FlexRelImportance(model, x, y), pruning_ratio=0.3).step()\n"
        "recalibrate_batchnorm(model, [(x, y)], 1)\n"
        "print(pruning_companion.__file__, tuple(model(x).shape), 'lib' in sys.modules)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(target)}
    out = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    path, shape, lib_loaded = out.stdout.split()[0], out.stdout.split()[1:3], out.stdout.split()[3]
    assert path.startswith(str(target)) and shape == ["(4,", "10)"] and lib_loaded == "False", out.stdout


@pytest.mark.slow
def test_global_pruning_compares_layers_on_flexrels_per_layer_scale():
    """The README's global-pruning note: one threshold over every layer of a ResNet-18 cuts every layer by FlexRel
    (min-max within each layer, eq. (1)), while raw relevance leaves a whole layer standing."""
    widths = {}
    for name in ("relevance", "flexrel"):
        torch.manual_seed(0)
        model = torchvision.models.resnet18(num_classes=10).eval()
        x, y = torch.rand(16, 3, 64, 64), torch.randint(0, 10, (16,))
        before = {n: m.out_channels for n, m in model.named_modules() if isinstance(m, torch.nn.Conv2d)}
        importance = RelevanceImportance(model, x, y) if name == "relevance" else FlexRelImportance(model, x, y)
        tp.pruner.BasePruner(model, x[:1], importance=importance, pruning_ratio=0.3, global_pruning=True).step()
        widths[name] = {n: (before[n], m.out_channels) for n, m in model.named_modules() if n in before}
    assert all(after < n for n, after in widths["flexrel"].values()), widths["flexrel"]
    assert any(after == n for n, after in widths["relevance"].values()), widths["relevance"]

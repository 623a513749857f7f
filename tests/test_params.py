"""params.yaml validation: every bad key, profile, dataset or type is named before any work."""

import copy
import subprocess
import sys

import pytest
import torch
import yaml

from lib.core import data, models, prune, train
from lib.criteria import contribution, filters
from lib.criteria.registry import COMPOSITES, CRITERIA
from lib.params import catalogue, paths, profiles
from lib.params.flexrel import BASELINES, FLEXREL_METHODS, FLEXREL_MODELS, NORMALISATIONS, PARTNERS
from lib.params.profiles import validate
from lib.params.schema import DATASETS, DEVICES, OPTIMIZERS, READINGS, SCHEDULES, SCOPES, SHIFTS, ParamsError
from lib.params.studies import VARIANTS
from lib.protocols import base_networks


@pytest.fixture
def raw():
    return profiles.read()


def test_committed_params_are_valid_and_complete(raw):
    built = validate(raw)
    assert set(built) == set(profiles.PROFILES)
    assert raw["profile"] == "default"


@pytest.mark.parametrize(
    "mutate, words",
    [
        (lambda r: r.update(profile="fast"), ["profile", "'fast'", "smoke"]),
        (lambda r: r.update(sedd=1), ["sedd", "allowed"]),
        (lambda r: r.update(seed="zero"), ["seed", "'zero'"]),
        (lambda r: r["data"].update(datasets=["MNIST", "SVHN"]), ["data.datasets", "'SVHN'", "CIFAR10"]),
        (
            lambda r: r["profiles"]["smoke"]["data"].update(datasets=["SVHN"]),
            ["data.datasets", "'SVHN'", "profile 'smoke'"],
        ),
        (lambda r: r["data"].update(gird=3), ["data.gird", "allowed keys"]),
        (
            lambda r: r["profiles"]["paper"]["flexrel"].update(lr_sched="step"),
            ["profiles.paper.flexrel.lr_sched", "allowed keys"],
        ),
        (lambda r: r["data"].pop("grid"), ["missing", "data.grid"]),
        (
            lambda r: r["profiles"]["paper"]["data"].update(grid="many"),
            ["profiles.paper.data.grid", "'many'", "wrong type"],
        ),
        (lambda r: r["profiles"]["default"].pop("rank"), ["profiles.default.rank is missing", "rank: {}"]),
        (lambda r: r["profiles"]["cifar"].update(split_learning=None), ["profiles.cifar.split_learning", "mapping"]),
        (lambda r: r["profiles"].update(huge={}), ["'huge'", "allowed"]),
        (lambda r: r["profiles"]["cifar"].update(extra={}), ["'extra'", "section"]),
        (lambda r: r["flexrel"].update(bn_batches=-3), ["flexrel.bn_batches", "-3", "out of range"]),
        (lambda r: r["flexrel"].update(methods=["magnitude"]), ["flexrel.methods", "'random'"]),
        (
            lambda r: r["profiles"]["smoke"]["flexrel"].update(lr_schedule="step"),
            ["flexrel.lr_schedule", "'step'", "onecycle"],
        ),
        (lambda r: r["profiles"]["smoke"]["flexrel"].update(factors=[0.0, 0.5]), ["flexrel.factors", "unpruned"]),
        (lambda r: r["vae"].update(seeds=[]), ["vae.seeds", "empty"]),
        (lambda r: r["rank"].update(seeds=[0, 1, 0]), ["rank.seeds", "[0, 1, 0]", "distinct"]),
        (lambda r: r["vae"].update(device="gpu"), ["vae.device", "'gpu'", "cuda"]),
        (lambda r: r["profiles"]["smoke"]["rank"].update(device="mps"), ["rank.device", "'mps'", "auto"]),
        (lambda r: r["flexrel"].update(unfolded_input="split"), ["flexrel.unfolded_input", "'split'", "share"]),
        (lambda r: r["profiles"]["smoke"]["vae"].update(amp=True), ["vae.amp", "'cpu'", "CUDA only"]),
        (lambda r: r["rank"].update(amp="yes"), ["rank.amp", "'yes'", "wrong type"]),
        (
            lambda r: r["profiles"]["paper"]["flexrel"].update(baselines=["bn_scale"]),
            ["bn_scale", "'vgg16'", "no BatchNorm"],
        ),
        (lambda r: r["flexrel"].update(composite="LRPZPlus"), ["flexrel.composite", "'LRPZPlus'", "EpsilonGammaBox"]),
        (lambda r: r["flexrel"].update(relevance_split="unseen", train_subset=None), ["unseen", "train_subset"]),
        (lambda r: r["studies"].update(variants=["images=3"]), ["studies.variants", "'images=3'", "images=128"]),
        (lambda r: r["studies"].update(shifts=["none"]), ["studies.shifts", "'none'", "rotate"]),
        (
            lambda r: r["profiles"]["smoke"]["flexrel"].update(model="lenet300", baselines=[]),
            ["lenet300", "prune_linear"],
        ),
    ],
)
def test_bad_params_are_rejected_with_key_value_and_choices(raw, mutate, words):
    bad = copy.deepcopy(raw)
    mutate(bad)
    with pytest.raises(ParamsError) as err:
        validate(bad)
    for word in words:
        assert word in str(err.value), f"{word!r} missing from: {err.value}"


def test_command_line_check_fails_on_a_bad_file(tmp_path, raw):
    bad = copy.deepcopy(raw)
    bad["profile"] = "turbo"
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(bad))
    with pytest.raises(ParamsError, match="turbo"):
        profiles.load("data", path=path)
    ok = subprocess.run([sys.executable, "-m", "lib.params"], capture_output=True, text=True, cwd=paths.ROOT)
    assert ok.returncode == 0 and "valid" in ok.stdout


def test_a_yaml_syntax_error_is_one_line_with_its_place(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text("profile: default\nflexrel:\n  lr: [0.1\n  seeds: [0]\n")
    with pytest.raises(ParamsError) as err:
        profiles.read(path)
    assert "\n" not in str(err.value) and "line" in str(err.value), err.value


def test_replace_checks_like_the_file():
    p = profiles.load("flexrel", "default")
    assert p.replace(lr=p.lr / 2).lr == p.lr / 2 and p.replace(lr=p.lr / 2) != p
    with pytest.raises(ParamsError, match=r"flexrel.lr = -1.0 is out of range"):
        p.replace(lr=-1.0)


def test_registries_match_their_implementations():
    """Every choice list of lib.params (torch-free) names exactly what its implementation provides."""
    assert set(contribution.CONTRIBUTION_PRESETS) == set(READINGS)
    assert set(data.SPECS) == set(DATASETS)
    # the catalogue params.yaml's choices come from (torch-free) has an implementation for every entry, and nothing
    # else is registered: a criterion that scores, a composite, a network's builder
    assert list(COMPOSITES) == list(catalogue.COMPOSITES)
    assert list(CRITERIA) == [n for n, c in catalogue.CRITERIA.items() if c.scores]
    assert all(CRITERIA[n].entry is catalogue.CRITERIA[n] for n in CRITERIA)
    assert list(FLEXREL_METHODS) == ["magnitude", "magnitude_bn", "relevance", "flexrel", "random"]
    assert list(BASELINES) == ["taylor", "lamp", "bn_scale", "contribution"]
    assert set(PARTNERS) == set(CRITERIA) - {"relevance"}
    assert set(models.BUILDERS) == set(catalogue.NETWORKS) == set(FLEXREL_MODELS)
    weight = [torch.nn.Parameter(torch.zeros(1))]
    made = {o: train.make_optimizer(o, weight, 0.1, momentum=0.9) for o in OPTIMIZERS}
    assert {o: (type(m).__name__, m.defaults.get("nesterov")) for o, m in made.items()} == {
        "sgd": ("SGD", False),
        "nesterov": ("SGD", True),
        "adam": ("Adam", None),
    }
    opt = train.make_optimizer("sgd", weight, 0.1)
    assert {s: type(train.make_scheduler(s, opt, 10)).__name__ for s in SCHEDULES} == {
        "constant": "NoneType",
        "cosine": "CosineAnnealingLR",
        "onecycle": "OneCycleLR",
    }
    with pytest.raises(ValueError):
        train.make_optimizer("lbfgs", weight, 0.1)
    assert {train.device(d).type for d in DEVICES if d != "cuda"} <= {"cpu", "cuda"}
    x = torch.rand(4, 1, 28, 28)
    assert all(data.shift(x, "MNIST", s).shape == x.shape for s in SHIFTS)
    scores = {"a": torch.tensor([1.0, 2.0]), "b": torch.tensor([3.0, 5.0])}
    assert all(set(filters.flexrel(scores, scores, 0.5, n, {"a": 1, "b": 1})) == {"a", "b"} for n in NORMALISATIONS)
    kinds = {}
    for name in FLEXREL_MODELS:
        model = base_networks.build(
            profiles.load("flexrel", "smoke").replace(model=name, prune_linear=True, baselines=[]), 0
        )
        kinds[name] = (
            any(isinstance(m, torch.nn.Conv2d) for m in model.modules()),
            any(isinstance(m, torch.nn.BatchNorm2d) for m in model.modules()),
        )
    assert kinds == {
        "vgg16_bn": (True, True),
        "vgg16": (True, False),
        "lenet300": (False, False),
        "resnet18": (True, True),
    }
    assert kinds == {n: (net.convolutional, net.batchnorm) for n, net in catalogue.NETWORKS.items()}
    mlp = models.mlp([8, 6, 4, 2])
    s = prune.random_scores(mlp, 0)
    for scope in SCOPES:
        assert (
            prune.count(prune.prune(mlp, s, 0.5, scope, torch.zeros(1, 8)), torch.zeros(1, 8))["params"]
            < 8 * 6 + 6 * 4 + 4 * 2 + 12
        )


def test_every_variant_applies_to_the_default_flexrel_section():
    """Each row of notebook 07 is a valid section (its overrides are checked like params.yaml's)."""
    p = profiles.load("flexrel", "default")
    for name, spec in VARIANTS.items():
        assert p.replace(**spec["flexrel"]) != p, f"{name} repeats the default: a row that varies nothing"
        p.replace(**spec.get("baseline", {}))


def test_params_hold_each_value_once(raw):
    repeated = [
        f"profiles.{name}.{section}.{key}"
        for name, block in raw["profiles"].items()
        for section, over in block.items()
        for key, value in over.items()
        if raw[section].get(key) == value
    ]
    assert not repeated, f"overrides equal to the base value: {repeated}"

"""params.yaml validation: every bad key, profile, dataset or type is named before any work."""

import copy
import subprocess
import sys

import pytest
import torch
import yaml

from lib import config
from lib.config import ParamsError, validate


@pytest.fixture
def raw():
    return config.read()


def test_committed_params_are_valid_and_complete(raw):
    built = validate(raw)
    assert set(built) == set(config.PROFILES)
    assert raw["profile"] == "default"


@pytest.mark.parametrize(
    "mutate, words",
    [
        (lambda r: r.update(profile="fast"), ["profile", "'fast'", "smoke"]),
        (lambda r: r.update(sedd=1), ["sedd", "allowed"]),
        (lambda r: r.update(seed="zero"), ["seed", "'zero'"]),
        (lambda r: r["data"].update(datasets=["MNIST", "SVHN"]), ["data.datasets", "'SVHN'", "CIFAR10"]),
        (lambda r: r["profiles"]["smoke"]["data"].update(datasets=["SVHN"]), ["data.datasets", "'SVHN'", "profile 'smoke'"]),
        (lambda r: r["data"].update(gird=3), ["data.gird", "allowed keys"]),
        (lambda r: r["profiles"]["paper"]["flexrel"].update(lr_sched="step"), ["profiles.paper.flexrel.lr_sched", "allowed keys"]),
        (lambda r: r["data"].pop("grid"), ["missing", "data.grid"]),
        (lambda r: r["profiles"]["paper"]["data"].update(grid="many"), ["profiles.paper.data.grid", "'many'", "wrong type"]),
        (lambda r: r["profiles"]["default"].pop("rank"), ["profiles.default.rank is missing", "rank: {}"]),
        (lambda r: r["profiles"]["cifar"].update(split=None), ["profiles.cifar.split", "mapping"]),
        (lambda r: r["profiles"].update(huge={}), ["'huge'", "allowed"]),
        (lambda r: r["profiles"]["cifar"].update(extra={}), ["'extra'", "section"]),
        (lambda r: r["flexrel"].update(bn_batches=-3), ["flexrel.bn_batches", "-3", "out of range"]),
        (lambda r: r["flexrel"].update(methods=["magnitude"]), ["flexrel.methods", "'random'"]),
        (lambda r: r["profiles"]["smoke"]["flexrel"].update(lr_schedule="step"), ["flexrel.lr_schedule", "'step'", "onecycle"]),
        (lambda r: r["profiles"]["smoke"]["flexrel"].update(factors=[0.0, 0.5]), ["flexrel.factors", "unpruned"]),
        (lambda r: r["vae"].update(seeds=[]), ["vae.seeds", "empty"]),
        (lambda r: r["rank"].update(seeds=[0, 1, 0]), ["rank.seeds", "[0, 1, 0]", "distinct"]),
        (lambda r: r["vae"].update(device="gpu"), ["vae.device", "'gpu'", "cuda"]),
        (lambda r: r["profiles"]["smoke"]["rank"].update(device="mps"), ["rank.device", "'mps'", "auto"]),
        (lambda r: r["flexrel"].update(unfolded_input="split"), ["flexrel.unfolded_input", "'split'", "share"]),
        (lambda r: r["profiles"]["smoke"]["vae"].update(amp=True), ["vae.amp", "'cpu'", "CUDA only"]),
        (lambda r: r["rank"].update(amp="yes"), ["rank.amp", "'yes'", "wrong type"]),
        (lambda r: r["profiles"]["paper"]["flexrel"].update(baselines=["bn_scale"]), ["bn_scale", "'vgg16'", "no BatchNorm"]),
        (lambda r: r["flexrel"].update(composite="LRPZPlus"), ["flexrel.composite", "'LRPZPlus'", "EpsilonGammaBox"]),
        (lambda r: r["flexrel"].update(relevance_split="unseen", train_subset=None), ["unseen", "train_subset"]),
        (lambda r: r["beyond"].update(variants=["images=3"]), ["beyond.variants", "'images=3'", "images=128"]),
        (lambda r: r["beyond"].update(shifts=["none"]), ["beyond.shifts", "'none'", "rotate"]),
        (lambda r: r["profiles"]["smoke"]["flexrel"].update(model="lenet300", baselines=[]), ["lenet300", "prune_linear"]),
    ],
)
def test_bad_params_are_rejected_with_key_value_and_choices(raw, mutate, words):
    bad = copy.deepcopy(raw)
    mutate(bad)
    with pytest.raises(ParamsError) as err:
        validate(bad)
    for word in words:
        assert word in str(err.value), f"{word!r} missing from: {err.value}"


def test_command_line_check_fails_on_a_bad_file(tmp_path, raw, monkeypatch):
    bad = copy.deepcopy(raw)
    bad["profile"] = "turbo"
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(bad))
    monkeypatch.setattr(config, "PARAMS_FILE", path)
    with pytest.raises(ParamsError, match="turbo"):
        config.load("data", path=path)
    ok = subprocess.run([sys.executable, "-m", "lib.config"], capture_output=True, text=True, cwd=config.ROOT)
    assert ok.returncode == 0 and "valid" in ok.stdout


def test_config_hash_is_stable_and_sensitive():
    a = {"x": 1, "y": [1, 2]}
    assert config.config_hash(a) == config.config_hash({"y": [1, 2], "x": 1})
    assert config.config_hash(a) != config.config_hash({"x": 2, "y": [1, 2]})


def test_registries_match_their_implementations():
    from lib import contribution, train

    assert set(contribution.CONTRIBUTION_PRESETS) == set(config.READINGS)
    assert all(train.make_optimizer(o, [torch.nn.Parameter(torch.zeros(1))], 0.1) for o in config.OPTIMIZERS)


def test_every_variant_applies_to_the_default_flexrel_section():
    """Each row of notebook 07 is a valid section (its overrides are checked like params.yaml's)."""
    import dataclasses

    p = config.load("flexrel", "default")
    for name, spec in config.VARIANTS.items():
        for key in ("flexrel", "baseline"):
            q = dataclasses.replace(p, **spec.get(key, {}))
            assert all(getattr(q, k) == v for k, v in spec.get(key, {}).items()), name
    assert set(config.BASELINES) == {"contribution"} | set(__import__("lib.scores").scores.LIBRARY)


def test_params_hold_each_value_once(raw):
    repeated = [f"profiles.{name}.{section}.{key}" for name, block in raw["profiles"].items() for section, over in block.items()
                for key, value in over.items() if raw[section].get(key) == value]
    assert not repeated, f"overrides equal to the base value: {repeated}"

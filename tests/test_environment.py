"""The pins: exact, the torch pair, environment.yml in step, and what is installed matches."""

import re
from importlib.metadata import version

import yaml

from lib.params.paths import ROOT

REQUIRED = {
    "torch",
    "torchvision",
    "zennit",
    "torch-pruning",
    "papermill",
    "ipykernel",
    "jupyterlab",
    "scipy",
    "statsmodels",
    "matplotlib",
    "seaborn",
    "dvc",
    "pandas",
    "tqdm",
    "pytest",
    "pydantic",
    "jinja2",
    "submitit",
    "ruff",
}


def pins() -> dict[str, str]:
    lines = [raw.split("#")[0].strip() for raw in (ROOT / "requirements.txt").read_text().splitlines()]
    out = {}
    for line in filter(None, lines):
        m = re.fullmatch(r"([A-Za-z0-9_.\-]+)==([0-9][^\s;]*)", line)
        assert m, f"requirements.txt: {line!r} is not an exact pin (name==version)"
        out[m[1].lower()] = m[2]
    return out


def test_every_direct_dependency_is_pinned_exactly():
    p = pins()
    assert REQUIRED <= set(p), f"not pinned: {sorted(REQUIRED - set(p))}"
    assert p["torch"] == "2.14.1" and p["torchvision"] == "0.29.1"


def test_environment_yml_uses_the_same_pins():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    deps = env["dependencies"]
    assert "conda-forge" in env["channels"]
    assert "python=3.11" in deps and "pip" in deps
    pip_block = next(d for d in deps if isinstance(d, dict))["pip"]
    assert "-r requirements.txt" in pip_block
    # no second, diverging pin of a package listed in requirements.txt
    assert not [d for d in pip_block if isinstance(d, str) and d.split("==")[0].lower() in pins()]


def test_installed_versions_match_the_pins():
    for name, pinned in pins().items():
        installed = version(name).split("+")[0]
        assert installed == pinned, f"{name}: installed {installed}, pinned {pinned}"

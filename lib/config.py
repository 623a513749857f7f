"""Parameters: ``params.yaml``, its profiles, and their validation.

``params.yaml`` names the active ``profile`` and a ``seed`` at the top level and holds one block per
profile under ``profiles:``; each block has one section per group of notebooks (``data`` for
``00_data``, ...). Every section is a frozen dataclass below: its fields are the only keys allowed,
with their types, so a typo or a wrong type stops the run before any work with a message naming the
key, the value and what is allowed.

Run ``python -m lib.config`` to validate the file and print the active profile.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import random
import sys
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml

ROOT = Path(__file__).resolve().parents[1]
PARAMS_FILE = ROOT / "params.yaml"
DATA_ROOT = ROOT / "data"
RESULTS = ROOT / "results"
FIGURES = ROOT / "figures"
#: Finished training runs, keyed by a hash of their configuration (resumable stages).
RUNS = ROOT / "cache" / "runs"

PROFILES = ("smoke", "default", "paper", "cifar")
DATASETS = ("MNIST", "FashionMNIST", "CIFAR10", "CIFAR100", "CelebA", "ImageNet")


class ParamsError(ValueError):
    """``params.yaml`` is malformed: the message names the key, the value and what is allowed."""


@dataclass(frozen=True)
class DataParams:
    """Section ``data`` (notebook ``00_data``).

    Attributes
    ----------
    datasets
        Datasets to fetch (``make data``) and to show; any of ``DATASETS``.
    grid
        Number of sample images per dataset in the sample grid.
    """

    datasets: list[str]
    grid: int

    def __post_init__(self) -> None:
        for name in self.datasets:
            _check_choice("data.datasets", name, DATASETS)
        _check_range("data.grid", self.grid, 1, 1024)


SECTIONS: dict[str, type] = {"data": DataParams}
TOP_LEVEL = ("profile", "seed", "profiles")


def _check_choice(key: str, value: Any, allowed: typing.Iterable[Any]) -> None:
    allowed = tuple(allowed)
    if value not in allowed:
        raise ParamsError(f"params.yaml: {key} = {value!r} is not allowed; choose one of {list(allowed)}")


def _check_range(key: str, value: float, low: float, high: float) -> None:
    if not low <= value <= high:
        raise ParamsError(f"params.yaml: {key} = {value!r} is out of range; allowed: {low} ≤ {key} ≤ {high}")


def _matches(value: Any, hint: Any) -> bool:
    """Whether a YAML value fits a (simple) type hint: int, float, str, bool, None, list[...], unions."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return any(_matches(value, h) for h in typing.get_args(hint))
    if origin is list:
        (item,) = typing.get_args(hint)
        return isinstance(value, list) and all(_matches(v, item) for v in value)
    if hint is type(None):
        return value is None
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, hint)


def _build(section: str, cls: type, raw: Any, where: str) -> Any:
    if not isinstance(raw, dict):
        raise ParamsError(f"params.yaml: {where} must be a mapping of keys, got {raw!r}")
    hints = typing.get_type_hints(cls)
    fields = [f.name for f in dataclasses.fields(cls)]
    for key in raw:
        if key not in fields:
            raise ParamsError(f"params.yaml: unknown key {where}.{key} (value {raw[key]!r}); allowed keys: {fields}")
    for key in fields:
        if key not in raw:
            raise ParamsError(f"params.yaml: missing key {where}.{key}; section '{section}' needs {fields}")
        if not _matches(raw[key], hints[key]):
            raise ParamsError(f"params.yaml: {where}.{key} = {raw[key]!r} has the wrong type; expected {hints[key]}")
    try:
        return cls(**raw)
    except ParamsError as err:  # say which profile the offending value sits in
        raise ParamsError(f"{err} (in {where})") from None


def validate(raw: Any) -> dict[str, dict[str, Any]]:
    """Check a parsed ``params.yaml`` completely and return ``{profile: {section: dataclass}}``.

    Raises
    ------
    ParamsError
        On an unknown or missing key, an unknown profile or dataset, a wrong type or a value out of range.
    """
    if not isinstance(raw, dict):
        raise ParamsError("params.yaml must be a mapping with keys " + str(list(TOP_LEVEL)))
    for key in raw:
        if key not in TOP_LEVEL:
            raise ParamsError(f"params.yaml: unknown top-level key {key!r} (value {raw[key]!r}); allowed: {list(TOP_LEVEL)}")
    for key in TOP_LEVEL:
        if key not in raw:
            raise ParamsError(f"params.yaml: missing top-level key {key!r}")
    _check_choice("profile", raw["profile"], PROFILES)
    if not _matches(raw["seed"], int):
        raise ParamsError(f"params.yaml: seed = {raw['seed']!r} must be an integer")
    profiles = raw["profiles"]
    if not isinstance(profiles, dict):
        raise ParamsError("params.yaml: profiles must be a mapping of profile name to sections")
    for name in profiles:
        _check_choice("profiles.<name>", name, PROFILES)
    built: dict[str, dict[str, Any]] = {}
    for name in PROFILES:
        block = profiles.get(name)
        if not isinstance(block, dict):
            raise ParamsError(f"params.yaml: profile {name!r} is missing or not a mapping (needs sections {list(SECTIONS)})")
        for section in block:
            _check_choice(f"profiles.{name}.<section>", section, SECTIONS)
        built[name] = {s: _build(s, cls, block.get(s), f"profiles.{name}.{s}") for s, cls in SECTIONS.items()}
    return built


def read(path: Path = PARAMS_FILE) -> dict[str, Any]:
    """Parse ``params.yaml`` (no validation)."""
    with open(path) as f:
        return yaml.safe_load(f)


def active_profile(path: Path = PARAMS_FILE, profile: str | None = None) -> str:
    """The profile to run: ``profile`` if given (checked), else the one ``params.yaml`` names."""
    raw = read(path)
    validate(raw)
    name = raw["profile"] if profile is None else profile
    _check_choice("profile", name, PROFILES)
    return name


def load(section: str, profile: str | None = None, path: Path = PARAMS_FILE) -> Any:
    """Validate the whole ``params.yaml`` and return one section of a profile as its dataclass.

    Parameters
    ----------
    section
        One of ``SECTIONS``.
    profile
        Profile to use; ``None`` means the one named by ``profile:`` in the file.
    path
        The parameters file.
    """
    _check_choice("section", section, SECTIONS)
    raw = read(path)
    built = validate(raw)
    name = raw["profile"] if profile is None else profile
    _check_choice("profile", name, PROFILES)
    return built[name][section]


def seed(path: Path = PARAMS_FILE) -> int:
    """The top-level ``seed`` of ``params.yaml``."""
    raw = read(path)
    validate(raw)
    return int(raw["seed"])


def config_hash(obj: Any) -> str:
    """A short stable hash of a JSON-serialisable configuration (dataclasses allowed)."""
    if dataclasses.is_dataclass(obj):
        obj = dataclasses.asdict(obj)
    text = json.dumps(obj, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def seed_everything(value: int) -> None:
    """Seed python, numpy and torch, and make torch's CPU kernels deterministic."""
    random.seed(value)
    np.random.seed(value)
    torch.manual_seed(value)
    torch.use_deterministic_algorithms(True, warn_only=True)


def main() -> int:
    try:
        name = active_profile()
    except ParamsError as err:
        print(err, file=sys.stderr)
        return 2
    print(f"params.yaml is valid; active profile: {name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

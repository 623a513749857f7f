"""``params.yaml``: its sections, its profiles, and one message for whatever is wrong in it.

``params.yaml`` names the active ``profile`` and a ``seed`` at the top level, holds every section once (the
``default`` profile), and under ``profiles:`` a short block of overrides per profile — every section present,
``{}`` where it overrides nothing (the stages track ``profiles.<active>.<section>``, see ``dvc.yaml``). A
profile's section is the base section updated by its overrides, validated by its schema (:data:`SECTIONS`): a
typo, a wrong type or a value out of range stops the run before any work with one message naming the key, the
value and what is allowed (:class:`lib.params.schema.ParamsError`).

Run ``python -m lib.params`` to validate the file and print the active profile (every stage runs it first).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from .data import DataParams
from .flexrel import FlexRelParams
from .paths import PARAMS_FILE
from .rank import RankParams
from .schedule import ScheduleParams
from .schema import ParamsError, Section, message
from .split_learning import SplitLearningParams
from .studies import StudiesParams
from .vae import VaeParams

PROFILES = ("smoke", "default", "powered", "paper", "cifar")
#: Every section of ``params.yaml`` and its schema.
SECTIONS: dict[str, type[Section]] = {
    cls.SECTION: cls
    for cls in (DataParams, FlexRelParams, SplitLearningParams, RankParams, VaeParams, StudiesParams, ScheduleParams)
}
TOP_LEVEL = ("profile", "seed", *SECTIONS, "profiles")


def _choice(key: str, value: Any, allowed: tuple) -> None:
    if value not in allowed:
        raise ParamsError(f"params.yaml: {key} = {value!r} is not allowed; choose one of {list(allowed)}")


def _build(section: str, base: Any, overrides: Any, profile: str) -> Section:
    """Section ``section`` of ``profile``: the base section updated by the profile's overrides, validated."""
    for where, raw in ((section, base), (f"profiles.{profile}.{section}", overrides)):
        if not isinstance(raw, dict):
            raise ParamsError(f"params.yaml: {where} must be a mapping of keys (`{{}}` for none), got {raw!r}")
    cls = SECTIONS[section]
    fields = list(cls.model_fields)
    for key, value in overrides.items():  # the base section's own unknown keys are pydantic's to report
        if key not in fields:
            raise ParamsError(
                f"params.yaml: unknown key profiles.{profile}.{section}.{key} (value {value!r}); allowed keys: {fields}"
            )
    try:
        return cls.model_validate({**base, **overrides})
    except ValidationError as err:
        first = err.errors(include_url=False)[0]
        raise ParamsError(
            f"{message(first, fields, lambda key: f'profiles.{profile}.{section}' if key in overrides else section)} "
            f"(profile {profile!r})"
        ) from None


def validate(raw: Any) -> dict[str, dict[str, Section]]:
    """Check a parsed ``params.yaml`` completely and return ``{profile: {section: its schema's instance}}``.

    Raises
    ------
    ParamsError
        On an unknown or missing key, an unknown profile or dataset, a wrong type or a value out of range.
    """
    if not isinstance(raw, dict):
        raise ParamsError("params.yaml must be a mapping with keys " + str(list(TOP_LEVEL)))
    for key in raw:
        if key not in TOP_LEVEL:
            raise ParamsError(
                f"params.yaml: unknown top-level key {key!r} (value {raw[key]!r}); allowed: {list(TOP_LEVEL)}"
            )
    for key in TOP_LEVEL:
        if key not in raw:
            raise ParamsError(f"params.yaml: missing top-level key {key!r}")
    _choice("profile", raw["profile"], PROFILES)
    if not isinstance(raw["seed"], int) or isinstance(raw["seed"], bool):
        raise ParamsError(f"params.yaml: seed = {raw['seed']!r} must be an integer")
    profiles = raw["profiles"]
    if not isinstance(profiles, dict):
        raise ParamsError("params.yaml: profiles must be a mapping of profile name to sections")
    for name in profiles:
        _choice("profiles.<name>", name, PROFILES)
    built: dict[str, dict[str, Section]] = {}
    for name in PROFILES:
        block = profiles.get(name)
        if not isinstance(block, dict):
            raise ParamsError(
                f"params.yaml: profile {name!r} is missing or not a mapping (needs sections {list(SECTIONS)})"
            )
        for section in block:
            _choice(f"profiles.{name}.<section>", section, tuple(SECTIONS))
        for section in SECTIONS:
            if section not in block:
                raise ParamsError(
                    f"params.yaml: profiles.{name}.{section} is missing; write `{section}: {{}}` if the "
                    "profile overrides nothing in it (dvc.yaml tracks it)"
                )
        built[name] = {s: _build(s, raw[s], block[s], name) for s in SECTIONS}
    return built


def read(path: Path = PARAMS_FILE) -> dict[str, Any]:
    """Parse ``params.yaml`` (no validation); a YAML syntax error is one :class:`ParamsError` with its line."""
    try:
        with open(path) as f:
            return yaml.safe_load(f)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise ParamsError(f"{path.name} is not valid YAML{where}: {problem}") from None


def active_profile(path: Path = PARAMS_FILE, profile: str | None = None) -> str:
    """The profile to run: ``profile`` if given (checked), else the one ``params.yaml`` names."""
    raw = read(path)
    validate(raw)
    name = raw["profile"] if profile is None else profile
    _choice("profile", name, PROFILES)
    return name


def load(section: str, profile: str | None = None, path: Path = PARAMS_FILE) -> Any:
    """Validate the whole ``params.yaml`` and return one section of a profile.

    Parameters
    ----------
    section
        One of ``SECTIONS``.
    profile
        Profile to use; ``None`` means the one named by ``profile:`` in the file.
    path
        The parameters file.
    """
    _choice("section", section, tuple(SECTIONS))
    raw = read(path)
    built = validate(raw)
    name = raw["profile"] if profile is None else profile
    _choice("profile", name, PROFILES)
    return built[name][section]


def seed(path: Path = PARAMS_FILE) -> int:
    """The top-level ``seed`` of ``params.yaml``."""
    raw = read(path)
    validate(raw)
    return int(raw["seed"])


def main() -> int:
    """``python -m lib.params``: check ``params.yaml``; exit 2 with one message if anything is wrong."""
    try:
        name = active_profile()
    except ParamsError as err:
        print(err, file=sys.stderr)
        return 2
    print(f"params.yaml is valid; active profile: {name}")
    return 0

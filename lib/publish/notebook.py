"""What every numbered notebook does first, in one call (:func:`setup`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..core import train
from ..params import paths, profiles
from . import plotting


def setup(stage: str, profile: str | None, *sections: str) -> tuple[Any, ...]:
    """Check ``params.yaml``, pick the profile (``None``: the one the file names), seed everything from its
    ``seed``, create ``results/<stage>/`` and set the figure style: ``(profile, out folder, *sections)`` with
    each of ``sections`` as its schema's instance, e.g.
    ``profile, out, p = setup("01_flexrel_accuracy_vs_pruning", None, "flexrel")``."""
    profile = profiles.active_profile(profile=profile)
    train.seed_everything(profiles.seed())
    out: Path = paths.RESULTS / stage
    out.mkdir(parents=True, exist_ok=True)
    plotting.style()
    return (profile, out, *(profiles.load(s, profile) for s in sections))

"""REPRODUCTION.md: its prose is a Jinja2 template (``templates/REPRODUCTION.md.j2``), filled by notebook 99 with
the claims the notebooks judged, the parameters, the machine and the sizing table."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2

TEMPLATES = Path(__file__).parent / "templates"


def tally(counts: dict[str, int]) -> str:
    """``{"reproduced": 3, "inconclusive": 1}`` → ``"inconclusive: 1, reproduced: 3"``."""
    return ", ".join(f"{k}: {v}" for k, v in sorted(counts.items()))


def render(context: dict[str, Any], template: str = "REPRODUCTION.md.j2") -> str:
    """The report, ``template`` filled with ``context`` (an undefined name is an error, not an empty string)."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
    )
    env.filters["tally"] = tally
    return env.get_template(template).render(**context)

"""The names :mod:`lib.criteria` registers — criteria (``@criterion("name", "role", ...)``) and LRP composites
(``@composite("name")``) — read from its source without importing it, so that ``params.yaml``'s choices follow the
one registry (:mod:`lib.criteria.registry`) and this layer stays torch-free. ``tests/test_params.py`` checks that
what is read here is what the registry holds at run time.

>>> registered("criterion")["magnitude"]
('paper',)
>>> "EpsilonPlusFlat" in registered("composite")
True
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

#: Where the criteria and composites are registered, beside their implementations.
SOURCE = Path(__file__).resolve().parents[1] / "criteria" / "filters.py"


@cache
def registered(decorator: str, source: Path = SOURCE) -> dict[str, tuple]:
    """``{name: its other literal arguments}`` of every function in ``source`` decorated ``@<decorator>("name", ...)``,
    in the order they are defined."""
    found = {}
    for node in ast.parse(source.read_text()).body:
        for d in getattr(node, "decorator_list", []):
            if isinstance(d, ast.Call) and getattr(d.func, "id", None) == decorator:
                name, *rest = (ast.literal_eval(a) for a in d.args)
                found[name] = tuple(rest)
    return found

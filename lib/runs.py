"""Resumable runs: each finished run is stored under ``cache/runs/<kind>/<hash of its configuration>``.

A stage that is interrupted and rerun reuses every finished run; a changed parameter changes the hash of
exactly the runs it affects, so only those run again.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from lib.config import RUNS, config_hash


def _path(kind: str, config: dict, suffix: str, root: Path | None) -> Path:
    return (RUNS if root is None else root) / kind / f"{config_hash(config)}{suffix}"


def _atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    write(tmp)
    tmp.replace(path)


def cached(kind: str, config: dict, compute: Callable[[], Any], root: Path | None = None) -> Any:
    """The JSON result of ``compute()`` for ``config``, computed once and then read back (the first call
    returns it as read back too, so both calls give equal values)."""
    path = _path(kind, config, ".json", root)
    if not path.exists():
        text = json.dumps({"config": config, "result": compute()}, default=str)
        _atomic_write(path, lambda p: p.write_text(text))
    return json.loads(path.read_text())["result"]


def cached_model(kind: str, config: dict, build: Callable[[], nn.Module],
                 compute: Callable[[nn.Module], Any], root: Path | None = None) -> tuple[nn.Module, Any]:
    """A model built by ``build()`` and trained in place by ``compute(model)`` (which returns a JSON-able
    record), stored once and then loaded: ``(model, record)``."""
    path = _path(kind, config, ".pt", root)
    model = build()
    if path.exists():
        saved = torch.load(path, weights_only=True)
        model.load_state_dict(saved["state"])
        return model, json.loads(saved["record"])
    record = compute(model)
    state = {"state": model.state_dict(), "record": json.dumps(record, default=str), "config": json.dumps(config, default=str)}
    _atomic_write(path, lambda p: torch.save(state, p))
    return model, record

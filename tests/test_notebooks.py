"""Committed notebooks: no outputs, a `parameters` cell, and one DVC stage each that runs it with papermill."""

import json

import pytest
import yaml

from lib.config import ROOT

NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
STAGES = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]


def test_there_are_notebooks():
    assert NOTEBOOKS and NOTEBOOKS[0].name == "00_data.ipynb"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_committed_without_outputs_and_has_parameters(path):
    nb = json.loads(path.read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert all(not c.get("outputs") and c.get("execution_count") is None for c in code), "strip outputs"
    assert sum("parameters" in c["metadata"].get("tags", []) for c in code) == 1
    assert nb["metadata"]["kernelspec"]["name"] == "python3"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_notebook_has_a_papermill_stage(path):
    stage = STAGES[path.stem]
    assert "papermill -k python3" in stage["cmd"] and f"notebooks/{path.name}" in stage["cmd"]
    assert f"notebooks/{path.name}" in stage["deps"]
    assert f"results/{path.stem}/{path.name}" in [o if isinstance(o, str) else next(iter(o)) for o in stage["outs"]]
    assert {"profile", "seed"} <= set(stage["params"])

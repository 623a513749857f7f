"""Committed notebooks: no outputs, a `parameters` cell, and one DVC stage each that runs it with papermill."""

import ast
import json

import pytest
import yaml

from lib.params import profiles
from lib.params.paths import ROOT
from lib.store import runs

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


def _lib_imports(path) -> set[str]:
    """The lib modules a notebook's code cells import, and the two every stage's command runs."""
    found = {
        "lib.params.profiles",
        "lib.store.machine",
    }  # `python -m lib.params`, then the notebook through lib.store.machine
    for cell in json.loads(path.read_text())["cells"]:
        if cell["cell_type"] == "code":
            found |= runs.lib_imports("".join(cell["source"]))
    return found


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_a_stage_depends_on_exactly_the_lib_modules_its_notebook_runs(path):
    closure = set().union(*(runs.closure(m) for m in _lib_imports(path)))
    declared = {d for d in STAGES[path.stem]["deps"] if d.startswith("lib/") and d.endswith(".py")}
    wanted = {m.replace(".", "/") + ".py" for m in closure if not m.startswith("lib.params.")}
    assert "lib/params" in STAGES[path.stem]["deps"]  # every stage checks params.yaml with the whole package
    assert declared == wanted, (
        f"dvc.yaml {path.stem}: add {sorted(wanted - declared)}, remove {sorted(declared - wanted)}"
    )
    if "lib.publish.report" in closure:  # the report's prose is a template the stage reads too
        assert "lib/publish/templates/REPRODUCTION.md.j2" in STAGES[path.stem]["deps"]
    assert STAGES[path.stem]["cmd"].startswith("python -m lib.params && ")
    assert f"python -m lib.store.machine results/{path.stem}/resources.json papermill" in STAGES[path.stem]["cmd"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_a_stage_tracks_its_sections_in_the_active_profile_only(path):
    params = STAGES[path.stem]["params"]
    sections = [p for p in params if p in profiles.SECTIONS]
    closure = set().union(*(runs.closure(m) for m in _lib_imports(path)))
    every = ["profiles"] if "lib.scale.sizing" in closure else []  # the sizing table reads every profile
    assert (
        sections
        and params == ["profile", "seed"] + [x for s in sections for x in (s, f"profiles.${{profile}}.{s}")] + every
    )


#: What builds or reads a stored run outside a stage's list: a notebook calling one of these would read runs that
#: :func:`lib.protocols.stages.runs_of` does not list.
RUN_MAKERS = {"retention", "recovery", "pretrained", "planned", "arm_runs", "jobs", "run", "bases", "of"}


@pytest.mark.parametrize("stage", sorted(STAGES), ids=str)
def test_a_notebook_gets_its_runs_from_its_stage_list_only(stage):
    """For any profile: a notebook whose stage reads stored runs asks :func:`lib.protocols.stages.runs_of` for exactly
    its own stage's, and builds or reads no run otherwise (``tests/test_pipeline.py`` checks the runs it reads, on
    the smoke pipeline)."""
    from lib.scale.sweep import stages  # importing the sweep registers every stage's run list

    assert len(stages.STAGES) == 9 and set(stages.STAGES) <= set(STAGES)
    nb = json.loads((ROOT / "notebooks" / f"{stage}.ipynb").read_text())
    tree = ast.parse("\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"))
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)]
    asked = [ast.literal_eval(n.args[0]) for n in calls if n.func.attr == "runs_of"]
    assert asked == ([stage] if stage in stages.STAGES else []), asked
    assert not [n.func.attr for n in calls if n.func.attr in RUN_MAKERS], stage

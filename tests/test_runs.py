"""The run store cannot serve a stale result: its keys cover parameters, code and library versions, and a
damaged entry is recomputed, never loaded."""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import pytest
import torch

from lib.params import profiles
from lib.params.paths import ROOT
from lib.protocols import base_networks, flexrel
from lib.scale import store as store_cli
from lib.store import machine, runs
from tests.conftest import write_mnist_like


def counting(value):
    calls = []

    def compute():
        calls.append(1)
        return value

    return compute, calls


@dataclass(frozen=True)
class K(runs.Run):
    kind: ClassVar[str] = "k"


@dataclass(frozen=True)
class M(runs.Run):
    kind: ClassVar[str] = "m"


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.setattr(runs, "RUNS", tmp_path / "runs")
    return tmp_path / "runs"


def test_a_run_is_computed_once_and_keyed_by_its_coordinates(store):
    view = runs.View(profiles.load("data", "smoke"))
    compute, calls = counting({"acc": 0.5})
    assert runs.cached(K(view, 0), compute) == {"acc": 0.5}
    assert runs.cached(K(view, 0), compute) == {"acc": 0.5} and len(calls) == 1
    runs.cached(K(view, 1), compute)
    assert len(calls) == 2 and len(list(runs.entries())) == 2


def test_an_entry_records_what_its_computation_cost_outside_its_key(store):
    view = runs.View(profiles.load("data", "smoke"))
    runs.cached(K(view, 0), lambda: sum(range(10**6)))
    ((path, header, error),) = runs.records()
    assert error is None and header["seconds"] > 0 and header["cpu"]
    timed = header.copy()
    header.update(seconds=123.0, cpu="another CPU")
    assert runs._key(header) == runs._key(timed) == path.stem


def test_a_parameter_a_run_does_not_read_leaves_its_key_and_cannot_be_read():
    p = profiles.load("flexrel", "smoke")
    other = p.replace(lr_post=0.5, post_subset=7, seeds=[5, 6], factors=[0.2])
    assert flexrel.view(p, "flexrel-retention").params() == flexrel.view(other, "flexrel-retention").params()
    assert flexrel.view(p, "flexrel-recovery").params() != flexrel.view(other, "flexrel-recovery").params()
    bn = p.replace(bn_batches=3)
    assert (
        runs.View(p, base_networks.GRID + base_networks.NOT_READ).params()
        == runs.View(bn, base_networks.GRID + base_networks.NOT_READ).params()
    )
    with pytest.raises(AttributeError, match="flexrel.lr_post is not in this run's key"):
        flexrel.view(p, "flexrel-retention").lr_post
    with pytest.raises(ValueError, match="not fields"):
        runs.View(p, ("no_such_field",))


#: Every module that computes stored runs (each stored entry names the module whose code keys it).
PROTOCOLS = (
    "lib.protocols.base_networks",
    "lib.protocols.flexrel",
    "lib.protocols.train_time",
    "lib.protocols.train_time_vae",
    "lib.protocols.crossed",
)


def _edit(lib: Path, module: str, old: str, new: str) -> dict[str, dict[str, str]]:
    """Replace ``old`` by ``new`` in ``module``'s source under ``lib``; every protocol's code key after the edit."""
    path = lib.joinpath(*module.split(".")[1:]).with_suffix(".py")
    source = path.read_text()
    assert old in source, (module, old)
    path.write_text(source.replace(old, new, 1))
    return {m: runs.code(m, lib) for m in PROTOCOLS}


def _changed(before: dict, after: dict) -> set[str]:
    return {m for m in PROTOCOLS if before[m] != after[m]}


def test_editing_a_module_changes_the_code_key_of_exactly_the_runs_that_execute_it(tmp_path):
    lib = shutil.copytree(runs.LIB, tmp_path / "lib")
    before = {m: runs.code(m, lib) for m in PROTOCOLS}
    assert before == {m: runs.code(m) for m in PROTOCOLS}
    assert (
        "lib.criteria.filters" in before["lib.protocols.flexrel"]
        and "lib.criteria.filters" not in before["lib.protocols.base_networks"]
    )
    assert "lib.store.runs" not in before["lib.protocols.flexrel"]  # the store's own code is not part of a result
    after = _edit(lib, "lib.criteria.filters", "abs().flatten(1).mean(1)", "abs().flatten(1).amax(1)")
    assert _changed(before, after) == {"lib.protocols.flexrel", "lib.protocols.crossed"}  # crossed scores by relevance
    again = _edit(lib, "lib.criteria.contribution", "import math", "import math\nFLOOR = 0.0")
    assert _changed(after, again) == {
        "lib.protocols.train_time",
        "lib.protocols.train_time_vae",
        "lib.protocols.crossed",
    }


@pytest.mark.parametrize(
    "module, old, new",
    [
        ("lib.params.flexrel", "Section ``flexrel``", "Section ``flexrel`` (edited)"),  # a docstring
        ("lib.core.train", "from __future__ import annotations", "from __future__ import annotations  # a comment"),
        ("lib.core.prune", "\n\n\ndef ", "\n\n\n\ndef "),  # formatting
        (
            "lib.params.studies",
            '"images=128": {"flexrel": {"relevance_images": 128}},',
            '"images=64": {"flexrel": {"relevance_images": 64}},',
        ),
        (
            "lib.params.profiles",
            'PROFILES = ("smoke", "default", "powered", "paper", "cifar")',
            'PROFILES = ("smoke", "default", "powered", "paper", "cifar", "mine")',
        ),
        ("lib.verdicts.rules", "def judge(", "def judge_edited("),
    ],
)
def test_an_edit_that_cannot_change_a_result_rekeys_no_run(tmp_path, module, old, new):
    """Docstrings, comments and formatting are not code; notebook 07's table, the loader of params.yaml and the
    verdict rules are code of no stored run."""
    lib = shutil.copytree(runs.LIB, tmp_path / "lib")
    before = {m: runs.code(m, lib) for m in PROTOCOLS}
    assert _changed(before, _edit(lib, module, old, new)) == set()


def test_editing_a_sections_schema_rekeys_only_the_runs_that_read_it(tmp_path):
    lib = shutil.copytree(runs.LIB, tmp_path / "lib")
    before = {m: runs.code(m, lib) for m in PROTOCOLS}
    after = _edit(lib, "lib.params.flexrel", 'RELEVANCE_TARGETS = ("label",', 'RELEVANCE_TARGETS = ("logit", "label",')
    # not the base networks, nor the rank paper's runs (the crossed runs score by FlexRel's relevance,
    # whose choices these are)
    assert _changed(before, after) == {"lib.protocols.flexrel", "lib.protocols.crossed"}
    again = _edit(lib, "lib.params.rank", 'RANK_METHODS = ("rank",', 'RANK_METHODS = ("rank", "other",')
    assert _changed(after, again) == {
        "lib.protocols.train_time",
        "lib.protocols.train_time_vae",
        "lib.protocols.crossed",
    }


SCRIPT = """
import json
from lib.params import profiles
from lib.protocols import flexrel, train_time
p = profiles.load("flexrel", "smoke").replace(seeds=[0], train_subset=128, test_subset=64, relevance_images=16,
                        bn_batches=1, device="cpu")
out = {m: flexrel.retention(p, 0, m, 0.5)["row"] for m in ("magnitude", "random")}
r = profiles.load("rank", "smoke").replace(train_subset=128, seeds=[0])
out["rank"] = train_time.run(r, "MNIST", "rank", "paper", 0)[-1]
print(json.dumps(out))
"""


def _stored(repo: Path) -> dict[str, float]:
    return {
        str(p.relative_to(repo / "cache" / "runs")): p.stat().st_mtime_ns for p in (repo / "cache" / "runs").glob("*/*")
    }


@pytest.mark.slow
def test_editing_a_scoring_function_recomputes_the_runs_it_affects_and_nothing_else(tmp_path):
    """A copy of the repository's code: run two FlexRel retention runs and a rank run, change the body of
    ``scores.magnitude`` (prune the filters with the *largest* weights), run again."""
    repo = tmp_path / "repo"
    shutil.copytree(ROOT / "lib", repo / "lib")
    shutil.copy(ROOT / "params.yaml", repo / "params.yaml")
    for name, seed in (("FashionMNIST", 0), ("MNIST", 2)):
        write_mnist_like(repo / "data", name, n_train=128, n_test=64, seed=seed)
    env = {**os.environ, "PYTHONPATH": str(repo)}

    def run() -> dict:
        proc = subprocess.run([sys.executable, "-c", SCRIPT], cwd=repo, env=env, capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr[-3000:]
        return json.loads(proc.stdout.strip().splitlines()[-1])

    first, stored = run(), _stored(repo)
    assert run() == first and _stored(repo) == stored  # a rerun reads everything back
    source = (repo / "lib" / "criteria" / "filters.py").read_text()
    edited = source.replace(
        "return {name: m.weight.detach().abs().flatten(1).mean(1)",
        "return {name: -m.weight.detach().abs().flatten(1).mean(1)",
    )
    assert edited != source
    (repo / "lib" / "criteria" / "filters.py").write_text(edited)
    second, now = run(), _stored(repo)
    new = sorted(k for k in now if k not in stored)
    assert {k.split("/")[0] for k in new} == {"flexrel-scores", "flexrel-retention"}, new
    assert all(now[k] == t for k, t in stored.items())  # nothing stored was rewritten: base network and rank run reused
    assert second["magnitude"]["test_loss"] != first["magnitude"]["test_loss"]  # the figure's number follows the code
    assert second["random"] == first["random"] and second["rank"] == first["rank"]


def test_a_damaged_entry_is_reported_and_recomputed_never_loaded(store):
    view = runs.View(profiles.load("data", "smoke"))
    compute, calls = counting([1, 2, 3])
    runs.cached(K(view, 0), compute)
    (path,) = runs.entries()
    path.write_text(path.read_text()[:-20])  # truncated
    assert store_cli.main(["verify"]) == 1
    with pytest.warns(UserWarning, match="corrupt"):
        assert runs.cached(K(view, 0), compute) == [1, 2, 3]
    assert len(calls) == 2 and store_cli.main(["verify"]) == 0
    stored = json.loads(path.read_text())
    stored["result"] = [1, 2, 4]  # a changed result that still parses
    path.write_text(json.dumps(stored))
    with pytest.warns(UserWarning, match="checksum mismatch"):
        assert runs.cached(K(view, 0), compute) == [1, 2, 3]


def test_a_damaged_model_is_retrained(store):
    view = runs.View(profiles.load("data", "smoke"))
    trained = []

    def fit(model):
        trained.append(1)
        with torch.no_grad():
            model.weight.fill_(2.0)
        return {"ok": True}

    runs.cached_model(M(view, 0), lambda: torch.nn.Linear(3, 2), fit)
    model, record = runs.cached_model(M(view, 0), lambda: torch.nn.Linear(3, 2), fit)
    assert len(trained) == 1 and record == {"ok": True} and model.weight.eq(2).all()
    (path,) = runs.entries()
    raw = bytearray(path.read_bytes())
    raw[raw.find(struct.pack("<6f", *[2.0] * 6)) + 3] ^= 0x01  # one stored weight: 2.0 becomes 8.0
    path.write_bytes(bytes(raw))
    with pytest.warns(UserWarning, match="corrupt"):
        runs.cached_model(M(view, 0), lambda: torch.nn.Linear(3, 2), fit)
    assert len(trained) == 2
    with pytest.raises(FileNotFoundError, match="run stage X"):
        runs.cached_model(M(view, 1), lambda: torch.nn.Linear(3, 2), fit, train=False, missing="run stage X")


def test_the_command_line_lists_explains_and_prunes_stale_entries(store, capsys, monkeypatch):
    smoke = profiles.load("data", "smoke")
    listed, other = K(runs.View(smoke), 0), K(runs.View(smoke.replace(grid=999)), 0)
    monkeypatch.setattr(store_cli, "current", lambda: {listed.identity()})  # what the stages list
    runs.cached(listed, counting(1)[0])
    runs.cached(other, counting(2)[0])
    assert store_cli.main(["list"]) == 0
    assert "k" in capsys.readouterr().out
    current, stale = sorted(runs.entries(), key=lambda p: json.loads(p.read_text())["result"])
    assert store_cli.main(["explain", stale.stem]) == 0
    out = capsys.readouterr().out
    assert '"grid": 999' in out and "no stage of any profile lists it" in out
    assert store_cli.main(["prune", "--stale", "--dry-run"]) == 0 and len(list(runs.entries())) == 2
    assert store_cli.main(["prune", "--stale"]) == 0
    assert list(runs.entries()) == [current]


def test_a_run_a_stage_lists_is_current_and_another_value_is_stale():
    """Notebooks 07-08 store runs on variants of section flexrel: `prune --stale` keeps them, since a stage lists
    them; a run on a value no profile has is stale."""
    from lib.protocols import studies

    now = store_cli.current(("default",))
    p, b = profiles.load("flexrel", "default"), profiles.load("studies", "default")
    variant = next(r for r in studies.arm_runs(studies.sensitivity_arms(p, b), b.factors) if r.arm == "scope=global")
    assert variant.identity() in now and variant.view.params() != flexrel.view(p, "flexrel-retention").params()
    other = flexrel.Pruning.of(p.replace(lr=0.123), "retention", 0, "magnitude", 0.3)
    assert other.identity() not in now
    header = {
        "kind": other.kind,
        "params": other.view.params(),
        "run": other.key(),
        "module": "lib.core.stats",
        "code": runs.code("lib.core.stats"),
        "versions": machine.versions(),
    }
    assert runs.why_stale(header, now) == ["no stage of any profile lists it"]
    assert (
        runs.why_stale({**header, "params": variant.view.params(), "run": variant.key(), "kind": variant.kind}, now)
        == []
    )


def test_the_library_versions_are_in_the_key_and_a_changed_version_or_code_is_named_stale(store, monkeypatch):
    """Another torch (or numpy, zennit, ...) computes a run again under another key, and the first entry comes back
    with the versions restored; `why_stale` names an entry whose code or library versions differ from today's."""
    view = runs.View(profiles.load("data", "smoke"))
    compute, calls = counting({"acc": 0.5})
    runs.cached(K(view, 0), compute)
    installed = machine.versions()
    other = {**installed, "torch": "0.0.1"}
    monkeypatch.setattr(runs, "versions", lambda: other)
    runs.cached(K(view, 0), compute)
    assert len(calls) == 2 and len(list(runs.entries())) == 2
    headers = sorted((h for _, h, _ in runs.records()), key=lambda h: h["versions"]["torch"])
    assert [h["versions"] for h in headers] == [other, installed]
    monkeypatch.setattr(runs, "versions", lambda: installed)
    runs.cached(K(view, 0), compute)
    assert len(calls) == 2  # read back
    current = {K(view, 0).identity()}
    old, new = headers
    assert runs.why_stale(new, current) == []
    assert runs.why_stale(old, current) == [f"versions {other} ≠ installed {installed}"]
    edited = {**new, "code": {**new["code"], "lib.core.stats": "0" * 16}}
    assert runs.why_stale(edited, current) == ["code changed: lib.core.stats"]
    gone = {**new, "module": "lib.no_such_module"}
    assert runs.why_stale(gone, current)[0].startswith("code changed: ") and new["code"]

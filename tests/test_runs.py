"""The run store cannot serve a stale result: its keys cover parameters, code and library versions, and a
damaged entry is recomputed, never loaded."""

from __future__ import annotations

import ast
import json
import os
import random
import shutil
import struct
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import pytest
import torch

from lib.core import code
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
    assert runs._name(header) == runs._name(timed) == path.stem


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


def _edit(lib: Path, module: str, old: str, new: str) -> None:
    """Replace ``old`` by ``new`` once in ``module``'s source under ``lib``."""
    path = code.source(module, lib)
    source = path.read_text()
    assert old in source, (module, old)
    path.write_text(source.replace(old, new, 1))


def _hashes(lib: Path) -> dict[str, str | None]:
    return {u: code.unit_hash(u, lib) for u in code.every_unit(lib)}


def _changed(before: dict, after: dict) -> set[str]:
    return {u for u in before.keys() | after.keys() if before.get(u) != after.get(u)}


def test_a_units_hash_follows_its_body_and_the_module_values_it_reads_and_nothing_else(tmp_path):
    lib = shutil.copytree(code.LIB, tmp_path / "lib")
    before = _hashes(lib)
    assert before == {u: code.unit_hash(u) for u in before} and None not in before.values()
    assert "lib.store.runs:cached" not in before  # the store's own code is no run's
    _edit(
        lib,
        "lib.criteria.filters",
        "    return magnitude(model, fold_batchnorm=True",
        "    return magnitude(model, True",
    )
    after = _hashes(lib)
    assert _changed(before, after) == {"lib.criteria.filters:folded_magnitude"}
    # a module-level value, read through `from ..params.flexrel import NORMALISATIONS`
    _edit(lib, "lib.params.flexrel", "NORMALISATIONS = (", "NORMALISATIONS = ('none', ")
    again = _hashes(lib)
    assert {"lib.criteria.filters:flexrel", "lib.params.flexrel:FlexRelParams"} <= _changed(after, again)
    assert not {"lib.criteria.filters:folded_magnitude", "lib.criteria.filters:magnitude"} & _changed(after, again)
    # a function a module-level value calls at import (METHODS = FLEXREL_METHODS + …, FLEXREL_METHODS = with_role(…))
    _edit(lib, "lib.params.catalogue", "if c.role in roles)", "if c.role in roles and n)")
    third = _hashes(lib)
    assert "lib.protocols.flexrel:canonical" in _changed(again, third)
    assert "lib.criteria.filters:folded_magnitude" not in _changed(again, third)


@pytest.mark.parametrize(
    "module, old, new",
    [
        ("lib.params.flexrel", "Section ``flexrel``", "Section ``flexrel`` (edited)"),  # a docstring
        ("lib.core.train", "from __future__ import annotations", "from __future__ import annotations  # a comment"),
        ("lib.core.prune", "\n\n\ndef ", "\n\n\n\ndef "),  # formatting
    ],
)
def test_a_docstring_comment_or_formatting_changes_no_unit(tmp_path, module, old, new):
    lib = shutil.copytree(code.LIB, tmp_path / "lib")
    before = _hashes(lib)
    _edit(lib, module, old, new)
    assert _changed(before, _hashes(lib)) == set()


def test_a_run_records_the_code_it_executed_and_what_it_read(store, monkeypatch):
    """A run records the units it executed; a run reading a stored run, or a memoised value, records what made
    them too; an entry whose units hash otherwise today is computed again, beside the old one."""
    from lib.core import stats

    view = runs.View(profiles.load("data", "smoke"))
    inner = K(view, 0)
    runs.cached(inner, lambda: stats.interval([1.0, 2.0, 4.0]).mean)
    (entry,) = runs.entries()
    assert "lib.core.stats:interval" in runs._read(entry)[0]["code"]
    runs.cached(K(view, 1), lambda: runs.cached(inner, list) + 1)  # reads the inner run back
    outer = next(h for _, h, _ in runs.records() if h["run"] == {"seed": 1})
    assert "lib.core.stats:interval" in outer["code"]
    memo = {}
    code.remembered(memo, "x", lambda: stats.interval([1.0, 3.0]).mean)
    with code.recording() as seen:
        assert code.remembered(memo, "x", list) == 2.0  # a hit executes nothing
    assert "lib.core.stats:interval" in seen.code
    real = code.unit_hash
    monkeypatch.setattr(code, "unit_hash", lambda u, root=code.LIB: "edited" if u.endswith(":interval") else real(u))
    assert runs.why_stale(outer, {K(view, 1).identity()}) == ["code changed: lib.core.stats:interval"]
    compute, calls = counting(2.0)
    runs.cached(inner, compute)
    assert len(calls) == 1 and len(list(runs.entries())) == 3


SCRIPT = """
import json, sys
from lib.core import data
from lib.params import profiles
from lib.protocols import base_networks, flexrel, train_time
p = profiles.load("flexrel", "smoke").replace(seeds=[0], train_subset=128, test_subset=64, relevance_images=16,
                        bn_batches=1, device="cpu")
r = profiles.load("rank", "smoke").replace(train_subset=128, seeds=[0])
for _ in sys.stdin:  # one line, one pass over the runs; in-process memos cleared, as in a new process
    base_networks._LOADED.clear()
    data._splits.cache_clear()
    out = {m: flexrel.retention(p, 0, m, 0.5)["row"] for m in ("magnitude", "magnitude_bn", "random")}
    out["rank"] = train_time.run(r, "MNIST", "rank", "paper", 0)[-1]
    print("RESULT " + json.dumps(out), flush=True)
"""


def _mutate(lib: Path, unit: str) -> None:
    """Insert a statement at the top of a unit's body (a class's: its first method's)."""
    module, name = unit.split(":")
    path = code.source(module, lib)
    lines = path.read_text().splitlines(keepends=True)
    node = next(n for n in ast.parse("".join(lines)).body if getattr(n, "name", None) == name)
    if isinstance(node, ast.ClassDef):
        node = next(n for n in node.body if isinstance(n, ast.FunctionDef))
    first = node.body[0]
    lines.insert(first.lineno - 1, " " * first.col_offset + "_mutated = None\n")
    path.write_text("".join(lines))


@pytest.mark.slow
def test_an_edit_recomputes_exactly_the_runs_that_executed_it(tmp_path):
    """The mutation test: in a copy of the repository, run FlexRel retention runs (raw and folded magnitude,
    random) and a rank run; then, one at a time, edit the body of a sample of the units they executed (the folded
    magnitude always): each edit recomputes exactly the stored runs that executed it, and reverting it reads them
    back. Edits of a label, a stage's list of runs, a frame builder and a plotting helper recompute nothing."""
    repo = tmp_path / "repo"
    lib = Path(shutil.copytree(ROOT / "lib", repo / "lib"))
    shutil.copy(ROOT / "params.yaml", repo / "params.yaml")
    for name, seed in (("FashionMNIST", 0), ("MNIST", 2)):
        write_mnist_like(repo / "data", name, n_train=128, n_test=64, seed=seed)
    env = {**os.environ, "PYTHONPATH": str(repo)}
    log = (tmp_path / "stderr.txt").open("w")
    pipe = subprocess.PIPE
    child = subprocess.Popen(
        [sys.executable, "-c", SCRIPT], cwd=repo, env=env, stdin=pipe, stdout=pipe, stderr=log, text=True
    )

    def run() -> tuple[dict, dict[str, set[str]]]:
        """One pass over the runs in the same process (the edits below change files, not what it has imported: the
        store decides from the sources, as a new process would)."""
        child.stdin.write("run\n")
        child.stdin.flush()
        while not (line := child.stdout.readline()).startswith("RESULT "):
            assert line, (tmp_path / "stderr.txt").read_text()[-3000:]
        stored = {
            str(p.relative_to(repo / "cache" / "runs")): set(runs._read(p)[0]["code"])
            for p in (repo / "cache" / "runs").glob("*/*")
        }
        return json.loads(line[len("RESULT ") :]), stored

    first, stored = run()
    assert len(stored) == 7  # base network, 2 scores, 3 retention runs, rank run
    executed = sorted(set().union(*stored.values()))
    hashes = {u: code.unit_hash(u, lib) for u in executed}
    assert "lib.criteria.filters:folded_magnitude" in executed
    sample = ["lib.criteria.filters:folded_magnitude"] + random.Random(0).sample(
        [u for u in executed if u != "lib.criteria.filters:folded_magnitude"], 3
    )
    for unit in sample:
        source = code.source(unit.split(":")[0], lib)
        original = source.read_text()
        _mutate(lib, unit)
        edited = {u for u in executed if code.unit_hash(u, lib) != hashes[u]}  # it, and units naming its fields
        assert unit in edited and len(edited) < len(executed), (unit, edited)
        result, now = run()
        new = {k.rsplit(".", 2)[0] for k in now.keys() - stored.keys()}
        assert new == {k.rsplit(".", 2)[0] for k, units in stored.items() if units & edited}, (unit, edited)
        assert new >= {k.rsplit(".", 2)[0] for k, units in stored.items() if unit in units}
        assert result == first  # the edit changed no behaviour: the recomputed runs agree
        source.write_text(original)
        for path in (repo / "cache" / "runs").glob("*/*"):  # the mutation's entries
            if str(path.relative_to(repo / "cache" / "runs")) not in stored:
                path.unlink()
    folded = {k for k, u in stored.items() if "lib.criteria.filters:folded_magnitude" in u}
    assert {k.split("/")[0] for k in folded} == {"flexrel-scores", "flexrel-retention"} and len(folded) == 2
    raw = [u for k, u in stored.items() if k.startswith("flexrel-") and "lib.criteria.filters:raw_magnitude" in u]
    assert raw and not any("lib.criteria.filters:folded_magnitude" in u for u in raw)  # raw magnitude's runs
    for unit in (
        "lib.protocols.train_time:label",
        "lib.protocols.studies:flexrel_fig2",
        "lib.protocols.flexrel:frame",
        "lib.publish.plotting:provenance",
    ):
        assert unit not in executed
        _mutate(lib, unit)
    assert run()[1].keys() == stored.keys()
    child.stdin.close()
    assert child.wait(timeout=60) == 0


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
        "code": {"lib.core.stats:interval": code.unit_hash("lib.core.stats:interval")},
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
    edited = {**new, "code": {"lib.core.stats:interval": "0" * 16}}
    assert runs.why_stale(edited, current) == ["code changed: lib.core.stats:interval"]
    gone = {**new, "code": {"lib.no_such_module:f": "0" * 16}}
    assert runs.why_stale(gone, current) == ["code changed: lib.no_such_module:f"]

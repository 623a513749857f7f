"""The run store cannot serve a stale result: its keys cover parameters, code and library versions, and a
damaged entry is recomputed, never loaded."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from lib import base, config, flexrel, runs
from lib.config import ROOT
from tests.conftest import write_mnist_like


def counting(value):
    calls = []

    def compute(q):
        calls.append(q)
        return value

    return compute, calls


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.setattr(runs, "RUNS", tmp_path / "runs")
    return tmp_path / "runs"


def test_a_run_is_computed_once_and_keyed_by_its_coordinates(store):
    view = runs.View(config.load("data", "smoke"))
    compute, calls = counting({"acc": 0.5})
    assert runs.cached("k", view, {"seed": 0}, compute) == {"acc": 0.5}
    assert runs.cached("k", view, {"seed": 0}, compute) == {"acc": 0.5} and len(calls) == 1
    runs.cached("k", view, {"seed": 1}, compute)
    assert len(calls) == 2 and len(list(runs.entries())) == 2


def test_an_entry_records_what_its_computation_cost_outside_its_key(store):
    view = runs.View(config.load("data", "smoke"))
    runs.cached("k", view, {"seed": 0}, lambda q: sum(range(10**6)))
    (path, header, error), = runs.records()
    assert error is None and header["seconds"] > 0 and header["cpu"]
    timed = header.copy()
    header.update(seconds=123.0, cpu="another CPU")
    assert runs._key(header) == runs._key(timed) == path.stem


def test_a_parameter_a_run_does_not_read_leaves_its_key_and_cannot_be_read():
    p = config.load("flexrel", "smoke")
    other = dataclasses.replace(p, lr_post=0.5, post_subset=7, seeds=[5, 6], factors=[0.2])
    assert flexrel.view(p, "flexrel-retention").params() == flexrel.view(other, "flexrel-retention").params()
    assert flexrel.view(p, "flexrel-recovery").params() != flexrel.view(other, "flexrel-recovery").params()
    bn = dataclasses.replace(p, bn_batches=3)
    assert runs.View(p, base.GRID + base.NOT_READ).params() == runs.View(bn, base.GRID + base.NOT_READ).params()
    with pytest.raises(AttributeError, match="flexrel.lr_post is not in this run's key"):
        flexrel.view(p, "flexrel-retention").lr_post
    with pytest.raises(ValueError, match="not fields"):
        runs.View(p, ("no_such_field",))


def test_editing_a_module_changes_the_code_key_of_exactly_the_runs_that_import_it(tmp_path):
    lib = shutil.copytree(runs.LIB, tmp_path / "lib")
    protocols = ("lib.base", "lib.flexrel", "lib.rank", "lib.vae")
    before = {m: runs.code(m, lib) for m in protocols}
    assert before == {m: runs.code(m) for m in protocols}
    assert "lib.scores" in before["lib.flexrel"] and "lib.scores" not in before["lib.base"]
    assert "lib.runs" not in before["lib.flexrel"]  # the store's own code is not part of a result
    source = (lib / "scores.py").read_text()
    (lib / "scores.py").write_text(source.replace("abs().flatten(1).mean(1)", "abs().flatten(1).amax(1)"))
    after = {m: runs.code(m, lib) for m in protocols}
    assert after["lib.flexrel"] != before["lib.flexrel"]
    assert {m: after[m] for m in ("lib.base", "lib.rank", "lib.vae")} == {m: before[m] for m in ("lib.base", "lib.rank", "lib.vae")}
    (lib / "contribution.py").write_text((lib / "contribution.py").read_text() + "\n# edited\n")
    again = {m: runs.code(m, lib) for m in protocols}
    assert again["lib.rank"] != after["lib.rank"] and again["lib.vae"] != after["lib.vae"]
    assert again["lib.flexrel"] == after["lib.flexrel"] and again["lib.base"] == after["lib.base"]


SCRIPT = """
import dataclasses, json
from lib import config, flexrel, rank
p = dataclasses.replace(config.load("flexrel", "smoke"), seeds=[0], train_subset=128, test_subset=64, relevance_images=16,
                        bn_batches=1, device="cpu")
out = {m: flexrel.retention(p, 0, m, 0.5)["row"] for m in ("magnitude", "random")}
r = dataclasses.replace(config.load("rank", "smoke"), train_subset=128, seeds=[0])
out["rank"] = rank.run(r, "MNIST", "rank", "paper", 0)[-1]
print(json.dumps(out))
"""


def _stored(repo: Path) -> dict[str, float]:
    return {str(p.relative_to(repo / "cache" / "runs")): p.stat().st_mtime_ns for p in (repo / "cache" / "runs").glob("*/*")}


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
    source = (repo / "lib" / "scores.py").read_text()
    edited = source.replace("return {name: m.weight.detach().abs().flatten(1).mean(1)",
                            "return {name: -m.weight.detach().abs().flatten(1).mean(1)")
    assert edited != source
    (repo / "lib" / "scores.py").write_text(edited)
    second, now = run(), _stored(repo)
    new = sorted(k for k in now if k not in stored)
    assert {k.split("/")[0] for k in new} == {"flexrel-scores", "flexrel-retention"}, new
    assert all(now[k] == t for k, t in stored.items())  # nothing stored was rewritten: base network and rank run reused
    assert second["magnitude"]["test_loss"] != first["magnitude"]["test_loss"]  # the figure's number follows the code
    assert second["random"] == first["random"] and second["rank"] == first["rank"]


def test_a_damaged_entry_is_reported_and_recomputed_never_loaded(store):
    view = runs.View(config.load("data", "smoke"))
    compute, calls = counting([1, 2, 3])
    runs.cached("k", view, {"seed": 0}, compute)
    (path,) = runs.entries()
    path.write_text(path.read_text()[:-20])  # truncated
    assert runs.main(["verify"]) == 1
    with pytest.warns(UserWarning, match="corrupt"):
        assert runs.cached("k", view, {"seed": 0}, compute) == [1, 2, 3]
    assert len(calls) == 2 and runs.main(["verify"]) == 0
    stored = json.loads(path.read_text())
    stored["result"] = [1, 2, 4]  # a changed result that still parses
    path.write_text(json.dumps(stored))
    with pytest.warns(UserWarning, match="checksum mismatch"):
        assert runs.cached("k", view, {"seed": 0}, compute) == [1, 2, 3]


def test_a_damaged_model_is_retrained(store):
    view = runs.View(config.load("data", "smoke"))
    trained = []

    def fit(q, model):
        trained.append(1)
        with torch.no_grad():
            model.weight.fill_(2.0)
        return {"ok": True}

    runs.cached_model("m", view, {"seed": 0}, lambda q: torch.nn.Linear(3, 2), fit)
    model, record = runs.cached_model("m", view, {"seed": 0}, lambda q: torch.nn.Linear(3, 2), fit)
    assert len(trained) == 1 and record == {"ok": True} and model.weight.eq(2).all()
    (path,) = runs.entries()
    raw = bytearray(path.read_bytes())
    raw[raw.find(struct.pack("<6f", *[2.0] * 6)) + 3] ^= 0x01  # one stored weight: 2.0 becomes 8.0
    path.write_bytes(bytes(raw))
    with pytest.warns(UserWarning, match="corrupt"):
        runs.cached_model("m", view, {"seed": 0}, lambda q: torch.nn.Linear(3, 2), fit)
    assert len(trained) == 2
    with pytest.raises(FileNotFoundError, match="run stage X"):
        runs.cached_model("m", view, {"seed": 1}, lambda q: torch.nn.Linear(3, 2), fit, train=False, missing="run stage X")


def test_the_command_line_lists_explains_and_prunes_stale_entries(store, capsys):
    smoke = config.load("data", "smoke")
    runs.cached("k", runs.View(smoke), {"seed": 0}, counting(1)[0])
    runs.cached("k", runs.View(dataclasses.replace(smoke, grid=999)), {"seed": 0}, counting(2)[0])
    assert runs.main(["list"]) == 0
    assert "k" in capsys.readouterr().out
    current, stale = sorted(runs.entries(), key=lambda p: json.loads(p.read_text())["result"])
    assert runs.main(["explain", stale.stem]) == 0
    out = capsys.readouterr().out
    assert '"grid": 999' in out and "match no profile" in out
    assert runs.main(["prune", "--stale", "--dry-run"]) == 0 and len(list(runs.entries())) == 2
    assert runs.main(["prune", "--stale"]) == 0
    assert list(runs.entries()) == [current]


def test_a_study_variant_of_a_profiles_section_is_current_and_another_value_is_stale():
    """Notebooks 07-08 store runs on variants of section flexrel (lib.config.STUDY_FIELDS): `prune --stale` keeps them."""
    p = dataclasses.asdict(config.load("flexrel", "default"))
    header = {"module": "lib.stats", "code": runs.code("lib.stats"), "versions": runs.versions(), "section": "flexrel"}
    assert runs.why_stale({**header, "params": {**p, "composite": "EpsilonGammaBox", "model": "lenet300"}}) == []
    assert runs.why_stale({**header, "params": {**p, "lr": 0.123}}) == ["parameters match no profile's section 'flexrel'"]

"""Shared test helpers: synthetic datasets in the real on-disk formats, and the offline mirror if present."""

from __future__ import annotations

import gzip
import os
import shutil
import struct
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

from lib.params.paths import ROOT
from lib.params.profiles import validate


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test on the smoke copy (:func:`smoke_copy`, directly or through another fixture) is end-to-end: it is
    marked ``e2e`` here, before ``-m`` selects, so no test can need the smoke pipeline and run
    in the lane without it."""
    for item in items:
        if "smoke_copy" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.e2e)


def write_idx(path: Path, array: np.ndarray, compress: bool = False) -> None:
    """Write ``array`` (uint8) in the IDX format of the MNIST archives (big-endian header)."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    payload = header + array.tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(payload, mtime=0) if compress else payload)


def write_mnist_like(
    root: Path, name: str = "MNIST", n_train: int = 60, n_test: int = 20, seed: int = 0, compress: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """A tiny MNIST-format dataset under ``root/name/raw`` (uncompressed, as torchvision leaves it after
    unpacking, or ``.gz`` archives as in a mirror). Returns the training images and labels written."""
    rng = np.random.default_rng(seed)
    suffix = ".gz" if compress else ""
    out = None
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        labels = (np.arange(n) % 10).astype(np.uint8)
        write_idx(root / name / "raw" / f"{prefix}-images-idx3-ubyte{suffix}", images, compress)
        write_idx(root / name / "raw" / f"{prefix}-labels-idx1-ubyte{suffix}", labels, compress)
        out = out or (images, labels)
    return out


def mirror() -> Path | None:
    """The offline mirror: ``$DATA_MIRROR`` if set, else ``../shared/data`` beside the repository if present."""
    env = os.environ.get("DATA_MIRROR")
    if env:
        return Path(env)
    shared = ROOT.parent / "shared" / "data"
    return shared if (shared / "MNIST" / "raw").is_dir() else None


@pytest.fixture
def mnist_root(tmp_path: Path) -> Path:
    write_mnist_like(tmp_path, "MNIST")
    write_mnist_like(tmp_path, "FashionMNIST", seed=1)
    return tmp_path


def run(cmd: list[str], cwd: Path, env: dict[str, str]) -> str:
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, f"{' '.join(cmd)} failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
    return proc.stdout + proc.stderr


def declared_outputs(dvc_yaml: Path) -> list[str]:
    stages = yaml.safe_load(dvc_yaml.read_text())["stages"]
    outs = []
    for stage in stages.values():
        for kind in ("outs", "metrics", "plots"):
            outs += [o if isinstance(o, str) else next(iter(o)) for o in stage.get(kind, [])]
    return outs


@pytest.fixture(scope="session")
def smoke_copy(tmp_path_factory) -> tuple[Path, dict[str, str], float, str]:
    """A copy of the repository (a git repository of its own) at `profile: smoke` after `dvc repro`: its path, the
    environment its commands run in, the seconds `dvc repro` took and its log. Shared by every slow test."""
    repo = tmp_path_factory.mktemp("repo")
    files = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, capture_output=True, text=True, check=True
    )
    for rel in files.stdout.splitlines():
        if (ROOT / rel).is_file():
            (repo / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / rel, repo / rel)
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@t",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@t",
    }
    env.pop("DATA_MIRROR", None)
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["profile"] = "smoke"
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    if mirror() is not None:  # the real archives: data/ must then match the recorded data.dvc
        run([sys.executable, "-m", "lib.core.data", "--mirror", str(mirror())], repo, env)
    else:  # synthetic stand-ins in the real format: record them instead
        for name in validate(params)["smoke"]["data"].datasets:
            write_mnist_like(repo / "data", name, n_train=600, n_test=200)
    run(["git", "init", "-q"], repo, env)
    if mirror() is None:
        run(["dvc", "add", "-q", "data"], repo, env)
    run(["git", "add", "-A"], repo, env)
    run(["git", "commit", "-qm", "smoke copy"], repo, env)
    start = time.perf_counter()
    log = run(["dvc", "repro"], repo, env)
    return repo, env, time.perf_counter() - start, log


@pytest.fixture
def own_smoke_copy(smoke_copy, tmp_path) -> tuple[Path, dict[str, str], float, str]:
    """A copy of ``smoke_copy`` of the test's own, for a test that changes files, the store or the git history: the
    shared copy stays as `dvc repro` left it, whatever order the tests run in."""
    repo, env, seconds, log = smoke_copy
    own = tmp_path / "repo"
    shutil.copytree(repo, own, symlinks=True)
    return own, env, seconds, log

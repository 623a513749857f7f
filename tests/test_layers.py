"""The library's layers (lib/__init__.py): a module imports only from its own layer and the ones below it, no
import cycle, and no module outside a layer."""

from __future__ import annotations

import ast
import graphlib
from pathlib import Path

import pytest

import lib
from lib.core import code
from lib.store import runs

LIB = Path(lib.__file__).parent
MODULES = sorted(
    "lib." + ".".join(p.relative_to(LIB).with_suffix("").parts)
    for p in LIB.rglob("*.py")
    if p.name not in ("__init__.py", "__main__.py")
)


def layer(module: str) -> int:
    return lib.LAYERS.index(module.split(".")[1])


def imported(module: str, root: Path = LIB) -> set[str]:
    """Every lib module ``module`` imports, for annotations too (a layer may not even name a higher one); relative
    imports are resolved against the module's package."""
    tree = ast.parse(code.source(module, root).read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = module.split(".")[: -node.level]
                base = ".".join([*package, *([base] if base else [])])
            if base == "lib" or base.startswith("lib."):
                found |= {
                    f"{base}.{a.name}" if code.source(f"{base}.{a.name}", root).exists() else base for a in node.names
                }
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("lib.")}
    return found - {"lib"}


def test_every_module_sits_in_a_layer():
    assert {m.split(".")[1] for m in MODULES} == set(lib.LAYERS)
    assert not [p for p in LIB.glob("*.py") if p.name != "__init__.py"], "a module outside the layers"


@pytest.mark.parametrize("module", MODULES)
def test_no_module_imports_a_higher_layer(module):
    higher = sorted(m for m in imported(module) if layer(m) > layer(module))
    assert not higher, f"{module} (layer {lib.LAYERS[layer(module)]}) imports {higher}"


def test_no_import_cycle():
    graph = {m: {i for i in imported(m) if i in MODULES} for m in MODULES}
    graphlib.TopologicalSorter(graph).prepare()  # raises CycleError naming the cycle


def test_a_lower_layer_importing_a_higher_one_fails(tmp_path):
    """The check above can fail: a core module that imports a protocol is caught."""
    fake = tmp_path / "lib"
    (fake / "core").mkdir(parents=True)
    (fake / "protocols").mkdir()
    (fake / "core" / "bad.py").write_text("from lib.protocols import flexrel\nfrom ..verdicts import rules\n")
    (fake / "protocols" / "flexrel.py").write_text("")
    (fake / "verdicts").mkdir()
    (fake / "verdicts" / "rules.py").write_text("")
    higher = sorted(m for m in imported("lib.core.bad", fake) if layer(m) > layer("lib.core.bad"))
    assert higher == ["lib.protocols.flexrel", "lib.verdicts.rules"]


def test_package_inits_hold_no_code():
    """A package's __init__ is its one-paragraph map: importing a module runs no other module's code. The top one
    also holds lib.LAYERS and the installed package's public names, loaded on first use (a module ``__getattr__``)."""
    for init in LIB.rglob("__init__.py"):
        body = ast.parse(init.read_text()).body
        code = [n for n in body if not (isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant))]
        lazy = (ast.Assign, ast.ImportFrom) if init.parent == LIB else ()
        allowed = [n for n in code if isinstance(n, lazy) or getattr(n, "name", "") == "__getattr__"]
        assert code == allowed, f"{init} has code"
    top = ast.walk(ast.parse((LIB / "__init__.py").read_text()))
    assert [n.module for n in top if isinstance(n, ast.ImportFrom)] == ["importlib"]


def test_the_verdicts_run_without_torch_and_the_store_knows_no_study():
    """The verdict layer is pandas and scipy over frames of numbers (importing it loads no torch); the run store keys
    and keeps runs without knowing which studies vary which fields (lib.scale.store does)."""
    import subprocess
    import sys

    code = (
        "import sys; import lib.verdicts.papers, lib.verdicts.study_claims, lib.verdicts.robustness, "
        "lib.publish.tables; "
        "print(sorted(m for m in sys.modules if m == 'torch' or m.startswith('lib.protocols')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=LIB.parent)
    assert out.stdout.strip() == "[]", out.stdout
    assert "lib.params.studies" not in runs.closure("lib.store.runs")

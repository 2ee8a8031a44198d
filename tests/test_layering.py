"""The package layers: core depends on nothing above it; methods, tasks, metrics and bench only on
core (and metrics for bench); the browser app on core, tasks and metrics; only the CLI sees everything.

Checked twice: statically (every import statement of every module, including imports inside
functions, resolved to a sinkit package) and dynamically (importing each subpackage in a fresh
interpreter loads only what its layer allows).
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

import sinkit

SRC = Path(sinkit.__file__).parent
SHARED = {"core", "metrics", "tasks", "bench", "cli", "app"}
METHODS = sorted(p.name for p in SRC.iterdir() if p.is_dir() and (p / "__init__.py").exists() and p.name not in SHARED)

#: layer -> the sinkit packages its modules may import (besides itself); a method's `cli.py` plugin may
#: also import sinkit.cli (it is loaded only by the CLI)
ALLOWED = {
    "core": set(),
    "metrics": {"core"},
    "tasks": {"core"},
    "bench": {"core", "metrics"},
    "app": {"core", "tasks", "metrics"},  # no method: it enumerates them through the registry
    **{m: {"core"} for m in METHODS},
}


def _package_of(module_file: Path) -> str:
    rel = module_file.relative_to(SRC)
    return rel.parts[0] if len(rel.parts) > 1 else ""


def _imported_packages(module_file: Path) -> set[str]:
    """The sinkit top-level packages a module imports (absolute or relative, anywhere in the file)."""
    tree = ast.parse(module_file.read_text())
    rel = module_file.relative_to(SRC).with_suffix("")
    here = ["sinkit", *rel.parts]
    if here[-1] == "__init__":
        here = here[:-1]
    else:
        here = here[:-1]  # the package containing the module
    found = set()
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = here[: len(here) - node.level + 1]
                target = base + (node.module.split(".") if node.module else [])
                names = [".".join(target)] if node.module else [".".join(target + [a.name]) for a in node.names]
            else:
                names = [node.module or ""]
        for name in names:
            parts = name.split(".")
            if parts[0] == "sinkit" and len(parts) > 1:
                found.add(parts[1])
    return found


def test_every_method_package_is_seen():
    assert {"singan", "sinir"} <= set(METHODS)


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_static_imports_respect_the_layers(layer):
    bad = []
    for f in sorted((SRC / layer).rglob("*.py")):
        allowed = ALLOWED[layer] | ({"cli"} if layer in METHODS and f.name == "cli.py" else set())  # a method's CLI plugin
        extra = _imported_packages(f) - allowed - {layer}
        extra = {p for p in extra if (SRC / p).is_dir() or (SRC / f"{p}.py").exists()}
        if extra:
            bad.append(f"{f.relative_to(SRC)} imports sinkit.{', sinkit.'.join(sorted(extra))}")
    assert not bad, "\n".join(bad)


def test_importing_a_layer_loads_only_what_it_may():
    """One fresh interpreter per layer (run side by side: each pays torch's import time)."""
    code = "import json, sys, sinkit.{}; print(json.dumps(sorted({{m.split('.')[1] for m in sys.modules if m.startswith('sinkit.')}})))"
    procs = {layer: subprocess.Popen([sys.executable, "-c", code.format(layer)], stdout=subprocess.PIPE, text=True) for layer in ALLOWED}
    root = subprocess.Popen([sys.executable, "-c", "import json, sys, sinkit; print(json.dumps(sorted(m for m in sys.modules if m.startswith('sinkit'))))"], stdout=subprocess.PIPE, text=True)
    bad = []
    for layer, proc in procs.items():
        out, _ = proc.communicate(timeout=120)
        assert proc.returncode == 0, f"importing sinkit.{layer} failed"
        loaded = set(json.loads(out.strip().splitlines()[-1])) - {"version"}
        if not loaded <= ALLOWED[layer] | {layer}:
            bad.append(f"importing sinkit.{layer} loaded {sorted(loaded)}")
    out, _ = root.communicate(timeout=120)
    loaded = json.loads(out.strip().splitlines()[-1])
    if not all(m == "sinkit" or m.startswith("sinkit.core") for m in loaded):
        bad.append(f"import sinkit loaded {loaded} (the root must stay lazy)")
    assert not bad, "\n".join(bad)

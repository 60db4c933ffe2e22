"""The pure-Python cores import no Django: they run (and are tested) as plain code, in the engine's
worker processes too. Each is imported in a fresh interpreter, so that a module the test process
already holds cannot hide an import."""
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# Packages are imported with every submodule; found by reading imports (README "Layout" and the
# modules' docstrings say these are pure), not a list of what happens to pass.
PURE = [
    "pipelines.types", "pipelines.mapping", "pipelines.timeformats", "pipelines.transformers", "pipelines.engine",
    "pipelines.connectors", "pipelines.placeholders", "pipelines.alignment", "pipelines.apikeys", "pipelines.errors",
    "pipelines.validation", "pipelines.lookback", "pipelines.conf", "pipelines.steps", "pipelines.jsoncodec", "warehouse.backends",
    "warehouse.profile_schema", "warehouse.columns", "warehouse.alter_schema", "warehouse.writer", "warehouse.resolution",
    "warehouse.profile_queries",
]

CHECK = """
import importlib, pkgutil, sys
module = importlib.import_module(sys.argv[1])
names = [sys.argv[1]]
if hasattr(module, "__path__"):
    names += [info.name for info in pkgutil.walk_packages(module.__path__, sys.argv[1] + ".")]
for name in names:
    importlib.import_module(name)
    leaked = sorted(m for m in sys.modules if m.split(".")[0] in ("django", "rest_framework"))
    if leaked:
        sys.exit(f"{name} imports {leaked[0]}")
print(len(names))
"""


@pytest.mark.parametrize("module", PURE)
def test_imports_no_django(module):
    done = subprocess.run([sys.executable, "-c", CHECK, module], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert int(done.stdout) >= 1


def test_the_check_sees_a_django_import():
    """A module that does import Django makes the check fail (else the test could not fail)."""
    done = subprocess.run([sys.executable, "-c", CHECK, "krenalis.security"], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 1 and "imports django" in done.stderr, done.stderr

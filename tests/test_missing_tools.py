"""A test that cannot run for want of a tool is never skipped silently (tests/missing_tools.py)."""
import os
import re
import subprocess
import sys
from pathlib import Path

from tests.missing_tools import install_command

ROOT = Path(__file__).resolve().parents[1]


def test_browser_tests_without_chromium_end_the_output_with_their_names_and_the_install_command():
    env = {name: value for name, value in os.environ.items() if name != "CI"}
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "tests/admin/test_browser.py"], cwd=ROOT,
                          env=env | {"KRENALIS_CHROMIUM": "/nonexistent/chromium"}, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    *_, counts, last = done.stdout.splitlines()
    skipped = int(re.fullmatch(r"(\d+) skipped in .*", counts)[1])
    assert skipped >= 2
    assert re.fullmatch(rf"{skipped} tests did not run for want of Chromium \(no /nonexistent/chromium\): "
                        rf"tests/admin/test_browser\.py::test_\w+(, tests/admin/test_browser\.py::test_\w+)"
                        rf"{{{skipped - 1}}}\. To run them: {re.escape(install_command('chromium', '--cask chromium'))}",
                        last), last



def test_a_test_that_finds_its_tool_missing_as_it_runs_is_named_at_the_end_too(tmp_path):
    """skip_now(), for what only a running test can find out (a server program, a PID namespace)."""
    (tmp_path / "conftest.py").write_text("from tests import missing_tools\n\n\n"
                                          "def pytest_configure(config):\n    missing_tools.register(config)\n")
    (tmp_path / "test_needs_a_tool.py").write_text(
        "from tests import missing_tools\n\n\n"
        "def test_needs_it():\n    missing_tools.skip_now('the frobnicator (no /usr/bin/frob)', 'apt-get install frob')\n\n\n"
        "def test_does_not():\n    pass\n")
    env = {name: value for name, value in os.environ.items() if name != "CI"} | {"PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:django", "-p", "no:cacheprovider", "-c", "/dev/null",
               "--rootdir", str(tmp_path), str(tmp_path)]
    done = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    *_, counts, last = done.stdout.splitlines()
    assert re.fullmatch(r"1 passed, 1 skipped in .*", counts), counts
    assert last == ("1 test did not run for want of the frobnicator (no /usr/bin/frob): "
                    "test_needs_a_tool.py::test_needs_it. To run it: apt-get install frob")
    done = subprocess.run(command, cwd=tmp_path, env=env | {"CI": "1"}, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1 and "1 failed, 1 passed" in done.stdout, done.stdout

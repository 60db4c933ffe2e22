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


"""Tests that need a tool this machine lacks (Chromium, say) are skipped by name, never silently:
the session's output ends with a line that names them and the command that would make them run.
Under CI (CI set) they are not skipped, so that they fail: CI never passes without them.

tests/conftest.py registers the plugin; a conftest that knows a tool is missing calls skip() from
its pytest_collection_modifyitems, and a test or fixture that finds out only when it runs calls
skip_now() (bin/setup --tests installs the tools where it can)."""
import os
import sys

import pytest

PLUGIN = "krenalis-missing-tools"
INSTALLS: dict[str, tuple[str, str]] = {}  # skip reason -> (what is missing, how to make the tests run)


def install_command(debian: str, homebrew: str) -> str:
    """The command that installs a tool on this machine."""
    if sys.platform == "darwin":
        return f"brew install {homebrew}"
    return ("" if os.geteuid() == 0 else "sudo ") + f"apt-get install {debian}"


def register(config) -> None:
    config.pluginmanager.register(MissingTools(), PLUGIN)


def skip(config, items, fixture: str, missing: str, install: str) -> None:
    """Skips the tests among `items` that use `fixture`, because of `missing` ("Chromium (no
    /usr/bin/chromium)"), which `install` would install."""
    if os.environ.get("CI"):
        return
    config.pluginmanager.get_plugin(PLUGIN).skip(items, fixture, missing, install)


def skip_now(missing: str, install: str) -> None:
    """Skips the running test because of `missing`, named at the end as skip() names its tests."""
    reason = _reason(missing, install)
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


def _reason(missing: str, install: str) -> str:
    reason = f"{missing}; to run: {install}"
    INSTALLS[reason] = (missing, install)
    return reason


class MissingTools:
    def __init__(self):
        self.skipped: dict[str, list[str]] = {}  # skip reason -> the node IDs of the tests it skipped

    def skip(self, items, fixture: str, missing: str, install: str) -> None:
        reason = _reason(missing, install)
        for item in items:
            if fixture in getattr(item, "fixturenames", ()):
                item.add_marker(pytest.mark.skip(reason=reason))

    def pytest_runtest_logreport(self, report):
        if report.skipped and isinstance(report.longrepr, tuple):
            reason = report.longrepr[2].removeprefix("Skipped: ")
            if reason in INSTALLS:
                self.skipped.setdefault(reason, []).append(report.nodeid)

    def pytest_unconfigure(self, config):
        """After pytest's own last line (its counts), so that this one is the last."""
        terminal = config.pluginmanager.get_plugin("terminalreporter")
        for reason, nodeids in self.skipped.items():
            missing, install = INSTALLS[reason]
            them = "it" if len(nodeids) == 1 else "them"
            line = (f"{len(nodeids)} test{'' if len(nodeids) == 1 else 's'} did not run for want of {missing}: "
                    f"{', '.join(nodeids)}. To run {them}: {install}")
            if terminal is not None:
                terminal.write_line(line, yellow=True, bold=True)
            else:
                print(line, file=sys.stderr)

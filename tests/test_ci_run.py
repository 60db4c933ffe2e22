""".ci/run goes through the set-up a new user goes through: it installs nothing itself, runs the
README's test command, then the whole conformance suite (on the stubbed system of test_bin_setup)."""
import shutil

from tests.test_bin_setup import ROOT, machine  # noqa: F401 (the fixture)


def ci(machine, bin_test_exit: int = 0):
    (machine.repo / ".ci").mkdir()
    shutil.copy(ROOT / ".ci" / "run", machine.repo / ".ci" / "run")
    machine.stub(machine.repo / "bin" / "test", f"exit {bin_test_exit}\n")
    machine.stub(machine.tmp / "shared" / "conformance" / "run.sh")  # ../shared/conformance beside the checkout
    machine.set(uid=0, installed=[])  # nothing installed: whatever CI would install, it would install now
    return machine.run(script=".ci/run")


def test_ci_installs_nothing_and_runs_the_readme_test_command_then_the_whole_conformance_suite(machine):
    result = ci(machine)
    assert result.returncode == 0, result.stderr
    assert result.calls == ["test -q", "run.sh -q"]


def test_ci_stops_when_the_tests_fail(machine):
    result = ci(machine, bin_test_exit=1)
    assert result.returncode == 1
    assert result.calls == ["test -q"]

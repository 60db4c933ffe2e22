"""bin/setup's decisions: what is missing -> what it installs, or the message it stops with.

The real bin/setup runs in a temporary checkout on a PATH where the system is stubs (dpkg-query,
apt-get, sudo, id, uname, python3, pkg-config) that record how they were called and answer from a
state the test sets; the few real tools a shell script needs (bash, env, grep, ...) are linked in
beside them. Nothing on this machine is installed, removed or downloaded."""
import hashlib
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
REAL_TOOLS = ["bash", "env", "cat", "cut", "grep", "mktemp", "rm", "dirname", "readlink", "sha256sum", "mkdir",
              "chmod", "cp", "basename"]
BUILD = ["gcc", "libc6-dev", "libmariadb-dev", "pkg-config"]
EVERYTHING = BUILD + ["python3-venv", "python3-dev", "chromium"]

# Each stub appends "name arg..." to $CALLS (one line), then does what the state in $STATE says.
RECORD = 'all="$*"; echo "$(basename "$0") ${all//$\'\\n\'/ }" >> "$CALLS"\n'
STUBS = {
    "dpkg-query": RECORD + """
rc=0
for arg in "$@"; do
    case "$arg" in -*) continue ;; esac
    if grep -qx "$arg" "$STATE/installed"; then echo "$arg install ok installed"
    elif grep -qx "$arg" "$STATE/removed"; then echo "$arg deinstall ok config-files"
    else echo "dpkg-query: no packages found matching $arg" >&2; rc=1; fi
done
exit $rc
""",
    "apt-get": RECORD + """
[ "$(cat "$STATE/uid")" = 0 ] || [ -n "${STUB_SUDO:-}" ] || { echo "E: Could not open lock file - open (13: Permission denied)" >&2; exit 100; }
if [ "$1" = install ]; then
    for arg in "$@"; do case "$arg" in install|-*) ;; *) echo "$arg" >> "$STATE/installed" ;; esac; done
fi
""",
    "sudo": RECORD + """
[ -f "$STATE/sudo-nopasswd" ] || { echo "sudo: a password is required" >&2; exit 1; }
[ "$1" = -n ] && shift
STUB_SUDO=1 "$@"
""",
    "id": RECORD + 'cat "$STATE/uid"\n',
    "uname": RECORD + 'cat "$STATE/uname"\n',
    "pkg-config": RECORD + '[ -f "$STATE/pkg-config-finds-mysqlclient" ]\n',
    # The interpreter bin/setup makes the venv with, and the venv's pip.
    "python3": RECORD + """
if [ "$1" = -c ]; then [ -f "$STATE/python-headers" ]; exit; fi
if [ "$1 $2" = "-m venv" ]; then
    mkdir -p "$3/bin"
    printf '#!%s\\necho "venv-$(basename "$0") $*" >> "$CALLS"\\n' "$BASH" > "$3/bin/python"
    cp "$3/bin/python" "$3/bin/pip"
    chmod +x "$3/bin/python" "$3/bin/pip"
fi
""",
}


@dataclass
class Result:
    returncode: int
    stderr: str
    calls: list[str]

    def called(self, name: str) -> list[str]:
        return [call for call in self.calls if call.split()[0] == name]

    def made_a_venv_or_ran_pip(self) -> bool:
        return any(call.startswith(("python3 -m venv", "venv-")) for call in self.calls)


class Machine:
    """A checkout with bin/setup and requirements.txt, and a system of stubs around it."""

    def __init__(self, tmp_path: Path):
        self.tmp = tmp_path
        self.repo = tmp_path / "checkout"
        (self.repo / "bin").mkdir(parents=True)
        shutil.copy(ROOT / "bin" / "setup", self.repo / "bin" / "setup")
        shutil.copy(ROOT / "requirements.txt", self.repo / "requirements.txt")
        self.state = tmp_path / "state"
        self.state.mkdir()
        self.path = tmp_path / "path"
        self.path.mkdir()
        bash = shutil.which("bash")
        for tool in REAL_TOOLS:
            (self.path / tool).symlink_to(shutil.which(tool))
        for name, body in STUBS.items():
            stub = self.path / name
            stub.write_text(f"#!{bash}\n{body}")
            stub.chmod(0o755)
        self.stub(self.path / "dpkg", "exit 1\n")  # `dpkg -s`: not installed
        self.calls = tmp_path / "calls"
        self.set(uid=0, uname="Linux", installed=EVERYTHING, python_headers=True)

    def set(self, *, uid=None, uname=None, installed=None, removed=(), python_headers=None, sudo=None,
            pkg_config_finds_mysqlclient=False):
        """sudo: None (not on PATH), "password" (asks for one), "nopasswd"."""
        if uid is not None:
            (self.state / "uid").write_text(f"{uid}\n")
        if uname is not None:
            (self.state / "uname").write_text(f"{uname}\n")
        if installed is not None:
            (self.state / "installed").write_text("".join(f"{p}\n" for p in installed))
        (self.state / "removed").write_text("".join(f"{p}\n" for p in removed))
        if python_headers is not None:
            self._flag("python-headers", python_headers)
        self._flag("pkg-config-finds-mysqlclient", pkg_config_finds_mysqlclient)
        self._flag("sudo-nopasswd", sudo == "nopasswd")
        sudo_stub = self.path / "sudo"
        if sudo is None and sudo_stub.exists():
            sudo_stub.rename(self.tmp / "sudo.off")
        elif sudo is not None and not sudo_stub.exists():
            (self.tmp / "sudo.off").rename(sudo_stub)

    def _flag(self, name: str, on: bool):
        flag = self.state / name
        flag.touch() if on else flag.unlink(missing_ok=True)

    def current_venv(self, where: Path | None = None):
        """A venv whose stamp says it holds requirements.txt (at `where`, .venv by default)."""
        venv = where or self.repo / ".venv"
        (venv / "bin").mkdir(parents=True)
        for name in ("python", "pip"):
            (venv / "bin" / name).write_text(f'#!{shutil.which("bash")}\necho "venv-{name} $*" >> "$CALLS"\n')
            (venv / "bin" / name).chmod(0o755)
        digest = hashlib.sha256((self.repo / "requirements.txt").read_bytes()).hexdigest()
        (venv / ".requirements.sha256").write_text(digest + "\n")
        return venv

    def installed(self) -> list[str]:
        return (self.state / "installed").read_text().split()

    def stub(self, path: Path, body: str = ""):
        """An executable at `path` that records its calls (as its name) and runs `body`."""
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"#!{shutil.which('bash')}\n{RECORD}{body}")
        path.chmod(0o755)

    def run(self, *args: str, script: str = "bin/setup", **environ: str) -> Result:
        self.calls.write_text("")
        done = subprocess.run(["bash", str(self.repo / script), *args], cwd=self.tmp,
                              env={"PATH": str(self.path), "HOME": str(self.tmp), "CALLS": str(self.calls),
                                   "STATE": str(self.state), **environ},
                              capture_output=True, text=True, timeout=60)
        assert done.stdout == ""  # everything it says goes to stderr
        return Result(done.returncode, done.stderr, self.calls.read_text().splitlines())


@pytest.fixture
def machine(tmp_path):
    return Machine(tmp_path)


def apt_calls(packages: str) -> list[str]:
    return ["apt-get update -qq", f"apt-get install -y -qq {packages}"]


PIP = ["venv-pip install --quiet --disable-pip-version-check --upgrade pip",
       "venv-pip install --quiet --disable-pip-version-check -r requirements.txt"]


def test_everything_there_touches_nothing_and_says_nothing(machine):
    machine.current_venv()
    for args in ([], ["--tests"]):
        result = machine.run(*args)
        assert (result.returncode, result.stderr) == (0, "")
        assert result.called("apt-get") == result.called("sudo") == result.called("venv-pip") == []
    assert result.called("dpkg-query") == ["dpkg-query -W -f=${Package} ${Status}\\n chromium"]


def test_fresh_clone_as_root_installs_the_build_packages_then_the_requirements(machine):
    machine.set(uid=0, installed=["python3-dev"])
    result = machine.run()
    assert result.returncode == 0, result.stderr
    assert result.called("apt-get") == apt_calls("gcc libc6-dev libmariadb-dev pkg-config python3-venv")
    assert result.called("python3")[-1] == "python3 -m venv .venv"
    assert result.called("venv-pip") == PIP
    assert "installing gcc libc6-dev libmariadb-dev pkg-config python3-venv (apt-get; once)" in result.stderr
    assert "creating .venv with requirements.txt (first start only: a minute or two)" in result.stderr
    assert "chromium" not in machine.installed()  # bin/run does not need it

    again = machine.run()
    assert (again.returncode, again.stderr, again.called("apt-get"), again.called("venv-pip")) == (0, "", [], [])
    assert again.called("dpkg-query") == []  # nothing to build, so no package to check


def test_bin_test_also_installs_chromium(machine):
    machine.set(uid=0, installed=[p for p in EVERYTHING if p != "chromium"])
    machine.current_venv()
    result = machine.run("--tests")
    assert result.returncode == 0, result.stderr
    assert result.called("apt-get") == apt_calls("chromium")
    assert result.called("venv-pip") == []
    assert machine.run("--tests").calls == ["uname -s", "dpkg-query -W -f=${Package} ${Status}\\n chromium"]


def test_removed_packages_count_as_missing(machine):
    machine.set(installed=["gcc", "libc6-dev", "python3-venv"], removed=["libmariadb-dev", "pkg-config", "chromium"])
    result = machine.run("--tests")
    assert result.called("apt-get") == apt_calls("libmariadb-dev pkg-config chromium")
    assert result.called("venv-pip") == PIP


def test_python_headers_are_installed_when_the_interpreter_has_none(machine):
    machine.set(installed=BUILD + ["python3-venv"], python_headers=False)
    result = machine.run()
    assert result.called("apt-get") == apt_calls("python3-dev")


def test_a_changed_requirements_file_needs_the_build_packages_but_no_new_venv(machine):
    machine.set(installed=["python3-dev"])
    machine.current_venv()
    (machine.repo / "requirements.txt").write_text("Django==5.2.19\n")
    result = machine.run()
    assert result.called("apt-get") == apt_calls("gcc libc6-dev libmariadb-dev pkg-config")
    assert "python3 -m venv .venv" not in result.calls
    assert result.called("venv-pip") == PIP
    assert "requirements.txt changed: installing it into .venv" in result.stderr


def test_a_user_with_passwordless_sudo_installs_through_it(machine):
    machine.set(uid=1000, installed=["python3-venv", "python3-dev"], sudo="nopasswd")
    result = machine.run("--tests")
    assert result.returncode == 0, result.stderr
    assert result.called("sudo") == [
        "sudo -n true",
        "sudo -n env DEBIAN_FRONTEND=noninteractive apt-get update -qq",
        "sudo -n env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gcc libc6-dev libmariadb-dev pkg-config "
        "chromium"]
    assert result.called("apt-get") == apt_calls("gcc libc6-dev libmariadb-dev pkg-config chromium")
    assert "(apt-get through sudo; once)" in result.stderr
    assert result.called("venv-pip") == PIP


@pytest.mark.parametrize("sudo, command", [
    ("password", "sudo apt-get install libmariadb-dev pkg-config python3-venv chromium"),
    (None, "su -c 'apt-get install libmariadb-dev pkg-config python3-venv chromium'"),
], ids=["sudo-asks-a-password", "no-sudo"])
def test_a_user_who_cannot_install_is_told_the_command_before_pip(machine, sudo, command):
    machine.set(uid=1000, installed=["gcc", "libc6-dev", "python3-dev"], sudo=sudo)
    result = machine.run("--tests")
    assert result.returncode == 1
    assert result.stderr == ("bin/setup: missing system packages: libmariadb-dev pkg-config python3-venv chromium. "
                             "Install them with this command, then start again:\n"
                             f"    {command}\n")
    assert result.called("apt-get") == []
    assert not result.made_a_venv_or_ran_pip()
    assert not (machine.repo / ".venv").exists()


def test_a_user_who_cannot_install_chromium_runs_the_tests_without_the_browser(machine):
    machine.set(uid=1000, installed=BUILD + ["python3-venv", "python3-dev"], sudo="password")
    machine.current_venv()
    result = machine.run("--tests")
    assert result.returncode == 0
    assert result.stderr == ("bin/setup: Chromium is missing, so the browser tests will not run (bin/test names "
                             "them at the end). To run them: sudo apt-get install chromium\n")
    assert result.called("apt-get") == []


def test_a_chromium_of_ones_own_needs_no_package(machine):
    machine.set(installed=BUILD)
    machine.current_venv()
    result = machine.run("--tests", KRENALIS_CHROMIUM="/opt/chromium/chrome")
    assert (result.returncode, result.stderr, result.called("dpkg-query")) == (0, "", [])


def test_a_venv_linked_from_another_checkout_is_used_as_it_is(machine):
    machine.current_venv(machine.tmp / "other" / ".venv")
    (machine.repo / ".venv").symlink_to(machine.tmp / "other" / ".venv")
    machine.set(uid=1000, installed=[], sudo=None)  # nothing to build with, and no way to install
    result = machine.run()
    assert (result.returncode, result.stderr, result.calls) == (0, "", ["uname -s"])


def test_a_venv_link_to_nowhere_is_named(machine):
    (machine.repo / ".venv").symlink_to(machine.tmp / "gone" / ".venv")
    result = machine.run()
    assert result.returncode == 1
    assert result.stderr == (f"bin/setup: .venv links to {machine.tmp}/gone/.venv, which does not exist: remove "
                             "the link (rm .venv) to make a venv here\n")
    assert result.calls == []


def test_macos_names_the_homebrew_packages_before_pip(machine):
    machine.set(uname="Darwin", installed=[])
    result = machine.run("--tests")
    assert result.returncode == 1
    assert "brew install mysql-client pkg-config\n" in result.stderr
    assert 'export PKG_CONFIG_PATH="$(brew --prefix)/opt/mysql-client/lib/pkgconfig"\n' in result.stderr
    assert result.called("dpkg-query") == result.called("apt-get") == []
    assert not result.made_a_venv_or_ran_pip()


def test_macos_with_the_client_library_goes_on_to_pip_and_names_chromium(machine):
    machine.set(uname="Darwin", installed=[], pkg_config_finds_mysqlclient=True)
    result = machine.run("--tests")
    assert result.returncode == 0, result.stderr
    assert result.called("pkg-config") == ["pkg-config --exists mysqlclient"]
    assert result.called("venv-pip") == PIP
    assert "To run them: brew install --cask chromium\n" in result.stderr
    assert result.called("dpkg-query") == result.called("apt-get") == []


def test_apt_get_failing_stops_before_pip_with_its_output(machine):
    machine.set(uid=1000, installed=[], sudo="nopasswd")
    (machine.path / "apt-get").write_text(f"#!{shutil.which('bash')}\necho 'E: Unable to locate package gcc' >&2\n"
                                          "exit 100\n")
    result = machine.run()
    assert result.returncode == 1
    assert "E: Unable to locate package gcc\n" in result.stderr
    assert result.stderr.endswith("bin/setup: apt-get failed (above); the packages it was to install: gcc libc6-dev "
                                  "libmariadb-dev pkg-config python3-venv\n")
    assert not result.made_a_venv_or_ran_pip()


def test_the_readme_commands_use_it():
    assert "\nbin/setup\n" in (ROOT / "bin" / "run").read_text()
    assert "\nbin/setup --tests\n" in (ROOT / "bin" / "test").read_text()
    assert os.access(ROOT / "bin" / "setup", os.X_OK)

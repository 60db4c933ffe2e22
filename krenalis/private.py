"""Files under var/ that only the product's own user may read: the generated keys, bin/run's admin
password and API key, and (inside var/, which is 0700) the metadata, the broker's messages and the
SQLite warehouses. No Django here: settings use it before Django is set up."""
import os
import stat
from pathlib import Path


def private_directory(path: Path) -> None:
    """Creates `path` if needed and makes it 0700 (a directory this user does not own is left as it is)."""
    path.mkdir(parents=True, exist_ok=True)
    try:
        if stat.S_IMODE(path.stat().st_mode) & 0o077:
            path.chmod(0o700)
    except PermissionError:
        pass


def write_private(path: Path, text: str) -> None:
    """Writes `text` into `path`, which is 0600 from its creation (never readable by others, even
    for a moment); an existing file is made 0600 before it is written."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(descriptor, 0o600)
        os.write(descriptor, text.encode())
    finally:
        os.close(descriptor)


def read_private(path: Path) -> str:
    """The text of `path`, made 0600 first if an older version left it readable by others."""
    if stat.S_IMODE(path.stat().st_mode) & 0o077:
        path.chmod(0o600)
    return path.read_text()

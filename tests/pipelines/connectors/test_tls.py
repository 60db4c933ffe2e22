"""TLS of source connections, against real servers: the shared PostgreSQL and MariaDB of this machine
have no TLS, so the tests that need it start private servers with a certificate signed by a test
CA for "localhost" and this machine's name (tests/tls.py)."""
import os
import socket
import stat
import struct
import tempfile
import threading

import pytest

from pipelines.connectors import REGISTRY, ConnectorUnavailable, InvalidSettings
from pipelines.connectors.base import certificate_file
from tests import missing_tools

from .conftest import mysql_connect, pg_connect, pinned, read_all

PG, MY = REGISTRY["postgresql"], REGISTRY["mysql"]
PG_SSL = "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()"
MY_CIPHER = "SELECT VARIABLE_VALUE AS cipher FROM information_schema.SESSION_STATUS WHERE VARIABLE_NAME = 'SSL_CIPHER'"


def pg_settings(server, **changes):
    settings = dict(server.source_settings(), **changes)
    return pinned(PG.validate_settings(settings))


def my_settings(server, **changes):
    settings = dict(server.source_settings(), **changes)
    return pinned(MY.validate_settings(settings))


def encrypted_pg(settings) -> bool:
    return read_all(PG, settings, PG_SSL)[1] == [(True,)]


def mysql_cipher(settings) -> str:
    return read_all(MY, settings, MY_CIPHER)[1][0][0]


# --------------------------------------------------------------------------- settings


@pytest.mark.parametrize("connector,changes,message", [
    (PG, {"sslmode": "secure"}, "sslmode must be one of disable, allow, prefer, require, verify-ca, verify-full"),
    (PG, {"sslmode": 1}, "sslmode must be a string"),
    (PG, {"sslmode": "verify-full"}, "sslrootcert (the CA certificate) is required when sslmode is verify-full"),
    (PG, {"sslmode": "verify-ca", "sslrootcert": ""},
     "sslrootcert (the CA certificate) is required when sslmode is verify-ca"),
    (PG, {"sslrootcert": "not a certificate"},
     "sslrootcert must be one or more PEM-encoded certificates (-----BEGIN CERTIFICATE-----...)"),
    (PG, {"sslrootcert": "-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----"},
     "sslrootcert must be one or more PEM-encoded certificates (-----BEGIN CERTIFICATE-----...)"),
    (PG, {"sslrootcert": "-----BEGIN CERTIFICATE-----\n" + "A" * 70_000 + "\n-----END CERTIFICATE-----"},
     "sslrootcert must be no longer than 65536 characters"),
    (MY, {"ssl": "REQUIRED"}, 'ssl must be an object: {"mode": "VERIFY_IDENTITY", "ca": "-----BEGIN CERTIFICATE..."}'),
    (MY, {"ssl": {"mode": "ON"}}, "ssl.mode must be one of DISABLED, PREFERRED, REQUIRED, VERIFY_CA, VERIFY_IDENTITY"),
    (MY, {"ssl": {"mode": "VERIFY_CA"}}, "ssl.ca (the CA certificate) is required when ssl.mode is VERIFY_CA"),
    (MY, {"ssl": {"mode": "REQUIRED", "cert": "x"}}, 'ssl has an unknown key "cert": it takes mode and ca'),
    (MY, {"ssl": {"ca": 3}}, "ssl.ca must be a string"),
    (MY, {"ssl": {"ca": "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----"}},
     "ssl.ca must be one or more PEM-encoded certificates (-----BEGIN CERTIFICATE-----...)"),
])
def test_tls_settings_are_checked(connector, changes, message):
    base = {"host": "db.example.com", "port": 5432, "username": "u", "password": "p", "database": "d",
            "schema": "public"}
    with pytest.raises(InvalidSettings) as info:
        connector.validate_settings(dict(base, **changes))
    assert str(info.value) == message


def test_tls_settings_are_normalized(tls_certificates):
    ca = tls_certificates.ca
    base = {"host": "db.example.com", "port": 5432, "username": "u", "password": "p", "database": "d",
            "schema": "public"}
    assert PG.validate_settings(dict(base, sslmode="verify-full", sslrootcert=ca))["sslrootcert"] == ca
    assert MY.validate_settings(dict(base, ssl={"mode": "verify_identity", "ca": ca}))["ssl"] == {
        "mode": "VERIFY_IDENTITY", "ca": ca}
    assert MY.validate_settings(dict(base, ssl=None))["ssl"] == {"mode": "PREFERRED", "ca": ""}
    two = ca + "\n" + tls_certificates.other_ca  # a bundle
    assert PG.validate_settings(dict(base, sslrootcert=two))["sslrootcert"] == two


# --------------------------------------------------------------------------- PostgreSQL


def test_the_shared_postgresql_has_no_tls_and_the_private_one_has():
    conn = pg_connect("postgres")
    with conn.cursor() as cur:
        cur.execute("SHOW ssl")
        assert cur.fetchone() == ("off",)
    conn.close()


def test_postgresql_require_connects_over_tls(tls_postgresql):
    assert encrypted_pg(pg_settings(tls_postgresql, sslmode="require"))
    assert encrypted_pg(pg_settings(tls_postgresql))  # prefer, the default
    assert not encrypted_pg(pg_settings(tls_postgresql, sslmode="disable"))


def test_postgresql_verify_full_checks_the_certificate_and_the_name(tls_postgresql, tls_certificates):
    ca, other = tls_certificates.ca, tls_certificates.other_ca
    # The name is checked against the certificate while the connection goes to the checked address.
    settings = pg_settings(tls_postgresql, host="localhost", sslmode="verify-full", sslrootcert=ca)
    assert settings["_address"] == "127.0.0.1" and encrypted_pg(settings)
    with pytest.raises(ConnectorUnavailable) as info:
        PG.test_connection(pg_settings(tls_postgresql, host="localhost", sslmode="verify-full", sslrootcert=other))
    assert str(info.value) == (f'connection to server at "127.0.0.1", port {tls_postgresql.port} failed: SSL error: '
                               "certificate verify failed")
    with pytest.raises(ConnectorUnavailable) as info:  # the certificate is not for 127.0.0.1
        PG.test_connection(pg_settings(tls_postgresql, sslmode="verify-full", sslrootcert=ca))
    assert 'server certificate for "localhost"' in str(info.value) and 'does not match host name "127.0.0.1"' in str(
        info.value), str(info.value)
    assert encrypted_pg(pg_settings(tls_postgresql, sslmode="verify-ca", sslrootcert=ca))  # the chain only
    with pytest.raises(ConnectorUnavailable, match="certificate verify failed"):
        PG.test_connection(pg_settings(tls_postgresql, sslmode="require", sslrootcert=other))  # require + CA


def test_postgresql_requiring_tls_of_a_server_without_it_fails_clearly(pg):
    with pytest.raises(ConnectorUnavailable) as info:
        PG.test_connection(pinned(PG.validate_settings(pg.settings(pin=False, sslmode="require"))))
    assert str(info.value) == ('connection to server at "127.0.0.1", port 5432 failed: server does not support SSL, '
                               "but SSL was required")


def test_the_ca_certificate_is_in_a_private_file_only_while_connecting(tls_postgresql, tls_certificates,
                                                                       monkeypatch, tmp_path):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    with certificate_file(tls_certificates.ca) as path:
        assert os.path.dirname(path) == str(tmp_path)
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        assert open(path).read() == tls_certificates.ca
    assert not os.path.exists(path)
    with certificate_file("") as nothing:
        assert nothing is None
    settings = pg_settings(tls_postgresql, host="localhost", sslmode="verify-full", sslrootcert=tls_certificates.ca)
    assert encrypted_pg(settings)
    with pytest.raises(ConnectorUnavailable):
        PG.test_connection(dict(settings, sslrootcert=tls_certificates.other_ca))
    assert list(tmp_path.iterdir()) == []  # removed after use, whether the connection worked or not


# --------------------------------------------------------------------------- MySQL / MariaDB


class TLSLessMySQL:
    """A real listener that greets as a MySQL server without TLS and records whether the client sent
    anything after the greeting (its credentials would be in that first answer)."""

    def __enter__(self):
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.answers = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()
        return self

    def _serve(self):
        self.sock.settimeout(10)
        try:
            conn, _ = self.sock.accept()
        except OSError:
            return
        with conn:
            capabilities = 0xF7FF  # everything but CLIENT_SSL (0x0800)
            payload = (b"\x0a" + b"5.5.5-10.11.0-MariaDB\0" + struct.pack("<I", 7) + b"12345678\0"
                       + struct.pack("<H", capabilities & 0xFFFF) + b"\x21" + struct.pack("<H", 2)
                       + struct.pack("<H", 0) + b"\x15" + b"\0" * 10 + b"123456789012\0" + b"mysql_native_password\0")
            conn.sendall(len(payload).to_bytes(3, "little") + b"\0" + payload)
            conn.settimeout(3)
            try:
                self.answers.append(conn.recv(4096))
            except OSError:
                pass

    def __exit__(self, *exc):
        self.sock.close()
        self.thread.join(timeout=15)


def test_mysql_requiring_tls_of_a_server_without_it_fails_before_sending_anything(my):
    conn = mysql_connect()
    cur = conn.cursor()
    cur.execute("SHOW VARIABLES LIKE 'have_ssl'")
    assert cur.fetchone()[1] == "DISABLED"  # the shared MariaDB has no TLS
    conn.close()
    for mode in ("REQUIRED", "VERIFY_CA"):
        extra = {"ca": "x"} if mode == "VERIFY_CA" else {}
        settings = my.settings(pin=False, ssl={"mode": mode, **extra})
        if mode == "VERIFY_CA":
            settings["ssl"]["ca"] = None
            with pytest.raises(InvalidSettings):
                MY.validate_settings(settings)
            continue
        with pytest.raises(ConnectorUnavailable) as info:
            MY.test_connection(pinned(MY.validate_settings(settings)))
        assert str(info.value) == ("the server at 127.0.0.1:3306 does not offer TLS, which ssl.mode REQUIRED "
                                   "requires (nothing was sent to it)")
    with TLSLessMySQL() as server:
        settings = my.settings(pin=False, port=server.port, ssl={"mode": "REQUIRED"})
        with pytest.raises(ConnectorUnavailable, match="does not offer TLS"):
            MY.test_connection(pinned(MY.validate_settings(settings)))
    assert server.answers in ([], [b""])  # the client closed without a word: no user, no password
    assert mysql_cipher(pinned(MY.validate_settings(my.settings(pin=False)))) == ""  # PREFERRED: plain here


def test_mysql_tls_modes(tls_mariadb, tls_certificates):
    ca, other = tls_certificates.ca, tls_certificates.other_ca
    assert mysql_cipher(my_settings(tls_mariadb)) != ""  # PREFERRED, the default: TLS when offered
    assert mysql_cipher(my_settings(tls_mariadb, ssl={"mode": "DISABLED"})) == ""
    assert mysql_cipher(my_settings(tls_mariadb, ssl={"mode": "REQUIRED"})) != ""
    assert mysql_cipher(my_settings(tls_mariadb, ssl={"mode": "VERIFY_CA", "ca": ca})) != ""
    with pytest.raises(ConnectorUnavailable) as info:
        MY.test_connection(my_settings(tls_mariadb, ssl={"mode": "VERIFY_CA", "ca": other}))
    assert str(info.value).startswith("Error 2026: TLS/SSL error"), str(info.value)
    # VERIFY_IDENTITY checks the name too: the certificate is not for 127.0.0.1.
    with pytest.raises(ConnectorUnavailable) as info:
        MY.test_connection(my_settings(tls_mariadb, ssl={"mode": "VERIFY_IDENTITY", "ca": ca}))
    assert str(info.value).startswith("Error 2026: TLS/SSL error"), str(info.value)


def test_mysql_verify_identity_by_name(tls_mariadb, tls_certificates):
    """By a name of the certificate that resolves to this machine (its host name, in /etc/hosts)."""
    name = socket.gethostname()
    try:
        loopback = socket.gethostbyname(name).startswith("127.")
    except OSError:
        loopback = False
    if not loopback or name == "localhost":
        missing_tools.skip_now(f"a loopback address for this machine's name {name!r}",
                               f"echo '127.0.1.1 {name}' | sudo tee -a /etc/hosts")
    settings = my_settings(tls_mariadb, host=name, ssl={"mode": "VERIFY_IDENTITY", "ca": tls_certificates.ca})
    assert mysql_cipher(settings) != ""

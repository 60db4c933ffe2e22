"""Private PostgreSQL and MariaDB servers with TLS, for the TLS tests: the shared servers of this
machine have none (and are not to be reconfigured). Each runs from a temporary directory on a
free loopback port, with a server certificate signed by a test CA for the names "localhost" and
this machine's name (not for 127.0.0.1: a check of the identity against the address fails), and is
stopped by its process ID."""
import datetime as dt
import glob
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import MySQLdb
import psycopg2


@dataclass
class Certificates:
    ca: str            # PEM of the CA that signed the server certificate
    other_ca: str      # PEM of a CA that signed nothing here
    cert_file: str
    key_file: str
    names: tuple       # the DNS names the server certificate holds


def make_certificates(directory: Path) -> Certificates:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = dt.datetime.now(dt.timezone.utc)

    def authority(name):
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
                .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(hours=1))
                .not_valid_after(now + dt.timedelta(days=2))
                .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                             content_commitment=False, key_encipherment=False,
                                             data_encipherment=False, key_agreement=False, encipher_only=False,
                                             decipher_only=False), critical=True)
                .sign(key, hashes.SHA256()))
        return key, cert

    ca_key, ca_cert = authority("Krenalis test CA")
    _, other_cert = authority("Some other CA")
    names = tuple(dict.fromkeys(["localhost", socket.gethostname()]))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
            .issuer_name(ca_cert.subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(now + dt.timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    cert_file, key_file = directory / "server.crt", directory / "server.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    key_file.chmod(0o600)
    pem = serialization.Encoding.PEM
    return Certificates(ca=ca_cert.public_bytes(pem).decode(), other_ca=other_cert.public_bytes(pem).decode(),
                        cert_file=str(cert_file), key_file=str(key_file), names=names)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _as_user(name: str) -> dict:
    """Popen arguments that run a server as `name` when the tests run as root (servers refuse root)."""
    return {"user": name, "group": pwd.getpwnam(name).pw_gid} if os.geteuid() == 0 else {}


def _give(paths, name: str) -> None:
    if os.geteuid() == 0:
        entry = pwd.getpwnam(name)
        for path in paths:
            os.chown(path, entry.pw_uid, entry.pw_gid)


def _binary(name: str) -> str:
    path = shutil.which(name) or next((p for p in (f"/usr/sbin/{name}", f"/usr/bin/{name}") if os.path.exists(p)),
                                      None)
    if path is None:
        raise FileNotFoundError(f"no {name} on this machine")
    return path


def _wait(connect, process, log: Path, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited: {log.read_text()[-2000:]}")
        try:
            connect().close()
            return
        except Exception:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{what} did not start within {timeout} s: {log.read_text()[-2000:]}") from None
            time.sleep(0.2)


class PrivateServer:
    """A database server of the tests' own; `stop()` ends it by its process ID."""

    def __init__(self, kind: str, certificates: Certificates):
        self.kind, self.certificates = kind, certificates
        self.directory = Path(tempfile.mkdtemp(prefix=f"krenalis-tls-{kind}-"))
        self.directory.chmod(0o755)
        self.port = free_port()
        self.process = None

    def start(self) -> "PrivateServer":
        user = "postgres" if self.kind == "postgresql" else "mysql"
        cert, key = self.directory / "server.crt", self.directory / "server.key"
        shutil.copy(self.certificates.cert_file, cert)
        shutil.copy(self.certificates.key_file, key)
        key.chmod(0o600)
        _give([self.directory, cert, key], user)
        log = self.directory / "server.log"
        data = self.directory / "data"
        if self.kind == "postgresql":
            binaries = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(p.split("/")[-2]))
            if not binaries:
                raise FileNotFoundError("no PostgreSQL server binaries under /usr/lib/postgresql")
            bin_dir = binaries[-1]
            subprocess.run([f"{bin_dir}/initdb", "-D", str(data), "-U", "postgres", "--auth=trust", "--no-sync",
                            "-E", "UTF8"], check=True, capture_output=True, **_as_user(user))
            argv = [f"{bin_dir}/postgres", "-D", str(data), "-p", str(self.port), "-k", str(self.directory),
                    "-c", "listen_addresses=127.0.0.1", "-c", "ssl=on", "-c", f"ssl_cert_file={cert}",
                    "-c", f"ssl_key_file={key}", "-c", "fsync=off", "-c", "shared_buffers=16MB"]
        else:
            subprocess.run([_binary("mariadb-install-db"), "--no-defaults", f"--datadir={data}", "--skip-test-db",
                            "--auth-root-authentication-method=normal"]
                           + (["--user=mysql"] if os.geteuid() == 0 else []), check=True, capture_output=True)
            argv = [_binary("mariadbd"), "--no-defaults", f"--datadir={data}", f"--port={self.port}",
                    "--bind-address=127.0.0.1", f"--socket={self.directory}/mysqld.sock",
                    f"--pid-file={self.directory}/mysqld.pid", f"--ssl-cert={cert}", f"--ssl-key={key}",
                    "--skip-log-bin", "--skip-name-resolve", "--innodb-buffer-pool-size=16M"] \
                + (["--user=mysql"] if os.geteuid() == 0 else [])
        with open(log, "wb") as out:
            self.process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                            **(_as_user(user) if self.kind == "postgresql" else {}))
        _wait(self.admin_connect, self.process, log, f"the private {self.kind} server")
        return self

    def admin_connect(self):
        if self.kind == "postgresql":
            conn = psycopg2.connect(host="127.0.0.1", port=self.port, user="postgres", dbname="postgres",
                                    sslmode="disable", connect_timeout=3)
            conn.autocommit = True
            return conn
        return MySQLdb.connect(host="127.0.0.1", port=self.port, user="root", password="", connect_timeout=3,
                               ssl_mode="DISABLED", autocommit=True)

    def source_settings(self) -> dict:
        """A database with a `customers` table of 3 rows and a user (with a password) that reads it."""
        password = "pw-" + secrets.token_hex(6)
        conn = self.admin_connect()
        cur = conn.cursor()
        if self.kind == "postgresql":
            cur.execute("CREATE TABLE IF NOT EXISTS customers (id int PRIMARY KEY, email text)")
            cur.execute("INSERT INTO customers VALUES (1, 'a@x'), (2, 'b@x'), (3, 'c@x') ON CONFLICT DO NOTHING")
            conn.close()
            return {"host": "127.0.0.1", "port": self.port, "username": "postgres", "password": password,
                    "database": "postgres", "schema": "public"}
        cur.execute("CREATE DATABASE IF NOT EXISTS shop")
        cur.execute("CREATE TABLE IF NOT EXISTS shop.customers (id INT PRIMARY KEY, email VARCHAR(60))")
        cur.execute("INSERT IGNORE INTO shop.customers VALUES (1, 'a@x'), (2, 'b@x'), (3, 'c@x')")
        cur.execute("CREATE USER IF NOT EXISTS 'reader'@'%%' IDENTIFIED BY %s", (password,))
        cur.execute("ALTER USER 'reader'@'%%' IDENTIFIED BY %s", (password,))
        cur.execute("GRANT SELECT ON shop.* TO 'reader'@'%'")
        conn.close()
        return {"host": "127.0.0.1", "port": self.port, "username": "reader", "password": password,
                "database": "shop"}

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.directory, ignore_errors=True)

"""The demo source database: a `users` table of a fictional shop, the same rows every time.

    python demo/generate.py                 # rewrites demo/users.postgresql.sql and demo/users.mysql.sql
    python demo/generate.py --sqlite FILE   # writes a SQLite database (`manage.py demo` does it for you)

Pure Python, no Django. The rows are generated from a fixed seed and fixed dates, so the SQL
scripts in this directory and the SQLite file hold the same users; a test keeps them in sync.
"""
from __future__ import annotations

import argparse
import datetime as dt
import random
import sqlite3
import sys
import unicodedata
from dataclasses import astuple, dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
USERS = 5000
SEED = 20240101
# Sign-ups span two years up to LAST_CHANGE; `updated_at` is the last change of each user.
FIRST_SIGNUP = dt.datetime(2023, 1, 1)
LAST_CHANGE = dt.datetime(2024, 12, 31, 23, 59, 59)

FIRST_NAMES = (
    "Olivia", "Liam", "Emma", "Noah", "Amelia", "Oliver", "Sophia", "Elijah", "Isabella", "Lucas", "Mia", "Mateo",
    "Charlotte", "Levi", "Ava", "Leo", "Harper", "Ethan", "Evelyn", "Sebastian", "Chiara", "Giulia", "Francesco",
    "Alessandro", "Sofia", "Lorenzo", "Martina", "Matteo", "Léa", "Hugo", "Chloé", "Louis", "Inès", "Gabriel",
    "Manon", "Jules", "Lukas", "Finn", "Hannah", "Paul", "Lena", "Lucía", "Daniel",
    "Paula", "Pablo", "Sara", "Álvaro", "Ana", "João", "Beatriz", "Tiago", "Mariana", "Yuki", "Haruto", "Sakura",
    "Aarav", "Diya", "Arjun", "Ananya", "Wei", "Mei", "Chen", "Fatima", "Omar", "Amira", "Youssef", "Zeynep",
    "Emre", "Elif", "Ingrid", "Lars", "Freja", "Magnus", "Astrid", "Oskar", "Nora", "Emil",
)
LAST_NAMES = (
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez", "Martinez",
    "Wilson", "Anderson", "Taylor", "Thomas", "Moore", "Jackson", "Martin", "Lee", "Thompson", "White", "Rossi",
    "Russo", "Ferrari", "Esposito", "Bianchi", "Romano", "Colombo", "Ricci", "Marino", "Greco", "Bernard",
    "Dubois", "Moreau", "Laurent", "Simon", "Michel", "Lefebvre", "Müller", "Schmidt", "Schneider", "Fischer",
    "Weber", "Meyer", "Wagner", "Becker", "Fernández", "López", "González", "Sánchez", "Pérez", "Gómez", "Silva",
    "Santos", "Oliveira", "Costa", "Pereira", "Sato", "Suzuki", "Takahashi", "Tanaka", "Sharma", "Patel", "Singh",
    "Wang", "Li", "Zhang", "Liu", "Haddad", "Yilmaz", "Kaya", "Hansen", "Johansson", "Nielsen", "Larsen", "O'Brien",
    "Murphy", "Kelly", "Novak", "Kowalski", "Nowak",
)
# country code → (weight, cities)
COUNTRIES = {
    "US": (30, ("New York", "Los Angeles", "Chicago", "Houston", "Seattle", "Boston", "Austin", "Denver")),
    "GB": (10, ("London", "Manchester", "Birmingham", "Leeds", "Glasgow", "Bristol")),
    "IT": (10, ("Rome", "Milan", "Naples", "Turin", "Florence", "Bologna", "Pisa")),
    "FR": (9, ("Paris", "Lyon", "Marseille", "Toulouse", "Nice", "Bordeaux")),
    "DE": (9, ("Berlin", "Hamburg", "Munich", "Cologne", "Frankfurt", "Stuttgart")),
    "ES": (7, ("Madrid", "Barcelona", "Valencia", "Seville", "Bilbao")),
    "PT": (3, ("Lisbon", "Porto", "Braga")),
    "BR": (5, ("São Paulo", "Rio de Janeiro", "Brasília", "Salvador")),
    "JP": (4, ("Tokyo", "Osaka", "Kyoto", "Yokohama")),
    "IN": (5, ("Mumbai", "Delhi", "Bengaluru", "Chennai", "Pune")),
    "CA": (4, ("Toronto", "Montreal", "Vancouver", "Calgary")),
    "SE": (2, ("Stockholm", "Gothenburg", "Malmö")),
    "NL": (2, ("Amsterdam", "Rotterdam", "Utrecht")),
}
PLANS = (("free", 70), ("pro", 22), ("business", 8))
DOMAINS = ("example.com", "example.org", "example.net", "mail.example.com")

COLUMNS = ("id", "email", "first_name", "last_name", "country", "city", "plan", "signed_up_at", "updated_at")
CREATE = {
    "sqlite": """CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    email VARCHAR(254) NOT NULL UNIQUE,
    first_name VARCHAR(100),
    last_name VARCHAR(100),
    country VARCHAR(2),
    city VARCHAR(100),
    plan VARCHAR(20) NOT NULL,
    signed_up_at DATETIME NOT NULL,
    updated_at DATETIME NOT NULL
)""",
    "postgresql": """CREATE TABLE users (
    id integer PRIMARY KEY,
    email varchar(254) NOT NULL UNIQUE,
    first_name varchar(100),
    last_name varchar(100),
    country varchar(2),
    city varchar(100),
    plan varchar(20) NOT NULL,
    signed_up_at timestamp NOT NULL,
    updated_at timestamp NOT NULL
)""",
    "mysql": """CREATE TABLE users (
    id INT NOT NULL PRIMARY KEY,
    email VARCHAR(254) NOT NULL UNIQUE,
    first_name VARCHAR(100),
    last_name VARCHAR(100),
    country VARCHAR(2),
    city VARCHAR(100),
    plan VARCHAR(20) NOT NULL,
    signed_up_at DATETIME(6) NOT NULL,
    updated_at DATETIME(6) NOT NULL
) DEFAULT CHARSET=utf8mb4""",
}
INDEX = "CREATE INDEX users_updated_at ON users (updated_at)"


@dataclass(frozen=True)
class User:
    id: int
    email: str
    first_name: str | None
    last_name: str | None
    country: str | None
    city: str | None
    plan: str
    signed_up_at: dt.datetime
    updated_at: dt.datetime


def _ascii(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text) if c.isascii() and c.isalnum()).lower()


def users(count: int = USERS, seed: int = SEED) -> list[User]:
    """`count` users with unique e-mail addresses; a few lack a name or a place, as real data does."""
    rng = random.Random(seed)
    countries = list(COUNTRIES)
    country_weights = [COUNTRIES[c][0] for c in countries]
    span = (LAST_CHANGE - FIRST_SIGNUP).total_seconds()
    seen_emails: set[str] = set()
    result = []
    for user_id in range(1, count + 1):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        local = rng.choice((f"{_ascii(first)}.{_ascii(last)}", f"{_ascii(first)[0]}{_ascii(last)}",
                            f"{_ascii(first)}{_ascii(last)}"))
        email = f"{local}@{rng.choice(DOMAINS)}"
        while email in seen_emails:
            email = f"{local}{rng.randint(1, 999)}@{rng.choice(DOMAINS)}"
        seen_emails.add(email)
        country = rng.choices(countries, country_weights)[0]
        city = rng.choice(COUNTRIES[country][1])
        plan = rng.choices([p for p, _ in PLANS], [w for _, w in PLANS])[0]
        signed_up = FIRST_SIGNUP + dt.timedelta(seconds=int(span * rng.random() ** 0.8))
        updated = signed_up + dt.timedelta(seconds=int((LAST_CHANGE - signed_up).total_seconds() * rng.random()),
                                           microseconds=rng.randrange(1_000_000))
        if rng.random() < 0.03:
            first = last = None
        if rng.random() < 0.02:
            country = city = None
        result.append(User(user_id, email, first, last, country, city, plan, signed_up, updated))
    return result


def _text(value: dt.datetime) -> str:
    """Datetimes as text with six decimals, so that SQLite compares them with ${updated_at} rightly."""
    return value.strftime("%Y-%m-%d %H:%M:%S.%f")


def write_sqlite(path: str | Path, rows: list[User] | None = None) -> int:
    """Writes the users into a new SQLite file at `path` (replaced if it exists); returns their number."""
    rows = users() if rows is None else rows
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.unlink(missing_ok=True)
    conn = sqlite3.connect(partial)
    try:
        with conn:
            conn.execute(CREATE["sqlite"])
            conn.execute(INDEX)
            conn.executemany(f"INSERT INTO users ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})",
                             [(u.id, u.email, u.first_name, u.last_name, u.country, u.city, u.plan,
                               _text(u.signed_up_at), _text(u.updated_at)) for u in rows])
    finally:
        conn.close()
    partial.replace(path)
    return len(rows)


def _literal(value) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, dt.datetime):
        value = _text(value)
    assert "\\" not in value  # MySQL would read a backslash as an escape
    return "'" + value.replace("'", "''") + "'"


def sql_script(dialect: str, rows: list[User] | None = None) -> str:
    """A script that creates and fills `users`, for `postgresql` or `mysql` (run it in an empty database)."""
    rows = users() if rows is None else rows
    lines = [f"-- {len(rows)} demo users of Krenalis for Django, generated by demo/generate.py: do not edit.",
             "DROP TABLE IF EXISTS users;", CREATE[dialect] + ";", INDEX + ";"]
    if dialect == "mysql":
        lines.insert(1, "SET NAMES utf8mb4;")
    for start in range(0, len(rows), 500):
        values = ",\n".join("(" + ", ".join(_literal(v) for v in astuple(u)) + ")" for u in rows[start:start + 500])
        lines.append(f"INSERT INTO users ({', '.join(COLUMNS)}) VALUES\n{values};")
    return "\n".join(lines) + "\n"


SCRIPTS = {"postgresql": HERE / "users.postgresql.sql", "mysql": HERE / "users.mysql.sql"}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sqlite", help="write a SQLite database at this path instead of the SQL scripts")
    args = parser.parse_args(argv)
    if args.sqlite:
        print(f"{write_sqlite(args.sqlite)} users written to {args.sqlite}")
        return 0
    rows = users()
    for dialect, path in SCRIPTS.items():
        path.write_text(sql_script(dialect, rows), encoding="utf-8")
        print(f"{len(rows)} users written to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

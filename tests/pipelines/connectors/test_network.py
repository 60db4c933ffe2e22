"""The address policy of the connectors core: which addresses are public, what the allow-list lets
in, the product's own databases, and that a host is resolved once and the connection made to the
address that was checked (against the real PostgreSQL and MariaDB of this machine)."""
import ipaddress

import pytest

from pipelines.connectors import REGISTRY, ConnectorUnavailable, InvalidSettings
from pipelines.connectors.network import (AddressPolicy, OwnDatabase, non_public_kind, parse_allowed_hosts,
                                          parse_allowed_ports, pin_address, pin_settings, system_resolver)

from .conftest import read_all

NOT_LISTED = "(list it in KRENALIS_DATABASE_ALLOWED_HOSTS to allow it)"
DEFAULT = AddressPolicy(allowed_hosts=parse_allowed_hosts(None))


class Resolver:
    """A name server for made-up names (the system's cannot be told what to answer): each name has
    its answers, one per lookup (the last one repeats), an answer being an address or a list of
    them; other names go to the system resolver. Lookups of made-up names are counted."""

    def __init__(self, answers: dict):
        self.answers = {name: [[a] if isinstance(a, str) else a for a in values] for name, values in answers.items()}
        self.lookups = []

    def __call__(self, host, port):
        answers = self.answers.get(host.lower())  # names are case-insensitive
        if answers is None:
            return system_resolver(host, port)
        self.lookups.append(host)
        return answers.pop(0) if len(answers) > 1 else answers[0]


@pytest.mark.parametrize("address,kind", [
    ("127.0.0.1", "a loopback address"),
    ("127.8.9.10", "a loopback address"),
    ("::1", "a loopback address"),
    ("0.0.0.0", "an unspecified address"),
    ("::", "an unspecified address"),
    ("10.1.2.3", "a private address"),
    ("172.16.0.1", "a private address"),
    ("192.168.0.1", "a private address"),
    ("fd00::1", "a private address"),
    ("169.254.169.254", "a link-local address"),
    ("fe80::1", "a link-local address"),
    ("224.0.0.1", "a multicast address"),
    ("ff02::1", "a multicast address"),
    ("100.64.0.1", "a shared (carrier-grade NAT) address"),
    ("fec0::1", "a site-local address"),
    ("240.0.0.1", "a private address"),  # reserved (Python counts 240/4 among the private ranges)
    ("255.255.255.255", "a private address"),
    ("::ffff:127.0.0.1", "an IPv6 form of 127.0.0.1, a loopback address"),
    ("::ffff:10.0.0.1", "an IPv6 form of 10.0.0.1, a private address"),
    ("::127.0.0.1", "an IPv6 form of 127.0.0.1, a loopback address"),  # IPv4-compatible
    ("2002:7f00:1::", "an IPv6 form of 127.0.0.1, a loopback address"),  # 6to4
    ("64:ff9b::a9fe:a9fe", "an IPv6 form of 169.254.169.254, a link-local address"),  # NAT64
    ("2001:0:4136:e378:8000:63bf:f5ff:fffe", "an IPv6 form of 10.0.0.1, a private address"),  # Teredo client
])
def test_addresses_that_are_not_public(address, kind):
    assert non_public_kind(ipaddress.ip_address(address)) == kind
    with pytest.raises(InvalidSettings) as info:
        pin_address(address, 5432, "db", DEFAULT)
    assert str(info.value) == f'host "{address}" is not allowed: {address} is {kind} {NOT_LISTED}'


@pytest.mark.parametrize("address", ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "2002:808:808::"])
def test_public_addresses_are_allowed_by_default(address):
    assert non_public_kind(ipaddress.ip_address(address)) is None
    assert pin_address(address, 5432, "db", DEFAULT) == address


def test_the_allow_list():
    assert parse_allowed_hosts(None) == parse_allowed_hosts("") == parse_allowed_hosts(" , ") == ("public",)
    assert parse_allowed_hosts(" DB.internal ,10.0.0.0/8") == ("db.internal", "10.0.0.0/8")
    assert parse_allowed_ports(None) == ((1, 65535),)
    assert parse_allowed_ports("5432, 6000-6010") == ((5432, 5432), (6000, 6010))
    resolver = Resolver({"db.internal": ["10.9.9.9"], "public-example": ["93.184.216.34"],
                         "inside": ["10.1.1.1"]})
    listed = AddressPolicy(allowed_hosts=parse_allowed_hosts("db.internal,10.0.0.0/8,127.0.0.1"), resolve=resolver)
    assert pin_address("10.200.0.1", 5432, "db", listed) == "10.200.0.1"
    assert pin_address("::ffff:127.0.0.1", 5432, "db", listed) == "127.0.0.1"  # the IPv4 address it is
    assert pin_address("DB.Internal", 5432, "db", listed) == "10.9.9.9"  # a listed name, whatever it resolves to
    assert pin_address("inside", 5432, "db", listed) == "10.1.1.1"  # resolves into a listed network
    with pytest.raises(InvalidSettings, match=r'^host "public-example" is not allowed: it resolves to '
                                              r"93\.184\.216\.34, which is not in KRENALIS_DATABASE_ALLOWED_HOSTS$"):
        pin_address("public-example", 5432, "db", listed)  # no "public" in the list: only what it names
    with_public = AddressPolicy(allowed_hosts=("public", "db.internal"), resolve=resolver)
    assert pin_address("public-example", 5432, "db", with_public) == "93.184.216.34"
    with pytest.raises(InvalidSettings, match=r'it resolves to 10\.1\.1\.1, a private address'):
        pin_address("inside", 5432, "db", with_public)
    keyword = AddressPolicy(allowed_hosts=("public",), resolve=Resolver({"public": ["10.3.3.3"]}))
    with pytest.raises(InvalidSettings, match=r"it resolves to 10\.3\.3\.3, a private address"):
        pin_address("public", 5432, "db", keyword)  # a host named like the keyword is not listed by it
    anything = AddressPolicy(allowed_hosts=("*",))
    assert pin_address("127.0.0.1", 5432, "db", anything) == "127.0.0.1"


def test_every_address_a_name_resolves_to_is_checked():
    resolver = Resolver({"mixed": [["93.184.216.34", "10.0.0.7"]], "fine": [["93.184.216.34", "2606:4700::1"]]})
    policy = AddressPolicy(resolve=resolver)
    with pytest.raises(InvalidSettings) as info:
        pin_address("mixed", 5432, "db", policy)
    assert str(info.value) == f'host "mixed" is not allowed: it resolves to 10.0.0.7, a private address {NOT_LISTED}'
    assert pin_address("fine", 5432, "db", policy) == "93.184.216.34"  # the first, in the resolver's order


def test_a_host_is_resolved_once_and_the_checked_address_is_the_one_used():
    """DNS rebinding: a name that answers a public address to the check and a loopback address a
    moment later. It is looked up once; the pinned settings carry the checked address."""
    resolver = Resolver({"rebinding": ["93.184.216.34", "127.0.0.1"]})
    settings = pin_settings({"host": "rebinding", "port": 5432, "database": "db"}, AddressPolicy(resolve=resolver))
    assert settings["_address"] == "93.184.216.34" and resolver.lookups == ["rebinding"]


def test_names_and_ports_that_are_refused_or_unknown():
    with pytest.raises(InvalidSettings,
                       match=r"^port 22 is not allowed: it is not in KRENALIS_DATABASE_ALLOWED_PORTS$"):
        pin_address("8.8.8.8", 22, "db", AddressPolicy(allowed_ports=((5432, 5432),)))
    for host in ("a b", "a,b", "/tmp", "host=evil", "-lead", "x..y", "é.example"):
        with pytest.raises(InvalidSettings, match=f'^host "{host}" is not a valid host name or IP address$'):
            pin_address(host, 5432, "db", DEFAULT)
    with pytest.raises(ConnectorUnavailable, match=r'^host "nowhere\.invalid" cannot be resolved: '):
        pin_address("nowhere.invalid", 5432, "db", DEFAULT)  # the system resolver


def test_the_own_databases_are_never_reached():
    own = (OwnDatabase("", 5432, "krenalis", "Krenalis' own metadata database"),
           OwnDatabase("wh.example", 5432, "warehouse", "the data warehouse of a workspace"))
    resolver = Resolver({"wh.example": ["93.184.216.34"], "alias": ["93.184.216.34"]})
    policy = AddressPolicy(allowed_hosts=("*",), own_databases=own, resolve=resolver)
    for host in ("127.0.0.1", "127.0.0.2", "localhost", "::1", "0.0.0.0", "::ffff:127.0.0.1"):
        with pytest.raises(InvalidSettings) as info:
            pin_address(host, 5432, "krenalis", policy)  # every loopback address is this machine
        assert str(info.value) == (f'database "krenalis" at {host}:5432 is Krenalis\' own metadata database and may '
                                   'not be used here')
    with pytest.raises(InvalidSettings, match=r"KRENALIS.* is Krenalis' own metadata database"):
        pin_address("127.0.0.1", 5432, "KRENALIS", policy)
    with pytest.raises(InvalidSettings, match=r'^database "warehouse" at alias:5432 is the data warehouse of a '
                                              r"workspace and may not be used here$"):
        pin_address("alias", 5432, "warehouse", policy)  # another name of the same server
    assert resolver.lookups == ["alias", "wh.example"]
    # Another database, port or server is not one of them (and their servers are not looked up).
    resolver.lookups.clear()
    assert pin_address("127.0.0.1", 5432, "shop", policy) == "127.0.0.1"
    assert pin_address("127.0.0.1", 5433, "krenalis", policy) == "127.0.0.1"
    assert pin_address("8.8.8.8", 5432, "krenalis", policy) == "8.8.8.8"
    assert pin_address("127.0.0.1", 5432, "warehouse", policy) == "127.0.0.1"
    assert resolver.lookups == ["wh.example"]


@pytest.mark.parametrize("kind", ["postgresql", "mysql"])
def test_connectors_connect_to_the_checked_address(pg, my, kind):
    """libpq and the MySQL client connect to the address that was checked: a name only our resolver
    knows (the system's cannot resolve it, so a driver that looked it up again would fail)."""
    connector, database = REGISTRY[kind], pg if kind == "postgresql" else my
    resolver = Resolver({"krenalis-pinned-test": ["127.0.0.1"]})
    settings = pin_settings(database.settings(pin=False, host="krenalis-pinned-test"),
                            AddressPolicy(allowed_hosts=("127.0.0.1",), resolve=resolver))
    assert settings["_address"] == "127.0.0.1"
    _, rows = read_all(connector, settings, "SELECT 1 AS one")
    assert rows == [(1,)] and resolver.lookups == ["krenalis-pinned-test"]
    unpinned = {k: v for k, v in settings.items() if k != "_address"}
    with pytest.raises(ValueError, match="not pinned"):
        connector.test_connection(unpinned)

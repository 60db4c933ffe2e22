"""Where a source or warehouse database may be reached, and the one address it is reached at.

Pure Python (no Django): the services build an AddressPolicy from the settings (the allow-list
KRENALIS_DATABASE_ALLOWED_HOSTS and _PORTS, and the product's own databases) and pass it in.

- A host is resolved once; every address it resolves to must be allowed, and the connection is
  opened to the first of them (``pin_address``): a name that resolves elsewhere a moment later
  (DNS rebinding) changes nothing.
- By default only public addresses are allowed: loopback, private, link-local, unspecified,
  multicast, reserved, shared (CGNAT) addresses and the IPv6 forms that embed such an IPv4 address
  are refused unless the allow-list names them (a host name, an IP address or a CIDR network).
- Whatever the allow-list says, no connection may name one of the product's own databases (the
  metadata database, a workspace's warehouse): same server (same address, every address of this
  machine counting as one) and port, same database name.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from .base import ADDRESS, ConnectorUnavailable, InvalidSettings

__all__ = ["AddressPolicy", "OwnDatabase", "ADDRESS", "PUBLIC", "ANY", "HOSTS_SETTING", "PORTS_SETTING",
           "parse_allowed_hosts", "parse_allowed_ports", "pin_address", "pin_settings", "non_public_kind",
           "is_host_syntax"]

HOSTS_SETTING = "KRENALIS_DATABASE_ALLOWED_HOSTS"
PORTS_SETTING = "KRENALIS_DATABASE_ALLOWED_PORTS"
PUBLIC = "public"  # allow-list keyword: any public (globally routable) address
ANY = "*"          # allow-list keyword: any address at all

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_LABEL = r"[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?"
_HOST_NAME = re.compile(rf"{_LABEL}(?:\.{_LABEL})*\.?")
THIS_MACHINE = "this machine"


@dataclass(frozen=True)
class OwnDatabase:
    """A database of the product itself; `host` as configured ("" or a socket directory: this machine)."""

    host: str
    port: int
    database: str
    description: str  # "Krenalis' metadata database", "the data warehouse of a workspace"


Resolver = Callable[[str, int], Sequence[str]]


def system_resolver(host: str, port: int) -> list[str]:
    """The addresses the system resolver gives for host, in its order of preference, without duplicates."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    addresses: list[str] = []
    for family, _type, _proto, _name, sockaddr in infos:
        if family in (socket.AF_INET, socket.AF_INET6) and sockaddr[0] not in addresses:
            addresses.append(sockaddr[0])
    return addresses


@dataclass(frozen=True)
class AddressPolicy:
    """The allow-list and the databases no connection may name. `resolve` is the system resolver."""

    allowed_hosts: tuple[str, ...] = (PUBLIC,)
    allowed_ports: tuple[tuple[int, int], ...] = ((1, 65535),)
    own_databases: tuple[OwnDatabase, ...] = ()
    resolve: Resolver = field(default=system_resolver, compare=False)


def _entries(value: str | Sequence[str] | None) -> list[str]:
    parts = value.split(",") if isinstance(value, str) else list(value or ())
    return [part.strip() for part in parts if part.strip()]


def parse_allowed_hosts(value: str | Sequence[str] | None) -> tuple[str, ...]:
    """The allow-list (comma-separated, or a list); unset or empty is "public" (public addresses only)."""
    return tuple(entry.lower() for entry in _entries(value)) or (PUBLIC,)


def parse_allowed_ports(value: str | Sequence[str] | None) -> tuple[tuple[int, int], ...]:
    """"5432,3306" or "1024-65535"; unset or empty is every port."""
    ranges = []
    for part in _entries(value):
        low, _, high = part.strip().partition("-")
        if low.strip():
            ranges.append((int(low), int(high or low)))
    return tuple(ranges) or ((1, 65535),)


# --------------------------------------------------------------------------- addresses


def _ip(text: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(text.strip("[]"))
    except ValueError:
        return None


def _embedded_ipv4(ip: IPAddress) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address carries (mapped, compatible, 6to4, NAT64, Teredo): a
    connection to it may reach them."""
    if ip.version == 4:
        return []
    embedded = []
    if ip.ipv4_mapped is not None:
        embedded.append(ip.ipv4_mapped)
    if int(ip) >> 32 == 0 and int(ip) > 1:  # ::a.b.c.d (IPv4-compatible, deprecated)
        embedded.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    if ip.sixtofour is not None:
        embedded.append(ip.sixtofour)
    if ip in _NAT64:
        embedded.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    if ip.teredo is not None:
        embedded.extend(ip.teredo)
    return embedded


def _plain(ip: IPAddress) -> IPAddress:
    """An IPv4-mapped or -compatible IPv6 address as its IPv4 address; any other unchanged."""
    if ip.version == 6 and (ip.ipv4_mapped is not None or (int(ip) >> 32 == 0 and int(ip) > 1)):
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return ip


def _own_kind(ip: IPAddress) -> str | None:
    if ip.is_unspecified:
        return "unspecified"
    if ip.is_loopback:
        return "loopback"
    if ip.is_link_local:
        return "link-local"
    if ip.is_multicast:
        return "multicast"
    if ip.version == 4 and ip in _CGNAT:
        return "shared (carrier-grade NAT)"
    if ip.version == 6 and ip.is_site_local:
        return "site-local"
    if ip.is_private:
        return "private"
    if ip.is_reserved:
        return "reserved"
    if not ip.is_global:
        return "non-public"
    return None


def non_public_kind(ip: IPAddress) -> str | None:
    """Why an address is not public ("a loopback address", "an IPv6 form of 10.0.0.1, a private
    address"), or None when it is a public address."""
    if ip.version == 6 and not (ip.is_loopback or ip.is_unspecified):
        for inner in _embedded_ipv4(ip):
            inner_kind = _own_kind(inner)
            if inner_kind:
                return f"an IPv6 form of {inner}, {_article(inner_kind)} address"
    kind = _own_kind(ip)
    return f"{_article(kind)} address" if kind else None


def _text(ip: IPAddress) -> str:
    """An address as people write it: IPv4-mapped ones as ::ffff:a.b.c.d."""
    if ip.version == 6 and ip.ipv4_mapped is not None:
        return f"::ffff:{ip.ipv4_mapped}"
    return str(ip)


def _article(kind: str) -> str:
    return ("an " if kind[0] in "aeiou" else "a ") + kind


def _in_list(ip: IPAddress, entries: Iterable[str]) -> bool:
    plain = _plain(ip)
    for entry in entries:
        if "/" in entry:
            try:
                network = ipaddress.ip_network(entry.strip("[]"), strict=False)
            except ValueError:
                continue
            if plain.version == network.version and plain in network:
                return True
        else:
            listed = _ip(entry)
            if listed is not None and _plain(listed) == plain:
                return True
    return False


def is_host_syntax(host: str) -> bool:
    """A host name (letters, digits, hyphens, underscores, dots) or an IP address."""
    return _ip(host) is not None or bool(_HOST_NAME.fullmatch(host))


def _local_addresses() -> set[IPAddress]:
    """The addresses of this machine's interfaces (Linux: /proc), beside loopback."""
    found: set[IPAddress] = set()
    try:
        with open("/proc/net/if_inet6") as lines:
            for line in lines:
                found.add(ipaddress.IPv6Address(int(line.split()[0], 16)))
    except (OSError, ValueError, IndexError):
        pass
    try:
        with open("/proc/net/fib_trie") as lines:
            previous = ""
            for line in lines:
                if "/32 host LOCAL" in line and "|--" in previous:
                    ip = _ip(previous.split("|--", 1)[1].strip())
                    if ip is not None:
                        found.add(ip)
                previous = line
    except OSError:
        pass
    return found


def _server_key(ip: IPAddress, local: set[IPAddress]) -> str:
    """The server an address reaches: every address of this machine is one server."""
    plain = _plain(ip)
    if plain.is_loopback or plain.is_unspecified or plain in local or ip in local:
        return THIS_MACHINE
    return str(plain)


# --------------------------------------------------------------------------- the check


def _resolve(host: str, port: int, policy: AddressPolicy) -> list[IPAddress]:
    literal = _ip(host)
    if literal is not None:
        return [literal]
    try:
        addresses = [_ip(a) for a in policy.resolve(host, port)]
    except (OSError, UnicodeError) as error:
        reason = getattr(error, "strerror", None) or str(error) or error.__class__.__name__
        raise ConnectorUnavailable(f'host "{host}" cannot be resolved: {reason}') from None
    addresses = [a for a in addresses if a is not None]
    if not addresses:
        raise ConnectorUnavailable(f'host "{host}" cannot be resolved: it has no address')
    return addresses


def _refusal(host: str, ip: IPAddress, literal: bool, policy: AddressPolicy) -> str | None:
    """Why the address `ip` of `host` may not be used, or None."""
    hosts = policy.allowed_hosts
    if ANY in hosts or _in_list(ip, hosts):
        return None
    kind = non_public_kind(ip)
    if kind is None and PUBLIC in hosts:
        return None
    subject = f"{host} is" if literal else f"it resolves to {_text(ip)},"
    if kind is not None:
        return f'host "{host}" is not allowed: {subject} {kind} (list it in {HOSTS_SETTING} to allow it)'
    subject = f"{host} is" if literal else f"it resolves to {_text(ip)}, which is"
    return f'host "{host}" is not allowed: {subject} not in {HOSTS_SETTING}'


def _own_database(addresses: list[IPAddress], port: int, database: str, policy: AddressPolicy) -> OwnDatabase | None:
    """The own database the connection would name, if any: same port and database name first (no
    lookup for the others), then the same server."""
    candidates = [own for own in policy.own_databases
                  if own.port == port and own.database.casefold() == database.casefold()]
    if not candidates:
        return None
    local = _local_addresses()
    keys = {_server_key(ip, local) for ip in addresses}
    for own in candidates:
        if not own.host or own.host.startswith("/") or own.host.lower() == "localhost":
            own_keys = {THIS_MACHINE}
        else:
            try:
                own_keys = {_server_key(ip, local) for ip in _resolve(own.host, own.port, policy)}
            except ConnectorUnavailable:
                continue  # a server that cannot be found is not the one these addresses reach
        if keys & own_keys:
            return own
    return None


def pin_address(host: str, port: int, database: str | None, policy: AddressPolicy) -> str:
    """The address to connect to for host:port (and database), checked against the policy.

    Raises InvalidSettings (the message says which host, address or port is refused and which
    setting allows it), or ConnectorUnavailable when the name cannot be resolved.
    """
    if not any(low <= port <= high for low, high in policy.allowed_ports):
        raise InvalidSettings(f"port {port} is not allowed: it is not in {PORTS_SETTING}")
    if not is_host_syntax(host):
        raise InvalidSettings(f'host "{host}" is not a valid host name or IP address')
    literal = _ip(host) is not None
    addresses = _resolve(host, port, policy)
    name = host.lower().rstrip(".")
    listed_name = not literal and name not in (PUBLIC, ANY) and name in policy.allowed_hosts
    if not listed_name:  # a name the allow-list lists may resolve anywhere; any other host is checked
        for ip in addresses:
            refused = _refusal(host, ip, literal, policy)
            if refused:
                raise InvalidSettings(refused)
    if database:
        own = _own_database(addresses, port, database, policy)
        if own is not None:
            raise InvalidSettings(f'database "{database}" at {host}:{port} is {own.description} and may not be '
                                  "used here")
    first = addresses[0]
    return str(first.ipv4_mapped) if first.version == 6 and first.ipv4_mapped is not None else str(first)


def pin_settings(settings: dict, policy: AddressPolicy) -> dict:
    """Connection settings with the checked address to connect to (ADDRESS); settings without a
    host (SQLite) as they are."""
    if "host" not in settings:
        return settings
    address = pin_address(settings["host"], settings["port"], settings.get("database"), policy)
    return {**settings, ADDRESS: address}

"""The address of the person behind a request, read through the reverse proxies we trust."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def trusted_networks(setting: str) -> list[Network]:
    """Parse a comma-separated list of addresses or CIDR blocks; entries that are not addresses are skipped."""
    found: list[Network] = []
    for part in setting.replace(" ", "").split(","):
        try:
            found.append(ipaddress.ip_network(part, strict=False))
        except ValueError:
            continue
    return found


def client_address(remote: str | None, forwarded_for: str | None, trusted: Iterable[Network]) -> str:
    """The client's address: the peer itself, or, when the peer is a trusted proxy, the nearest untrusted hop.

    X-Forwarded-For is read right to left: each proxy appends the address it saw, so only the entries
    added by proxies we trust are believable; the first one that is not a trusted proxy is the client.
    A peer we do not trust cannot make us believe anything it writes in the header.
    """
    nets = list(trusted)
    peer = (remote or "").strip()
    if not _is_trusted(peer, nets) or not forwarded_for:
        return peer or "unknown"
    hops = [h.strip() for h in forwarded_for.split(",") if h.strip()]
    for hop in reversed(hops):
        if not _valid(hop):
            return peer  # a mangled header: fall back to the proxy itself rather than guess
        if not _is_trusted(hop, nets):
            return hop
    return hops[0] if hops else peer


def _valid(address: str) -> bool:
    try:
        ipaddress.ip_address(address)
    except ValueError:
        return False
    return True


def _is_trusted(address: str, nets: list[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in nets)


def bucket(address: str) -> str:
    """The unit counted: an IPv4 address, or an IPv6 /64 (one subscriber gets a whole /64 to pick from)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        mapped = ip.ipv4_mapped
        return str(mapped) if mapped else str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)

"""Where webhooks may go: https to a real receiver, never back at the service or a cloud metadata endpoint.

Private ranges (10/8, 192.168/16…) stay allowed on purpose: government portals often live on an
intranet. Refused: link-local (169.254/16, fe80::/10, which holds the metadata endpoints of most
clouds), known metadata addresses and names, unspecified and multicast addresses, loopback
(allowed with plain http in test mode only, for test receivers), and the service's own host.
The worker checks the addresses a name resolves to again before each send, so a name that
later resolves to a refused address is not followed.
"""

import ipaddress
from typing import NoReturn
from urllib.parse import urlsplit

from app.domain.errors import Invalid

# Cloud metadata services outside link-local: Alibaba Cloud, AWS IPv6, Oracle's IPv6 alias.
METADATA_ADDRESSES = {
    ipaddress.ip_address(a) for a in ("100.100.100.200", "fd00:ec2::254", "fd00:c1::a9fe:a9fe")
}
METADATA_NAMES = {
    "metadata",
    "metadata.google.internal",
    "metadata.goog",
    "metadata.tencentyun.com",
    "instance-data",
    "instance-data.ec2.internal",
}


def address_problem(address: str, *, allow_loopback: bool) -> str | None:
    """Why a resolved address may not receive webhooks, or None."""
    try:
        ip = ipaddress.ip_address(address.split("%")[0])
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    if ip in METADATA_ADDRESSES:
        return "a cloud metadata address"
    if ip.is_link_local:
        return "a link-local address"
    if ip.is_unspecified or ip.is_multicast or ip.is_reserved:
        return "not a unicast address"
    if ip.is_loopback and not allow_loopback:
        return "a loopback address (the service itself)"
    return None


def is_loopback_host(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check(url: str, *, test_mode: bool, own_hosts: set[str]) -> str:
    """The URL, normalized, or ``Invalid`` with code ``webhook_url_refused``."""

    def refuse(why: str) -> NoReturn:
        raise Invalid("webhook_url_refused", f"webhook URL refused: {why}", url=url)

    if len(url) > 2000:
        refuse("longer than 2000 characters")
    try:
        parts = urlsplit(url.strip())
        host = (parts.hostname or "").rstrip(".").lower()
        parts.port  # noqa: B018 – raises on a malformed port
    except ValueError:
        refuse("not a valid URL")
    if not host:
        refuse("no host")
    if parts.username or parts.password:
        refuse("credentials in the URL (put nothing secret there; requests are signed)")
    loopback = is_loopback_host(host)
    if parts.scheme != "https" and not (parts.scheme == "http" and test_mode and loopback):
        refuse(
            "https is required"
            + ("" if test_mode else " (plain http to loopback is allowed in test mode only)")
        )
    if host in METADATA_NAMES:
        refuse("a cloud metadata host")
    if host in {h.lower() for h in own_hosts if h}:
        refuse("it points at this service")
    if loopback and not test_mode:
        refuse("a loopback address (the service itself)")
    why = address_problem(host.strip("[]"), allow_loopback=test_mode)
    if why:
        refuse(why)
    return parts.geturl()

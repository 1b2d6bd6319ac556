"""Posting a webhook without becoming a proxy into our own network (SSRF).

- Only ``http://`` and ``https://`` URLs with a host name, no user name or password in them.
- The host is resolved once and every address it resolves to must be public; loopback, private,
  link-local (cloud metadata at 169.254.169.254), multicast and reserved addresses are refused
  unless ``WEBHOOK_ALLOW_PRIVATE`` is on (the test suite posts to 127.0.0.1).
- The connection goes to the address that was checked (TLS still verifies the host name), so a
  DNS answer that changes between the check and the request (rebinding) cannot redirect it.
- Redirects are not followed; every socket operation has ``WEBHOOK_TIMEOUT_SECONDS``; at most
  ``RESPONSE_PEEK_BYTES`` of the answer are read.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings

RESPONSE_PEEK_BYTES = 1024
USER_AGENT = "cacheadmin-webhooks/1"


class WebhookURLError(ValueError):
    """The URL may not be posted to; the message says why, for a form or the delivery log."""


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    path: str
    address: str  # the checked IP address the connection goes to


def _allowed(ip: ipaddress.IPv4Address | ipaddress.IPv6Address, allow_private: bool) -> bool:
    if getattr(ip, "ipv4_mapped", None):
        ip = ip.ipv4_mapped
    if ip.is_multicast or ip.is_unspecified:
        return False
    if allow_private:
        return True
    return ip.is_global and not (ip.is_loopback or ip.is_private or ip.is_link_local or ip.is_reserved)


def check_url_syntax(url: str) -> None:
    """What can be said without DNS (the forms use it): scheme, host, no credentials, port."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise WebhookURLError(f"Not a valid URL: {exc}.") from None
    if parts.scheme not in {"http", "https"}:
        raise WebhookURLError("Only http:// and https:// URLs can receive webhooks.")
    if not parts.hostname:
        raise WebhookURLError("The URL has no host name.")
    if parts.username is not None or parts.password is not None:
        raise WebhookURLError("The URL may not contain a user name or password; use the signature to "
                              "authenticate requests.")
    if port == 0:
        raise WebhookURLError("The URL's port must be between 1 and 65535.")
    if any(ch.isspace() or ord(ch) < 32 for ch in url):
        raise WebhookURLError("The URL may not contain spaces or control characters.")
    if not settings.WEBHOOK_ALLOW_PRIVATE:
        try:
            literal = ipaddress.ip_address(parts.hostname)
        except ValueError:
            literal = None
        if (literal is not None and not _allowed(literal, False)) or parts.hostname.lower() == "localhost":
            raise WebhookURLError("Webhooks cannot go to loopback, private or link-local addresses.")


def resolve(url: str) -> Target:
    """The URL checked and its host resolved to one allowed address; WebhookURLError otherwise."""
    check_url_syntax(url)
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        infos = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise WebhookURLError(f"Cannot resolve {parts.hostname}: {exc}") from None
    addresses = [info[4][0] for info in infos]
    # Every address must be allowed: otherwise a name could resolve to one public and one
    # internal address and the connection pick the internal one.
    for address in addresses:
        if not _allowed(ipaddress.ip_address(address.split("%")[0]), settings.WEBHOOK_ALLOW_PRIVATE):
            raise WebhookURLError(f"{parts.hostname} resolves to {address}: webhooks cannot go to "
                                  "loopback, private or link-local addresses.")
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return Target(parts.scheme, parts.hostname, port, path, addresses[0])


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, target: Target, timeout: float) -> None:
        super().__init__(target.host, target.port, timeout=timeout)
        self._address = target.address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


def tls_context() -> ssl.SSLContext:
    """The system's trusted certificates, host names checked (a test trusts its own certificate)."""
    return ssl.create_default_context()


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, target: Target, timeout: float) -> None:
        super().__init__(target.host, target.port, timeout=timeout, context=tls_context())
        self._address = target.address

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


@dataclass(frozen=True)
class PostResult:
    status_code: int | None
    error: str  # "" when an HTTP answer came back (any status)


def post(url: str, body: bytes, headers: dict[str, str]) -> PostResult:
    """POST ``body`` to ``url``; a refused URL or a network failure is an ``error``, never an
    exception."""
    try:
        target = resolve(url)
    except WebhookURLError as exc:
        return PostResult(None, str(exc))
    timeout = settings.WEBHOOK_TIMEOUT_SECONDS
    cls = _PinnedHTTPSConnection if target.scheme == "https" else _PinnedHTTPConnection
    connection = cls(target, timeout)
    try:
        connection.request("POST", target.path, body=body, headers={
            "Content-Type": "application/json", "User-Agent": USER_AGENT, **headers,
        })
        response = connection.getresponse()
        response.read(RESPONSE_PEEK_BYTES)
        return PostResult(response.status, "")
    except (OSError, http.client.HTTPException) as exc:
        return PostResult(None, f"{type(exc).__name__}: {exc}"[:500])
    finally:
        connection.close()

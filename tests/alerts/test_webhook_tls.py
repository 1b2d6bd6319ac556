"""An https:// webhook goes to the address that was checked and still verifies the certificate
against the URL's host name (a local TLS receiver with a certificate made by openssl)."""

from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from brands.alerts import webhooks

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")


@pytest.fixture
def tls_receiver(tmp_path):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=hooks.example.com", "-addext", "subjectAltName=DNS:hooks.example.com",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            seen.append(self.headers["Host"])
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1], cert, seen
    server.shutdown()
    server.server_close()


@pytest.fixture
def dns(monkeypatch):
    real = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        if host.endswith("example.com"):
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


def trust(monkeypatch, cert) -> None:
    monkeypatch.setattr(webhooks, "tls_context", lambda: ssl.create_default_context(cafile=str(cert)))


def test_https_with_a_trusted_certificate_for_the_host(tls_receiver, dns, monkeypatch):
    port, cert, seen = tls_receiver
    trust(monkeypatch, cert)
    result = webhooks.post(f"https://hooks.example.com:{port}/h", b"{}", {})
    assert (result.status_code, result.error) == (204, "")
    assert seen == [f"hooks.example.com:{port}"]


def test_the_certificate_must_name_the_urls_host(tls_receiver, dns, monkeypatch):
    port, cert, seen = tls_receiver
    trust(monkeypatch, cert)
    result = webhooks.post(f"https://other.example.com:{port}/h", b"{}", {})
    assert result.status_code is None and "CERTIFICATE_VERIFY_FAILED" in result.error
    assert seen == []


def test_an_untrusted_certificate_is_refused(tls_receiver, dns):
    port, _, seen = tls_receiver
    result = webhooks.post(f"https://hooks.example.com:{port}/h", b"{}", {})
    assert result.status_code is None and "CERTIFICATE_VERIFY_FAILED" in result.error and seen == []

"""Request size limits (brands.middleware.RequestSizeLimitMiddleware): a body above its URL's
limit is answered 413 before anything reads it, for anonymous and logged-in users alike."""

from __future__ import annotations

import socket
import time

from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client, RequestFactory

from brands.cache import BrandCache
from tests.support.htmx import HX
from tests.support.wsgi import wsgi_call
from tests.views.test_findings_issue11 import CountingInput


def _wsgi_post(path: str, total: int, cookie: str = "") -> tuple[str, dict, CountingInput]:
    body = CountingInput(total, b"BoUnDaRy")
    environ = RequestFactory()._base_environ(
        PATH_INFO=path, REQUEST_METHOD="POST", CONTENT_TYPE="multipart/form-data; boundary=BoUnDaRy",
        CONTENT_LENGTH=str(total), HTTP_COOKIE=cookie,
    )
    environ["wsgi.input"] = body
    status, headers, content = wsgi_call(environ)
    return status, {"headers": headers, "content": content.decode()}, body


def _session_cookie(user) -> str:
    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}; csrftoken={'a' * 32}"


def test_logged_in_import_above_its_limit_is_refused_unread(brand, brand_admin, settings, tmp_path):
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path)
    settings.REQUEST_BODY_LIMITS = {"keys-import": 1024 * 1024}
    status, answer, body = _wsgi_post(f"/b/{brand.slug}/keys/bulk/import/", 2 * 1024 * 1024,
                                      _session_cookie(brand_admin))
    assert status.startswith("413") and body.read_bytes == 0 and list(tmp_path.iterdir()) == []
    assert "this page accepts at most 1.0\xa0MB" in answer["content"]
    assert "Nothing was read" in answer["content"]
    assert "no-store" in answer["headers"]["Cache-Control"]


def test_logged_in_other_pages_have_the_general_limit(brand, brand_admin, settings):
    settings.REQUEST_MAX_BYTES = 100_000
    status, _answer, body = _wsgi_post(f"/b/{brand.slug}/keys/new/", 200_000, _session_cookie(brand_admin))
    assert status.startswith("413") and body.read_bytes == 0


def test_imports_within_the_limit_still_work(admin_client, brand, settings):
    settings.REQUEST_BODY_LIMITS = {"keys-import": 64 * 1024}
    upload = SimpleUploadedFile("a.jsonl", b'{"key":"a","value":1}\n')
    response = admin_client.post(f"/b/{brand.slug}/keys/bulk/import/", {"file": upload}, **HX)
    assert response.status_code == 200 and BrandCache.for_brand(brand).get("a") == 1


def test_anonymous_small_posts_go_to_the_log_in_page_as_before(client, brand):
    response = client.post(f"/b/{brand.slug}/keys/bulk/import/", {"x": "1"})
    assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_anonymous_log_in_form_is_within_the_limit(client, user_factory):
    user_factory("alice", password="pw-alice-123")
    response = client.post("/login/", {"username": "alice", "password": "pw-alice-123"})
    assert response.status_code == 302


def test_htmx_requests_get_a_toast_with_the_413(admin_client, brand, settings):
    settings.REQUEST_MAX_BYTES = 10
    response = admin_client.post(f"/b/{brand.slug}/keys/new/", {"key": "a", "value": "1", "ttl": "60"}, **HX)
    assert response.status_code == 413
    assert "too large" in response["HX-Trigger"]


def test_a_real_server_answers_413_without_waiting_for_the_body(live_server, brand):
    """Headers announcing 150 MB and no body at all: the answer comes at once (before the fix the
    server waited for the body to arrive)."""
    host, port = live_server.thread.host, live_server.thread.port
    request = (f"POST /b/{brand.slug}/keys/bulk/import/ HTTP/1.1\r\nHost: {host}\r\n"
               f"Content-Type: multipart/form-data; boundary=x\r\nContent-Length: {150 * 1024 * 1024}\r\n"
               "Cookie: csrftoken=" + "a" * 32 + "\r\n\r\n").encode()
    started = time.monotonic()
    with socket.create_connection((host, port), timeout=10) as conn:
        conn.sendall(request)
        first = conn.recv(64)
    assert first.startswith(b"HTTP/1.1 413"), first
    assert time.monotonic() - started < 10

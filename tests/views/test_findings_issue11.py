"""Issue 11's findings, each reproduced as the attacker or careless operator did it. Every test
here failed on the code before the fix (checked once); the detailed behaviour of each fix has its
own tests next to the code it covers."""

from __future__ import annotations

import io
import tracemalloc

from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import RequestFactory

from brands.cache import BrandCache, redis_client
from brands.models import AuditEntry, Membership
from tests.support.htmx import HX
from tests.support.redis_spy import count_redis_calls
from tests.support.wsgi import wsgi_call


def _file(text: str | bytes) -> SimpleUploadedFile:
    data = text.encode() if isinstance(text, str) else text
    return SimpleUploadedFile("dump.jsonl", data, content_type="application/x-ndjson")


# ---------------------------------------------------------------------------- 1. import


def test_1_deep_line_and_huge_ttl_are_refused_lines_with_an_audit_entry(admin_client, brand, cache):
    deep = '{"key":"deep","value":' + "[" * 100_000 + "]" * 100_000 + "}"
    huge_ttl = '{"key":"ttl","value":1,"ttl":' + "9" * 400 + "}"
    upload = "\n".join(['{"key":"first","value":1}', deep, huge_ttl, '{"key":"last","value":2}'])
    response = admin_client.post(f"/b/{brand.slug}/keys/bulk/import/", {"file": _file(upload)}, **HX)
    assert response.status_code == 200
    assert cache.get("first") == 1 and cache.get("last") == 2
    assert not cache.has("deep") and not cache.has("ttl")
    entry = AuditEntry.objects.get(brand=brand, action="bulk.import")
    assert "2 written" in entry.detail and "2 refused" in entry.detail


def test_1_a_31_mb_line_is_refused_without_being_read_into_memory(brand, tmp_path):
    path = tmp_path / "amp.jsonl"
    with path.open("wb") as out:
        out.write(b'{"key":"ok","value":1}\n{"key":"amp","value":[')
        chunk = b"[]," * 100_000
        for _ in range(31 * 1024 * 1024 // len(chunk)):
            out.write(chunk)
        out.write(b"[]]}\n")
    cache = BrandCache.for_brand(brand, raise_unavailable=True)
    tracemalloc.start()
    try:
        with path.open("rb") as source:
            report = cache.import_lines(source)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert report.written == 1
    assert peak < 4 * 1024 * 1024, f"peak {peak / 2**20:.1f} MiB for a 31 MiB line"


def test_1_small_lines_are_written_in_pipelined_batches(brand, monkeypatch):
    cache = BrandCache.for_brand(brand, raise_unavailable=True)
    lines = [f'{{"key":"k{i}","value":{i}}}\n' for i in range(2000)]
    with count_redis_calls(monkeypatch) as calls:
        report = cache.import_lines(io.BytesIO("".join(lines).encode()))
    assert report.written == 2000 and cache.live_count() == 2000
    assert calls.sends <= 20, calls  # was one round trip per line


# ---------------------------------------------------------------------------- 2. uploads


class CountingInput:
    """wsgi.input of a 150 MB multipart upload, produced on demand; counts what was read."""

    def __init__(self, total: int, boundary: bytes) -> None:
        head = (b"--" + boundary + b'\r\nContent-Disposition: form-data; name="file"; filename="big.jsonl"'
                b"\r\nContent-Type: application/octet-stream\r\n\r\n")
        tail = b"\r\n--" + boundary + b"--\r\n"
        self.parts = [head, tail]
        self.filler = total - len(head) - len(tail)
        self.position = 0
        self.total = total
        self.read_bytes = 0

    def read(self, size: int = -1) -> bytes:
        remaining = self.total - self.position
        size = remaining if size is None or size < 0 else min(size, remaining)
        out = bytearray()
        while len(out) < size:
            pos = self.position + len(out)
            head, tail = self.parts
            if pos < len(head):
                out += head[pos:pos + size - len(out)]
            elif pos < len(head) + self.filler:
                out += b"x" * min(size - len(out), len(head) + self.filler - pos)
            else:
                offset = pos - len(head) - self.filler
                out += tail[offset:offset + size - len(out)]
        self.position += len(out)
        self.read_bytes += len(out)
        return bytes(out)

    def readline(self, size: int = -1) -> bytes:
        return self.read(size if size and size > 0 else 65536)


def test_2_anonymous_big_upload_is_refused_before_its_body_is_read(brand, tmp_path, settings):
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path)
    total = 150 * 1024 * 1024
    body = CountingInput(total, b"BoUnDaRy")
    environ = RequestFactory()._base_environ(
        PATH_INFO=f"/b/{brand.slug}/keys/bulk/import/", REQUEST_METHOD="POST",
        CONTENT_TYPE="multipart/form-data; boundary=BoUnDaRy", CONTENT_LENGTH=str(total),
        HTTP_COOKIE="csrftoken=" + "a" * 32,
    )
    environ["wsgi.input"] = body
    status, _headers, _content = wsgi_call(environ)
    assert status.startswith("413"), status
    assert body.read_bytes == 0
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------------------- 3. brute force


def test_3_forty_wrong_passwords_lock_the_staff_account(client, user_factory):
    user_factory("ops", staff=True, password="the-right-password-1")
    for attempt in range(40):
        client.post("/login/", {"username": "ops", "password": f"guess-{attempt}"})
    response = client.post("/login/", {"username": "ops", "password": "the-right-password-1"})
    assert "_auth_user_id" not in client.session
    assert response.status_code == 429


def test_3_the_admin_login_is_throttled_too(client, user_factory):
    get_user_model().objects.create_superuser("root", password="the-right-password-2")
    for attempt in range(40):
        client.post("/admin/login/", {"username": "root", "password": f"guess-{attempt}"})
    response = client.post("/admin/login/", {"username": "root", "password": "the-right-password-2"})
    assert "_auth_user_id" not in client.session
    assert response.status_code == 429


# ---------------------------------------------------------------------------- 4. 500 errors


def test_4_increment_past_the_double_range_is_a_form_error(admin_client, brand, cache):
    cache.set("n", 1e308)
    url = f"/b/{brand.slug}/keys/n/increment/"
    # The version of the key the page showed (a dashboard change carries it: docs/contract.md).
    response = admin_client.post(url, {"amount": "1e308", "version": cache.key_info("n").version}, **HX)
    assert response.status_code == 200
    assert "not a finite number" in response.content.decode()
    assert cache.get("n") == 1e308
    entry = AuditEntry.objects.get(brand=brand, action="key.increment")
    assert entry.outcome == "refused"


def test_4_saving_1e400_is_a_form_error(admin_client, brand, cache):
    cache.set("v", 1)
    response = admin_client.post(f"/b/{brand.slug}/keys/v/", {"value": "1e400", "ttl": "60"}, **HX)
    assert response.status_code == 200
    assert "out of range" in response.content.decode()
    assert cache.get("v") == 1
    assert AuditEntry.objects.get(brand=brand, action="key.update").outcome == "refused"


# ---------------------------------------------------------------------------- 5. operators


def test_5_deleting_a_brand_in_the_admin_deletes_its_keys(client, brand, cache):
    cache.set("a", 1)
    cache.set("b", 2)
    keys = cache.keys
    client.force_login(get_user_model().objects.create_superuser("root", password="pw-root-123"))
    page = client.get(f"/admin/brands/brand/{brand.pk}/delete/")
    assert "cache keys" in page.content.decode()
    response = client.post(f"/admin/brands/brand/{brand.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    leftover = redis_client().exists(keys.value("a"), keys.value("b"), *keys.index_keys)
    assert leftover == 0


def test_5_audit_entries_cannot_be_added_changed_or_deleted_in_the_admin(client, brand):
    entry = AuditEntry.objects.create(brand=brand, action="key.update", target="k")
    client.force_login(get_user_model().objects.create_superuser("root", password="pw-root-123"))
    assert client.get("/admin/brands/auditentry/add/").status_code == 403
    client.post(f"/admin/brands/auditentry/{entry.pk}/change/",
                {"brand": brand.pk, "action": "forged", "target": "k", "outcome": "ok"})
    client.post(f"/admin/brands/auditentry/{entry.pk}/delete/", {"post": "yes"})
    entry.refresh_from_db()
    assert entry.action == "key.update"


def test_5_a_deactivated_brand_refuses_writes_and_scripts(client, brand, cache, member_factory):
    cache.set("k", 1)
    client.force_login(member_factory(brand, Membership.Role.ADMIN))
    brand.is_active = False
    brand.save()
    response = client.post(f"/b/{brand.slug}/keys/k/", {"value": "2", "ttl": "60"})
    assert response.status_code == 403 and "deactivated" in response.content.decode()
    response = client.post(f"/b/{brand.slug}/console/", {"code": "cache.set('k', 3)"})
    assert response.status_code == 403
    assert cache.get("k") == 1
    assert AuditEntry.objects.filter(brand=brand, outcome="refused").count() == 2


# ---------------------------------------------------------------------------- 6. headers


def test_6_pages_carry_a_strict_csp_and_no_store(admin_client, brand):
    response = admin_client.get(f"/b/{brand.slug}/keys/")
    policy = response["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "style-src 'self'" in policy
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    assert "no-store" in response["Cache-Control"]

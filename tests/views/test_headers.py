"""Response headers: the Content-Security-Policy on every page (and pages that keep to it: no
inline script, no style="" attribute, no on*= handler, htmx without eval), and no-store on every
response to a logged-in user."""

from __future__ import annotations

import re
import urllib.request
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from brands.cache import BrandCache
from brands.models import AuditEntry, ScriptRun
from tests.support.htmx import HX

TEMPLATES = Path(__file__).resolve().parent.parent.parent / "templates"
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I)
STYLE_ATTRIBUTE = re.compile(r"\sstyle\s*=", re.I)
HANDLER_ATTRIBUTE = re.compile(r"\son[a-z]+\s*=", re.I)
STYLE_ELEMENT = re.compile(r"<style[\s>]", re.I)
HTMX_EVAL = re.compile(r"\s(hx-on[:\w-]*|hx-vals\s*=\s*['\"]js:|hx-vars)", re.I)


def brand_pages(brand) -> list[str]:
    slug = brand.slug
    return [
        "/", f"/b/{slug}/keys/", f"/b/{slug}/keys/?prefix=a", f"/b/{slug}/keys/a:1/",
        f"/b/{slug}/keys/missing/", f"/b/{slug}/keys/new/", f"/b/{slug}/keys/bulk/",
        f"/b/{slug}/keys/bulk/delete/?prefix=a", f"/b/{slug}/keys/bulk/export/", f"/b/{slug}/audit/",
        f"/b/{slug}/usage/", f"/b/{slug}/usage-bar/", f"/b/{slug}/console/",
        f"/b/{slug}/console/history/", f"/b/{slug}/console/?run=RUN", "/staff/quotas/",
        "/staff/quotas/?format=csv", f"/staff/quotas/{slug}/edit/", "/metrics", "/admin/",
        f"/admin/brands/brand/{brand.pk}/change/", "/admin/brands/auditentry/",
    ]


@pytest.fixture
def staff_client(client, brand, staff_user):
    cache = BrandCache.for_brand(brand)
    cache.set("a:1", {"x": 1})
    cache.set("a:2", [1, 2])
    AuditEntry.objects.create(brand=brand, action="key.update", target="a:1")
    run = ScriptRun.objects.create(brand=brand, code="1", ok=True, result={"ok": True})
    staff_user.is_superuser = True
    staff_user.save()
    client.force_login(staff_user)
    client.run_id = run.pk
    return client


def _pages(staff_client, brand):
    for url in brand_pages(brand):
        url = url.replace("RUN", str(staff_client.run_id))
        response = staff_client.get(url)
        assert response.status_code in (200, 404), (url, response.status_code)
        yield url, response


def test_every_logged_in_page_has_no_store_and_the_policy(staff_client, brand):
    for url, response in _pages(staff_client, brand):
        assert "no-store" in response["Cache-Control"], url
        policy = response["Content-Security-Policy"]
        assert "script-src 'self'" in policy and "style-src 'self'" in policy, url
        assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy, url
        assert "unsafe-inline" not in policy and "unsafe-eval" not in policy, url
    partial = staff_client.get(f"/b/{brand.slug}/keys/?prefix=a", **HX)
    assert "no-store" in partial["Cache-Control"]


def test_pages_keep_to_the_policy(staff_client, brand):
    for url, response in _pages(staff_client, brand):
        if "html" not in response.get("Content-Type", "") or response.streaming:
            continue
        body = response.content.decode()
        assert not INLINE_SCRIPT.search(body), (url, INLINE_SCRIPT.search(body)[0])
        assert not STYLE_ATTRIBUTE.search(body), (url, body[STYLE_ATTRIBUTE.search(body).start() - 80:][:200])
        assert not HANDLER_ATTRIBUTE.search(body), (url, HANDLER_ATTRIBUTE.search(body)[0])
        assert not STYLE_ELEMENT.search(body), url


def test_htmx_is_configured_without_eval(client, db):
    body = client.get("/login/").content.decode()
    config = re.search(r'<meta name="htmx-config" content=\'([^\']*)\'>', body)[1]
    assert '"allowEval": false' in config and '"includeIndicatorStyles": false' in config
    assert body.index('name="htmx-config"') < body.index("htmx-2.min.js")  # read when htmx starts


def test_no_template_has_inline_script_style_or_handlers():
    """Every template in the project, including the ones other changes add: the rules of the
    README's "Templates and the Content-Security-Policy"."""
    offenders = []
    for path in TEMPLATES.rglob("*.html"):
        text = path.read_text()
        for pattern in (INLINE_SCRIPT, STYLE_ATTRIBUTE, STYLE_ELEMENT, HANDLER_ATTRIBUTE, HTMX_EVAL):
            for match in pattern.finditer(text):
                offenders.append(f"{path.relative_to(TEMPLATES)}: {match[0]!r}")
    assert offenders == []


def test_the_anonymous_log_in_page(client, db):
    response = client.get("/login/")
    # Django's LoginView is never_cache on its own (a CSRF token is in it); the policy applies.
    assert "no-store" in response["Cache-Control"]
    assert "script-src 'self'" in response["Content-Security-Policy"]
    redirect = client.get("/")
    assert redirect.status_code == 302 and "no-store" not in redirect.get("Cache-Control", "")


def test_static_files_stay_cacheable_for_logged_in_users(live_server, db):
    user = get_user_model().objects.create_user("viewer1", password="pw-viewer-1")
    session = Client()
    session.force_login(user)
    cookie = f"sessionid={session.cookies['sessionid'].value}"
    for path, cacheable in (("/static/css/app.css", True), ("/", False)):
        request = urllib.request.Request(f"{live_server.url}{path}", headers={"Cookie": cookie})
        with urllib.request.urlopen(request) as response:
            assert response.status == 200
            assert ("no-store" not in (response.headers.get("Cache-Control") or "")) is cacheable, path


def test_favicon_ico_points_at_the_svg_icon(client, db):
    """The admin's pages have no <link rel="icon">: browsers ask for /favicon.ico (a 404 before,
    which the browser tests count as an error)."""
    response = client.get("/favicon.ico")
    assert response.status_code == 301 and response["Location"] == "/static/favicon.svg"

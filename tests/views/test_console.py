"""The console page with the Django test client: full page, htmx partials, JSON, history,
permissions, CSRF and escaping. Scripts really run (worker pool, QuickJS, Redis)."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from brands.cache import BrandCache
from brands.models import AuditEntry, Membership, ScriptRun
from brands.scripting import EXAMPLES
from tests.support.htmx import HX

JSON_ACCEPT = {"HTTP_ACCEPT": "application/json"}


def console_url(brand, suffix: str = "") -> str:
    return f"/b/{brand.slug}/console/{suffix}"


# Scripts really run: every test here gets the session's worker pool.
pytestmark = pytest.mark.usefixtures("script_pool")


def test_page_has_editor_run_button_examples_and_empty_history(admin_client, brand):
    response = admin_client.get(console_url(brand))
    assert response.status_code == 200
    body = response.content.decode()
    assert "<html" in body
    assert 'name="code"' in body and "data-console-editor" in body
    assert ">Run</button>" in body and 'id="run-busy"' in body
    assert f'hx-post="/b/{brand.slug}/console/"' in body
    assert "js/console.js" in body
    for example in EXAMPLES:
        assert example.title in body
    assert "No runs yet." in body
    assert 'aria-current="page">Console</a>' in body


def test_htmx_run_returns_the_result_partial_and_records_the_run(admin_client, brand, brand_admin):
    code = (
        "var v = cache.increment('page:home:views', 1, 60);\n"
        "setVariable('view_count', v);\nconsole.warn('careful');\nredirect('/dashboard');\n({views: v})"
    )
    response = admin_client.post(console_url(brand), {"code": code}, **HX)
    assert response.status_code == 200
    body = response.content.decode()
    assert "<html" not in body and 'id="editor-panel"' not in body
    assert "badge-ok" in body
    assert "1 of 20 operations" in body
    assert "&quot;views&quot;: 1" in body  # the result as formatted JSON
    assert "<code>view_count</code>" in body
    assert "/dashboard" in body and "log-warn" in body and "careful" in body
    triggers = json.loads(response["HX-Trigger"])
    assert triggers["script-ran"] == {"ok": True} and "usage-changed" in triggers

    run = ScriptRun.objects.get(brand=brand)
    assert (run.user, run.code, run.ok, run.ops) == (brand_admin, code, True, 1)
    assert run.result["variables"] == {"view_count": 1}
    entry = AuditEntry.objects.get(brand=brand)
    assert (entry.action, entry.outcome, entry.user) == ("script.run", "ok", brand_admin)
    assert BrandCache.for_brand(brand).get("page:home:views") == 1


def test_a_failed_run_shows_the_error_with_its_line_and_warnings(admin_client, brand):
    code = "cache.set('a', 1, 99999);\nvar x = 1;\nnull.boom;\nvar y = 2;"
    response = admin_client.post(console_url(brand), {"code": code}, **HX)
    body = response.content.decode()
    assert "badge-crit" in body
    assert "<strong>TypeError</strong>" in body and "(line 3)" in body
    assert '<li value="3" class="error-line" aria-current="true"><code>null.boom;</code></li>' in body
    assert "clamped" in body  # the TTL warning from the cache service
    triggers = json.loads(response["HX-Trigger"])
    assert triggers["script-ran"] == {"ok": False}
    run = ScriptRun.objects.get(brand=brand)
    assert run.ok is False and run.error.startswith("TypeError: ")
    assert AuditEntry.objects.get(brand=brand).outcome == "error"


def test_json_answer_is_the_execution_result(admin_client, brand):
    response = admin_client.post(console_url(brand), {"code": "cache.set('j', [1]); 6 * 7"}, **JSON_ACCEPT)
    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    result = response.json()
    assert set(result) == {"ok", "result", "variables", "redirect", "logs", "ops", "ops_limit", "duration_ms",
                           "error", "warnings", "written_keys"}
    assert result["ok"] is True and result["result"] == 42 and result["ops"] == 1
    assert result["written_keys"] == ["j"]
    # A JSON body works too.
    response = admin_client.post(console_url(brand), json.dumps({"code": "cache.get('j')"}),
                                 content_type="application/json", **JSON_ACCEPT)
    assert response.json()["result"] == [1]
    assert ScriptRun.objects.filter(brand=brand).count() == 2


def test_full_page_post_without_javascript(admin_client, brand):
    response = admin_client.post(console_url(brand), {"code": "'plain'"})
    body = response.content.decode()
    assert response.status_code == 200 and "<html" in body
    assert "&quot;plain&quot;" in body and "&#x27;plain&#x27;</textarea>" in body


def test_timeout_is_shown_as_an_error(admin_client, brand_factory, brand_admin):
    brand = brand_factory(script_timeout_ms=300)
    Membership.objects.create(user=brand_admin, brand=brand, role=Membership.Role.ADMIN)
    result = admin_client.post(console_url(brand), {"code": "while (true) {}"}, **JSON_ACCEPT).json()
    assert result["error"]["name"] == "TimeoutError"
    body = admin_client.post(console_url(brand), {"code": "for (;;) {}"}, **HX).content.decode()
    assert "Script exceeded the time limit of 300 ms" in body


def test_history_lists_runs_and_loads_their_code(admin_client, brand, brand_admin):
    admin_client.post(console_url(brand), {"code": "1 + 1"}, **HX)
    admin_client.post(console_url(brand), {"code": "nope()"}, **HX)
    history = admin_client.get(console_url(brand, "history/"), **HX)
    body = history.content.decode()
    assert "<html" not in body
    assert body.split("<tbody>")[1].count("<tr>") == 2
    assert brand_admin.username in body and "badge-ok" in body and "badge-crit" in body
    first = ScriptRun.objects.filter(brand=brand).order_by("id").first()
    # htmx: the editor with the run's code, and the result panel (out of band) with that run's
    # own result, labelled with its time.
    editor = admin_client.get(console_url(brand), {"run": first.pk}, **HX).content.decode()
    assert "<html" not in editor and ">1 + 1</textarea>" in editor
    assert 'id="result" hx-swap-oob="innerHTML"' in editor and f"Run #{first.pk} at <time" in editor
    assert "from history" in editor and "<pre class=\"result-json\">2</pre>" in editor
    # Without htmx: the whole page, with that run's result.
    page = admin_client.get(console_url(brand), {"run": first.pk}).content.decode()
    assert ">1 + 1</textarea>" in page and f"Run #{first.pk}" in page


def test_examples_load_into_the_editor_and_run(admin_client, brand):
    for example in EXAMPLES:
        editor = admin_client.get(console_url(brand), {"example": example.slug}, **HX).content.decode()
        assert 'name="code"' in editor and "<html" not in editor
        result = admin_client.post(console_url(brand), {"code": example.code}, **JSON_ACCEPT).json()
        assert result["ok"] is True, (example.slug, result["error"])
    assert admin_client.get(console_url(brand), {"example": "nope"}).status_code == 404


def test_page_view_example_counts_and_warns_about_the_clamped_ttl(admin_client, brand):
    code = next(example.code for example in EXAMPLES if example.slug == "page-views")
    first = admin_client.post(console_url(brand), {"code": code}, **JSON_ACCEPT).json()
    second = admin_client.post(console_url(brand), {"code": code}, **JSON_ACCEPT).json()
    assert (first["result"], second["result"]) == (1, 2)
    assert second["variables"] == {"view_count": 2, "views": 2}
    assert any("clamped" in warning for warning in first["warnings"])


def test_a_run_of_another_brand_cannot_be_loaded(admin_client, brand, brand_factory):
    other = brand_factory()
    foreign = ScriptRun.objects.create(brand=other, code="secret()", ok=True)
    response = admin_client.get(console_url(brand), {"run": foreign.pk})
    assert response.status_code == 404
    assert admin_client.get(console_url(brand), {"run": "x"}).status_code == 404


def test_user_content_is_escaped(admin_client, brand):
    xss = "<script>alert(1)</script>"
    code = f"console.log('{xss}'); setVariable('{xss}', '{xss}'); redirect('javascript:{xss}'); '{xss}'"
    body = admin_client.post(console_url(brand), {"code": code}, **HX).content.decode()
    assert xss not in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body
    error = admin_client.post(console_url(brand), {"code": f"throw new Error('{xss}')"}, **HX)
    error = error.content.decode()
    assert xss not in error
    page = admin_client.get(console_url(brand)).content.decode()  # the history shows the code
    assert xss not in page.replace("'<script>", "")  # only escaped copies of the code
    assert "&lt;script&gt;" in page


# ---------------------------------------------------------------- permissions


def test_viewer_sees_console_and_history_but_cannot_run(client, brand, member_factory, script_pool):
    ScriptRun.objects.create(brand=brand, code="cache.get('x')", ok=True)
    client.force_login(member_factory(brand, Membership.Role.VIEWER))
    page = client.get(console_url(brand))
    body = page.content.decode()
    assert page.status_code == 200
    assert ">Run</button>" not in body and "readonly" in body
    assert "cache.get(&#x27;x&#x27;)" in body
    assert client.get(console_url(brand, "history/"), **HX).status_code == 200
    for headers in (HX, JSON_ACCEPT, {}):
        assert client.post(console_url(brand), {"code": "cache.set('v', 1)"}, **headers).status_code == 403
    assert not BrandCache.for_brand(brand).has("v")
    assert ScriptRun.objects.filter(brand=brand).count() == 1


def test_staff_may_run(client, brand, staff_user, script_pool):
    client.force_login(staff_user)
    assert client.post(console_url(brand), {"code": "1"}, **JSON_ACCEPT).json()["ok"] is True


def test_non_members_get_404_and_anonymous_users_the_login_page(client, brand, brand_factory, member_factory):
    other = brand_factory()
    client.force_login(member_factory(other, Membership.Role.ADMIN))
    assert client.get(console_url(brand)).status_code == 404
    assert client.post(console_url(brand), {"code": "cache.set('x', 1)"}, **JSON_ACCEPT).status_code == 404
    assert client.get(console_url(brand, "history/")).status_code == 404
    assert not BrandCache.for_brand(brand).has("x")
    client.logout()
    response = client.get(console_url(brand))
    assert response.status_code == 302 and "/login/" in response["Location"]
    assert client.post(console_url(brand), {"code": "1"}).status_code == 302


def test_csrf_is_enforced(brand, brand_admin, script_pool):
    client = Client(enforce_csrf_checks=True)
    client.force_login(brand_admin)
    refused = client.post(console_url(brand), {"code": "cache.set('csrf', 1)"}, **HX)
    assert refused.status_code == 403
    assert not BrandCache.for_brand(brand).has("csrf")
    # With the token the page carries (base.html sends it in hx-headers), the run goes through.
    page = client.get(console_url(brand))
    token = page.context["csrf_token"]
    accepted = client.post(console_url(brand), {"code": "cache.set('csrf', 1)"},
                           HTTP_X_CSRFTOKEN=str(token), **HX)
    assert accepted.status_code == 200
    assert BrandCache.for_brand(brand).get("csrf") == 1


def test_other_methods_are_refused(admin_client, brand):
    assert admin_client.put(console_url(brand)).status_code == 405
    assert admin_client.post(console_url(brand, "history/")).status_code == 405


def test_a_brand_over_its_cap_gets_429_with_retry_after_and_the_console_says_why(admin_client, brand):
    from brands.cache import script_slot_acquire

    # Another process holds the brand's only slot.
    assert script_slot_acquire(brand.pk, "elsewhere", cap=1, lease_ms=30_000, budget_ms=10**9,
                               count_refusal=False).granted
    response = admin_client.post(console_url(brand), {"code": "cache.set('x', 1)"}, **JSON_ACCEPT)
    assert response.status_code == 429 and response["Retry-After"] == "1"
    assert response.json()["error"]["name"] == "BusyError"
    body = admin_client.post(console_url(brand), {"code": "1"}, **HX).content.decode()
    assert "another script of this brand is still running" in body and "not run" in body
    # Nothing ran: no history row, no audit entry, no write.
    assert not ScriptRun.objects.filter(brand=brand).exists()
    assert not AuditEntry.objects.filter(brand=brand).exists()
    assert BrandCache.for_brand(brand).get("x") is None


def test_nul_and_lone_surrogates_in_a_result_are_answered_shown_and_recorded(admin_client, brand):
    """PostgreSQL's jsonb and text refuse NUL and lone surrogates; recording the run must not fail
    (CI runs this against PostgreSQL), and the JSON answer keeps the exact strings."""
    code = "console.log('log\\u0000'); setVariable('v\\ud800', 'x'); 'a\\u0000' + '\\ud800'"
    response = admin_client.post(console_url(brand), {"code": code}, **JSON_ACCEPT)
    assert response.status_code == 200
    result = json.loads(response.content)
    assert result["result"] == "a\x00\ud800"
    assert result["variables"] == {"v\ud800": "x"}
    assert result["logs"] == [{"level": "log", "message": "log\x00"}]
    run = ScriptRun.objects.get(brand=brand)
    assert run.result["result"] == "a\\u0000\\ud800" and run.result["logs"][0]["message"] == "log\\u0000"
    page = admin_client.post(console_url(brand), {"code": code}, **HX)
    assert page.status_code == 200
    assert "a\\u0000\\ud800" in page.content.decode()
    history = admin_client.get(console_url(brand) + f"?run={run.pk}")
    assert history.status_code == 200

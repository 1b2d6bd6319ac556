"""The script console of one brand: write a script, run it, see its execution result.

GET renders the page (or, for htmx, the editor loaded with an example or a past run's code);
POST runs the code and answers the result panel (htmx), the whole page (no JavaScript) or the
result object itself (``Accept: application/json``). Every run is recorded as a ScriptRun (the
history) and an AuditEntry ("script.run") by brands.scripting.history. Viewers see the page and
the history; brand_view refuses their POSTs with 403.
"""

from __future__ import annotations

import json

from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET, require_http_methods
from django_htmx.http import trigger_client_event

from brands.access import BrandAccess, brand_view
from brands.alerts import alerts_after_writes
from brands.scripting import EXAMPLES, EXAMPLES_BY_SLUG, run_script_execution
from brands.scripting.history import script_history, script_run_get, script_run_record
from brands.scripting.outcome import escape_unstorable, result_json_text
from brands.views._htmx import render_page, wants_fragment

EXCERPT_CONTEXT = 2  # lines shown around an error's line


def _wants_json(request: HttpRequest) -> bool:
    return "application/json" in request.headers.get("Accept", "") and not request.htmx


def _code_from_request(request: HttpRequest) -> str:
    if request.content_type == "application/json":
        try:
            payload = json.loads(request.body or b"{}")
        except ValueError:
            payload = {}
        code = payload.get("code", "") if isinstance(payload, dict) else ""
    else:
        code = request.POST.get("code", "")
    # Browsers send textarea lines with CRLF; line numbers are the same either way.
    return code.replace("\r\n", "\n") if isinstance(code, str) else ""


def _error_excerpt(code: str, line: int | None) -> list[dict]:
    """The lines around an error's line, for the result panel (the line itself highlighted)."""
    lines = escape_unstorable(code).split("\n")
    if not line or line < 1 or line > len(lines):
        return []
    first = max(1, line - EXCERPT_CONTEXT)
    last = min(len(lines), line + EXCERPT_CONTEXT)
    return [{"number": n, "text": lines[n - 1], "is_error": n == line} for n in range(first, last + 1)]


def _result_context(result: dict, code: str) -> dict:
    """What the result panel shows, formatted here so the template only prints text. A page is
    UTF-8: values are shown as JSON (a lone surrogate as its \\udXXX escape, NUL as \\u0000),
    plain texts (logs, names, messages) with those characters as their escape text."""
    shown = escape_unstorable(result)
    error = shown.get("error") or {}
    ops_limit = shown.get("ops_limit") or 1
    return {
        "result": shown,
        "result_json": result_json_text(result.get("result"), indent=2),
        "variables": [
            (escape_unstorable(name), result_json_text(value))
            for name, value in result.get("variables", {}).items()
        ],
        "ops_percent": min(100.0, 100.0 * shown.get("ops", 0) / ops_limit),
        "excerpt": _error_excerpt(code, error.get("line")),
    }


def _page_context(access: BrandAccess, code: str) -> dict:
    return {
        "access": access,
        "brand": access.brand,
        "quota": access.brand.quota,
        "code": code,
        "examples": EXAMPLES,
        "history": script_history(access.brand),
    }


@brand_view()
@require_http_methods(["GET", "POST"])
def console(request: HttpRequest, access: BrandAccess) -> HttpResponse:
    if request.method == "POST":
        return _run(request, access)
    return _show(request, access)


def _show(request: HttpRequest, access: BrandAccess) -> HttpResponse:
    """The page; ``?example=<slug>`` or ``?run=<id>`` puts that code in the editor (links that
    work without JavaScript; with htmx only the editor is swapped)."""
    code = ""
    shown_run = None
    if "run" in request.GET:
        shown_run = script_run_get(access.brand, request.GET["run"])
        if shown_run is None:
            raise Http404("No such run")  # another brand's run is "no such run" too
        code = shown_run.code
    elif "example" in request.GET:
        example = EXAMPLES_BY_SLUG.get(request.GET["example"])
        if example is None:
            raise Http404("No such example")
        code = example.code
    context = _page_context(access, code)
    if shown_run is not None:
        # A past run is shown with its own result, labelled with its time (never beside the
        # result of another run).
        context.update(_result_context(shown_run.result or {}, code) if shown_run.result else {})
        context.update(shown_run=shown_run, loaded=True)
    elif "example" in request.GET:
        context["example_loaded"] = True
    if wants_fragment(request) and ("run" in request.GET or "example" in request.GET):
        # The editor, and the result panel out of band: the loaded run's result, or nothing.
        return render(request, "brands/console.html#editor-and-result", context)
    return render_page(request, "brands/console.html", context, partial="editor")


EMPTY_SCRIPT = "Nothing to run: the script is empty."


def _run(request: HttpRequest, access: BrandAccess) -> HttpResponse:
    code = _code_from_request(request)
    if not code.strip():
        # Refused before it reaches a worker: no run, no history entry.
        if _wants_json(request):
            return JsonResponse({"error": EMPTY_SCRIPT}, status=400)
        if wants_fragment(request):
            return render(request, "brands/console.html#result", {"empty_refused": EMPTY_SCRIPT})
        context = _page_context(access, code)
        context["empty_refused"] = EMPTY_SCRIPT
        return render_page(request, "brands/console.html", context, status=400)
    execution = run_script_execution(access.brand, code)
    result = execution.result
    alerts_after_writes(access.brand, warnings=result.get("warnings", ()))
    run = None
    if not execution.refused:
        # A refused run (brand busy, time-limit budget spent, no free worker) ran nothing: it is
        # counted in the brand's script statistics, not kept in the history or the audit log
        # (docs/contract.md#fair-scheduling).
        run = script_run_record(brand=access.brand, user=request.user, code=code, result=result)
    if _wants_json(request):
        response = JsonResponse(result, status=execution.http_status)
        if execution.retry_after_s:
            response["Retry-After"] = str(execution.retry_after_s)
        return response
    if wants_fragment(request):
        context = {**_result_context(result, code), "shown_run": run, "refused": execution.refused}
        response = render(request, "brands/console.html#result", context)
        if execution.refused:
            return response
        # The history list reloads itself; the brand header's usage bar too, if keys may have changed.
        trigger_client_event(response, "script-ran", {"ok": result["ok"]})
        if result["ops"]:
            trigger_client_event(response, "usage-changed", {})
        return response
    context = _page_context(access, code)
    context.update(_result_context(result, code), refused=execution.refused, shown_run=run)
    return render_page(request, "brands/console.html", context)


@brand_view()
@require_GET
def console_history(request: HttpRequest, access: BrandAccess) -> HttpResponse:
    return render(request, "brands/console.html#history",
                  {"access": access, "brand": access.brand, "history": script_history(access.brand)})

"""The console's history: recording a script run (a ScriptRun row and its audit entry) and
reading runs back."""

from __future__ import annotations

from django.db import transaction

from brands.audit import audit_record
from brands.models import Brand, ScriptRun
from brands.scripting.outcome import escape_unstorable

HISTORY_SIZE = 20
_ERROR_MAX = ScriptRun._meta.get_field("error").max_length


def script_history(brand: Brand, *, limit: int = HISTORY_SIZE) -> list[ScriptRun]:
    """The brand's latest runs, newest first."""
    runs = ScriptRun.objects.filter(brand=brand).select_related("user").order_by("-at", "-id")
    return list(runs[:limit])


def script_run_get(brand: Brand, run_id: object) -> ScriptRun | None:
    """One run of this brand, or None (another brand's run, a forged or malformed id)."""
    try:
        return ScriptRun.objects.get(brand=brand, pk=int(run_id))
    except (TypeError, ValueError, OverflowError, ScriptRun.DoesNotExist):
        return None


@transaction.atomic
def script_run_record(*, brand: Brand, user, code: str, result: dict) -> ScriptRun:
    """Keep a run in the history and audit it as ``script.run``. NUL characters and lone
    surrogates (a script's strings may hold both) are kept as their escape text: PostgreSQL's
    text and jsonb refuse them, and recording a run must never fail."""
    code, result = escape_unstorable(code), escape_unstorable(result)
    error = result.get("error")
    error_text = f"{error['name']}: {error['message']}"[:_ERROR_MAX] if error else ""
    run = ScriptRun.objects.create(
        brand=brand,
        user=user if getattr(user, "is_authenticated", False) else None,
        code=code,
        ok=result["ok"],
        ops=result["ops"],
        duration_ms=result["duration_ms"],
        error=error_text,
        result=result,
    )
    written = result.get("written_keys") or []
    detail = f"run #{run.pk}: {result['ops']} cache operation(s), {result['duration_ms']:.1f} ms"
    if written:
        detail += f", {len(written)} key(s) written"
    audit_record(
        brand=brand,
        user=user,
        action="script.run",
        outcome="ok" if result["ok"] else "error",
        detail=f"{detail}; {error_text}" if error_text else detail,
        written_keys=written,
    )
    return run

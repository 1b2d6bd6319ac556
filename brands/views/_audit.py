"""Auditing from a brand view: the brand and the user come from the request (brand_view set
``request.brand_access``), so a view names only what happened."""

from __future__ import annotations

from django.http import HttpRequest

from brands.audit import audit_record
from brands.models import AuditEntry


def audit(request: HttpRequest, action: str, target: str = "", *, detail: str = "", **states) -> AuditEntry:
    """A change made from the dashboard. ``states``: ``before`` / ``after`` (the key around the
    change), ``undo_token`` / ``undo_until`` (a bulk delete's kept keys), ``restores``."""
    return audit_record(brand=request.brand_access.brand, user=request.user, action=action,
                        target=target, detail=detail, **states)


def audit_refusal(request: HttpRequest, action: str, target: str, reason: str, *,
                  outcome: str = "refused") -> AuditEntry:
    """An attempted change that was refused (invalid input, a limit, a conflict), or that
    failed midway (``outcome="error"``)."""
    return audit_record(brand=request.brand_access.brand, user=request.user, action=action,
                        target=target, outcome=outcome, detail=reason)


def form_errors(form) -> str:
    """A form's errors as one line for an audit entry ("field: message; field: message")."""
    return "; ".join(f"{field}: {' '.join(errors)}" for field, errors in form.errors.items())

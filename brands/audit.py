"""Recording who changed what in a brand (the audit log page reads these rows)."""

from __future__ import annotations

from brands.models import AuditEntry, Brand

_TARGET_MAX = AuditEntry._meta.get_field("target").max_length
_ACTION_MAX = AuditEntry._meta.get_field("action").max_length


def audit_record(
    *,
    brand: Brand,
    user,
    action: str,
    target: str = "",
    outcome: str = "ok",
    detail: str = "",
) -> AuditEntry:
    """One AuditEntry for a change (or a refused attempt) made from the dashboard or console.

    ``action`` is dotted (``key.update``, ``bulk.import``, ...); ``outcome`` is ``ok`` or
    ``refused``; ``detail`` says why a change was refused or what it amounted to. Anonymous users
    are recorded as no user (cannot happen behind ``brand_view``, but a helper should not crash).
    """
    return AuditEntry.objects.create(
        brand=brand,
        user=user if getattr(user, "is_authenticated", False) else None,
        action=action[:_ACTION_MAX],
        # Over-long targets are cut rather than refused: the audit row must always be written.
        target=target[:_TARGET_MAX],
        outcome=outcome,
        detail=detail,
    )

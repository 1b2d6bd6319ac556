"""Undoing a change from the audit log: "restore" puts a key back as an entry saw it before the
change, or puts back what a bulk delete kept (docs/contract.md#dashboard-use).

A restore is itself a change: it is audited (``key.restore`` / ``bulk.restore``, pointing at the
entry it undid), refusals included, and it is made through the cache service's atomic scripts:
it only happens if the key is still as the entry left it, so it never overwrites a newer change.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils import timezone
from django.utils.formats import date_format

from brands.alerts import alerts_after_writes
from brands.audit import audit_record, ms_to_datetime
from brands.cache import BrandCache, BulkReport, Refusal, describe, key_version
from brands.models import AuditEntry

KEY_ACTIONS = frozenset({"key.create", "key.update", "key.increment", "key.delete", "key.restore"})
BULK_ACTIONS = frozenset({"bulk.delete_prefix"})


@dataclass(frozen=True)
class RestoreOutcome:
    ok: bool
    message: str
    entry: AuditEntry               # the restore's own audit entry
    report: BulkReport | None = None


def _when(ms: int | None) -> str:
    moment = ms_to_datetime(ms)
    return date_format(timezone.localtime(moment), "Y-m-d H:i:s T") if moment else "?"


def not_restorable(entry: AuditEntry) -> str | None:
    """Why an entry cannot be restored at all (None when it can be tried)."""
    if entry.outcome != "ok":
        return "Only changes that were made can be undone."
    if entry.action in BULK_ACTIONS:
        if not entry.undo_token:
            return "This bulk delete did not keep the deleted keys."
        if entry.undo_until is None or entry.undo_until <= timezone.now():
            return "The deleted keys were kept for a limited time, which is over."
        return None
    if entry.action not in KEY_ACTIONS:
        return "This kind of change cannot be undone here."
    if entry.before_value is None and entry.after_value is None:
        return "The values of this change were not kept (they were above the brand's value limit)."
    if entry.before_value is None and entry.before_expires_at is not None:
        return "The old value was not kept (it was above the brand's value limit)."
    if entry.after_value is None and entry.after_expires_at is not None:
        return "The new value was not kept (it was above the brand's value limit)."
    return None


def _reason(refusal: Refusal, entry: AuditEntry, cache: BrandCache) -> str:
    key = describe(entry.target)
    if refusal is Refusal.CHANGED:
        return f"{key} was changed after this entry; a newer change stands in the way (see the log)."
    if refusal is Refusal.GONE:
        return f"{key} was deleted or has expired since this change."
    if refusal is Refusal.EXISTS:
        return f"{key} exists again (it was created after the delete); a newer change stands in the way."
    if refusal is Refusal.EXPIRED:
        return f"{key} would have expired at {_when(entry.before_expires_at)} anyway."
    if refusal is Refusal.KEY_LIMIT:
        return f"the brand is at its key limit of {cache.limits.max_keys} keys."
    return f"the old value of {key} is above the brand's value limit of {cache.limits.max_value_bytes} bytes."


def restore_entry(entry: AuditEntry, *, user, cache: BrandCache) -> RestoreOutcome:
    """Undo ``entry`` (see the module docstring). ``cache`` must raise CacheUnavailable."""
    reason = not_restorable(entry)
    if reason is None and entry.action in BULK_ACTIONS:
        return _restore_bulk(entry, user=user, cache=cache)
    if reason is not None:
        refused = audit_record(brand=entry.brand, user=user, action="key.restore", target=entry.target,
                               outcome="refused", detail=f"entry #{entry.pk}: {reason}", restores=entry)
        return RestoreOutcome(False, reason, refused)

    key = entry.target
    current = cache.key_info(key)
    # The key must still be as the entry left it: absent after a delete, else the entry's "after".
    expected = (None if entry.after_value is None
                else key_version(entry.after_value, entry.after_expires_at or 0))
    if entry.before_value is None:  # the entry created the key: undoing it deletes it
        if expected is None:
            result_refusal = Refusal.GONE
        else:
            result = cache.delete_versioned(key, version=expected)
            result_refusal = result.refusal
        after = None
    else:
        result = cache.restore_key(key, entry.before_value, entry.before_expires_at or 0,
                                   expect_version=expected)
        result_refusal, after = result.refusal, result
    if result_refusal is not None:
        alerts_after_writes(entry.brand, refusals=[result_refusal])
        reason = _reason(result_refusal, entry, cache)
        refused = audit_record(brand=entry.brand, user=user, action="key.restore", target=key,
                               outcome="refused", detail=f"entry #{entry.pk}: {reason}", restores=entry)
        return RestoreOutcome(False, f"Not restored: {reason}", refused)
    done = "deleted again" if entry.before_value is None else "restored"
    message = f"{key} {done} as it was before {entry.action} (entry #{entry.pk})."
    record = audit_record(brand=entry.brand, user=user, action="key.restore", target=key,
                          detail=f"entry #{entry.pk} ({entry.action}) undone", before=current, after=after,
                          restores=entry)
    return RestoreOutcome(True, message, record)


def _restore_bulk(entry: AuditEntry, *, user, cache: BrandCache) -> RestoreOutcome:
    report = cache.bulk_restore(entry.undo_token)
    alerts_after_writes(entry.brand, refusals=report.refused)
    refused = ", ".join(f"{count} {reason.text}" for reason, count in report.refused.items())
    if report.matched == 0:
        message = "Nothing left to restore: every kept key was restored already."
        record = audit_record(brand=entry.brand, user=user, action="bulk.restore", target=entry.target,
                              outcome="refused", detail=f"entry #{entry.pk}: {message}", restores=entry)
        return RestoreOutcome(False, message, record, report)
    where = f"under {entry.target}" if entry.target else "in the brand"
    message = f"Restored {report.changed} of {report.matched} keys deleted {where}"
    message += f"; not restored: {refused}." if refused else "."
    if report.refused.get(Refusal.KEY_LIMIT) or report.refused.get(Refusal.EXISTS):
        message += " Those stay kept until the window ends: free some room and restore again."
    record = audit_record(brand=entry.brand, user=user, action="bulk.restore", target=entry.target,
                          outcome="ok" if report.changed else "refused",
                          detail=f"entry #{entry.pk}: {report.changed} restored"
                          + (f"; not restored: {refused}" if refused else ""),
                          restores=entry)
    return RestoreOutcome(bool(report.changed), message, record, report)

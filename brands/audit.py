"""Recording who changed what in a brand, and reading it back: the audit log's filters, its CSV
export and the diff of a change (the audit log page renders these)."""

from __future__ import annotations

import csv
import difflib
import io
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.db.models import Q, QuerySet

from brands.cache import readable_json
from brands.csvsafe import csv_cell
from brands.models import AuditEntry, Brand

_TARGET_MAX = AuditEntry._meta.get_field("target").max_length
_ACTION_MAX = AuditEntry._meta.get_field("action").max_length


class KeyState(Protocol):
    """A key as a change found or left it (brands.cache.KeyInfo and WriteResult are both)."""

    value_json: str | None
    expires_at_ms: int | None


def _bounded(state: KeyState | None, limit: int) -> tuple[str | None, int | None]:
    """The JSON text and expiry to keep for one side of a change. Values are bounded by the
    brand's value limit: a value above it (the limit was lowered since it was written) is not
    kept, so that side cannot be restored."""
    if state is None or state.value_json is None:
        return None, None
    if len(state.value_json.encode("utf-8")) > limit:
        return None, state.expires_at_ms
    return state.value_json, state.expires_at_ms


def audit_record(
    *,
    brand: Brand,
    user,
    action: str,
    target: str = "",
    outcome: str = "ok",
    detail: str = "",
    before: KeyState | None = None,
    after: KeyState | None = None,
    undo_token: str = "",
    undo_until: datetime | None = None,
    restores: AuditEntry | None = None,
    written_keys: Iterable[str] = (),
) -> AuditEntry:
    """One AuditEntry for a change (or a refused attempt) made from the dashboard or console.

    ``action`` is dotted (``key.update``, ``bulk.import``, ...); ``outcome`` is ``ok`` or
    ``refused``; ``detail`` says why a change was refused or what it amounted to. A change to one
    key passes the key ``before`` and ``after`` it (None for "did not exist"): the log shows the
    diff and can restore it. Anonymous users are recorded as no user (cannot happen behind
    ``brand_view``, but a helper should not crash).
    """
    limit = brand.quota.max_value_bytes if before is not None or after is not None else 0
    before_value, before_expires = _bounded(before, limit)
    after_value, after_expires = _bounded(after, limit)
    return AuditEntry.objects.create(
        brand=brand,
        user=user if getattr(user, "is_authenticated", False) else None,
        action=_storable(action)[:_ACTION_MAX],
        # Over-long targets are cut rather than refused: the audit row must always be written.
        target=_storable(target)[:_TARGET_MAX],
        outcome=outcome,
        detail=_storable(detail),
        before_value=_storable(before_value),
        before_expires_at=before_expires,
        after_value=_storable(after_value),
        after_expires_at=after_expires,
        undo_token=undo_token,
        undo_until=undo_until,
        restores=restores,
        written_keys=_storable("\n".join(written_keys)),
    )


def _storable(text: str | None) -> str | None:
    """``text`` as any database can keep it. A refused attempt records what was typed, and that
    may hold a NUL (PostgreSQL's text refuses it: the row, and the page, would fail) or a lone
    surrogate (not encodable as UTF-8): both are written as visible escapes (``\\x00``,
    ``\\ud800``) so the log still shows what was tried."""
    if not text:
        return text
    if "\x00" in text:
        text = text.replace("\x00", "\\x00")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


# ---------------------------------------------------------------------------- reading the log


def zone_or_utc(name: str | None) -> ZoneInfo:
    """The browser's time zone as the page sent it (an IANA name), UTC when absent or unknown."""
    if name:
        try:
            return ZoneInfo(name[:64])
        except (ZoneInfoNotFoundError, ValueError):
            pass
    return ZoneInfo("UTC")


def _date(text: str | None) -> date | None:
    try:
        return date.fromisoformat((text or "").strip()) if text else None
    except ValueError:
        return None


@dataclass(frozen=True)
class AuditFilter:
    """The audit log's query string, parsed and made safe: unknown values are dropped (an
    unknown action or user simply matches nothing), bad dates are ignored and reported."""

    action: str = ""
    user: str = ""
    key: str = ""
    since: date | None = None
    until: date | None = None
    zone: str = "UTC"
    errors: tuple[str, ...] = ()

    @classmethod
    def from_params(cls, params) -> AuditFilter:
        errors = []
        since, until = _date(params.get("since")), _date(params.get("until"))
        if params.get("since") and since is None:
            errors.append("The 'from' date is not a date (YYYY-MM-DD); it is ignored.")
        if params.get("until") and until is None:
            errors.append("The 'to' date is not a date (YYYY-MM-DD); it is ignored.")
        if since and until and since > until:
            errors.append("The 'from' date is after the 'to' date: nothing can match.")
        return cls(
            # Filtered as stored: a NUL typed in a filter matches the escape audit_record wrote.
            action=_storable(params.get("action", "").strip())[:_ACTION_MAX],
            user=_storable(params.get("user", "").strip())[:150],
            key=_storable(params.get("key", "").strip())[:_TARGET_MAX],
            since=since,
            until=until,
            zone=zone_or_utc(params.get("tz")).key,
            errors=tuple(errors),
        )

    @property
    def active(self) -> bool:
        return bool(self.action or self.user or self.key or self.since or self.until)

    def params(self, **changes) -> dict[str, str]:
        values = {
            "action": self.action, "user": self.user, "key": self.key,
            "since": self.since.isoformat() if self.since else "",
            "until": self.until.isoformat() if self.until else "",
            "tz": self.zone if self.zone != "UTC" else "",
        }
        values.update(changes)
        return {name: value for name, value in values.items() if value}

    def apply(self, entries: QuerySet[AuditEntry]) -> QuerySet[AuditEntry]:
        if self.action:
            # "key" matches every key.* action; "key.update" only itself.
            entries = entries.filter(Q(action=self.action) | Q(action__startswith=f"{self.action}."))
        if self.user:
            entries = entries.filter(user__username=self.user) if self.user != "-" else entries.filter(
                user__isnull=True)
        if self.key:
            # A key or a prefix: the entry's key or prefix starts with it, or a script run wrote
            # a key starting with it (written_keys holds one name per line).
            entries = entries.filter(
                Q(target__startswith=self.key)
                | Q(written_keys__startswith=self.key)
                | Q(written_keys__contains=f"\n{self.key}")
            )
        zone = ZoneInfo(self.zone)
        if self.since:
            entries = entries.filter(at__gte=datetime.combine(self.since, time.min, zone))
        if self.until:
            entries = entries.filter(at__lt=datetime.combine(self.until + timedelta(days=1), time.min, zone))
        return entries


def audit_entries(brand: Brand, audit_filter: AuditFilter | None = None) -> QuerySet[AuditEntry]:
    """The brand's entries, newest first, with the user and what restored them loaded."""
    entries = (AuditEntry.objects.filter(brand=brand).select_related("user", "restores")
               .prefetch_related("restorations__user").order_by("-at", "-id"))
    return audit_filter.apply(entries) if audit_filter else entries


def audit_choices(brand: Brand) -> tuple[list[str], list[str]]:
    """The actions and user names that occur in the brand's log (for the filter's menus)."""
    entries = AuditEntry.objects.filter(brand=brand).order_by()
    actions = sorted(set(entries.values_list("action", flat=True).distinct()))
    users = sorted(set(entries.exclude(user__isnull=True).values_list("user__username", flat=True)
                       .distinct()))
    return actions, users


def ms_to_datetime(ms: int | None) -> datetime | None:
    return datetime.fromtimestamp(ms / 1000, tz=UTC) if ms else None


CSV_HEADER = ["at", "user", "action", "key_or_prefix", "outcome", "detail", "before_value",
              "before_expires_at", "after_value", "after_expires_at", "written_keys"]


def audit_csv(entries: Iterable[AuditEntry]) -> Iterable[str]:
    """The entries as CSV lines (times in UTC, ISO 8601), each cell safe to open in a
    spreadsheet (csv_cell: no cell starts like a formula)."""
    out = io.StringIO()
    writer = csv.writer(out)

    def flush() -> str:
        text = out.getvalue()
        out.seek(0)
        out.truncate(0)
        return text

    writer.writerow(CSV_HEADER)
    yield flush()
    for entry in entries.iterator(chunk_size=500) if isinstance(entries, QuerySet) else entries:
        before_at, after_at = ms_to_datetime(entry.before_expires_at), ms_to_datetime(entry.after_expires_at)
        writer.writerow([csv_cell(value) for value in (
            entry.at.astimezone(UTC).isoformat(),
            entry.user.get_username() if entry.user else "",
            entry.action,
            entry.target,
            entry.outcome,
            entry.detail,
            entry.before_value or "",
            before_at.isoformat() if before_at else "",
            entry.after_value or "",
            after_at.isoformat() if after_at else "",
            entry.written_keys.replace("\n", " "),
        )])
        yield flush()


# ---------------------------------------------------------------------------- the diff


@dataclass(frozen=True)
class DiffLine:
    kind: str  # "same", "added", "removed"
    text: str


def _pretty(value_json: str | None) -> list[str]:
    if value_json is None:
        return []
    try:
        return readable_json(json.loads(value_json)).split("\n")
    except ValueError:
        return [value_json]


def value_diff(before: str | None, after: str | None, *, context: int = 3) -> list[DiffLine]:
    """The change between two JSON texts, line by line on their pretty form: removed lines,
    added lines and up to ``context`` unchanged lines around them ("same" with text "…" marks
    lines left out)."""
    old, new = _pretty(before), _pretty(after)
    lines: list[DiffLine] = []
    matcher = difflib.SequenceMatcher(a=old, b=new, autojunk=False)
    for group in matcher.get_grouped_opcodes(context) if old != new else []:
        if lines:
            lines.append(DiffLine("gap", "…"))
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                lines.extend(DiffLine("same", text) for text in old[i1:i2])
                continue
            lines.extend(DiffLine("removed", text) for text in old[i1:i2])
            lines.extend(DiffLine("added", text) for text in new[j1:j2])
    return lines


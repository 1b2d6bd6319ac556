"""Template helpers for the brand pages. Nothing here reads Redis or the database: views load
what a page shows (the usage bar included) with the page's own data."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from django import template
from django.utils.html import conditional_escape, format_html_join
from django.utils.safestring import mark_safe

from brands.usage.levels import percent_text, percent_used

register = template.Library()
_BREAK_AFTER = re.compile(r"([:.])")


@register.filter
def ttl_human(seconds) -> str:
    """Remaining TTL the way people say it: "12 s", "59 min", "1 h 5 min", "2 d 3 h"."""
    try:
        total = int(float(seconds))
    except (TypeError, ValueError):
        return ""
    if total < 60:
        return f"{max(total, 0)} s"
    if total < 3600:
        return f"{total // 60} min"
    if total < 86400:
        hours, minutes = divmod(total // 60, 60)
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(total // 3600, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


@register.filter
def startswith(text, prefix) -> bool:
    return str(text).startswith(str(prefix))


@register.filter
def duration_words(value) -> str:
    """A timedelta as people say it: "15 minutes", "1 hour 30 minutes", "45 seconds"."""
    try:
        total = int(value.total_seconds())
    except AttributeError:
        return ""
    hours, rest = divmod(total, 3600)
    minutes, seconds = divmod(rest, 60)
    parts = []
    for amount, unit in ((hours, "hour"), (minutes, "minute"), (seconds, "second")):
        if amount:
            parts.append(f"{amount} {unit}{'s' if amount != 1 else ''}")
    return " ".join(parts) or "0 seconds"


@register.filter(needs_autoescape=True)
def breakable(text, autoescape=True) -> str:
    """A key name that may wrap after ':' and '.' (its namespace separators) rather than in the
    middle of a word: a <wbr> after each. Escaped first; key names hold no markup anyway."""
    escaped = conditional_escape(text) if autoescape else str(text)
    return mark_safe(_BREAK_AFTER.sub(r"\1<wbr>", str(escaped)))  # noqa: S308 - escaped above


@register.filter
def ms(seconds) -> int:
    """Seconds (a float, like KeyInfo.ttl_seconds) as whole milliseconds, for data attributes."""
    try:
        return max(int(round(float(seconds) * 1000)), 0)
    except (TypeError, ValueError):
        return 0


@register.filter
def epoch_ms_iso(ms) -> str:
    """Milliseconds since the epoch (Redis' clock) as an ISO 8601 UTC time, for <time datetime>."""
    try:
        moment = datetime.fromtimestamp(int(ms) / 1000, tz=UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return ""
    return moment.isoformat(timespec="seconds")


@register.filter
def epoch_ms_text(ms) -> str:
    """The same moment as readable UTC text: the fallback the browser replaces with local time."""
    try:
        moment = datetime.fromtimestamp(int(ms) / 1000, tz=UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return ""
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


@register.filter
def utc_text(moment) -> str:
    """A datetime as "2026-11-29 14:03:11 UTC" (the no-JavaScript text of a <time data-local>)."""
    if not moment:
        return ""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


@register.filter
def utc_iso(moment) -> str:
    if not moment:
        return ""
    return moment.astimezone(UTC).isoformat(timespec="seconds")


@register.filter
def share_of(count, total) -> str:
    """``count`` as a share of ``total``, written like every usage percentage (brands.usage)."""
    try:
        return percent_text(percent_used(int(count), int(total)))
    except (TypeError, ValueError):
        return ""


@register.filter
def chart_table_rows(points) -> str:
    """The usage chart's data table rows (a week is 336 of them), formatted in one pass: as
    template tags they were most of the usage page's rendering time (issue 12)."""
    row = '<tr><td class="nowrap"><time datetime="{}" data-local>{}</time></td><td class="num">{}</td></tr>'
    return format_html_join(
        "\n", row, ((utc_iso(p.taken_at), utc_text(p.taken_at), f"{p.live_keys:,}") for p in points),
    )

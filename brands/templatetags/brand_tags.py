"""Template helpers for the brand pages. Nothing here reads Redis or the database: views load
what a page shows (the usage bar included) with the page's own data."""

from __future__ import annotations

from django import template
from django.utils.html import format_html

register = template.Library()


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


@register.simple_tag
def bar_fill(percent) -> str:
    """The filled part of a ``.bar`` (usage, operations): an SVG rect whose width is an
    attribute, because the Content-Security-Policy allows no style="" attributes."""
    try:
        value = max(0.0, min(100.0, float(percent)))
    except (TypeError, ValueError):
        value = 0.0
    return format_html(
        '<svg class="bar-fill" viewBox="0 0 100 1" preserveAspectRatio="none" aria-hidden="true" '
        'focusable="false"><rect width="{}" height="1"></rect></svg>',
        f"{value:.2f}",
    )


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

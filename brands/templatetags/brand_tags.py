"""Template helpers for the brand pages. Nothing here reads Redis or the database: views load
what a page shows (the usage bar included) with the page's own data."""

from __future__ import annotations

from django import template

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

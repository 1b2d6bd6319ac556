"""Template helpers for the brand pages: human TTLs, usage levels, the brand's usage bar."""

from __future__ import annotations

from django import template

from brands.cache import CacheUnavailable, brands_usage
from brands.usage_report import usage_level as level_for

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
def usage_level(percent) -> str:
    """CSS class for a usage bar: "" below 80 %, "warning" from 80 %, "critical" from 95 %
    (the thresholds of brands.usage_report, which every usage display shares)."""
    try:
        level = level_for(float(percent))
    except (TypeError, ValueError):
        return ""
    return "" if level == "ok" else level


@register.filter
def bar_width(percent) -> str:
    """Width of a usage bar's fill: a limit lowered below the live count can push the percentage
    past 100, and the bar then simply stays full. Dot decimal whatever the locale (it is CSS)."""
    try:
        value = min(max(float(percent), 0.0), 100.0)
    except (TypeError, ValueError):
        value = 0.0
    return f"{value:.1f}"


@register.filter
def startswith(text, prefix) -> bool:
    return str(text).startswith(str(prefix))


@register.inclusion_tag("brands/_usage_bar.html")
def brand_usage_bar(brand, compact: bool = True) -> dict:
    """Live keys against the brand's limit. One Redis round trip; a page that can work without
    Redis (the audit log) still renders when it is down, with the bar saying so."""
    try:
        usage = brands_usage([brand])[brand.pk]
    except CacheUnavailable:
        usage = None
    return {"brand": brand, "usage": usage, "compact": compact}

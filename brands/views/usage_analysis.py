"""The usage page's prefix figures (issue 12): live keys and bytes under any prefix, on demand.
The rest of the analysis section is rendered with the usage page (brands/views/usage.py)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_GET

from brands.access import BrandAccess, brand_view
from brands.usage import prefix_answer
from brands.views._htmx import render_page


@brand_view()
@require_GET
def usage_prefix(request: HttpRequest, access: BrandAccess) -> HttpResponse:
    """htmx: the figures fragment; otherwise a small page with the form and the answer. A bad
    prefix is answered with the rule it breaks (status 200: the form worked, the input did not)."""
    prefix = request.GET.get("prefix", "")[:1000]  # longer than any key: refused, never echoed whole
    context = {"brand": access.brand, "access": access, "answer": prefix_answer(access.brand, prefix)}
    return render_page(request, "brands/usage_prefix.html", context, partial="prefix-figures")

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from brands.access import accessible_brands


@login_required
@require_GET
def home(request: HttpRequest) -> HttpResponse:
    brands = list(accessible_brands(request.user))
    return render(request, "brands/home.html", {"brands": brands})

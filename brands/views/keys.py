"""The key browser of one brand: prefix search, the namespace tree and paging through keys.

Views parse, call the cache service and render. Every read goes through BrandCache (with
raise_unavailable=True: a dead Redis becomes the 503 page, see brands.middleware).
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from brands.access import BrandAccess, brand_view
from brands.cache import BrandCache, CacheKeyError, is_valid_key
from brands.views._htmx import render_page, wants_fragment

PAGE_SIZE = 50
TREE_LIMIT = 200


@brand_view()
@require_GET
def key_browser(request: HttpRequest, access: BrandAccess) -> HttpResponse:
    cache = BrandCache.for_brand(access.brand, raise_unavailable=True)
    base = {"access": access, "brand": access.brand}
    if request.GET.get("part") == "tree":
        # One level of the namespace tree, fetched when a node is expanded.
        namespace = request.GET.get("ns", "")
        try:
            nodes = cache.namespace_tree(namespace, limit=TREE_LIMIT)
        except CacheKeyError:
            nodes = []
        return render(
            request,
            "brands/keys.html#tree-nodes",
            {**base, "nodes": nodes, "nodes_truncated": len(nodes) >= TREE_LIMIT},
        )

    prefix = request.GET.get("prefix", "").strip()
    after = request.GET.get("after") or None
    page = cache.list_keys(prefix=prefix, after=after, limit=PAGE_SIZE)
    context = {
        **base,
        "prefix": prefix,
        "prefix_valid": not prefix or is_valid_key(prefix),
        "page": page,
        "after": after,
    }
    if request.GET.get("part") == "rows" and wants_fragment(request):
        return render(request, "brands/keys.html#rows", context)  # "Load more"
    if prefix:
        context["prefix_count"] = cache.count_prefix(prefix)
    if wants_fragment(request):
        return render(request, "brands/keys.html#results", context)
    nodes = cache.namespace_tree("", limit=TREE_LIMIT)
    context.update(nodes=nodes, nodes_truncated=len(nodes) >= TREE_LIMIT)
    return render_page(request, "brands/keys.html", context)

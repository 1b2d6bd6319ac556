"""The key browser of one brand: prefix search, the namespace tree and paging through keys.

The page's state is its URL: ``prefix``, ``sort`` (``name`` or ``natural``) and ``n`` (how many
rows are shown: "Load more" adds 50 and pushes the new ``n``), so a reload, the back button or a
shared link show the same rows. After a change (a row deleted) or a refresh, the rows, the counts,
the namespace tree and the empty state are rendered again from that state.

Views parse, call the cache service and render. Every read goes through BrandCache (with
raise_unavailable=True: a dead Redis becomes the 503 page, see brands.middleware).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET

from brands.access import BrandAccess, brand_view
from brands.cache import NATURAL_SORT_MAX, BrandCache, CacheKeyError, KeyInfo, KeyPage, is_valid_key
from brands.converters import CacheKeyConverter
from brands.templatetags.brand_tags import breakable, epoch_ms_iso, epoch_ms_text, ms, ttl_human
from brands.views._htmx import render_page, wants_fragment

PAGE_SIZE = 50
MAX_ROWS = 2000          # "n" is capped: a page of more rows is a job for export
TREE_NAMESPACES = 200    # namespaces listed per tree level
TREE_LEAVES = 25         # plain keys listed per level; more are one "N keys" entry


@dataclass(frozen=True)
class ListState:
    prefix: str = ""
    sort: str = "name"
    rows: int = PAGE_SIZE

    @classmethod
    def from_params(cls, params) -> ListState:
        try:
            rows = int(params.get("n", PAGE_SIZE))
        except (TypeError, ValueError):
            rows = PAGE_SIZE
        rows = min(max(PAGE_SIZE, -(-rows // PAGE_SIZE) * PAGE_SIZE), MAX_ROWS)
        sort = params.get("sort", "name")
        return cls(prefix=params.get("prefix", "").strip(), sort="natural" if sort == "natural" else "name",
                   rows=rows)

    def query(self, **changes) -> str:
        values = {"prefix": self.prefix, "sort": self.sort if self.sort != "name" else "",
                  "n": str(self.rows) if self.rows != PAGE_SIZE else ""}
        values.update(changes)
        return urlencode({name: value for name, value in values.items() if value})


def _short(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, the last one an ellipsis (as truncatechars does)."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def key_rows(items: list[KeyInfo], brand) -> list[dict]:
    """The list's rows as ready-to-print values. Fifty rows of a dozen filters and two
    ``{% url %}`` each were most of the page's time (the load test measured ~6 ms of CPU per
    page in them), so the formatting happens here once, in plain Python; the template still
    escapes everything except the key's <wbr> markup, which ``breakable`` escapes itself."""
    detail = reverse("key-detail", args=[brand.slug, "__key__"])
    to_url = CacheKeyConverter().to_url
    rows = []
    for item in items:
        url = detail.replace("__key__", to_url(item.key))
        rows.append({
            "key": item.key,
            "key_html": breakable(item.key),
            "url": url,
            "delete_url": url + "delete/",
            "title": _short(item.value_json, 300),
            "preview": _short(item.value_json, 80),
            "json_type": item.json_type,
            "size": item.size_bytes,
            "ttl_ms": ms(item.ttl_seconds),
            "expires_iso": epoch_ms_iso(item.expires_at_ms),
            "expires_text": epoch_ms_text(item.expires_at_ms),
            "ttl_text": ttl_human(item.ttl_seconds),
            "version": item.version,
        })
    return rows


def _tree(cache: BrandCache, namespace: str):
    return cache.tree_level(namespace, max_namespaces=TREE_NAMESPACES, max_leaves=TREE_LEAVES)


def _list(cache: BrandCache, state: ListState, *, after: str | None = None, offset: int = 0,
          limit: int | None = None) -> tuple[KeyPage, int | None, bool]:
    """A page of rows for ``state``; the number of keys that match when natural sort counted
    them (else None); and whether natural sort fell back to name order (too many keys)."""
    limit = limit or state.rows
    fell_back = False
    if state.sort == "natural":
        page, total = cache.list_keys_natural(prefix=state.prefix, offset=offset, limit=limit)
        if total <= NATURAL_SORT_MAX:
            return page, total, False
        fell_back = True
    items, cursor = [], after
    while True:  # list_keys gives at most 1000 rows per call
        page = cache.list_keys(prefix=state.prefix, after=cursor, limit=min(limit - len(items), 1000))
        items += page.items
        cursor = page.next_cursor
        if cursor is None or len(items) >= limit:
            break
    return KeyPage(items=items, next_cursor=cursor), None, fell_back


def _rows_query(state: ListState, page: KeyPage, shown: int, natural: bool) -> str:
    """The "Load more" request: the next rows after the last one shown."""
    more = str(state.rows + PAGE_SIZE)
    if natural:
        return state.query(part="rows", offset=str(shown), n=more)
    return state.query(part="rows", after=page.next_cursor or "", n=more)


def _results_context(access: BrandAccess, cache: BrandCache, state: ListState) -> dict:
    page, total, fell_back = _list(cache, state)
    if total is None:
        total = cache.count_prefix(state.prefix) if state.prefix else cache.live_count()
    natural = state.sort == "natural" and not fell_back
    return {
        "access": access,
        "brand": access.brand,
        "state": state,
        "prefix": state.prefix,
        "prefix_valid": not state.prefix or is_valid_key(state.prefix),
        "page": page,
        "rows": key_rows(page.items, access.brand),
        "total": total,
        "shown": len(page.items),
        "natural_fallback": fell_back,
        "natural_max": NATURAL_SORT_MAX,
        "more_query": state.query(n=str(state.rows + PAGE_SIZE)),
        "rows_query": _rows_query(state, page, len(page.items), natural),
    }


def _tree_context(access: BrandAccess, cache: BrandCache, namespace: str = "") -> dict:
    try:
        level = _tree(cache, namespace)
    except CacheKeyError:
        level = None
    return {"access": access, "brand": access.brand, "level": level, "namespace": namespace}


@brand_view()
@require_GET
def key_browser(request: HttpRequest, access: BrandAccess) -> HttpResponse:
    cache = BrandCache.for_brand(access.brand, raise_unavailable=True)
    part = request.GET.get("part")
    if part == "tree":
        # One level of the namespace tree, fetched when a node is expanded.
        return render(request, "brands/keys.html#tree-level",
                      _tree_context(access, cache, request.GET.get("ns", "")))

    state = ListState.from_params(request.GET)
    if part == "rows" and wants_fragment(request):
        return _more_rows(request, access, cache, state)
    context = _results_context(access, cache, state)
    if part == "refresh" and wants_fragment(request):
        # The refresh button: rows, counts and the tree again, for the same state.
        context.update(_tree_context(access, cache), tree_oob=True)
        return render(request, "brands/keys.html#results-and-tree", context)
    if wants_fragment(request):
        return render(request, "brands/keys.html#results", context)
    context.update(_tree_context(access, cache))
    return render_page(request, "brands/keys.html", context)


def _more_rows(request: HttpRequest, access: BrandAccess, cache: BrandCache, state: ListState
               ) -> HttpResponse:
    """"Load more": the next PAGE_SIZE rows after a cursor (name order) or an offset (natural)."""
    try:
        offset = max(int(request.GET.get("offset", 0)), 0)
    except ValueError:
        offset = 0
    after = request.GET.get("after") or None
    if after is not None and not is_valid_key(after):
        after = None
    page, _total, fell_back = _list(cache, state, after=after, offset=offset, limit=PAGE_SIZE)
    natural = state.sort == "natural" and not fell_back
    shown = (offset if natural else 0) + len(page.items)
    context = {
        "access": access,
        "brand": access.brand,
        "state": state,
        "page": page,
        "rows": key_rows(page.items, access.brand),
        "more_query": state.query(n=str(state.rows + PAGE_SIZE)),
        "rows_query": _rows_query(state, page, shown, natural),
    }
    return render(request, "brands/keys.html#rows", context)


def list_after_change(request: HttpRequest, access: BrandAccess, cache: BrandCache, *,
                      deleted: str | None = None, undo=None) -> HttpResponse:
    """The key list again after a change made from it (a row deleted): rows, counts and empty
    state for the list's state (sent with the change), the tree out of band, and which row
    keyboard focus should move to."""
    state = ListState.from_params(request.POST)
    context = _results_context(access, cache, state)
    context.update(_tree_context(access, cache), tree_oob=True, deleted=deleted, undo=undo)
    if deleted:
        keys = [item.key for item in context["page"].items]
        following = [key for key in keys if key > deleted] if state.sort == "name" else keys
        context["focus_key"] = following[0] if following else (keys[-1] if keys else "")
    return render(request, "brands/keys.html#results-and-tree", context)


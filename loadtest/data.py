"""The load-test brand's data, shared by the filler and the Locust users: key names are a pure
function of their index, so users can pick existing keys without asking the server."""

from __future__ import annotations

SLUG = "load"
PASSWORD = "load-test-password-not-secret"  # a throwaway instance on loopback only
NAMESPACES = ("user", "session", "product", "cart", "page")


def username(number: int) -> str:
    return f"load-{number:02d}"


def key_name(index: int) -> str:
    """Five namespaces, shaped like the product documentation's keys."""
    namespace = NAMESPACES[index % len(NAMESPACES)]
    n = index // len(NAMESPACES)
    return {
        "user": f"user:{n:05d}:profile",
        "session": f"session:{n:05d}",
        "product": f"product:{n:05d}:stock",
        "cart": f"cart:{n:05d}",
        "page": f"page:{n:05d}:views",
    }[namespace]


def key_value(index: int) -> object:
    """Small JSON values (30-90 bytes), as a cache holds."""
    namespace = NAMESPACES[index % len(NAMESPACES)]
    n = index // len(NAMESPACES)
    if namespace == "user":
        return {"name": f"User {n}", "plan": ("free", "pro", "team")[n % 3], "tags": ["beta"] * (n % 2)}
    if namespace == "session":
        return {"user": n, "cart_items": n % 5, "locale": "en-GB"}
    if namespace == "product":
        return n % 250
    if namespace == "cart":
        return [{"sku": f"SKU-{n % 997:04d}", "qty": 1 + n % 3}]
    return n * 7 % 1000


PAGES = ("key browser", "key page", "prefix search", "console", "usage")
# The mix of issue 15, in percent of requests.
WEIGHTS = {"key browser": 20, "key page": 30, "prefix search": 20, "console": 20, "usage": 10}


def weights(override: str = "") -> dict[str, int]:
    """The mix, with ``"usage=0,console=40"``-style overrides (what-if runs: a page left out)."""
    result = dict(WEIGHTS)
    for item in filter(None, (part.strip() for part in override.split(","))):
        page, _, weight = item.partition("=")
        if page.strip() not in result or not weight.strip().isdigit():
            raise ValueError(f"bad weight {item!r}: expected <page>=<integer>, pages {list(WEIGHTS)}")
        result[page.strip()] = int(weight)
    return result


def page_request(page: str, rng, *, keys: int) -> tuple[str, str, dict[str, str], dict[str, str] | None]:
    """(method, path, headers, form) of one request of ``page``, as a browser with htmx sends it
    (the CSRF header for POSTs is the caller's)."""
    base = f"/b/{SLUG}"
    if page == "key browser":  # the full page: namespace tree and the first 50 keys
        return "GET", f"{base}/keys/", {}, None
    if page == "key page":
        return "GET", f"{base}/keys/{key_name(rng.randrange(keys))}/", {}, None
    if page == "prefix search":  # typed: a namespace and the first digits of an id
        namespace = rng.choice(NAMESPACES)
        prefix = f"{namespace}:{rng.randrange(100):0{rng.choice((2, 3))}d}"
        return "GET", f"{base}/keys/?prefix={prefix}", {"HX-Request": "true"}, None
    if page == "console":  # three cache operations
        n = rng.randrange(max(keys // len(NAMESPACES), 1))
        code = (f"const views = cache.increment('page:{n:05d}:views');\n"
                f"const profile = cache.get('user:{n:05d}:profile');\n"
                f"cache.set('seen:{n:05d}', {{views, plan: profile && profile.plan}}, 600);\n"
                "views")
        return "POST", f"{base}/console/", {"HX-Request": "true"}, {"code": code}
    if page == "usage":
        return "GET", f"{base}/usage/", {}, None
    raise ValueError(page)


def page_ok(page: str, status: int, text: str) -> str | None:
    """Why a response is a failure, or None."""
    if status != 200:
        return f"HTTP {status}"
    if 'name="password"' in text:
        return "redirected to the login page"
    if page == "console" and "badge-ok" not in text:
        return "the script did not run to the end"
    return None

"""Request headers of htmx requests, for the Django test client (``client.get(url, **HX)``)."""

HX = {"HTTP_HX_REQUEST": "true"}
# What htmx sends when the back button finds no page in its history cache: it wants the whole page.
HX_HISTORY_RESTORE = {"HTTP_HX_REQUEST": "true", "HTTP_HX_HISTORY_RESTORE_REQUEST": "true"}

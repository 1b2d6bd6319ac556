"""Logging in and out, and the pages that need it."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize("url", ["/"])
def test_dashboard_requires_login(client, db, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_login_page_renders_styled_form(client, db):
    response = client.get("/login/")
    assert response.status_code == 200
    body = response.content.decode()
    assert 'name="username"' in body and "css/app.css" in body and "csrfmiddlewaretoken" in body


def test_login_and_logout(client, user_factory):
    user_factory("alice", password="pw-alice-123")
    response = client.post("/login/", {"username": "alice", "password": "pw-alice-123"})
    assert response.status_code == 302
    assert client.get("/").status_code == 200
    client.post("/logout/")
    assert client.get("/").status_code == 302

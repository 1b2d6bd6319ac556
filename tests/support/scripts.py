"""Helpers shared by the script sandbox tests."""

from __future__ import annotations


def value(result: dict):
    """The completion value of a script that must have succeeded."""
    assert result["ok"], result["error"]
    return result["result"]

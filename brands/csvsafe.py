"""CSV cells that are safe to open in a spreadsheet (the staff monitor's and the audit log's
exports)."""

from __future__ import annotations


def csv_cell(value: object) -> object:
    # A spreadsheet runs a cell starting with one of these as a formula; brand names, key names
    # and audit details are free text, so neutralise them (OWASP "CSV injection").
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value

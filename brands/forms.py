"""Forms for the key pages. They check every rule the cache service would (key syntax, JSON,
size, TTL range) so that the page can say why before anything is sent; the service checks again
and its refusals (key limit, a race on the size) come back as form errors too."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.template.defaultfilters import filesizeformat

from brands.cache import (
    IMPORT_POLICIES,
    KEY_MAX_LENGTH,
    KEY_RULE,
    MAX_JSON_DEPTH,
    CacheLimits,
    CacheValueError,
    NumberOutOfRange,
    check_json_depth,
    describe,
    finite_float,
    is_valid_key,
    ranged_int,
    to_json,
    utf8_size,
)

# A pasted value far above any brand's limit is refused before it is parsed (json.loads of a
# deeply nested megabyte could hit the recursion limit).
_MAX_RAW_VALUE_CHARS = 1_000_000


def _refuse_constant(name: str) -> Any:
    # json.loads accepts NaN and Infinity, which are not JSON and which JSON.stringify would
    # have turned into null: refuse them rather than guess.
    raise ValueError(f"{name} is not valid JSON")


def parse_json_value(text: str) -> Any:
    """The value a JSON text stands for, or ValidationError saying where it is broken."""
    if len(text) > _MAX_RAW_VALUE_CHARS:
        raise ValidationError("The value is far too large.", code="too_large")
    try:
        check_json_depth(text)
    except CacheValueError:
        raise ValidationError("The value is nested more than %(depth)s levels deep.", code="too_deep",
                              params={"depth": MAX_JSON_DEPTH}) from None
    try:
        return json.loads(text, parse_constant=_refuse_constant, parse_float=finite_float,
                          parse_int=ranged_int)
    except NumberOutOfRange as exc:
        # 1e400 would be Infinity, which JSON cannot hold (it used to escape as a 500).
        raise ValidationError("Invalid JSON value: %(msg)s.", code="out_of_range",
                              params={"msg": exc}) from None
    except json.JSONDecodeError as exc:
        raise ValidationError(
            "Invalid JSON: %(msg)s (line %(line)s, column %(col)s).",
            code="invalid_json",
            params={"msg": exc.msg, "line": exc.lineno, "col": exc.colno},
        ) from None
    except (ValueError, RecursionError) as exc:
        raise ValidationError("Invalid JSON: %(msg)s.", code="invalid_json", params={"msg": exc}) from None


def _ttl_field(limits: CacheLimits, *, required: bool) -> forms.IntegerField:
    return forms.IntegerField(
        label="TTL (seconds)",
        min_value=1,
        max_value=limits.max_ttl,
        required=required,
        initial=limits.default_ttl if required else None,
        help_text=f"1 to {limits.max_ttl} seconds.",
    )


class KeyValueForm(forms.Form):
    """A value (JSON text) and a TTL (the new-key form; the edit form below adds its choices)."""

    value = forms.CharField(
        label="Value (JSON)",
        strip=False,
        widget=forms.Textarea(attrs={"rows": 10, "spellcheck": "false", "autocomplete": "off"}),
    )

    def __init__(self, *args, limits: CacheLimits, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.limits = limits
        self.fields["ttl"] = _ttl_field(limits, required=True)
        self.fields["value"].help_text = (
            f"Stored as compact JSON, at most {limits.max_value_bytes} bytes (UTF-8)."
        )
        self.fields["value"].widget.attrs.update(
            {"data-json-editor": "", "data-max-bytes": str(limits.max_value_bytes)}
        )
        self.value_json = ""

    def clean_value(self) -> Any:
        value = parse_json_value(self.cleaned_data["value"])
        # The size limit applies to what is stored: the compact form the service writes.
        try:
            self.value_json = to_json(value)
        except CacheValueError as exc:
            raise ValidationError("%(msg)s", code="invalid_json", params={"msg": exc}) from None
        size = utf8_size(self.value_json)
        if size > self.limits.max_value_bytes:
            raise ValidationError(
                "The value is %(size)s bytes as compact JSON, above this brand's limit of "
                "%(limit)s bytes.",
                code="too_large",
                params={"size": size, "limit": self.limits.max_value_bytes},
            )
        return value


STALE_PAGE = "This page is out of date (it does not say which version of the key you saw): reload it."


def _version_field() -> forms.CharField:
    # The version of the key the page showed (brands.cache.KeyInfo.version): every change made
    # from the dashboard carries it, and the cache refuses the change if the key moved on.
    return forms.CharField(widget=forms.HiddenInput, max_length=80,
                           error_messages={"required": STALE_PAGE})


class KeyEditForm(KeyValueForm):
    """Editing an existing key: keeping its remaining TTL is the default; a new TTL is a choice."""

    KEEP, SET = "keep", "set"
    ttl_mode = forms.ChoiceField(
        label="TTL",
        choices=[(KEEP, "Keep the remaining TTL"), (SET, "Set a new TTL")],
        initial=KEEP,
        widget=forms.RadioSelect(attrs={"data-ttl-mode": ""}),
    )
    field_order = ["value", "ttl_mode", "ttl", "version"]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["ttl"].required = False
        self.fields["ttl"].label = "New TTL (seconds)"
        self.fields["version"] = _version_field()
        self.order_fields(self.field_order)

    def clean(self) -> dict:
        cleaned = super().clean()
        if cleaned.get("ttl_mode") == self.SET and cleaned.get("ttl") is None and "ttl" not in self.errors:
            self.add_error("ttl", "Enter the new TTL, or keep the remaining one.")
        return cleaned

    @property
    def new_ttl(self) -> int | None:
        """The TTL to set, or None to keep the key's expiry."""
        return self.cleaned_data["ttl"] if self.cleaned_data.get("ttl_mode") == self.SET else None


class KeyCreateForm(KeyValueForm):
    key = forms.CharField(
        label="Key",
        max_length=KEY_MAX_LENGTH,
        strip=False,
        help_text="Letters, digits, '_', '.', ':' and '-'; up to 200 characters. "
        "Use ':' to build namespaces, e.g. user:42:profile.",
        widget=forms.TextInput(
            attrs={"autocomplete": "off", "spellcheck": "false", "pattern": r"[A-Za-z0-9_.:\-]{1,200}"}
        ),
    )
    field_order = ["key", "value", "ttl"]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.order_fields(self.field_order)

    def clean_key(self) -> str:
        key = self.cleaned_data["key"]
        if not is_valid_key(key):
            raise ValidationError(
                "Invalid key %(key)s: %(rule)s.",
                code="invalid_key",
                params={"key": describe(key), "rule": KEY_RULE},
            )
        return key


class IncrementForm(forms.Form):
    amount = forms.FloatField(label="Amount", initial=1, help_text="May be negative or fractional.")

    def __init__(self, *args, limits: CacheLimits, **kwargs) -> None:
        # Shown on the same page as the edit form, which has its own "ttl" field.
        kwargs.setdefault("auto_id", "inc_%s")
        super().__init__(*args, **kwargs)
        self.fields["ttl"] = _ttl_field(limits, required=False)
        self.fields["ttl"].help_text = "Optional; empty keeps the remaining TTL."
        self.fields["version"] = _version_field()


class VersionForm(forms.Form):
    """A change that only names the key's version (delete)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["version"] = _version_field()


class PrefixForm(forms.Form):
    prefix = forms.CharField(
        label="Key prefix",
        required=False,
        strip=False,
        max_length=KEY_MAX_LENGTH,
        help_text="Every key starting with this text. Empty means every key of the brand.",
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )

    def clean_prefix(self) -> str:
        prefix = self.cleaned_data["prefix"]
        if prefix and not is_valid_key(prefix):
            raise ValidationError(
                "No key can start with %(prefix)s: %(rule)s.",
                code="invalid_prefix",
                params={"prefix": describe(prefix), "rule": KEY_RULE},
            )
        return prefix


class ImportForm(forms.Form):
    file = forms.FileField(
        label="JSON-lines file",
        help_text='One JSON object per line: {"key": ..., "value": ..., "ttl": seconds}.',
        widget=forms.FileInput(attrs={"accept": ".jsonl,.ndjson,.json,.txt"}),
    )
    policy = forms.ChoiceField(
        label="Keys that already exist",
        choices=[(name, text.capitalize()) for name, text in IMPORT_POLICIES.items()],
        initial="overwrite",
        required=False,  # a plain upload (no choice made) overwrites, as imports always did
        widget=forms.RadioSelect,
    )
    dry_run = forms.BooleanField(
        label="Dry run: report what would happen, write nothing", required=False,
    )

    def clean_policy(self) -> str:
        return self.cleaned_data["policy"] or "overwrite"

    def clean_file(self):
        upload = self.cleaned_data["file"]
        limit = settings.IMPORT_MAX_BYTES
        if upload.size > limit:
            raise ValidationError("The file is larger than %(limit)s.", code="too_large",
                                  params={"limit": filesizeformat(limit)})
        return upload


def _prefix_error(prefix: str) -> ValidationError:
    return ValidationError(
        "No key can start with %(prefix)s: %(rule)s.",
        code="invalid_prefix",
        params={"prefix": describe(prefix), "rule": KEY_RULE},
    )


class BulkTTLForm(PrefixForm):
    def __init__(self, *args, limits: CacheLimits, **kwargs) -> None:
        kwargs.setdefault("auto_id", "ttl_%s")
        super().__init__(*args, **kwargs)
        self.fields["ttl"] = _ttl_field(limits, required=True)
        self.fields["ttl"].label = "New TTL (seconds)"


class BulkCopyForm(forms.Form):
    COPY, RENAME = "copy", "rename"
    operation = forms.ChoiceField(
        label="Operation",
        choices=[(COPY, "Copy (the keys stay where they are)"), (RENAME, "Rename (move the keys)")],
        initial=COPY,
        widget=forms.RadioSelect,
    )
    prefix = forms.CharField(
        label="From prefix",
        strip=False,
        max_length=KEY_MAX_LENGTH,
        help_text="Every key starting with this text.",
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )
    target = forms.CharField(
        label="To prefix",
        required=False,
        strip=False,
        max_length=KEY_MAX_LENGTH,
        help_text="Replaces the old prefix in each name (empty removes it).",
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )
    overwrite = forms.BooleanField(
        label="Overwrite keys that already exist under the new prefix", required=False,
    )

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("auto_id", "copy_%s")
        super().__init__(*args, **kwargs)

    def clean_prefix(self) -> str:
        prefix = self.cleaned_data["prefix"]
        if not is_valid_key(prefix):
            raise _prefix_error(prefix)
        return prefix

    def clean_target(self) -> str:
        target = self.cleaned_data["target"]
        if target and not is_valid_key(target):
            raise _prefix_error(target)
        return target

    def clean(self) -> dict:
        cleaned = super().clean()
        if cleaned.get("prefix") is not None and cleaned.get("prefix") == cleaned.get("target"):
            self.add_error("target", "The new prefix is the same as the old one: nothing would change.")
        return cleaned

    @property
    def move(self) -> bool:
        return self.cleaned_data["operation"] == self.RENAME

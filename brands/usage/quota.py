"""Editing a brand's quota settings (staff): the form and the write."""

from __future__ import annotations

from django import forms
from django.db import transaction

from brands.audit import audit_record
from brands.models import QuotaSettings

QUOTA_FIELDS = (
    "max_keys",
    "max_value_bytes",
    "default_ttl",
    "max_ttl",
    "max_ops_per_execution",
    "script_timeout_ms",
    "script_memory_mb",
    "max_concurrent_scripts",
)


class QuotaSettingsForm(forms.ModelForm):
    """The model's own validation does the work: MinValueValidator(1) on every field and
    ``QuotaSettings.clean`` for default_ttl <= max_ttl (ModelForm calls full_clean)."""

    class Meta:
        model = QuotaSettings
        fields = QUOTA_FIELDS
        labels = {
            "max_keys": "Key limit",
            "max_value_bytes": "Largest value (bytes)",
            "default_ttl": "Default TTL (s)",
            "max_ttl": "Maximum TTL (s)",
            "max_ops_per_execution": "Cache operations per script run",
            "script_timeout_ms": "Script time limit (ms)",
            "script_memory_mb": "Script memory limit (MiB)",
            "max_concurrent_scripts": "Script runs at once",
        }

    confirm_below_live = forms.BooleanField(
        required=False, label="Save anyway: the brand will be over its limit and new keys refused",
    )

    def __init__(self, *args, live_keys: int | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # The brand's live keys now (None: Redis did not answer): a limit below it is saved only
        # when confirmed, and the page says what that does to writes.
        self.live_keys = live_keys
        self.below_live = False
        if live_keys is not None:
            self.fields["max_keys"].widget.attrs["data-live-keys"] = live_keys
        for field in self.fields.values():
            field.widget.attrs.update({"min": 1, "inputmode": "numeric"})
            # Callable model defaults make Django compare against a hidden "initial-" input;
            # the saved row is the reference here (for changed_data and the audit detail).
            field.show_hidden_initial = False

    def clean(self) -> dict:
        cleaned = super().clean()
        new = cleaned.get("max_keys")
        if self.live_keys is not None and new is not None and new < self.live_keys:
            self.below_live = True
            if not cleaned.get("confirm_below_live"):
                self.add_error("max_keys", below_live_message(self.live_keys, new))
        return cleaned

    def full_clean(self) -> None:
        super().full_clean()
        # Screen readers announce the invalid fields and read their errors; the CSS outlines them.
        for name in self.errors:
            if name in self.fields:
                field, bound_id = self.fields[name], self[name].auto_id
                described = [f"{bound_id}-errors"]
                if field.help_text:
                    described.insert(0, f"{bound_id}_helptext")  # Django's own id for help text
                field.widget.attrs.update({"aria-invalid": "true", "aria-describedby": " ".join(described)})


def below_live_message(live_keys: int, max_keys: int) -> str:
    """What a key limit below the live count does (docs/contract.md#key-limit)."""
    return (
        f"The brand holds {live_keys:,} live keys, more than a limit of {max_keys:,}: it would be over "
        f"its limit. No key is removed, but every write that would create a key (scripts, the dashboard, "
        f"imports) is refused until fewer than {max_keys:,} keys remain; existing keys can still be "
        "overwritten, incremented and deleted. Tick \"Save anyway\" to lower it all the same."
    )


def quota_settings_update(*, form: QuotaSettingsForm, user) -> list[str]:
    """Save a valid form and audit what changed ("quota.update", "max_keys: 50000 -> 100").
    Returns the names of the changed fields (nothing is written or audited when none)."""
    changed = [name for name in QUOTA_FIELDS if name in form.changed_data]
    if not changed:
        return []
    quota = form.instance
    detail = "; ".join(f"{name}: {form.initial.get(name)} -> {getattr(quota, name)}" for name in changed)
    if form.below_live and "max_keys" in changed:
        detail += f" (below the {form.live_keys} live keys: over its limit, confirmed)"
    with transaction.atomic():
        form.save()
        audit_record(brand=quota.brand, user=user, action="quota.update", target="quota", detail=detail)
    return changed

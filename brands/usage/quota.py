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

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.widget.attrs.update({"min": 1, "inputmode": "numeric"})
            # Callable model defaults make Django compare against a hidden "initial-" input;
            # the saved row is the reference here (for changed_data and the audit detail).
            field.show_hidden_initial = False

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


def quota_settings_update(*, form: QuotaSettingsForm, user) -> list[str]:
    """Save a valid form and audit what changed ("quota.update", "max_keys: 50000 -> 100").
    Returns the names of the changed fields (nothing is written or audited when none)."""
    changed = [name for name in QUOTA_FIELDS if name in form.changed_data]
    if not changed:
        return []
    quota = form.instance
    detail = "; ".join(f"{name}: {form.initial.get(name)} -> {getattr(quota, name)}" for name in changed)
    with transaction.atomic():
        form.save()
        audit_record(brand=quota.brand, user=user, action="quota.update", target="quota", detail=detail)
    return changed

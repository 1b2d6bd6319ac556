"""``manage.py brands``: create, list, inspect and delete brands from the command line.

    brands create SLUG [--name NAME] [--max-keys N] [--max-value-bytes N] [--default-ttl N]
                       [--max-ttl N] [--max-ops N]
    brands list
    brands usage [--json]
    brands delete SLUG
    brands upgrade-index [--batch N]
    brands members list SLUG
    brands members add SLUG USER [--role admin|viewer]     (USER: user name or e-mail)
    brands members remove SLUG USER

Every failure (duplicate or invalid slug, unknown brand, a limit that is not a whole number >= 1,
a default TTL above the maximum TTL, Redis unreachable, an unknown user, removing a brand's last
admin) is one line on stderr and a non-zero exit status (CommandError), so the command is safe to
script. Member changes are audited like the dashboard's (with no user: the command line).
"""

from __future__ import annotations

import json

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from brands.cache import BrandCache, CacheUnavailable
from brands.lifecycle import delete_brand
from brands.members import MemberError, find_user, member_add, member_remove
from brands.models import Brand, Membership
from brands.usage import brands_usage, percent_value

# Command-line option -> QuotaSettings field. Numbers are parsed in handle(), not by argparse,
# so that a bad number is one clear CommandError line rather than a usage dump.
LIMIT_OPTIONS = {
    "max_keys": "--max-keys",
    "max_value_bytes": "--max-value-bytes",
    "default_ttl": "--default-ttl",
    "max_ttl": "--max-ttl",
    "max_ops_per_execution": "--max-ops",
}


def _whole_number(option: str, text: str) -> int:
    try:
        value = int(text, 10)
    except ValueError:
        raise CommandError(f"{option} must be a whole number of at least 1, got {text!r}.") from None
    if value < 1:
        raise CommandError(f"{option} must be a whole number of at least 1, got {text!r}.")
    return value


def _one_line(error: ValidationError) -> str:
    """Django's ValidationError as one readable line ("field: message; field: message")."""
    if hasattr(error, "error_dict"):
        parts = []
        for field, messages in error.message_dict.items():
            label = LIMIT_OPTIONS.get(field, field if field != "__all__" else "")
            text = " ".join(messages)
            parts.append(f"{label}: {text}" if label else text)
        return "; ".join(parts)
    return " ".join(error.messages)


class Command(BaseCommand):
    help = "Create, list, inspect and delete brands (and their cache keys)."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True,
                                    metavar="{create,list,usage,delete,upgrade-index,members}")

        create = sub.add_parser("create", help="Create a brand with its quota settings.")
        create.add_argument("slug")
        create.add_argument("--name", help="Display name (default: the slug, title-cased).")
        for field, option in LIMIT_OPTIONS.items():
            create.add_argument(option, dest=field, metavar="N", help=f"Quota {field} (a whole number >= 1).")

        sub.add_parser("list", help="List brands and their limits.")

        usage = sub.add_parser("usage", help="Live keys, refused writes and stored bytes per brand.")
        usage.add_argument("--json", action="store_true", help="Print JSON instead of a table.")

        delete = sub.add_parser("delete", help="Delete a brand and every cache key it holds.")
        delete.add_argument("slug")

        upgrade = sub.add_parser(
            "upgrade-index",
            help="Move every brand's name index into the chunked layout (once, after upgrading).")
        upgrade.add_argument("--batch", default="500", metavar="N",
                             help="Names moved per Redis script call (default 500).")

        members = sub.add_parser("members", help="List, add or remove a brand's members.")
        member_sub = members.add_subparsers(dest="member_action", required=True, metavar="{list,add,remove}")
        member_list = member_sub.add_parser("list", help="The brand's members and their roles.")
        member_list.add_argument("slug")
        member_add_parser = member_sub.add_parser("add", help="Add a user (by user name or e-mail).")
        member_add_parser.add_argument("slug")
        member_add_parser.add_argument("user", help="User name or e-mail address.")
        member_add_parser.add_argument("--role", default="viewer", help="admin or viewer (default viewer).")
        member_remove_parser = member_sub.add_parser("remove", help="Remove a user from the brand.")
        member_remove_parser.add_argument("slug")
        member_remove_parser.add_argument("user", help="User name or e-mail address.")

    def handle(self, *args, **options) -> None:
        action = options["action"]
        if action == "create":
            self.create(options)
        elif action == "list":
            self.list_brands()
        elif action == "usage":
            self.usage(as_json=options["json"])
        elif action == "delete":
            self.delete(options["slug"])
        elif action == "upgrade-index":
            self.upgrade_index(_whole_number("--batch", options["batch"]))
        elif action == "members":
            self.members(options)

    # ------------------------------------------------------------------ create

    def create(self, options: dict) -> None:
        slug = options["slug"]
        limits = {
            field: _whole_number(option, options[field])
            for field, option in LIMIT_OPTIONS.items()
            if options.get(field) is not None
        }
        if Brand.objects.filter(slug=slug).exists():
            raise CommandError(f"Brand {slug!r} already exists.")
        brand = Brand(slug=slug, name=options["name"] or slug.replace("-", " ").title())
        try:
            brand.full_clean()
        except ValidationError as exc:
            raise CommandError(f"Invalid brand: {_one_line(exc)}") from None
        # A max TTL below the default TTL is refused rather than silently lowering the default:
        # the operator names both numbers (--default-ttl) and nothing changes behind their back.
        with transaction.atomic():
            brand.save()  # creates the quota row with the defaults
            quota = brand.quota
            for field, value in limits.items():
                setattr(quota, field, value)
            try:
                quota.full_clean()
            except ValidationError as exc:  # leaving the block rolls the brand back
                message = _one_line(exc)
                if "default_ttl" in exc.message_dict and "default_ttl" not in limits:
                    message += " Pass --default-ttl as well."
                raise CommandError(f"Invalid limits: {message}") from None
            quota.save()
        self.stdout.write(
            self.style.SUCCESS(f"Created brand {brand.slug!r} (id {brand.pk}): {_limits(quota)}.")
        )

    # ------------------------------------------------------------------ list

    def list_brands(self) -> None:
        brands = list(Brand.objects.select_related("quota"))
        if not brands:
            self.stdout.write("No brands.")
            return
        rows = [
            [b.slug, b.name, "yes" if b.is_active else "no", str(b.quota.max_keys),
             str(b.quota.max_value_bytes), str(b.quota.default_ttl), str(b.quota.max_ttl),
             str(b.quota.max_ops_per_execution)]
            for b in brands
        ]
        header = ["slug", "name", "active", "max keys", "max value B", "default TTL s", "max TTL s",
                  "max ops"]
        self.stdout.write(_table(header, rows, right_from=3))

    # ------------------------------------------------------------------ usage

    def usage(self, *, as_json: bool) -> None:
        brands = list(Brand.objects.select_related("quota"))
        try:
            usage = brands_usage(brands)  # live keys and refused writes, one pipeline
            stored = {brand.pk: BrandCache.for_brand(brand).stored_bytes() for brand in brands}
        except CacheUnavailable as exc:
            raise CommandError(str(exc)) from None
        records = [
            {
                "slug": brand.slug,
                "live_keys": usage[brand.pk].live_keys,
                "max_keys": usage[brand.pk].max_keys,
                "percent": percent_value(usage[brand.pk].percent),
                "level": usage[brand.pk].word or "ok",
                "refused_writes": usage[brand.pk].refused_writes,
                "stored_bytes": stored[brand.pk],
            }
            for brand in brands
        ]
        if as_json:
            self.stdout.write(json.dumps(records, indent=2))
            return
        if not records:
            self.stdout.write("No brands.")
            return
        header = ["slug", "live keys", "max keys", "used %", "level", "refused writes", "stored bytes"]
        rows = [
            [r["slug"], str(r["live_keys"]), str(r["max_keys"]), f"{r['percent']:.1f}", r["level"],
             str(r["refused_writes"]), str(r["stored_bytes"])]
            for r in records
        ]
        self.stdout.write(_table(header, rows, right_from=1))

    # ------------------------------------------------------------------ delete

    def delete(self, slug: str) -> None:
        brand = Brand.objects.select_related("quota").filter(slug=slug).first()
        if brand is None:
            raise CommandError(f"Unknown brand {slug!r}.")
        # Keys first (brands.lifecycle): if Redis is down the brand row stays, so the keys are
        # never orphaned under an id nobody can reach any more.
        try:
            deleted = delete_brand(brand)
        except CacheUnavailable as exc:
            raise CommandError(f"{exc} Brand {slug!r} was not deleted.") from None
        self.stdout.write(self.style.SUCCESS(f"Deleted brand {slug!r} and its {deleted} cache keys."))


    # ------------------------------------------------------------------ upgrade-index

    def upgrade_index(self, batch: int) -> None:
        """The name index before issue 14 was one sorted set per brand; the scripts now read
        chunks. Each brand is moved in batches of ``batch`` names (one short script each, so
        Redis never stalls); running it again finds nothing to move."""
        moved = brands = 0
        for brand in Brand.objects.select_related("quota").order_by("pk"):
            try:
                count = BrandCache.for_brand(brand).upgrade_name_index(batch=batch)
            except CacheUnavailable as exc:
                raise CommandError(f"{exc} Stopped at brand {brand.slug!r}; run it again.") from None
            if count:
                brands += 1
                moved += count
                self.stdout.write(f"{brand.slug}: {count:,} names moved")
        self.stdout.write(self.style.SUCCESS(
            f"Upgraded the name index of {brands} brands ({moved:,} names)."))

    # ------------------------------------------------------------------ members

    def members(self, options: dict) -> None:
        brand = Brand.objects.select_related("quota").filter(slug=options["slug"]).first()
        if brand is None:
            raise CommandError(f"Unknown brand {options['slug']!r}.")
        action = options["member_action"]
        try:
            if action == "list":
                self.list_members(brand)
            elif action == "add":
                membership = member_add(brand=brand, identifier=options["user"], role=options["role"])
                self.stdout.write(self.style.SUCCESS(
                    f"Added {membership.user.get_username()} to {brand.slug} as {membership.role}."))
            else:
                user = find_user(options["user"])
                membership = Membership.objects.filter(brand=brand, user=user).first()
                if membership is None:
                    raise MemberError(f"{user.get_username()} is not a member of {brand.slug}.")
                member_remove(membership=membership)
                self.stdout.write(self.style.SUCCESS(f"Removed {user.get_username()} from {brand.slug}."))
        except MemberError as exc:
            raise CommandError(str(exc)) from None

    def list_members(self, brand: Brand) -> None:
        memberships = list(Membership.objects.filter(brand=brand).select_related("user")
                           .order_by("role", "user__username"))
        if not memberships:
            self.stdout.write(f"{brand.slug} has no members.")
            return
        rows = [[m.user.get_username(), m.user.email or "-", m.role, m.created.date().isoformat()]
                for m in memberships]
        self.stdout.write(_table(["user", "e-mail", "role", "since"], rows, right_from=4))


def _limits(quota) -> str:
    return (
        f"max keys {quota.max_keys}, max value {quota.max_value_bytes} B, default TTL "
        f"{quota.default_ttl} s, max TTL {quota.max_ttl} s, max ops {quota.max_ops_per_execution}"
    )


def _table(header: list[str], rows: list[list[str]], *, right_from: int) -> str:
    """Plain aligned columns; columns from ``right_from`` on are numbers, right-aligned."""
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        return "  ".join(
            cell.rjust(width) if i >= right_from else cell.ljust(width)
            for i, (cell, width) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    return "\n".join([line(header), line(["-" * w for w in widths]), *(line(r) for r in rows)])

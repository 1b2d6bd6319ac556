"""A brand's team: adding members by user name or e-mail, changing roles, removing them. Used by
the members page and ``manage.py brands members``; every change is audited there and here alike.

The one rule: a brand with admins keeps at least one. Removing or demoting its last admin is
refused, whoever asks (the admin themselves or staff): add another admin first.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db import transaction

from brands.audit import audit_record
from brands.models import Brand, Membership

ROLES = {choice.value: choice.label for choice in Membership.Role}


class MemberError(ValueError):
    """A change to the team that is refused; the message says why, for a person."""


def find_user(identifier: str):
    """The user named ``identifier``: a user name (exact), else an e-mail address (any case).
    Raises MemberError when there is none, or when an e-mail belongs to several users."""
    identifier = (identifier or "").strip()
    if not identifier:
        raise MemberError("Enter a user name or an e-mail address.")
    users = get_user_model().objects
    user = users.filter(username=identifier).first()
    if user is not None:
        return user
    if "@" in identifier:
        matches = list(users.filter(email__iexact=identifier)[:2])
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            raise MemberError(f"Several users have the e-mail address {identifier}: use the user name.")
    raise MemberError(f"No user is called {identifier!r} or has that e-mail address. "
                      "Users are created by staff in the admin site.")


def _check_role(role: str) -> str:
    if role not in ROLES:
        raise MemberError(f"Unknown role {role!r}: choose admin or viewer.")
    return role


def _admins(brand: Brand) -> list[Membership]:
    # Locked for the rest of the transaction, so that two admins removing each other at the same
    # time cannot both pass the "another admin remains" check.
    return list(Membership.objects.select_for_update().filter(brand=brand, role=Membership.Role.ADMIN))


def member_add(*, brand: Brand, identifier: str, role: str, by=None) -> Membership:
    role = _check_role(role)
    user = find_user(identifier)
    with transaction.atomic():
        existing = Membership.objects.filter(brand=brand, user=user).first()
        if existing is not None:
            raise MemberError(f"{user.get_username()} is already a member ({existing.role}); "
                              "change the role in the list instead.")
        membership = Membership.objects.create(brand=brand, user=user, role=role)
        audit_record(brand=brand, user=by, action="member.add", target=user.get_username(),
                     detail=f"as {role}")
    return membership


def member_set_role(*, membership: Membership, role: str, by=None) -> bool:
    """Returns whether the role changed."""
    role = _check_role(role)
    with transaction.atomic():
        admins = _admins(membership.brand)
        membership.refresh_from_db()
        if membership.role == role:
            return False
        if membership.role == Membership.Role.ADMIN and len(admins) <= 1:
            raise MemberError(f"{membership.user.get_username()} is the brand's only admin: make "
                              "someone else an admin first.")
        old = membership.role
        membership.role = role
        membership.save(update_fields=["role"])
        audit_record(brand=membership.brand, user=by, action="member.role",
                     target=membership.user.get_username(), detail=f"{old} -> {role}")
    return True


def member_remove(*, membership: Membership, by=None) -> None:
    with transaction.atomic():
        admins = _admins(membership.brand)
        membership.refresh_from_db()
        if membership.role == Membership.Role.ADMIN and len(admins) <= 1:
            who = "You are" if by is not None and by.pk == membership.user_id else (
                f"{membership.user.get_username()} is")
            raise MemberError(f"{who} the brand's only admin: make someone else an admin before "
                              "removing this membership.")
        name = membership.user.get_username()
        membership.delete()
        audit_record(brand=membership.brand, user=by, action="member.remove", target=name,
                     detail=f"was {membership.role}")

"""Accounts, roles and API tokens. One person, one account: usernames are never reused."""

from __future__ import annotations

import secrets

from django.contrib.auth.models import AnonymousUser, Group, User
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from secretome.db.accounts.models import PasswordChange
from secretome.db.core.models import ApiToken, AuditEvent, UserProfile
from secretome.domain.canonical import sha256_hex
from secretome.domain.roles import Role, parse_role
from secretome.services.audit import SYSTEM_ACTOR, actor_name, record_event, require_reason
from secretome.services.errors import Forbidden, NotFound, ServiceError

Actor = User | AnonymousUser | str

TOKEN_PREFIX = "stm_"


def roles_of(user: User | AnonymousUser) -> frozenset[Role]:
    """The roles a user holds (none for an anonymous or inactive user)."""
    if not user.is_authenticated or not user.is_active:
        return frozenset()
    names = user.groups.values_list("name", flat=True)
    return frozenset(Role(n) for n in names if n in Role._value2member_map_)


def require_role(actor: Actor, *allowed: Role) -> None:
    """Refuse unless ``actor`` is the system or holds one of ``allowed``."""
    if isinstance(actor, str):
        if actor == SYSTEM_ACTOR:
            return
        raise Forbidden(f"{actor!r} is not a user")
    if not roles_of(actor) & set(allowed):
        names = " or ".join(r.value for r in allowed)
        raise Forbidden(f"{actor.get_username()} needs the {names} role for this")


@transaction.atomic
def ensure_roles(actor: Actor, reason: str) -> list[str]:
    """Create the four role groups where missing. Returns the names created."""
    created = []
    for role in Role:
        _, was_created = Group.objects.get_or_create(name=role.value)
        if was_created:
            created.append(role.value)
            record_event(actor, "create", "role", role.value, reason, None, {"name": role.value})
    return created


def admins_exist() -> bool:
    """True when at least one active admin exists."""
    return User.objects.filter(groups__name=Role.ADMIN.value, is_active=True).exists()


@transaction.atomic
def add_user(
    actor: Actor,
    reason: str,
    *,
    username: str,
    full_name: str,
    role: str,
    password: str,
) -> User:
    """Create an account with one role.

    The system may create only the first account, an admin; after that only an admin may add users. A username that
    ever existed is refused, so that an audit entry always names one person.
    """
    require_reason(reason)
    try:
        parsed = parse_role(role)
    except ValueError as exc:
        raise ServiceError(str(exc)) from None
    if actor == SYSTEM_ACTOR:
        if admins_exist():
            raise Forbidden("an admin exists: only an admin may add users now")
        if parsed is not Role.ADMIN:
            raise Forbidden("role: the first account must be an admin, who then adds the others")
    else:
        require_role(actor, Role.ADMIN)
    username = username.strip()
    if not username:
        raise ServiceError("username: must not be empty")
    if not full_name.strip():
        raise ServiceError("full_name: the printed name shown on signatures is required")
    if (
        User.objects.filter(username=username).exists()
        # Only a creation counts: failed logins are audited under the name that was tried, which may be anything.
        or AuditEvent.objects.filter(object_type="user", object_id=username, action="create").exists()
    ):
        raise ServiceError(f"username: {username!r} exists or existed; usernames are never reused")
    user = User(username=username, is_staff=parsed is Role.ADMIN)
    try:
        validate_password(password, user)
    except ValidationError as exc:
        raise ServiceError("password: " + " ".join(exc.messages)) from None
    user.set_password(password)
    user.save()
    UserProfile.objects.create(user=user, full_name=full_name.strip())
    PasswordChange.objects.create(user=user, changed_at=user.date_joined, changed_by=actor_name(actor))
    ensure_roles(actor, reason)
    user.groups.add(Group.objects.get(name=parsed.value))
    record_event(
        actor,
        "create",
        "user",
        username,
        reason,
        None,
        {"username": username, "full_name": full_name.strip(), "role": parsed.value, "active": True},
    )
    return user


def all_users() -> list[User]:
    """Every account, active or not, by username."""
    return list(User.objects.order_by("username"))


def user_exists(username: str) -> bool:
    return User.objects.filter(username=username).exists()


def get_user(username: str) -> User:
    try:
        return User.objects.get(username=username)
    except User.DoesNotExist:
        raise NotFound(f"user {username!r} does not exist") from None


@transaction.atomic
def deactivate_user(actor: Actor, reason: str, username: str) -> None:
    """Deactivate an account. Accounts are never deleted: the audit trail must keep naming them."""
    require_role(actor, Role.ADMIN)
    user = get_user(username)
    if not user.is_active:
        raise ServiceError(f"user {username!r} is already inactive")
    user.is_active = False
    user.save(update_fields=["is_active"])
    record_event(actor, "deactivate", "user", username, reason, {"active": True}, {"active": False})


def full_name(user: User) -> str:
    """The printed name of ``user``."""
    profile = UserProfile.objects.filter(user=user).first()
    return profile.full_name if profile else str(user.get_username())


@transaction.atomic
def create_api_token(actor: User, reason: str, name: str) -> str:
    """Create an API token for ``actor`` and return it; only its hash is kept."""
    if not actor.is_authenticated:
        raise Forbidden("log in first")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    record = ApiToken.objects.create(
        user=actor,
        name=name.strip() or "token",
        token_hash=sha256_hex(token),
        prefix=token[:12],
        created_at=timezone.now(),
    )
    record_event(
        actor, "create", "api_token", record.pk, reason, None, {"name": record.name, "prefix": record.prefix}
    )
    return token


def user_for_token(token: str) -> User | None:
    """The user an API token belongs to, or None when the token is unknown or revoked, or its account is
    inactive or locked (a lockout means someone is guessing that person's password: their scripts wait too)."""
    from secretome.services.accounts import is_locked

    record = (
        ApiToken.objects.select_related("user")
        .filter(token_hash=sha256_hex(token), revoked_at__isnull=True, user__is_active=True)
        .first()
    )
    if record is None or is_locked(record.user.get_username()):
        return None
    return record.user

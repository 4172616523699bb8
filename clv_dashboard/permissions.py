"""Each user's permissions read from the cache instead of two queries on every request.

Django's ModelBackend computes a user's permissions once per request (two queries: the user's
own and their groups'); every page and API call checks them. This backend keeps the computed
set in the cache, keyed by the user and by a permissions version that any change to users'
groups, users' or groups' permissions, or a group, a permission or a user saved or deleted,
replaces (connect() wires the signals; metrics.apps calls it). An entry is therefore read only
while nothing that could change it has changed. A change made while Redis is unreachable cannot
replace the version there: the process that made it keeps the new version pending and writes it
on its next request that finds Redis back, and PERMISSIONS_SECONDS (30 s) bounds the life of any
entry that such a change (should that process end first) or a change outside the ORM (raw SQL)
would leave behind. Without Redis (or with it down) every request computes the set from the
database, as Django does.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.contrib.auth.backends import ModelBackend
from django.core.cache import cache

PREFIX = "clv:perms"
VERSION_KEY = f"{PREFIX}:version"
PERMISSIONS_SECONDS = 30
# A new version this process could not write (Redis unreachable at the change), written on the
# next request that finds Redis back.
_pending: str | None = None


def _version_write(version: str) -> bool:
    """Replace the version; whether Redis now holds it (a cache that is down drops the write)."""
    cache.set(VERSION_KEY, version, timeout=None)
    return bool(cache.get(VERSION_KEY) == version)


def permissions_version() -> str:
    """The current version: made on first use and kept without expiry (if Redis loses it, a new
    one is made, so an entry written under an older version is never read again)."""
    global _pending
    pending = _pending
    if pending is not None and _version_write(pending):
        _pending = None
    version = cache.get(VERSION_KEY)
    if version is None:
        cache.add(VERSION_KEY, uuid.uuid4().hex, timeout=None)
        version = cache.get(VERSION_KEY)
    return str(version or "none")


def permissions_changed(*, update_fields: Any = None, **_: Any) -> None:
    """Every cached permission set is out of date from now on (except after a login, which
    saves only the user's last_login)."""
    global _pending
    if update_fields is not None and set(update_fields) <= {"last_login"}:
        return
    version = uuid.uuid4().hex
    _pending = None if _version_write(version) else version


def _key(user_pk: Any) -> str:
    return f"{PREFIX}:{settings.CLV_DATA_CACHE_SALT}:{permissions_version()}:{user_pk}"


class CachedPermissionsBackend(ModelBackend):
    def get_all_permissions(self, user_obj: Any, obj: Any = None) -> set[str]:
        if not user_obj.is_active or user_obj.is_anonymous or obj is not None:
            return set()
        if not hasattr(user_obj, "_perm_cache"):
            key = _key(user_obj.pk)
            cached = cache.get(key)
            if cached is None:
                cached = frozenset(super().get_all_permissions(user_obj))
                cache.set(key, cached, PERMISSIONS_SECONDS)
            user_obj._perm_cache = set(cached)
        permissions: set[str] = user_obj._perm_cache
        return permissions


def connect() -> None:
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group, Permission
    from django.db.models.signals import m2m_changed, post_delete, post_save

    user_model = get_user_model()
    for through in (user_model.groups.through, user_model.user_permissions.through, Group.permissions.through):
        m2m_changed.connect(permissions_changed, sender=through, dispatch_uid=f"clv-perms-{through._meta.label}")
    for model in (user_model, Group, Permission):
        for signal in (post_save, post_delete):
            signal.connect(permissions_changed, sender=model,
                           dispatch_uid=f"clv-perms-{signal is post_save}-{model._meta.label}")

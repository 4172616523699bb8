"""Each user's permissions cached (clv_dashboard.permissions), with real Redis: read without a
query once computed, and never stale after a change to the user's groups, a group's
permissions, or a user, group or permission saved or deleted."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from clv_dashboard import roles
from clv_dashboard.permissions import permissions_version

pytestmark = [pytest.mark.django_db, pytest.mark.redis]
PERM = "metrics.view_monthlysnapshot"


def _fresh(user: Any) -> Any:
    """The user as a new request loads it: no permissions computed yet."""
    return get_user_model().objects.get(pk=user.pk)


def _perm_queries(user: Any) -> tuple[bool, int]:
    with CaptureQueriesContext(connection) as queries:
        allowed = user.has_perm(PERM)
    return allowed, sum("auth_permission" in q["sql"] for q in queries.captured_queries)


@pytest.fixture
def executive() -> Any:
    roles.sync_role_groups(group_model=Group, permission_model=Permission)
    user = get_user_model().objects.create_user("perm-cache-exec", password="x")
    user.groups.set([Group.objects.get(name=roles.EXECUTIVE)])
    return user


def test_a_users_permissions_are_read_from_the_cache_after_the_first_request(executive: Any) -> None:
    assert _perm_queries(_fresh(executive)) == (True, 2)  # the user's own and their groups'
    assert _perm_queries(_fresh(executive)) == (True, 0)
    assert _fresh(executive).get_all_permissions() == _fresh(executive).get_all_permissions()


def test_leaving_a_group_or_a_group_losing_a_permission_is_seen_at_once(executive: Any) -> None:
    assert _perm_queries(_fresh(executive))[0] is True
    executive.groups.clear()
    assert _perm_queries(_fresh(executive)) == (False, 2)
    executive.groups.add(Group.objects.get(name=roles.EXECUTIVE))
    assert _perm_queries(_fresh(executive))[0] is True
    app_label, codename = PERM.split(".")
    Group.objects.get(name=roles.EXECUTIVE).permissions.remove(
        Permission.objects.get(content_type__app_label=app_label, codename=codename))
    assert _perm_queries(_fresh(executive))[0] is False


def test_a_users_own_permission_and_a_deleted_group_are_seen_at_once(executive: Any) -> None:
    app_label, codename = ["audit", "view_auditevent"]
    permission = Permission.objects.get(content_type__app_label=app_label, codename=codename)
    assert _fresh(executive).has_perm("audit.view_auditevent") is False
    executive.user_permissions.add(permission)
    assert _fresh(executive).has_perm("audit.view_auditevent") is True
    Group.objects.get(name=roles.EXECUTIVE).delete()
    assert _fresh(executive).has_perm(PERM) is False


def test_a_login_does_not_invalidate_everyones_permissions(executive: Any) -> None:
    before = permissions_version()
    client = Client()
    assert client.login(username="perm-cache-exec", password="x")
    assert permissions_version() == before
    executive.is_active = False
    executive.save()
    assert permissions_version() != before
    assert _fresh(executive).has_perm(PERM) is False


def test_pages_still_check_permissions_through_the_cache(executive: Any) -> None:
    client = Client()
    client.force_login(executive)
    assert client.get("/board/").status_code == 200
    assert client.get("/audit/").status_code == 403  # the audit log is for admins
    executive.groups.set([Group.objects.get(name=roles.ADMIN)])
    assert client.get("/audit/").status_code == 200


def test_a_change_made_while_redis_is_unreachable_is_seen_once_redis_is_back(executive: Any, settings: Any) -> None:
    from django.core.cache import cache

    from clv_dashboard import permissions
    from tests.foundation.test_redis_down import _closed_cache

    reachable = settings.CACHES
    assert _fresh(executive).has_perm(PERM) is True  # cached under the current version
    cached = f"{permissions.PREFIX}:{settings.CLV_DATA_CACHE_SALT}:{permissions_version()}:{executive.pk}"
    settings.CACHES = _closed_cache()
    executive.groups.clear()  # the new version cannot be written
    assert _perm_queries(_fresh(executive)) == (False, 2)  # computed from the database meanwhile
    settings.CACHES = reachable
    assert cache.get(cached) is not None  # the entry written before the outage is still in Redis
    # The next request of the process that made the change writes its version first.
    assert _perm_queries(_fresh(executive)) == (False, 2)
    assert permissions._pending is None
    # Should that process have ended first, the old entry lives at most PERMISSIONS_SECONDS.
    client: Any = cache._cache.get_client()  # type: ignore[attr-defined]
    assert 0 < client.ttl(cache.make_key(cached)) <= permissions.PERMISSIONS_SECONDS <= 30

"""A database emptied by `flush` (as a transactional test's teardown does) starts again as a
migrated one: the role groups and version 1 of the assumptions, whatever test runs next."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command

from clv_dashboard import roles
from metrics.models import AssumptionSet


@pytest.mark.django_db(transaction=True)
def test_a_flushed_database_has_the_role_groups_and_the_default_assumptions_again() -> None:
    AssumptionSet.objects.create(version=2, note="a later version")
    call_command("flush", interactive=False, verbosity=0)
    assert list(AssumptionSet.objects.values_list("version", "note")) == [(1, "Defaults of METRICS.md")]
    assert set(Group.objects.values_list("name", flat=True)) >= {roles.EXECUTIVE, roles.ANALYST, roles.ADMIN}
    # A migrate over a database that has assumptions adds none.
    call_command("migrate", verbosity=0)
    assert AssumptionSet.objects.count() == 1

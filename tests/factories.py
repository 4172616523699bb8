from __future__ import annotations

import datetime as dt
from decimal import Decimal

import factory
from django.contrib.auth import get_user_model

from customers.models import CostEntry, Customer, ImportJob, Transaction


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.django.Password("pass-word-123")


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Customer

    external_id = factory.Sequence(lambda n: f"C{n:06d}")
    name = factory.Faker("name")


class ImportJobFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ImportJob

    kind = ImportJob.Kind.TRANSACTIONS
    original_name = "transactions.csv"
    sha256 = factory.Sequence(lambda n: f"{n:064x}")
    status = ImportJob.Status.SUCCEEDED


class TransactionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Transaction

    customer = factory.SubFactory(CustomerFactory)
    order_id = factory.Sequence(lambda n: f"O{n:07d}")
    order_date = dt.date(2024, 1, 15)
    revenue = Decimal("100.00")
    cost = Decimal("60.00")


class CostEntryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CostEntry

    month = dt.date(2024, 1, 1)
    kind = CostEntry.Kind.ACQUISITION
    amount = Decimal("1000.00")

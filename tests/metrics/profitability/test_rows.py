"""The per-customer profitability rows carry no database foreign keys (the allocation rewrites a
million of them at once); Django still removes a customer's row with the customer and an
assumption version's rows with the version."""

from __future__ import annotations

from decimal import Decimal

from django.utils import timezone

from customers.models import Customer
from metrics.models import AssumptionSet, CustomerProfitability
from metrics.services import assumptions_ensure, assumptions_record


def _row(customer: Customer, assumption_set: AssumptionSet) -> CustomerProfitability:
    zero = Decimal("0")
    return CustomerProfitability.objects.create(
        customer=customer, month=timezone.now().date().replace(day=1), margin_to_date=Decimal("12.50"),
        acquisition_cost_allocated=zero, retention_cost_allocated=zero, net_profit_to_date=Decimal("12.50"),
        assumption_set=assumption_set, computed_at=timezone.now())


def test_deleting_a_customer_deletes_their_profitability_row(db: None) -> None:
    version = assumptions_ensure()
    kept, gone = Customer.objects.create(external_id="K"), Customer.objects.create(external_id="G")
    _row(kept, version), _row(gone, version)
    gone.delete()
    assert list(CustomerProfitability.objects.values_list("customer__external_id", flat=True)) == ["K"]
    Customer.objects.filter(external_id="K").delete()  # a queryset delete cascades the same way
    assert not CustomerProfitability.objects.exists()


def test_deleting_an_assumption_version_deletes_the_rows_computed_with_it(db: None) -> None:
    first = assumptions_ensure()
    second = assumptions_record(user=None, note="test", recompute=False, annual_discount_rate=Decimal("0.12"))
    _row(Customer.objects.create(external_id="A"), first)
    _row(Customer.objects.create(external_id="B"), second)
    second.delete()
    assert list(CustomerProfitability.objects.values_list("customer__external_id", flat=True)) == ["A"]

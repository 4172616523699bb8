from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from clv_dashboard.demo import demo_seed, demo_users_ensure


class Command(BaseCommand):
    help = "Create the demo business (customers, transactions, costs), one user per role, and its snapshots."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--customers", type=int, default=4000, help="number of customers (default 4000)")
        parser.add_argument("--months", type=int, default=36, help="months of history (default 36)")
        parser.add_argument("--seed", type=int, default=7, help="random seed (default 7)")
        parser.add_argument("--no-recompute", action="store_true", help="do not compute the snapshots")

    def handle(self, *args: Any, **options: Any) -> None:
        result = demo_seed(customers=options["customers"], months=options["months"], seed=options["seed"])
        if result.created:
            self.stdout.write(
                f"Demo data created: {result.customers} customers, {result.transactions} transactions, "
                f"{result.cost_entries} cost entries, {result.first_month:%Y-%m} to {result.last_month:%Y-%m}."
            )
        else:
            self.stdout.write("Demo data already present; nothing added.")
        users = demo_users_ensure()
        if result.created and not options["no_recompute"]:
            self.stdout.write("Computing the monthly snapshots...")
            from metrics.services import snapshots_recompute  # type: ignore[attr-defined]

            snapshots_recompute(trigger="seed_demo")
        self.stdout.write("Demo logins (http://127.0.0.1:8000/login/):")
        for username, password, role in users:
            self.stdout.write(f"  {role:<10} user {username:<10} password {password}")

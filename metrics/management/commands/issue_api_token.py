from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from audit.services import audit_record_tokens_revoked
from metrics.models import ApiToken
from metrics.services import api_token_issue

ERROR_NO_USER = "No user named {username!r}: create the user first (Django admin, Users)."
ERROR_NO_PERMISSION = "User {username!r} cannot read the API: give them the Executive, Analyst or Admin role first."


class Command(BaseCommand):
    help = "Issue an API token for a user (printed once; only its hash is stored), or revoke one by prefix."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--name", default="", help="what the token is for, e.g. 'finance BI'")
        parser.add_argument("--revoke", metavar="PREFIX", help="revoke the user's token(s) starting with PREFIX")

    def handle(self, *args: Any, **options: Any) -> None:
        username = options["username"]
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(ERROR_NO_USER.format(username=username))
        if options.get("revoke"):
            audit_record_tokens_revoked(tokens=ApiToken.objects.filter(user=user, prefix__startswith=options["revoke"], revoked=False))
            count = ApiToken.objects.filter(user=user, prefix__startswith=options["revoke"]).update(revoked=True)
            self.stdout.write(f"Revoked {count} token(s).")
            return
        if not user.has_perm("metrics.view_board"):
            raise CommandError(ERROR_NO_PERMISSION.format(username=username))
        token, key = api_token_issue(user=user, name=options["name"])
        self.stdout.write(f"Token for {username} (prefix {token.prefix}); store it now, it is not shown again:")
        self.stdout.write(key)

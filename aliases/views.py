"""The segment aliases page: everyone who imports sees the mapping; admins change it."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from . import selectors
from .forms import AliasForm
from .models import SegmentAlias
from .services import AliasRefused, alias_add, alias_retire

VIEW = "aliases.view_segmentalias"
MANAGE = "aliases.manage_aliases"


def _page(request: HttpRequest, form: AliasForm, status: int = 200) -> HttpResponse:
    return render(request, "aliases/index.html", {
        "form": form, "aliases": selectors.aliases_in_force(), "in_use": selectors.values_in_use(),
        "versions": selectors.versions_recent(), "can_manage": request.user.has_perm(MANAGE),
    }, status=status)


@require_GET
@permission_required(VIEW, raise_exception=True)
def alias_list(request: HttpRequest) -> HttpResponse:
    initial = {k: request.GET[k] for k in ("dimension", "value") if request.GET.get(k)}
    return _page(request, AliasForm(initial=initial))


@require_POST
@permission_required(MANAGE, raise_exception=True)
def alias_create(request: HttpRequest) -> HttpResponse:
    form = AliasForm(request.POST)
    if not form.is_valid():
        return _page(request, form, status=400)
    try:
        version = alias_add(actor=request.user, request=request, **form.cleaned_data)
    except AliasRefused as exc:
        form.add_error(None, str(exc))
        return _page(request, form, status=400)
    counts = version.relabelled.get(form.cleaned_data["dimension"], {})
    messages.success(request, _("Saved as version %(version)s: %(customers)s customer(s) and %(costs)s cost entr(ies) "
                                "re-labelled; the board is being recomputed.") % {
        "version": version.pk, "customers": counts.get("customers", 0), "costs": counts.get("cost_entries", 0)})
    return redirect("aliases:list")


@require_POST
@permission_required(MANAGE, raise_exception=True)
def alias_retire_view(request: HttpRequest, pk: int) -> HttpResponse:
    alias = get_object_or_404(SegmentAlias, pk=pk, retired_in__isnull=True)
    version = alias_retire(alias=alias, actor=request.user, request=request)
    messages.success(request, _("Version %(version)s: the alias is no longer applied to new imports.") % {
        "version": version.pk})
    return redirect("aliases:list")

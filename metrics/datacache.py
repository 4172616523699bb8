"""Results that cost a scan (the API's rows, the customers page's totals and page count), cached
under the data version (metrics.board.selectors.board_data_version), which changes whenever a
recompute, a fit, a close or the profitability pass writes. A cached value is therefore never
stale: a write changes the key, and the old entry expires unread. Without Redis every call
computes (the cache degrades to none, clv_dashboard.cache)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from typing import TypeVar

from django.conf import settings
from django.core.cache import cache
from django.utils import translation

from .board.selectors import board_data_version

T = TypeVar("T")
PREFIX = "clv:data"
SECONDS = 3600


def versioned_key(*, name: str, parts: Iterable[str]) -> str:
    """The cache key of `name` for these parts under the current data version, language and
    currency (CLV_DATA_CACHE_SALT in front: the test suite gives each test its own)."""
    raw = "\x1f".join([settings.CLV_DATA_CACHE_SALT, board_data_version(), translation.get_language() or "-",
                       str(settings.CLV_CURRENCY), name, *parts])
    return f"{PREFIX}:{name}:{hashlib.sha256(raw.encode()).hexdigest()}"


def versioned_get(*, name: str, parts: Iterable[str], compute: Callable[[], T]) -> T:
    """compute() through the cache, keyed on the data version, the language and `parts`."""
    key = versioned_key(name=name, parts=parts)
    value = cache.get(key)
    if value is None:
        value = compute()
        cache.set(key, value, SECONDS)
    return value

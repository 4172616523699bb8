"""A Redis cache that degrades to no cache when Redis is down.

Every read then misses and every write is dropped, so pages are built from the database. A
failure costs one short socket timeout (OPTIONS socket_connect_timeout / socket_timeout); after
it Redis is not tried again for RETRY_AFTER seconds, so a page with many cache calls pays the
timeout once, not once per call."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.redis import RedisCache, RedisCacheClient
from redis import Redis
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

FAILURES = (RedisError, OSError)


class ReusingRedisCacheClient(RedisCacheClient):
    """Django's client, keeping one redis.Redis per connection pool instead of making one per
    call: redis-py builds its table of ~170 response callbacks in every Redis(), about 1 ms of
    CPU, and a page makes several cache calls (bench/load.py: 2-6 per request)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._clients: dict[int, Redis] = {}

    def get_client(self, key: Any = None, *, write: bool = False) -> Redis:
        # The private helpers are Django's own (django.core.cache.backends.redis), untyped in its stubs.
        index: int = self._get_connection_pool_index(write)  # type: ignore[attr-defined]
        client = self._clients.get(index)
        if client is None:
            # A redis.Redis is safe to share: each command takes a connection from the pool.
            pool = self._get_connection_pool(write)  # type: ignore[attr-defined]
            client = self._clients[index] = self._client(connection_pool=pool)  # type: ignore[attr-defined]
        return client


class ResilientRedisCache(RedisCache):
    def __init__(self, server: str, params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._class = ReusingRedisCacheClient
        self.retry_after = float(params.get("RETRY_AFTER", 5))
        self._down_until = 0.0

    @property
    def available(self) -> bool:
        return time.monotonic() >= self._down_until

    def _call(self, name: str, fallback: Any, *args: Any, **kwargs: Any) -> Any:
        if not self.available:
            return fallback
        method: Callable[..., Any] = getattr(super(), name)
        try:
            return method(*args, **kwargs)
        except FAILURES as exc:
            self._down_until = time.monotonic() + self.retry_after
            logger.warning("cache unavailable (%s: %s); pages are built without it for %ss",
                           type(exc).__name__, exc, self.retry_after)
            return fallback

    def get(self, key: Any, default: Any = None, version: int | None = None) -> Any:
        return self._call("get", default, key, default, version)

    def get_many(self, keys: Any, version: int | None = None) -> dict[Any, Any]:
        result: dict[Any, Any] = self._call("get_many", {}, keys, version)
        return result

    def has_key(self, key: Any, version: int | None = None) -> bool:
        return bool(self._call("has_key", False, key, version))

    def add(self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None) -> bool:
        return bool(self._call("add", False, key, value, timeout, version))

    def set(self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None) -> None:
        self._call("set", None, key, value, timeout, version)

    def set_many(self, data: Any, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None) -> list[Any]:
        return list(self._call("set_many", list(data), data, timeout, version) or [])

    def touch(self, key: Any, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None) -> bool:
        return bool(self._call("touch", False, key, timeout, version))

    def delete(self, key: Any, version: int | None = None) -> bool:
        return bool(self._call("delete", False, key, version))

    def delete_many(self, keys: Any, version: int | None = None) -> None:
        self._call("delete_many", None, keys, version)

    def clear(self) -> None:
        self._call("clear", None)

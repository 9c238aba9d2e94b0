"""The object-store interface every backend implements."""

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

KEY = re.compile(r"^[0-9a-f]{64}$")


class StoredObjectMissing(Exception):
    """A key the database names has no object in the store (deleted behind the service's back)."""


class StoredObjectCorrupt(Exception):
    """An object whose bytes no longer hash to its key (a disk, a copy or a hand gone wrong)."""


def key_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def verified(key: str, data: bytes) -> bytes:
    """``data`` if it is the object ``key`` names: every read is checked, so a damaged or replaced
    object is never served as a household register."""
    if key_of(data) != key:
        raise StoredObjectCorrupt(key)
    return data


def checked_key(key: str) -> str:
    """Only SHA-256 hex keys reach a backend: no path or prefix can be smuggled in through one."""
    if not KEY.match(key):
        raise ValueError(f"not a content key: {key[:80]!r}")
    return key


@dataclass(frozen=True)
class StoredObject:
    """An object as the store lists it: its key and when it was last written (wall clock, UTC)."""

    key: str
    modified_at: datetime


class ObjectStore(Protocol):
    """Content-addressed: ``put`` returns the SHA-256 of the bytes, which is the key."""

    name: str

    async def put(self, data: bytes) -> str: ...

    async def get(self, key: str) -> bytes: ...

    async def delete(self, key: str) -> None: ...

    async def exists(self, key: str) -> bool: ...

    async def list_objects(self, after: str = "", limit: int = 1000) -> list[StoredObject]:
        """Up to ``limit`` objects whose key sorts after ``after``, in key order (a page of the sweep
        for objects no row names). Putting bytes already stored renews their ``modified_at``."""
        ...

    async def modified_at(self, key: str) -> datetime | None:
        """When the object was last written, or None when there is none."""
        ...

    async def remove_unfinished_writes(self, older_than: timedelta, *, dry_run: bool = False) -> int:
        """Delete what writes that never finished left behind (a crash mid-put), once older than
        ``older_than``; answers how many (with ``dry_run``, how many would go)."""
        ...

"""The object-store interface every backend implements."""

import hashlib
import re
from typing import Protocol

KEY = re.compile(r"^[0-9a-f]{64}$")


class StoredObjectMissing(Exception):
    """A key the database names has no object in the store (deleted behind the service's back)."""


def key_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def checked_key(key: str) -> str:
    """Only SHA-256 hex keys reach a backend: no path or prefix can be smuggled in through one."""
    if not KEY.match(key):
        raise ValueError(f"not a content key: {key[:80]!r}")
    return key


class ObjectStore(Protocol):
    """Content-addressed: ``put`` returns the SHA-256 of the bytes, which is the key."""

    name: str

    async def put(self, data: bytes) -> str: ...

    async def get(self, key: str) -> bytes: ...

    async def delete(self, key: str) -> None: ...

    async def exists(self, key: str) -> bool: ...

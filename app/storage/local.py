"""A directory on the service's disk: the embedded default (one host, or a shared volume)."""

import asyncio
import contextlib
import os
import tempfile
from pathlib import Path

from app.storage.base import StoredObjectMissing, checked_key, key_of


class LocalDirectoryStore:
    name = "local"

    def __init__(self, root: Path):
        self.root = Path(root)

    def _path(self, key: str) -> Path:
        # Two levels of fan-out keep directories small; the key is hex, so nothing escapes the root.
        key = checked_key(key)
        return self.root / key[:2] / key[2:4] / key

    def _write(self, key: str, data: bytes) -> None:
        path = self._path(key)
        if path.exists():
            return  # same key, same bytes
        path.parent.mkdir(parents=True, exist_ok=True)
        # Written beside the target and renamed: a reader never sees half a file, a crash leaves
        # only a temporary file, and two writers of the same key both end with the whole object.
        fd, temp = tempfile.mkstemp(dir=path.parent, prefix=".incoming-")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temp, path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temp)
            raise

    def _read(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            raise StoredObjectMissing(key) from None

    async def put(self, data: bytes) -> str:
        key = key_of(data)
        await asyncio.to_thread(self._write, key, data)
        return key

    async def get(self, key: str) -> bytes:
        return await asyncio.to_thread(self._read, key)

    async def delete(self, key: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            await asyncio.to_thread(self._path(key).unlink)

    async def exists(self, key: str) -> bool:
        return await asyncio.to_thread(self._path(key).exists)

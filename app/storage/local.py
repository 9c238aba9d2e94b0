"""A directory on the service's disk: the embedded default (one host, or a shared volume)."""

import asyncio
import contextlib
import os
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from app.storage.base import KEY, StoredObject, StoredObjectMissing, checked_key, key_of, verified

INCOMING = ".incoming-"  # the prefix of a write in progress, beside its target


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
            # Same key, same bytes; written again now, so the orphan sweep's grace period protects it
            # until the row naming it is committed.
            with contextlib.suppress(FileNotFoundError):
                os.utime(path)
                return
        path.parent.mkdir(parents=True, exist_ok=True)
        # Written beside the target and renamed: a reader never sees half a file, a crash leaves
        # only a temporary file, and two writers of the same key both end with the whole object.
        fd, temp = tempfile.mkstemp(dir=path.parent, prefix=INCOMING)
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
        return verified(key, await asyncio.to_thread(self._read, key))

    async def delete(self, key: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            await asyncio.to_thread(self._path(key).unlink)

    async def exists(self, key: str) -> bool:
        return await asyncio.to_thread(self._path(key).exists)

    def _stat(self, key: str) -> datetime | None:
        try:
            return datetime.fromtimestamp(self._path(key).stat().st_mtime, UTC)
        except FileNotFoundError:
            return None

    def _list(self, after: str, limit: int) -> list[StoredObject]:
        found: list[StoredObject] = []
        # Key order is the order of the fan-out directories: only those at or after ``after`` are read.
        for first in sorted(d.name for d in self._dirs(self.root) if d.name >= after[:2]):
            for second in sorted(
                d.name for d in self._dirs(self.root / first) if first + d.name >= after[:4]
            ):
                for name in sorted(p.name for p in (self.root / first / second).iterdir()):
                    if name > after and KEY.match(name) and name.startswith(first + second):
                        modified = self._stat(name)
                        if modified is not None:
                            found.append(StoredObject(name, modified))
                        if len(found) == limit:
                            return found
        return found

    @staticmethod
    def _dirs(path: Path) -> list[Path]:
        try:
            return [d for d in path.iterdir() if d.is_dir() and len(d.name) == 2]
        except FileNotFoundError:
            return []

    async def list_objects(self, after: str = "", limit: int = 1000) -> list[StoredObject]:
        return await asyncio.to_thread(self._list, after, limit)

    async def modified_at(self, key: str) -> datetime | None:
        return await asyncio.to_thread(self._stat, key)

    def _remove_unfinished(self, older_than: timedelta, dry_run: bool) -> int:
        # Only where _write puts them (root/ab/cd/), and only regular files: nothing else is touched.
        cut = datetime.now(UTC).timestamp() - older_than.total_seconds()
        removed = 0
        for first in self._dirs(self.root):
            for second in self._dirs(first):
                for path in second.glob(INCOMING + "*"):
                    try:
                        if not path.is_file() or path.is_symlink() or path.stat().st_mtime >= cut:
                            continue
                        if not dry_run:
                            path.unlink()
                    except FileNotFoundError:
                        continue  # its writer renamed it, or another prune took it
                    removed += 1
        return removed

    async def remove_unfinished_writes(self, older_than: timedelta, *, dry_run: bool = False) -> int:
        """The ``.incoming-*`` files a crash left between the write and the rename. A write takes
        seconds, so one older than ``older_than`` (an hour, from ``aidflow prune``) has no writer."""
        return await asyncio.to_thread(self._remove_unfinished, older_than, dry_run)

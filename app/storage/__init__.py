"""Where the bytes of materials live: a content-addressed object store with two backends.

A key is the SHA-256 of the bytes (hex), so the same document stored twice is one object and a key
read back can be checked against what the audit trail recorded. The backends know nothing of cases
or people; the rules are in ``app/domain/materials``.
"""

from app.config import Settings
from app.storage.base import ObjectStore, StoredObject, StoredObjectCorrupt, StoredObjectMissing, key_of
from app.storage.local import LocalDirectoryStore
from app.storage.s3 import S3Store

__all__ = [
    "LocalDirectoryStore",
    "ObjectStore",
    "S3Store",
    "StoredObject",
    "StoredObjectCorrupt",
    "StoredObjectMissing",
    "from_settings",
    "key_of",
]


def from_settings(settings: Settings) -> ObjectStore:
    if settings.storage_backend == "s3":
        return S3Store(
            bucket=settings.storage_s3_bucket or "",
            endpoint_url=settings.storage_s3_endpoint,
            region=settings.storage_s3_region,
            access_key_id=settings.storage_s3_access_key_id,
            secret_access_key=settings.storage_s3_secret_access_key,
            encryption=settings.storage_s3_encryption,
            kms_key_id=settings.storage_s3_kms_key_id,
        )
    return LocalDirectoryStore(settings.storage_directory)

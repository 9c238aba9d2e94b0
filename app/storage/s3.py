"""Any S3-compatible store (MinIO, the clouds' object storage) through boto3, with server-side
encryption when configured. boto3 blocks, so each call runs in a thread."""

import asyncio
import base64
import hashlib
from datetime import datetime, timedelta
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from app.storage.base import KEY, StoredObject, StoredObjectMissing, checked_key, key_of, verified

PREFIX = "sha256/"


def _missing(error: ClientError) -> bool:
    return error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound")


class S3Store:
    name = "s3"

    def __init__(
        self,
        *,
        bucket: str,
        endpoint_url: str | None = None,
        region: str | None = None,
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        encryption: str | None = None,
        kms_key_id: str | None = None,
    ):
        self.bucket = bucket
        self.client = boto3.session.Session().client(
            "s3",
            endpoint_url=endpoint_url,
            region_name=region,
            aws_access_key_id=access_key_id,
            aws_secret_access_key=secret_access_key,
            config=Config(retries={"max_attempts": 3, "mode": "standard"}, s3={"addressing_style": "path"}),
        )
        self._encryption: dict[str, str] = {}
        if encryption:
            self._encryption["ServerSideEncryption"] = encryption
        if kms_key_id:
            self._encryption["SSEKMSKeyId"] = kms_key_id

    def _object(self, key: str) -> str:
        return PREFIX + checked_key(key)

    def _put(self, key: str, data: bytes) -> None:
        # Content-MD5 makes the store refuse bytes damaged on the way.
        md5 = base64.b64encode(hashlib.md5(data, usedforsecurity=False).digest()).decode()
        self.client.put_object(
            Bucket=self.bucket,
            Key=self._object(key),
            Body=data,
            ContentMD5=md5,
            ContentType="application/octet-stream",
            **self._encryption,
        )

    def _get(self, key: str) -> bytes:
        try:
            body: Any = self.client.get_object(Bucket=self.bucket, Key=self._object(key))["Body"]
            return bytes(body.read())
        except ClientError as error:
            if _missing(error):
                raise StoredObjectMissing(key) from None
            raise

    def _exists(self, key: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=self._object(key))
        except ClientError as error:
            if _missing(error):
                return False
            raise
        return True

    def _list(self, after: str, limit: int) -> list[StoredObject]:
        listed = self.client.list_objects_v2(
            Bucket=self.bucket, Prefix=PREFIX, StartAfter=PREFIX + after, MaxKeys=limit
        )
        return [
            StoredObject(o["Key"].removeprefix(PREFIX), o["LastModified"])
            for o in listed.get("Contents", [])
            if KEY.match(o["Key"].removeprefix(PREFIX))
        ]

    def _modified_at(self, key: str) -> datetime | None:
        try:
            modified: datetime = self.client.head_object(Bucket=self.bucket, Key=self._object(key))[
                "LastModified"
            ]
        except ClientError as error:
            if _missing(error):
                return None
            raise
        return modified

    async def list_objects(self, after: str = "", limit: int = 1000) -> list[StoredObject]:
        return await asyncio.to_thread(self._list, after, limit)

    async def modified_at(self, key: str) -> datetime | None:
        return await asyncio.to_thread(self._modified_at, key)

    def head(self, key: str) -> dict[str, Any]:
        """The object's metadata as the store reports it (its encryption, for tests and operators)."""
        return dict(self.client.head_object(Bucket=self.bucket, Key=self._object(key)))

    async def put(self, data: bytes) -> str:
        key = key_of(data)
        await asyncio.to_thread(self._put, key, data)
        return key

    async def get(self, key: str) -> bytes:
        return verified(key, await asyncio.to_thread(self._get, key))

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self.client.delete_object, Bucket=self.bucket, Key=self._object(key))

    async def exists(self, key: str) -> bool:
        return await asyncio.to_thread(self._exists, key)

    async def remove_unfinished_writes(self, older_than: timedelta, *, dry_run: bool = False) -> int:
        """Nothing to remove: a single PUT is stored whole or not at all."""
        return 0

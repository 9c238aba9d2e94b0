"""The object store's contract, on both backends: the local directory and a real S3-compatible
server (moto's server mode, tests/s3_server.py), with server-side encryption as configured."""

import hashlib
import os

import pytest
from pydantic import ValidationError

from app.storage import LocalDirectoryStore, S3Store, StoredObjectCorrupt, StoredObjectMissing, from_settings
from tests.conftest import make_settings
from tests.s3_server import CREDENTIALS, REGION, s3_client


def _s3(endpoint: str, bucket: str, **kw) -> S3Store:
    return S3Store(
        bucket=bucket,
        endpoint_url=endpoint,
        region=REGION,
        access_key_id=CREDENTIALS["aws_access_key_id"],
        secret_access_key=CREDENTIALS["aws_secret_access_key"],
        **kw,
    )


@pytest.fixture(params=["local", "s3"])
def store(request, tmp_path):
    if request.param == "local":
        return LocalDirectoryStore(tmp_path / "store")
    return _s3(request.getfixturevalue("s3_endpoint"), request.getfixturevalue("s3_bucket"))


async def test_put_returns_the_sha256_and_get_gives_the_same_bytes(store):
    data = os.urandom(300_000)
    key = await store.put(data)
    assert key == hashlib.sha256(data).hexdigest()
    assert await store.exists(key)
    assert await store.get(key) == data
    # The same bytes again: the same key, one object.
    assert await store.put(data) == key
    await store.delete(key)
    assert not await store.exists(key)
    with pytest.raises(StoredObjectMissing):
        await store.get(key)
    await store.delete(key)  # deleting what is gone is not an error


async def test_bytes_that_no_longer_match_their_key_are_never_served(store):
    """A damaged disk, a bad copy or a hand replacing an object: the read compares the hash."""
    key = await store.put(b"%PDF-1.4 the household register")
    if isinstance(store, LocalDirectoryStore):
        store._path(key).write_bytes(b"%PDF-1.4 someone else's register")
    else:
        store.client.put_object(Bucket=store.bucket, Key=store._object(key), Body=b"%PDF-1.4 replaced")
    with pytest.raises(StoredObjectCorrupt):
        await store.get(key)


async def test_only_content_keys_reach_a_backend(store):
    for bad in ("../../etc/passwd", "A" * 64, "", "0" * 63, "0" * 64 + "/x", "/" + "0" * 64):
        with pytest.raises(ValueError):
            await store.get(bad)
        with pytest.raises(ValueError):
            await store.exists(bad)


async def test_the_local_store_writes_whole_files_by_rename_and_leaves_no_temporary_file(tmp_path):
    store = LocalDirectoryStore(tmp_path / "store")
    key = await store.put(b"%PDF-1.7 household register")
    path = tmp_path / "store" / key[:2] / key[2:4] / key
    assert path.read_bytes() == b"%PDF-1.7 household register"
    assert [p.name for p in path.parent.iterdir()] == [key]


async def test_s3_objects_are_encrypted_by_the_store_when_configured(s3_endpoint, s3_bucket):
    store = _s3(s3_endpoint, s3_bucket, encryption="AES256")
    key = await store.put(b"%PDF-1.7 income certificate")
    assert store.head(key)["ServerSideEncryption"] == "AES256"
    assert await store.get(key) == b"%PDF-1.7 income certificate"


async def test_s3_objects_can_be_encrypted_with_a_kms_key(s3_endpoint, s3_bucket):
    kms_key = s3_client(s3_endpoint, "kms").create_key(Description="materials")["KeyMetadata"]["KeyId"]
    store = _s3(s3_endpoint, s3_bucket, encryption="aws:kms", kms_key_id=kms_key)
    key = await store.put(b"%PDF-1.7 diagnosis")
    head = store.head(key)
    assert head["ServerSideEncryption"] == "aws:kms"
    assert kms_key in head["SSEKMSKeyId"]
    assert await store.get(key) == b"%PDF-1.7 diagnosis"


async def test_the_objects_are_under_their_key_in_the_bucket(s3_endpoint, s3_bucket):
    store = _s3(s3_endpoint, s3_bucket)
    key = await store.put(b"photo")
    listed = s3_client(s3_endpoint).list_objects_v2(Bucket=s3_bucket)["Contents"]
    assert [o["Key"] for o in listed] == [f"sha256/{key}"]


def test_the_settings_refuse_an_s3_store_without_a_bucket_or_a_kms_key_without_kms():
    with pytest.raises(ValidationError, match="STORAGE_S3_BUCKET"):
        make_settings("sqlite+aiosqlite:///x.db", storage_backend="s3")
    with pytest.raises(ValidationError, match="KMS_KEY_ID"):
        make_settings(
            "sqlite+aiosqlite:///x.db",
            storage_s3_bucket="b",
            storage_s3_kms_key_id="k",
            storage_s3_encryption="AES256",
        )
    settings = make_settings("sqlite+aiosqlite:///x.db", storage_backend="s3", storage_s3_bucket="b")
    assert isinstance(from_settings(settings), S3Store)
    assert isinstance(from_settings(make_settings("sqlite+aiosqlite:///x.db")), LocalDirectoryStore)


async def test_the_service_says_at_start_that_an_s3_store_without_encryption_keeps_materials_plain(
    database_url, s3_endpoint, s3_bucket
):
    from structlog.testing import capture_logs

    from tests.conftest import RunningApp

    bucket = {
        "storage_backend": "s3",
        "storage_s3_endpoint": s3_endpoint,
        "storage_s3_bucket": s3_bucket,
        "storage_s3_region": REGION,
        "storage_s3_access_key_id": CREDENTIALS["aws_access_key_id"],
        "storage_s3_secret_access_key": CREDENTIALS["aws_secret_access_key"],
    }
    for encryption in (None, "AES256"):
        running = RunningApp(database_url, storage_s3_encryption=encryption, **bucket)
        with capture_logs() as logs:
            async with running:
                key = await running.app.state.store.put(f"%PDF-1.7 户口簿 {encryption}".encode())
        head = running.app.state.store.head(key)
        warned = [e for e in logs if e["event"] == "storage_s3_unencrypted"]
        if encryption is None:  # the warning says what is so: the object rests unencrypted
            assert "ServerSideEncryption" not in head, head
            [warning] = warned
            assert warning["log_level"] == "warning" and warning["bucket"] == s3_bucket
            assert "AIDFLOW_STORAGE_S3_ENCRYPTION" in warning["fix"]
        else:
            assert head["ServerSideEncryption"] == "AES256" and warned == []

"""The end of materials, on both stores (a local directory and a real S3-compatible server) and both
databases: a program's retention marks the documents of long-ended cases deleted with an
``attachment.deleted`` event naming their SHA-256 (never their name), and their bytes go once no
live row names them — a file another case still holds stays; objects no row names (a crash between
the put and the insert) are deleted after the grace period, not before."""

import json
import os
from datetime import UTC, datetime, timedelta

import pytest

from app.db.engine import create_engine
from app.domain.materials import lifecycle
from app.storage import LocalDirectoryStore, S3Store, key_of
from tests.conftest import RunningApp
from tests.helpers import Api
from tests.materials_samples import pdf, png
from tests.s3_server import CREDENTIALS, REGION, s3_settings

HOUR = timedelta(hours=1)


@pytest.fixture(params=["local", "s3"])
async def materials(request, database_url, tmp_path):
    """(api, the store the service writes to) on one of the two backends."""
    if request.param == "local":
        root = tmp_path / "materials"
        settings: dict = {"storage_directory": root}
        store = LocalDirectoryStore(root)
    else:
        endpoint, bucket = request.getfixturevalue("s3_endpoint"), request.getfixturevalue("s3_bucket")
        settings = s3_settings(endpoint, bucket)
        store = S3Store(
            bucket=bucket,
            endpoint_url=endpoint,
            region=REGION,
            access_key_id=CREDENTIALS["aws_access_key_id"],
            secret_access_key=CREDENTIALS["aws_secret_access_key"],
        )
    async with RunningApp(database_url, **settings) as client:
        api = Api(client, database_url)
        await api.setup_places_and_people("admin-password-1")
        yield api, store


async def _add(api: Api, case: str, content: bytes, name: str, key: str):
    r = await api.client.post(
        f"/api/v1/applications/{case}/attachments",
        files={"file": (name, content, "application/octet-stream")},
        data={"key": key},
        headers=api.headers["portal"],
    )
    assert r.status_code == 201, r.text
    return r.json()


async def _keys(store) -> set[str]:
    return {o.key for o in await store.list_objects()}


async def test_retention_deletes_the_materials_of_long_ended_cases_and_then_their_bytes(materials):
    api, store = materials
    ended, open_ = await api.apply(), await api.apply()
    shared = pdf(2)  # the same scan handed in for two cases: one object
    hukou = await _add(api, ended["id"], shared, "张三户口簿.pdf", "hukou")
    photo = await _add(api, ended["id"], png((40, 30)), "张三身份证.png", "id_card")
    kept = await _add(api, open_["id"], shared, "户口簿.pdf", "hukou")
    assert hukou["sha256"] == kept["sha256"] and await _keys(store) == {hukou["sha256"], photo["sha256"]}
    r = await api.post("portal", f"/applications/{ended['id']}/withdraw", {"reason": "申请人撤回"})
    assert r.status_code == 200, r.text

    db = create_engine(api.database_url)
    try:
        # 低保 keeps materials 10 years after the case ends: nine years on, nothing goes.
        nine_years = datetime.now(UTC) + timedelta(days=9 * 365)
        assert await lifecycle.expire(db, 1, now=nine_years) == 0
        eleven_years = datetime.now(UTC) + timedelta(days=11 * 365)
        assert await lifecycle.expire(db, 1, dry_run=True, now=eleven_years) == 2
        assert await api.count("attachments", "deleted_at IS NOT NULL") == 0
        assert await lifecycle.expire(db, 1, now=eleven_years) == 2  # batches of one
        assert await lifecycle.expire(db, 1, now=eleven_years) == 0  # once
        # The bytes: the photo no row names goes; the scan the open case still holds stays.
        assert await lifecycle.sweep_orphans(db, store, timedelta(0), 1, dry_run=True) == 1
        assert await _keys(store) == {hukou["sha256"], photo["sha256"]}
        assert await lifecycle.sweep_orphans(db, store, timedelta(0), 1) == 1
        assert await _keys(store) == {hukou["sha256"]}
    finally:
        await db.dispose()

    # Deleted rows are not read; the open case's document still is, with its bytes.
    assert (await api.get("county", f"/attachments/{photo['id']}/content")).status_code == 404
    assert [
        a["id"] for a in (await api.get("county", f"/applications/{ended['id']}/attachments")).json()
    ] == []
    r = await api.get("county", f"/attachments/{kept['id']}/content")
    assert r.status_code == 200 and r.content == shared
    # The trail says which bytes went and why — never the name a citizen gave the file.
    deleted = [e for e in await api.events(ended["id"]) if e["type"] == "attachment.deleted"]
    assert sorted(e["data"]["sha256"] for e in deleted) == sorted((hukou["sha256"], photo["sha256"]))
    assert {e["actor"] for e in deleted} == {"system"}
    assert set(deleted[0]["data"]) == {
        "attachment_id",
        "key",
        "sha256",
        "size",
        "content_type",
        "reason",
        "retention_years",
    }
    assert deleted[0]["data"]["retention_years"] == 10
    assert "张三" not in json.dumps(deleted, ensure_ascii=False)


async def test_objects_no_row_names_are_deleted_after_the_grace_period(materials):
    api, store = materials
    case = await api.apply()
    named = await _add(api, case["id"], pdf(), "户口簿.pdf", "hukou")
    # A crash between the put and the insert: bytes in the store, no row.
    crashed = await store.put(png((12, 12)))
    assert crashed == key_of(png((12, 12)))
    db = create_engine(api.database_url)
    try:
        assert await lifecycle.sweep_orphans(db, store, HOUR, 100) == 0  # younger than the grace
        assert await _keys(store) == {named["sha256"], crashed}
        assert await lifecycle.sweep_orphans(db, store, timedelta(0), 100) == 1
        assert await _keys(store) == {named["sha256"]}
        assert await store.exists(named["sha256"])
    finally:
        await db.dispose()


async def test_putting_bytes_again_renews_them_so_an_upload_in_flight_is_never_swept(materials):
    _, store = materials
    data = png((20, 10))
    key = await store.put(data)
    first = await store.modified_at(key)
    assert first is not None and await store.modified_at("0" * 64) is None
    # The listing pages in key order, after a key.
    keys = sorted([key, await store.put(pdf(1)), await store.put(pdf(3))])
    assert [o.key for o in await store.list_objects("", 2)] == keys[:2]
    assert [o.key for o in await store.list_objects(keys[1], 2)] == keys[2:]
    # The same bytes put again (an upload of a file already stored): its time is now, not then.
    if isinstance(store, LocalDirectoryStore):
        path = store._path(key)
        os.utime(path, (first.timestamp() - 7200, first.timestamp() - 7200))
        assert await store.modified_at(key) < first - HOUR
    await store.put(data)
    renewed = await store.modified_at(key)
    assert renewed is not None and renewed >= first - timedelta(seconds=1)


async def test_prune_removes_what_interrupted_local_writes_left_once_an_hour_old(database_url, tmp_path):
    """A crash between the write and the rename leaves ``.incoming-*`` beside the target: the real
    ``aidflow prune`` removes those older than an hour, and nothing else."""
    import subprocess

    from tests.time_travel import command

    root = tmp_path / "materials"
    store = LocalDirectoryStore(root)
    key = await store.put(pdf())  # makes the fan-out directories and an object no row names (young)
    folder = store._path(key).parent
    old, young = folder / ".incoming-k3j2_x9", folder / ".incoming-8fq1ab"
    elsewhere = root / ".incoming-not-ours"  # not where the store writes: left alone
    for path in (old, young, elsewhere):
        path.write_bytes(b"%PDF-1.7 half a househo")
    two_hours_ago = datetime.now(UTC).timestamp() - 7200
    for path in (old, elsewhere):
        os.utime(path, (two_hours_ago, two_hours_ago))
    env = {
        **os.environ,
        "AIDFLOW_DATABASE_URL": database_url,
        "AIDFLOW_LOG_JSON": "false",
        "AIDFLOW_ENV": "development",
        "AIDFLOW_STORAGE_DIRECTORY": str(root),
    }

    def prune(*args: str) -> list[str]:
        done = subprocess.run(
            command("aidflow", "prune", *args), env=env, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stderr
        return done.stdout.splitlines()

    assert "unfinished writes (.incoming-*): would delete 1" in prune("--dry-run")
    assert old.exists() and young.exists()
    assert "unfinished writes (.incoming-*): deleted 1" in prune()
    assert not old.exists() and young.exists() and elsewhere.exists()
    assert store._path(key).exists()  # the object beside it: younger than the orphan grace
    assert "unfinished writes (.incoming-*): deleted 0" in prune()

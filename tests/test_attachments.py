"""Materials over REST: a portal and a reviewer add documents to a case, those who may read the case
list, download and preview them, every read is in the audit trail, webhooks say only that a document
was added; bad files and wrong callers are refused with the database and the store untouched.
Both databases, both stores (a local directory and a real S3-compatible server)."""

import io
import json

import pytest
import sqlalchemy as sa
from PIL import Image

from app.db.engine import create_engine
from tests.conftest import RunningApp
from tests.helpers import VILLAGE_B, Api
from tests.materials_samples import GPS_TAG, pdf, photo_with_gps
from tests.s3_server import s3_client, s3_settings

SMALL_LIMIT = 256 * 1024


@pytest.fixture(params=["local", "s3"])
async def materials(request, database_url, tmp_path):
    """(api, what is in the store) on one of the two backends."""
    if request.param == "local":
        root = tmp_path / "materials"
        settings = {"storage_directory": root}

        def stored() -> list[str]:
            return sorted(p.name for p in root.rglob("*") if p.is_file())
    else:
        endpoint, bucket = request.getfixturevalue("s3_endpoint"), request.getfixturevalue("s3_bucket")
        settings = s3_settings(endpoint, bucket, storage_s3_encryption="AES256")

        def stored() -> list[str]:
            listed = s3_client(endpoint).list_objects_v2(Bucket=bucket).get("Contents", [])
            return sorted(o["Key"].removeprefix("sha256/") for o in listed)

    async with RunningApp(database_url, max_attachment_bytes=SMALL_LIMIT, **settings) as client:
        api = Api(client, database_url)
        await api.setup_places_and_people("admin-password-1")
        yield api, stored


async def add(api: Api, who: str, case: str, content: bytes, name: str = "户口簿.pdf", key: str = "hukou"):
    return await api.client.post(
        f"/api/v1/applications/{case}/attachments",
        files={"file": (name, content, "application/octet-stream")},
        data={"key": key},
        headers=api.headers.get(who, {}),
    )


async def outbox_payloads(api: Api, type_: str) -> list[dict]:
    db = create_engine(api.database_url)
    try:
        async with db.connect() as conn:
            rows = await conn.execute(
                sa.text("SELECT payload FROM outbox WHERE event_type = :t"), {"t": type_}
            )
            return [p if isinstance(p, dict) else json.loads(p) for (p,) in rows]
    finally:
        await db.dispose()


async def test_a_portal_and_a_reviewer_add_documents_that_readers_download_and_preview(materials):
    api, stored = materials
    case = await api.apply()
    document = pdf(2)
    r = await add(api, "portal", case["number"], document, "C:\\scans\\户口簿.PDF")
    assert r.status_code == 201, r.text
    added = r.json()
    assert added["file_name"] == "户口簿.pdf" and added["content_type"] == "application/pdf"
    assert added["size"] == len(document) and added["key"] == "hukou" and added["uploaded_by"] == "portal"
    assert stored() == [added["sha256"]]

    # The township reviewer holds the acceptance step: a home-visit photo, stripped of its position.
    r = await add(api, "town_a", case["id"], photo_with_gps(), "IMG_0001.JPG", key="home_visit_photo")
    assert r.status_code == 201, r.text
    photo = r.json()
    assert photo["content_type"] == "image/jpeg" and photo["file_name"] == "IMG_0001.jpg"

    listed = (await api.get("county", f"/applications/{case['number']}/attachments")).json()
    assert [a["id"] for a in listed] == [added["id"], photo["id"]]
    assert sorted(stored()) == sorted([added["sha256"], photo["sha256"]])

    r = await api.get("county", f"/attachments/{added['id']}/content")
    assert r.status_code == 200 and r.content == document
    assert r.headers["content-type"] == "application/pdf"
    assert r.headers["content-disposition"].startswith("attachment;")
    assert "filename*=UTF-8''%E6%88%B7%E5%8F%A3%E7%B0%BF.pdf" in r.headers["content-disposition"]
    assert r.headers["x-content-type-options"] == "nosniff"
    assert "default-src 'none'" in r.headers["content-security-policy"]

    r = await api.get("town_a", f"/attachments/{photo['id']}/content", preview="true")
    assert r.status_code == 200 and r.headers["content-disposition"].startswith("inline;")
    assert r.headers["content-type"] == "image/jpeg" and "sandbox" in r.headers["content-security-policy"]
    image = Image.open(io.BytesIO(r.content))
    assert not image.getexif().get_ifd(GPS_TAG) and not image.getexif()

    # Every upload and every read is in the trail: who, which case, which bytes.
    trail = await api.events(case["id"])
    reads = [
        (e["type"], e["actor"], e["data"]["sha256"]) for e in trail if e["type"].startswith("attachment.")
    ]
    assert reads == [
        ("attachment.downloaded", "county", added["sha256"]),
        ("attachment.previewed", "town_a", photo["sha256"]),
    ]
    [first, _] = [e for e in trail if e["type"] == "application.attachment_added"]
    # The trail names the bytes (sha256, key, size, type), never the name a citizen gave the file.
    assert first["actor"] == "portal" and set(first["data"]) == {
        "attachment_id",
        "key",
        "size",
        "sha256",
        "content_type",
        "original_size",
    }
    assert "户口簿" not in json.dumps(trail, ensure_ascii=False)
    # The webhook says a document was added: its checklist key and size, never its name or content.
    payloads = await outbox_payloads(api, "application.attachment_added")
    assert [p["data"] for p in payloads] == [
        {"key": "hukou", "size": len(document)},
        {"key": "home_visit_photo", "size": photo["size"]},
    ]
    assert "户口簿" not in json.dumps(payloads, ensure_ascii=False)


async def test_refused_files_leave_the_database_and_the_store_untouched(materials):
    api, stored = materials
    case = await api.apply()
    cases = [
        (b"MZ\x90\x00" + b"\x00" * 500, "申请书.pdf", 422, "unsupported_type"),
        (b"PK\x03\x04" + b"\x00" * 500, "材料.pdf", 422, "unsupported_type"),
        (b"", "空.pdf", 422, "empty_file"),
        (pdf(password="x"), "加密.pdf", 422, "pdf_encrypted"),
        (pdf(javascript="app.alert(1)"), "脚本.pdf", 422, "pdf_active_content"),
        (b"%PDF-" + b"0" * (SMALL_LIMIT + 10), "大.pdf", 413, "file_too_large"),
        (b"%PDF-" + b"0" * (SMALL_LIMIT + 100_000), "太大.pdf", 413, "upload_too_large"),
    ]
    for content, name, status, code in cases:
        r = await add(api, "portal", case["id"], content, name)
        assert (r.status_code, r.json()["code"]) == (status, code), (name, r.text)
        assert r.headers["content-type"] == "application/problem+json"
    r = await add(api, "portal", case["id"], pdf(), key="../hukou")
    assert (r.status_code, r.json()["code"]) == (422, "invalid_checklist_key")
    assert await api.count("attachments") == 0
    assert [e for e in await api.events(case["id"]) if "attachment" in e["type"]] == []
    assert await outbox_payloads(api, "application.attachment_added") == []
    assert stored() == []


async def test_who_may_not_add_or_read(api: Api):
    case = await api.apply()
    r = await add(api, "portal", case["id"], pdf())
    assert r.status_code == 201, r.text
    doc = r.json()["id"]
    # Another portal at the same county, another office of the same department elsewhere, a stranger.
    r = await api.post(
        "admin",
        "/admin/api-keys",
        {"name": "portal2", "grants": [{"role": "portal", "division_code": "340621"}]},
    )
    api.headers["portal2"] = {"X-API-Key": r.json()["key"]}
    r = await api.post(
        "admin",
        "/admin/users",
        {
            "username": "town_edu",
            "password": "reviewer-password-1",
            "display_name": "town_edu",
            "grants": [{"role": "township_education", "division_code": "340621100"}],
        },
    )
    assert r.status_code == 201, r.text
    await api.login("town_edu")
    for who in ("portal2", "town_b", "other_county"):
        assert (await add(api, who, case["id"], pdf())).json()["code"] == "application_not_found", who
        r = await api.get(who, f"/applications/{case['id']}/attachments")
        assert (r.status_code, r.json()["code"]) == (404, "application_not_found"), who
        r = await api.get(who, f"/attachments/{doc}/content")
        assert (r.status_code, r.json()["code"]) == (404, "attachment_not_found"), who
    # Another department at the same township, and the county with no open step: they may read
    # the case (and so its materials) but not add to it.
    for who in ("town_edu", "county"):
        r = await add(api, who, case["id"], pdf())
        assert (r.status_code, r.json()["code"]) == (403, "not_allowed_to_add"), who
    for stranger in ({}, {"Authorization": "Bearer nonsense"}, {"X-API-Key": "nonsense"}):
        r = await api.client.get(f"/api/v1/attachments/{doc}/content", headers=stranger)
        assert r.status_code == 401
        r = await api.client.get(f"/api/v1/applications/{case['id']}/attachments", headers=stranger)
        assert r.status_code == 401
        r = await api.client.post(
            f"/api/v1/applications/{case['id']}/attachments",
            files={"file": ("a.pdf", pdf())},
            data={"key": "hukou"},
            headers=stranger,
        )
        assert r.status_code == 401
    # A portal's case at another township: the portal may add to its own case wherever it is.
    other = await api.apply(division_code=VILLAGE_B)
    assert (await add(api, "town_a", other["id"], pdf())).status_code == 404
    assert (await add(api, "portal", other["id"], pdf())).status_code == 201
    assert await api.count("attachments") == 2
    assert [e["type"] for e in await api.events(case["id"]) if e["type"].startswith("attachment.")] == []


async def test_a_closed_case_takes_no_more_documents(api: Api):
    case = await api.apply()
    r = await api.post("portal", f"/applications/{case['id']}/withdraw", {"reason": "申请人撤回"})
    assert r.status_code == 200, r.text
    r = await add(api, "portal", case["id"], pdf())
    assert (r.status_code, r.json()["code"]) == (409, "case_closed")
    assert (await api.get("portal", f"/applications/{case['id']}/attachments")).json() == []


@pytest.mark.dates
async def test_a_dibao_case_with_its_documents_from_application_to_approval(materials):
    """Application with documents, acceptance finds one missing (一次性告知), the portal supplements
    it while the case waits, and the case is approved; on both stores and both databases."""
    api, stored = materials
    await api.set_clock("2026-11-23T09:00:00+08:00")  # a Monday
    case = await api.apply()
    for key, name in (("hukou", "户口簿.pdf"), ("id_card", "身份证.jpg")):
        content = pdf() if name.endswith(".pdf") else photo_with_gps()
        assert (await add(api, "portal", case["id"], content, name, key)).status_code == 201
    await api.step(
        "town_a",
        case["id"],
        "accept_application",
        {"decision": "incomplete", "missing_materials": ["收入证明"]},
    )
    # Waiting for the supplement: no open step, the portal may still add to its own case.
    assert (await api.application(case["id"]))["open_tasks"] == []
    r = await add(api, "portal", case["id"], pdf(3), "收入证明.pdf", "income_certificate")
    assert r.status_code == 201, r.text
    await api.message("materials_supplemented", case["id"], {"materials": ["收入证明"]})
    listed = (await api.get("town_a", f"/applications/{case['id']}/attachments")).json()
    assert [a["key"] for a in listed] == ["hukou", "id_card", "income_certificate"]
    for a in listed:
        assert (await api.get("town_a", f"/attachments/{a['id']}/content", preview="true")).status_code == 200
    await api.step("town_a", case["id"], "accept_application", {"decision": "accept"})
    await api.step(
        "town_a", case["id"], "initial_review", {"decision": "approve", "opinion": "材料齐全，情况属实"}
    )
    await api.advance(days=8)
    assert await api.run_timers() == 1
    confirm = {"decision": "approve", "opinion": "同意", "monthly_amount": 580, "dibao_class": "B"}
    done = await api.step("county", case["id"], "county_confirm", confirm)
    assert done["application"]["status"] == "approved"
    assert len(stored()) == 3
    assert (await add(api, "portal", case["id"], pdf(4))).json()["code"] == "case_closed"
    previews = [e for e in await api.events(case["id"]) if e["type"] == "attachment.previewed"]
    assert sorted(e["data"]["sha256"] for e in previews) == sorted(a["sha256"] for a in listed)


async def test_the_checklist_says_what_is_there_and_what_is_missing(api: Api):
    case = await api.apply()
    assert (await add(api, "portal", case["id"], pdf(), "户口簿.pdf", "hukou")).status_code == 201
    assert (await add(api, "portal", case["id"], pdf(), "户口簿2.pdf", "hukou")).status_code == 201
    # A program that declares its materials takes only those keys (and "other").
    r = await add(api, "portal", case["id"], pdf(), key="passport")
    assert (r.status_code, r.json()["code"]) == (422, "unknown_checklist_key")
    assert "hukou" in r.json()["accepted"] and "other" in r.json()["accepted"]
    assert (await add(api, "portal", case["id"], pdf(), key="other")).status_code == 201
    assert await api.count("attachments") == 3

    checklist = (await api.get("town_a", f"/applications/{case['number']}/checklist")).json()
    items = {i["key"]: i for i in checklist["items"]}
    assert items["hukou"] == {
        "key": "hukou",
        "label": "户口簿",
        "required": True,
        "count": 2,
        "min_count": 1,
        "max_count": 20,
        "types": [],
        "missing": False,
    }
    assert items["id_card"]["missing"] and not items["disability_certificate"]["missing"]
    assert items["other"]["count"] == 1
    assert "home_visit_photo" not in items  # the initial review's own item: not reached yet
    assert checklist["missing"] == [
        "申请书（签字）",
        "身份证",
        "家庭收入证明",
        "家庭财产申报",
        "家庭经济状况核对授权书（签字）",
    ]
    assert {"key": "home_visit_photo", "label": "入户调查照片"} in checklist["choices"]

    await api.step("town_a", case["id"], "accept_application", {"decision": "accept"})
    items = {
        i["key"]: i
        for i in (await api.get("town_a", f"/applications/{case['id']}/checklist")).json()["items"]
    }
    assert items["home_visit_photo"] == {
        "key": "home_visit_photo",
        "label": "入户调查照片",
        "required": True,
        "count": 0,
        "min_count": 1,
        "max_count": 20,
        "types": ["image"],
        "missing": True,
    }
    for who in ("town_b", "other_county"):
        r = await api.get(who, f"/applications/{case['id']}/checklist")
        assert (r.status_code, r.json()["code"]) == (404, "application_not_found")
    assert (await api.client.get(f"/api/v1/applications/{case['id']}/checklist")).status_code == 401

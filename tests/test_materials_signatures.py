"""Signatures (签字) over REST: an emergency cash payment of 临时救助 cannot complete until the receiver
and two staff have signed — on a screen (a PNG through the materials pipeline, with who signed and
when) or as a signed scan uploaded on the step; paid by bank, nobody signs. Bad signatures and wrong
callers are refused with nothing stored; the trail names the signature and its bytes, never the
signer or a file name."""

import base64
import json

from tests.helpers import Api, id_number
from tests.materials_samples import pdf, png, signature_png

FAMILY = "340621100201-户-0051"


async def _emergency_task(api: Api, family_id: str = FAMILY) -> dict:
    r = await api.put(
        "county", "/programs/linshi/settings?division_code=340621", {"values": {"monthly_standard": 800}}
    )
    assert r.status_code == 200, r.text
    case = await api.apply(
        program="linshi",
        family_id=family_id,
        data={"relief_type": "emergency", "hardship": "火灾致房屋损毁"},
        applicant={"name": "李四", "id_number": id_number()},
    )
    return await api.open_task(case["id"], "emergency_payment")


async def _payment(api: Api, method: str = "cash") -> dict:
    today = await api.today()
    signed = {"receiver_name": "李四", "staff_names": ["王芳", "赵强"], "signed_on": today}
    return {
        "amount": 2000,
        "paid_on": today,
        "method": method,
        "hardship": "火灾致房屋损毁",
        **(signed if method == "cash" else {}),
    }


def _drawn(image: bytes = b"") -> str:
    return "data:image/png;base64," + base64.b64encode(image or signature_png()).decode()


async def test_cash_waits_for_three_signatures_drawn_or_scanned(api: Api):
    task = await _emergency_task(api)
    listed = (await api.get("town_a", f"/tasks/{task['id']}/signatures")).json()
    assert [(i["key"], i["label"], i["conditional"], i["signed"]) for i in listed["items"]] == [
        ("signature.receiver", "受领人签字", True, False),
        ("signature.staff_1", "经办人签字（一）", True, False),
        ("signature.staff_2", "经办人签字（二）", True, False),
    ]
    payment = await _payment(api)
    r = await api.post("town_a", f"/tasks/{task['id']}/complete", {"data": payment})
    assert (r.status_code, r.json()["code"]) == (409, "signature_missing")
    assert "受领人签字、经办人签字（一）、经办人签字（二）" in r.json()["detail"]

    # The receiver signs on the screen: a PNG, re-encoded, stored, with the name and the time.
    signed = await api.sign("town_a", task["id"], "signature.receiver", "李四")
    assert signed["key"] == "signature.receiver" and signed["content_type"] == "image/png"
    assert signed["signer_name"] == "李四" and signed["signed_at"] and signed["task_id"] == task["id"]
    # The first staff member signed on paper: the scan is uploaded on the step.
    r = await api.client.post(
        f"/api/v1/applications/{task['application_id']}/attachments",
        files={"file": ("王芳签字.pdf", pdf(), "application/pdf")},
        data={"key": "signature.staff_1", "task_id": task["id"]},
        headers=api.headers["town_a"],
    )
    assert r.status_code == 201, r.text
    assert r.json()["signer_name"] is None  # the scan's signer is on the paper
    r = await api.post("town_a", f"/tasks/{task['id']}/complete", {"data": payment})
    assert (r.status_code, r.json()["code"], r.json()["missing"]) == (
        409,
        "signature_missing",
        ["signature.staff_2"],
    )
    assert await api.count("benefits") == 0
    await api.sign("town_a", task["id"], "signature.staff_2", "赵强")
    await api.complete("town_a", task["id"], payment)
    assert await api.count("benefits") == 1

    # The trail: which signature of which step, when, which bytes — never who signed or a file name.
    trail = await api.events(task["application_id"])
    recorded = [e for e in trail if e["type"] == "attachment.signature_recorded"]
    assert [e["data"]["key"] for e in recorded] == ["signature.receiver", "signature.staff_2"]
    assert set(recorded[0]["data"]) == {"attachment_id", "key", "sha256", "signed_at"}
    assert recorded[0]["data"]["sha256"] == signed["sha256"] and recorded[0]["actor"] == "town_a"
    text = json.dumps(trail, ensure_ascii=False)
    assert "赵强签" not in text and "王芳签字" not in text and "签名.png" not in text


async def test_paid_by_bank_nobody_signs(api: Api):
    task = await _emergency_task(api, "340621100201-户-0052")
    await api.complete("town_a", task["id"], await _payment(api, "bank"))
    assert await api.count("attachments") == 0


async def test_bad_signatures_are_refused_and_nothing_is_stored(api: Api):
    task = await _emergency_task(api, "340621100201-户-0053")
    blank = png((600, 200), "RGBA")  # a canvas nobody drew on: all transparent
    white = png((600, 200))  # all one colour
    for body, status, code in (
        (
            {"key": "signature.receiver", "signer_name": "李四", "image": _drawn(blank)},
            422,
            "signature_empty",
        ),
        (
            {"key": "signature.receiver", "signer_name": "李四", "image": _drawn(white)},
            422,
            "signature_empty",
        ),
        (
            {"key": "signature.receiver", "signer_name": "李四", "image": "data:image/png;base64,!!"},
            422,
            None,
        ),
        ({"key": "signature.receiver", "signer_name": "李四", "image": _drawn(pdf())}, 422, None),
        ({"key": "signature.receiver", "signer_name": "  ", "image": _drawn()}, 422, "signer_name_required"),
        ({"key": "signature.receiver", "signer_name": "李" * 51, "image": _drawn()}, 422, None),
        ({"key": "hukou", "signer_name": "李四", "image": _drawn()}, 422, "not_a_signature"),
        ({"key": "signature.head", "signer_name": "李四", "image": _drawn()}, 422, None),
    ):
        r = await api.post("town_a", f"/tasks/{task['id']}/signatures", body)
        assert r.status_code == status, (body["key"], r.text)
        assert code is None or r.json()["code"] == code, r.text
    r = await api.post(
        "town_a",
        f"/tasks/{task['id']}/signatures",
        {"key": "signature.receiver", "signer_name": "李四", "image": _drawn(pdf())},
    )
    assert r.json()["code"] == "signature_unreadable"
    # A signature belongs to its step: the portal cannot file one loose on the case.
    r = await api.client.post(
        f"/api/v1/applications/{task['application_id']}/attachments",
        files={"file": ("签字.png", signature_png(), "image/png")},
        data={"key": "signature.receiver"},
        headers=api.headers["portal"],
    )
    assert (r.status_code, r.json()["code"]) == (422, "signature_needs_its_step")
    assert await api.count("attachments") == 0


async def test_who_may_not_sign(api: Api):
    task = await _emergency_task(api, "340621100201-户-0054")
    body = {"key": "signature.receiver", "signer_name": "李四", "image": _drawn()}
    # Another township, another county: no such task. The county above may read but not act on it.
    for who, status in (("town_b", 404), ("other_county", 404), ("county", 403)):
        r = await api.post(who, f"/tasks/{task['id']}/signatures", body)
        assert r.status_code == status, (who, r.text)
    # A portal key acts on no task; a stranger is not signed in.
    r = await api.post("portal", f"/tasks/{task['id']}/signatures", body)
    assert r.status_code in (403, 404), r.text
    r = await api.client.post(f"/api/v1/tasks/{task['id']}/signatures", json=body)
    assert r.status_code == 401
    r = await api.get("town_b", f"/tasks/{task['id']}/signatures")
    assert r.status_code == 404
    assert await api.count("attachments") == 0

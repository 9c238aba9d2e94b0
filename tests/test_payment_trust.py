"""What an outside review of the payments found (issue 22), closed: one clerk cannot redirect a
recipient's money (an account change is a proposal the county finance office confirms, the holder must
be the recipient, the approver sees which accounts changed since the last payment), whoever built a
batch does not approve it, a refusal's reason is checked and shown to the two offices only, the
finance office cannot own a program, and a case's payment history (发放记录) through the API."""

from decimal import Decimal

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from app.db.engine import create_engine
from app.db.models import process_definitions
from app.domain.errors import Invalid
from app.domain.money import bank_accounts, reasons
from tests.helpers import Api
from tests.test_payments import ACCOUNT, BPMN, _build, _items, _propose, month  # noqa: F401

NEW = "6228480000111122223333"


async def _approve(api: Api, batch_id: int) -> None:
    assert (await api.post("county", f"/payments/batches/{batch_id}/submit")).status_code == 200
    r = await api.post("finance", f"/payments/batches/{batch_id}/approve")
    assert r.status_code == 200, r.text


async def _trail(api: Api, subject: str) -> list[dict]:
    r = await api.get("admin", "/admin/audit", subject=subject)
    assert r.status_code == 200, r.text
    return r.json()["items"] if isinstance(r.json(), dict) else r.json()


async def test_an_account_change_pays_nobody_until_another_office_confirms_it(api: Api, month: dict):
    await api.set_clock("2026-10-28T09:00:00+08:00")
    e = month["e"]  # no account yet
    # The holder must be the recipient recorded on the application.
    r = await api.put(
        "county",
        "/payments/accounts",
        {
            "person_id_number": e["person"],
            "holder_name": "李四",
            "bank_name": "某银行",
            "account_number": NEW,
        },
    )
    assert r.status_code == 422 and r.json()["code"] == "holder_name_mismatch", r.text
    assert await api.count("bank_accounts", f"person_id_number = '{e['person']}'") == 0
    proposal = await _propose(api, e, who="both", number=NEW, holder_name=" 王五 ")
    assert proposal["status"] == "proposed" and proposal["in_force"] is False
    assert proposal["holder_name"] == "王五" and proposal["replaces"] is None
    assert proposal["account_masked"] == "**** **** **** 3333" and NEW not in str(proposal)
    # Proposed, not confirmed: the batch leaves her out as having no account.
    batch = await _build(api, "2026-11-01")
    r = await api.get("county", f"/payments/batches/{batch['id']}/left-out")
    assert {x["application_id"]: x["reason"] for x in r.json()} == {e["id"]: "no_bank_account"}
    assert (await api.get("finance", "/payments/accounts", id_number=e["person"])).json() is None

    path = f"/payments/account-changes/{proposal['id']}"
    r = await api.get("finance", "/payments/account-changes")
    assert [c["id"] for c in r.json()] == [proposal["id"]], r.text
    for who, status, code in [
        ("both", 403, "same_person_account"),  # holds finance too, but proposed it
        ("county", 403, "not_payment_office"),  # the preparing office does not confirm
        ("edu_county", 404, "account_not_found"),
        ("finance_xiao", 404, "account_not_found"),  # another county's finance office
        ("other_county", 404, "account_not_found"),
        ("portal", 404, "account_not_found"),
        ("admin", 403, "not_payment_office"),  # an administrator does not move money
        ("stranger", 401, None),
    ]:
        r = await api.post(who, path + "/confirm")
        assert r.status_code == status and (code is None or r.json()["code"] == code), (who, r.text)
    for who in ("finance_xiao", "other_county", "portal", "town_a"):
        assert (await api.get(who, path)).status_code == 404, who
        assert (await api.get(who, "/payments/account-changes")).json() == [], who
    assert (await api.get("finance", path)).json()["status"] == "proposed"

    # The database itself refuses one person as proposer and confirmer.
    db = create_engine(api.database_url)
    try:
        with pytest.raises(IntegrityError):
            async with db.begin() as conn:
                await conn.execute(
                    sa.text(
                        "UPDATE bank_accounts SET status = 'confirmed', confirmed_by = 'both' WHERE id = :i"
                    ),
                    {"i": proposal["id"]},
                )
    finally:
        await db.dispose()

    r = await api.post("finance", path + "/confirm")
    assert r.status_code == 200 and r.json()["in_force"] and r.json()["confirmed_by"] == "finance", r.text
    assert (await api.post("finance", path + "/confirm")).json()["code"] == "account_change_not_proposed"
    assert (await _build(api, "2026-11-01"))["item_count"] == 5

    # A second change, refused: the account in force stays, the reason is checked.
    second = await _propose(api, e, number="6228480000555566667777")
    assert second["replaces"]["id"] == proposal["id"]
    for reason in ("", "   ", "理" * 501):
        r = await api.post("finance", f"/payments/account-changes/{second['id']}/refuse", {"reason": reason})
        assert r.status_code == 422 and r.json()["code"] == "invalid_reason", (reason[:5], r.text)
    r = await api.post(
        "finance", f"/payments/account-changes/{second['id']}/refuse", {"reason": "请本人到柜台核实"}
    )
    assert r.status_code == 200 and r.json()["status"] == "refused", r.text
    assert r.json()["refusal_reason"] == "请本人到柜台核实"
    current = (await api.get("finance", "/payments/accounts", id_number=e["person"])).json()
    assert current["id"] == proposal["id"] and current["account_masked"].endswith("3333")

    trail = await _trail(api, f"bank_account:{second['id']}") + await _trail(
        api, f"bank_account:{proposal['id']}"
    )
    assert sorted(t["type"] for t in trail) == [
        "bank_account.confirmed",
        "bank_account.proposed",
        "bank_account.proposed",
        "bank_account.refused",
    ]
    assert "核实" not in str(trail) and NEW not in str(trail) and e["person"] not in str(trail)


async def test_a_new_proposal_supersedes_the_waiting_one(api: Api, month: dict):
    first = await _propose(api, month["a"], number=NEW)
    second = await _propose(api, month["a"], number="6228480000555566667777")
    assert (await api.get("finance", f"/payments/account-changes/{first['id']}")).json()[
        "status"
    ] == "superseded"
    r = await api.post("finance", f"/payments/account-changes/{first['id']}/confirm")
    assert r.status_code == 409 and r.json()["code"] == "account_change_not_proposed", r.text
    assert [c["id"] for c in (await api.get("finance", "/payments/account-changes")).json()] == [second["id"]]
    [event] = await _trail(api, f"bank_account:{second['id']}")
    assert event["old"] == {"account_id": first["id"]}


async def test_the_approver_sees_every_account_changed_since_the_last_paid_batch(api: Api, month: dict):
    await api.set_clock("2026-10-28T09:00:00+08:00")
    november = await _build(api, "2026-11-01")
    assert november["account_changed_count"] == 0  # first payments: nothing to compare with
    assert not any(i["account_changed_since_last_payment"] for i in await _items(api, november["id"]))
    await _approve(api, november["id"])

    await api.set_clock("2026-11-25T09:00:00+08:00")
    december = await _build(api, "2026-12-01")
    before = {i["application_id"]: i for i in await _items(api, december["id"])}
    # 王一's account changes after December's draft was built: proposed, the draft still pays the old one…
    changed = await _propose(api, month["a"], number=NEW)
    again = await _build(api, "2026-12-01")
    assert again["account_changed_count"] == 0
    # … confirmed: the draft's item points at a replaced account, it cannot be submitted as it is.
    r = await api.post("finance", f"/payments/account-changes/{changed['id']}/confirm")
    assert r.status_code == 200, r.text
    r = await api.post("county", f"/payments/batches/{december['id']}/submit")
    assert r.status_code == 409 and r.json()["code"] == "batch_account_replaced", r.text
    # Built again: the same item (same id) now pays to the new account, flagged for the approver.
    again = await _build(api, "2026-12-01")
    assert again["account_changed_count"] == 1
    after = {i["application_id"]: i for i in await _items(api, december["id"])}
    assert {k: v["id"] for k, v in after.items()} == {k: v["id"] for k, v in before.items()}
    flagged = {k for k, v in after.items() if v["account_changed_since_last_payment"]}
    assert flagged == {month["a"]["id"]}
    assert after[month["a"]["id"]]["account_masked"] == "**** **** **** 3333"
    assert after[month["a"]["id"]]["holder_name"] == "王一"
    assert (await api.post("county", f"/payments/batches/{december['id']}/submit")).status_code == 200
    r = await api.get("finance", f"/payments/batches/{december['id']}")
    assert r.json()["account_changed_count"] == 1
    # Confirmed between submission and approval: approval is refused too.
    third = await _propose(api, month["b"], number="6228480000555566667777")
    assert (await api.post("finance", f"/payments/account-changes/{third['id']}/confirm")).status_code == 200
    r = await api.post("finance", f"/payments/batches/{december['id']}/approve")
    assert r.status_code == 409 and r.json()["code"] == "batch_account_replaced", r.text
    assert (await api.get("county", f"/payments/batches/{december['id']}")).json()["status"] == "submitted"


async def test_whoever_built_a_batch_does_not_approve_it(api: Api, month: dict):
    await api.set_clock("2026-10-28T09:00:00+08:00")
    batch = await _build(api, "2026-11-01", who="both")  # holds the civil-affairs and the finance role
    assert (await api.post("county", f"/payments/batches/{batch['id']}/submit")).status_code == 200
    r = await api.post("both", f"/payments/batches/{batch['id']}/approve")
    assert r.status_code == 403 and r.json()["code"] == "same_person_builder", r.text
    r = await api.post("both", f"/payments/batches/{batch['id']}/refuse", {"reason": "自己退回"})
    assert r.status_code == 403 and r.json()["code"] == "same_person_builder", r.text
    db = create_engine(api.database_url)
    try:
        with pytest.raises(IntegrityError):
            async with db.begin() as conn:
                await conn.execute(
                    sa.text(
                        "UPDATE payment_batches SET status = 'approved', approved_by = 'both' WHERE id = :i"
                    ),
                    {"i": batch["id"]},
                )
    finally:
        await db.dispose()
    assert (await api.post("finance", f"/payments/batches/{batch['id']}/approve")).status_code == 200


async def test_a_refusal_reason_is_checked_and_only_the_two_offices_read_it(api: Api, month: dict):
    await api.set_clock("2026-10-28T09:00:00+08:00")
    batch = await _build(api, "2026-11-01")
    path = f"/payments/batches/{batch['id']}"
    assert (await api.post("county", path + "/submit")).status_code == 200
    for reason, code in [
        ("", "invalid_reason"),
        ("  ", "invalid_reason"),
        ("退" * 501, "invalid_reason"),
        ("含\x00", "invalid_character"),
    ]:
        r = await api.post("finance", path + "/refuse", {"reason": reason})
        assert r.status_code == 422 and r.json()["code"] == code, r.text  # a NUL: the request guard's
        assert r.headers["content-type"] == "application/problem+json"
    assert (await api.get("county", path)).json()["status"] == "submitted"
    r = await api.post("finance", path + "/refuse", {"reason": "  " + "退" * 500 + "  "})
    assert r.status_code == 200 and r.json()["refusal_reason"] == "退" * 500, r.text
    for who in ("county", "finance"):
        assert (await api.get(who, path)).json()["refusal_reason"] == "退" * 500
    seen = (await api.get("admin", path)).json()
    assert seen["refusal_reason"] is None and seen["refused_by"] == "finance"
    assert [b["refusal_reason"] for b in (await api.get("admin", "/payments/batches")).json()] == [None]


async def test_the_finance_office_cannot_own_a_program(api: Api, month: dict):
    owned = BPMN.replace(b'value="civil_affairs"', b'value="finance"').replace(b'"paytest"', b'"paytest_fin"')
    r = await api.client.post(
        "/api/v1/process-definitions",
        files={"file": ("fin.bpmn", owned, "application/xml")},
        headers=api.headers["admin"],
    )
    assert r.status_code == 422, r.text
    assert "invalid_owner_department" in {e["code"] for e in r.json()["errors"]}, r.text
    # A version stored before the upload refused it: the money offices refuse the program.
    db = create_engine(api.database_url)
    try:
        async with db.begin() as conn:
            row = dict(
                (
                    await conn.execute(
                        sa.select(process_definitions)
                        .where(process_definitions.c.key == "paytest")
                        .order_by(process_definitions.c.version.desc())
                    )
                )
                .mappings()
                .first()
                or {}
            )
            row.pop("id")
            row["version"] += 1
            row["xml"] = row["xml"].replace('value="civil_affairs"', 'value="finance"')
            await conn.execute(sa.insert(process_definitions).values(**row))
    finally:
        await db.dispose()
    r = await api.post(
        "finance",
        "/payments/batches",
        {"county_code": "340621", "program": "paytest", "pay_date": "2026-11-01"},
    )
    assert r.status_code == 422 and r.json()["code"] == "program_owner_is_finance", r.text
    assert await api.count("payment_batches") == 0


async def test_a_cases_payment_history_for_whoever_may_read_the_case(api: Api, month: dict):
    await api.set_clock("2026-10-28T09:00:00+08:00")
    november = await _build(api, "2026-11-01")
    await _approve(api, november["id"])
    a = month["a"]
    r = await api.get("portal", f"/applications/{a['id']}/payments")
    assert r.status_code == 200, r.text
    history = r.json()
    assert ACCOUNT not in r.text and a["person"] not in r.text
    [entry] = history["entries"]
    assert entry["kind"] == "monthly" and Decimal(entry["amount"]) == Decimal("620.50")
    assert [(p["period"], p["status"]) for p in history["payments"]] == [
        ("2026-12", "scheduled"),
        ("2026-11", "in_batch"),
    ]
    paid = history["payments"][1]
    assert paid["batch_id"] == november["id"] and paid["pay_date"] == "2026-11-01"
    assert paid["account_masked"] == "**** **** **** 0123" and paid["bank_name"] == "濉溪农商银行"
    assert history["payments"][0]["batch_id"] is None and history["payments"][0]["pay_date"] is None
    # The bank's result (the import is another module's): paid.
    db = create_engine(api.database_url)
    try:
        async with db.begin() as conn:
            await conn.execute(
                sa.text("UPDATE payment_items SET status = 'paid' WHERE application_id = :a"), {"a": a["id"]}
            )
    finally:
        await db.dispose()
    for who in ("county", "finance", "town_a", "admin"):
        r = await api.get(who, f"/applications/{a['id']}/payments")
        assert r.status_code == 200 and r.json()["payments"][1]["status"] == "paid", (who, r.text)
    # Who may not: another county, another township, another county's portal and finance, a stranger.
    r = await api.post(
        "admin",
        "/admin/api-keys",
        {"name": "portal_xiao", "grants": [{"role": "portal", "division_code": "340622"}]},
    )
    assert r.status_code == 201, r.text
    api.headers["portal_xiao"] = {"X-API-Key": r.json()["key"]}
    for who, status in [
        ("other_county", 404),
        ("town_b", 404),
        ("portal_xiao", 404),
        ("finance_xiao", 404),
        ("stranger", 401),
    ]:
        r = await api.get(who, f"/applications/{a['id']}/payments")
        assert r.status_code == status, (who, r.text)
    assert (await api.get("county", "/applications/no-such-case/payments")).status_code == 404


def test_reasons_and_holder_names_are_compared_as_written():
    """The checks behind invalid_reason and holder_name_mismatch, without a database: a NUL (which
    the request guard refuses first on the API) would make PostgreSQL fail; spaces and the ways of
    writing a minority name's middle dot do not make another person."""
    with pytest.raises(Invalid) as refused:
        reasons.clean("请核实\x00")
    assert refused.value.code == "invalid_reason"
    assert reasons.clean("  请核实  ") == "请核实" and len(reasons.clean("理" * 500)) == 500
    assert bank_accounts.same_name("王 五", "王五") and bank_accounts.same_name(
        "阿依古丽•买买提", "阿依古丽·买买提"
    )
    assert not bank_accounts.same_name("王五", "王六") and not bank_accounts.same_name(" ", "")

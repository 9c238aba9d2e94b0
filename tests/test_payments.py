"""Payment batches from the ledger (issue 22): a month of enrolments, deaths and moves left out with
their reason, building twice giving one set of items, maker and checker, bank accounts encrypted."""

import asyncio
import os
import subprocess
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from app.db.engine import create_engine
from app.domain.errors import Invalid
from app.domain.money import bank_accounts, batches, ledger, offices
from app.domain.money.vault import Vault, derived_key
from tests.conftest import make_settings
from tests.helpers import PASSWORD, Api, id_number
from tests.time_travel import command

BPMN = (Path(__file__).parent / "bpmn" / "payments_monthly.bpmn").read_bytes()
STAFF = {
    "finance": [("county_finance", "340621")],
    "finance_xiao": [("county_finance", "340622")],
    "edu_county": [("county_education", "340621")],
    # Holds both roles in the county: may prepare and may approve, never the same batch.
    "both": [("county_civil_affairs", "340621"), ("county_finance", "340621")],
}
ACCOUNT = "6217001234567890123"


async def _staff(api: Api) -> None:
    for username, grants in STAFF.items():
        r = await api.post(
            "admin",
            "/admin/users",
            {
                "username": username,
                "password": PASSWORD,
                "display_name": username,
                "grants": [{"role": role, "division_code": code} for role, code in grants],
            },
        )
        assert r.status_code == 201, r.text
        await api.login(username)


async def _enrol(api: Api, name: str, amount: str) -> dict:
    person = id_number()
    case = await api.apply(
        program="paytest", applicant={"name": name, "id_number": person, "phone": "13900000000"}
    )
    done = await api.step("county", case["id"], "county_confirm", {"monthly_amount": amount})
    assert done["application"]["status"] == "approved", done
    return {"id": case["id"], "person": person, "name": name, "amount": Decimal(amount)}


async def _propose(
    api: Api, enrolment: dict, who: str = "county", number: str = ACCOUNT, expect: int = 202, **body
) -> dict:
    r = await api.put(
        who,
        "/payments/accounts",
        {
            "person_id_number": enrolment["person"],
            "holder_name": enrolment["name"],
            "bank_name": "濉溪农商银行",
            "account_number": number,
            **body,
        },
    )
    assert r.status_code == expect, r.text
    return r.json()


async def _account(
    api: Api, enrolment: dict, who: str = "county", number: str = ACCOUNT, confirmer: str = "finance"
) -> dict:
    """An account proposed by the paying office and confirmed by the county finance office."""
    proposal = await _propose(api, enrolment, who=who, number=number)
    assert proposal["status"] == "proposed" and not proposal["in_force"], proposal
    r = await api.post(confirmer, f"/payments/account-changes/{proposal['id']}/confirm")
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "confirmed" and r.json()["in_force"], r.text
    return r.json()


async def _build(api: Api, pay_date: str, who: str = "county", expect: int = 200, **body) -> dict:
    r = await api.post(
        who,
        "/payments/batches",
        {"county_code": "340621", "program": "paytest", "pay_date": pay_date, **body},
    )
    assert r.status_code == expect, r.text
    return r.json()


async def _items(api: Api, batch_id: int, who: str = "county") -> list[dict]:
    r = await api.get(who, f"/payments/batches/{batch_id}/items")
    assert r.status_code == 200, r.text
    return r.json()


async def _left_out(api: Api, batch_id: int) -> dict[str, str]:
    r = await api.get("county", f"/payments/batches/{batch_id}/left-out")
    assert r.status_code == 200, r.text
    return {row["application_id"]: row["reason"] for row in r.json()}


@pytest.fixture
async def month(api: Api) -> dict:
    """Five enrolments approved in October, paid from November; four have bank accounts."""
    await _staff(api)
    await api.upload(BPMN, "payments_monthly.bpmn")
    await api.set_clock("2026-10-20T09:00:00+08:00")
    people = {
        key: await _enrol(api, name, amount)
        for key, name, amount in [
            ("a", "王一", "620.50"),
            ("b", "王二", "500"),
            ("c", "王三", "480.25"),
            ("d", "王四", "300.10"),
            ("e", "王五", "700"),
        ]
    }
    for key in "abcd":
        await _account(api, people[key])
    return people


async def test_a_month_of_payments_with_a_move_a_death_and_a_missing_account(api: Api, month: dict):
    await api.set_clock("2026-10-28T09:00:00+08:00")
    november = await _build(api, "2026-11-01")
    assert november["status"] == "draft" and november["pay_month"] == "2026-11"
    assert november["item_count"] == 4 and november["left_out_count"] == 1
    assert Decimal(november["total_amount"]) == Decimal("1900.85")  # 620.50 + 500 + 480.25 + 300.10, exact
    assert await _left_out(api, november["id"]) == {month["e"]["id"]: "no_bank_account"}
    items = await _items(api, november["id"])
    assert {i["application_id"] for i in items} == {month[k]["id"] for k in "abcd"}
    assert all(i["period"] == "2026-11" and i["account_masked"] == "**** **** **** 0123" for i in items)
    assert all("6217" not in i["account_masked"] and month["a"]["person"] not in str(i) for i in items)
    # Built again (by the worker's clock or a second click): the same items, not a second set.
    again = await _build(api, "2026-11-01")
    assert again["id"] == november["id"] and again["item_count"] == 4
    assert [i["id"] for i in await _items(api, november["id"])] == [i["id"] for i in items]

    # Mid-November: 王二 moves away (the enrolment ends with November), 王三 dies; both were due in November.
    await api.set_clock("2026-11-16T09:00:00+08:00")
    await api.message("moved_away", month["b"]["id"], {"moved_on": "2026-11-15"})
    await api.set_clock("2026-11-21T09:00:00+08:00")
    await api.message("person_deceased", month["c"]["id"], {"died_on": "2026-11-20"})
    assert (await _build(api, "2026-11-01"))["item_count"] == 4  # paid for November all the same

    await api.set_clock("2026-11-28T09:00:00+08:00")
    december = await _build(api, "2026-12-01")
    assert december["pay_month"] == "2026-12" and december["item_count"] == 2
    assert Decimal(december["total_amount"]) == month["a"]["amount"] + month["d"]["amount"]
    assert await _left_out(api, december["id"]) == {
        month["b"]["id"]: "ended",
        month["c"]["id"]: "deceased",
        month["e"]["id"]: "no_bank_account",
    }
    r = await api.get("county", f"/payments/batches/{december['id']}/left-out")
    assert {row["detail"] for row in r.json()} == {"moved_away", "person_deceased", None}
    # 王五's account arrives: building again adds her, and only her.
    await _account(api, month["e"])
    december = await _build(api, "2026-12-01")
    assert december["item_count"] == 3 and december["left_out_count"] == 2
    assert len({(i["benefit_id"], i["period"]) for i in await _items(api, december["id"])}) == 3
    assert await api.count("payment_items") == 7


async def test_maker_and_checker_are_two_people(api: Api, month: dict):
    await api.set_clock("2026-10-28T09:00:00+08:00")
    batch = await _build(api, "2026-11-01", who="both")
    path = f"/payments/batches/{batch['id']}"
    r = await api.post("finance", path + "/submit")
    assert r.status_code == 403 and r.json()["code"] == "not_payment_office", (
        r.text
    )  # finance does not prepare
    r = await api.post("both", path + "/submit")
    assert r.status_code == 200 and r.json()["status"] == "submitted" and r.json()["submitted_by"] == "both"
    r = await api.post("both", path + "/approve")
    assert r.status_code == 403 and r.json()["code"] == "same_person", r.text
    r = await api.post("county", path + "/approve")
    assert r.status_code == 403 and r.json()["code"] == "not_payment_office", r.text
    r = await api.post("finance", path + "/refuse", {"reason": "  "})
    assert r.status_code == 422, r.text
    r = await api.post("finance", path + "/refuse", {"reason": "王四账户开户行有误，请核实"})
    assert r.status_code == 200, r.text
    refused = r.json()
    assert refused["status"] == "draft" and refused["refusal_reason"] == "王四账户开户行有误，请核实"
    assert refused["submitted_by"] is None and refused["refused_by"] == "finance"
    r = await api.post("finance", path + "/approve")
    assert r.status_code == 409 and r.json()["code"] == "batch_not_submitted", r.text
    # Sent back, built again, submitted by another clerk: now "both" may approve it.
    await _build(api, "2026-11-01")
    assert (await api.post("county", path + "/submit")).status_code == 200
    r = await api.post("both", path + "/approve")
    assert r.status_code == 200, r.text
    approved = r.json()
    assert approved["status"] == "approved" and approved["approved_by"] == "both"
    r = await api.post(
        "county",
        "/payments/batches",
        {"county_code": "340621", "program": "paytest", "pay_date": "2026-11-01"},
    )
    assert r.status_code == 409 and r.json()["code"] == "batch_not_draft", r.text
    r = await api.post("finance", path + "/refuse", {"reason": "晚了"})
    assert r.status_code == 409, r.text

    # The trail: every step, with counts and totals, no recipient.
    r = await api.get("admin", "/admin/audit", subject=f"payment_batch:{batch['id']}")
    assert r.status_code == 200, r.text
    trail = r.json()["items"] if isinstance(r.json(), dict) else r.json()
    assert [e["type"] for e in reversed(trail)] == [
        "payment_batch.built",
        "payment_batch.submitted",
        "payment_batch.refused",
        "payment_batch.built",
        "payment_batch.submitted",
        "payment_batch.approved",
    ]
    assert trail[0]["new"] == {
        "batch_id": batch["id"],
        "program": "paytest",
        "pay_date": "2026-11-01",
        "status": "approved",
        "items": 4,
        "total": "1900.85",
        "left_out": 1,
    }
    assert not any(month[k]["person"] in str(trail) or month[k]["name"] in str(trail) for k in month)


async def test_the_database_refuses_one_person_as_maker_and_checker(api: Api, month: dict):
    await api.set_clock("2026-10-28T09:00:00+08:00")
    batch = await _build(api, "2026-11-01")
    assert (await api.post("county", f"/payments/batches/{batch['id']}/submit")).status_code == 200
    db = create_engine(api.database_url)
    try:
        with pytest.raises(IntegrityError):
            async with db.begin() as conn:
                await conn.execute(
                    sa.text(
                        "UPDATE payment_batches SET status = 'approved', approved_by = 'county' WHERE id = :id"
                    ),
                    {"id": batch["id"]},
                )
    finally:
        await db.dispose()


async def test_who_may_not_touch_a_batch(api: Api, month: dict):
    await api.set_clock("2026-10-28T09:00:00+08:00")
    for who, code in [
        ("other_county", 403),  # another county's civil-affairs office
        ("edu_county", 403),  # another department of the same county
        ("finance", 403),  # finance approves, it does not prepare
        ("portal", 403),  # a portal key
        ("admin", 403),  # an administrator does not move money
        ("stranger", 401),
    ]:
        r = await api.post(
            who,
            "/payments/batches",
            {"county_code": "340621", "program": "paytest", "pay_date": "2026-11-01"},
        )
        assert r.status_code == code, (who, r.text)
    assert await api.count("payment_batches") == 0
    batch = await _build(api, "2026-11-01")
    path = f"/payments/batches/{batch['id']}"
    for who in ("other_county", "edu_county", "finance_xiao", "portal", "town_a"):
        for suffix in ("", "/items", "/left-out"):
            r = await api.get(who, path + suffix)
            assert r.status_code == 404 and r.json()["code"] == "batch_not_found", (who, suffix, r.text)
        r = await api.get(who, "/payments/batches")
        assert r.status_code == 200 and r.json() == [], (who, r.text)
        for action in ("/submit", "/approve"):
            assert (await api.post(who, path + action)).status_code == 404, (who, action)
    assert (await api.get("stranger", path)).status_code == 401
    assert (await api.get("finance", path)).status_code == 200
    assert [b["id"] for b in (await api.get("finance", "/payments/batches")).json()] == [batch["id"]]
    assert (await api.post("county", path + "/submit")).status_code == 200
    r = await api.post("finance_xiao", path + "/approve")
    assert r.status_code == 404, r.text
    r = await api.post("finance_xiao", path + "/refuse", {"reason": "不是本县"})
    assert r.status_code == 404, r.text
    assert (await api.get("county", path)).json()["status"] == "submitted"


async def test_bank_accounts_are_encrypted_masked_audited_and_never_in_webhooks(api: Api, month: dict):
    person = month["a"]["person"]
    r = await api.get("finance", "/payments/accounts", id_number=person)
    assert r.status_code == 200 and r.json()["account_masked"] == "**** **** **** 0123", r.text
    assert ACCOUNT not in r.text
    changed = await _account(api, month["a"], number="6228480000111122223333")
    assert changed["account_masked"] == "**** **** **** 3333"
    for who, code in [
        ("finance", 403),
        ("other_county", 403),
        ("edu_county", 403),
        ("portal", 403),
        ("admin", 403),
        ("stranger", 401),
    ]:
        await _propose(api, month["a"], who=who, number="6228480000999988887777", expect=code)
    for who, code in [("other_county", 404), ("portal", 404), ("stranger", 401)]:
        r = await api.get(who, "/payments/accounts", id_number=person)
        assert r.status_code == code, (who, r.text)
    await _propose(api, month["a"], number="12345", expect=422)
    await _propose(api, {**month["a"], "person": "340621198001010011"}, expect=422)  # not a valid ID number

    db = create_engine(api.database_url)
    try:
        async with db.connect() as conn:
            stored = (
                await conn.execute(
                    sa.text(
                        "SELECT number_encrypted, last4, replaced_at, status FROM bank_accounts "
                        "WHERE person_id_number = :p ORDER BY id"
                    ),
                    {"p": person},
                )
            ).all()
            everything = ""
            for table in ("events", "outbox", "bank_accounts"):
                everything += str((await conn.execute(sa.text(f"SELECT * FROM {table}"))).all())
    finally:
        await db.dispose()
    assert [(row.last4, row.status) for row in stored] == [("0123", "confirmed"), ("3333", "confirmed")]
    assert stored[0].replaced_at is not None and stored[1].replaced_at is None
    assert ACCOUNT not in everything and "6228480000111122223333" not in everything
    r = await api.get("admin", "/admin/audit", subject=f"bank_account:{changed['id']}")
    trail = r.json()["items"] if isinstance(r.json(), dict) else r.json()
    confirmed, proposed = trail
    assert proposed["type"] == "bank_account.proposed" and proposed["actor"] == "county"
    assert proposed["new"] == {
        "account_id": changed["id"],
        "status": "proposed",
        "replaces": stored_id(trail),
    }
    assert confirmed["type"] == "bank_account.confirmed" and confirmed["actor"] == "finance"
    assert set(confirmed["new"]) == {"account_id", "status"} and set(confirmed["old"]) == {"account_id"}


def stored_id(trail: list[dict]) -> int:
    """The account the change replaced, as the confirmation recorded it."""
    return next(e["old"]["account_id"] for e in trail if e["type"] == "bank_account.confirmed")


_LOCK_WAITS = sa.text(
    "SELECT query FROM pg_stat_activity WHERE datname = current_database() "
    "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
)


async def _waits_at(db, statement: str) -> None:
    """Until one connection waits for a lock in ``statement`` (PostgreSQL)."""
    for _ in range(1000):
        async with db.connect() as conn:
            waiting = [q for (q,) in (await conn.execute(_LOCK_WAITS)).all()]
        if waiting and all(q.lstrip().startswith(statement) for q in waiting):
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"nobody waits in {statement!r}")


async def test_two_builders_at_once_pay_each_period_once(api: Api, month: dict):
    """Two builders of one month — two replicas, the worker and a clerk's supplementary batch — both
    read "nothing paid yet"; the unique key (benefit, period, attempt) lets one of them pay."""
    await api.set_clock("2026-10-28T09:00:00+08:00")
    db = create_engine(api.database_url)
    try:
        async with db.connect() as conn:
            place = await offices.county(conn, "340621")
        first = await db.connect()
        await first.begin()
        first_id = await batches.build(first, place, "paytest", date(2026, 11, 1), "county")

        async def second() -> int:
            async with db.begin() as conn:
                return await batches.build(conn, place, "paytest", date(2026, 11, 10), "both")

        if api.database_url.startswith("postgresql"):
            racing = asyncio.create_task(second())
            await _waits_at(db, "INSERT INTO payment_items")  # it read no items, and meets the first's
            await first.commit()
            await first.close()
            second_id = await racing
        else:  # SQLite: one writer at a time (BEGIN IMMEDIATE), the second reads what the first wrote
            await first.commit()
            await first.close()
            second_id = await second()
    finally:
        await db.dispose()
    assert (await api.get("county", f"/payments/batches/{first_id}")).json()["item_count"] == 4
    late = (await api.get("county", f"/payments/batches/{second_id}")).json()
    assert late["item_count"] == 0 and Decimal(late["total_amount"]) == 0
    assert await api.count("payment_items") == 4


async def test_two_builders_of_one_batch_at_once_make_one_batch_with_one_set_of_items(api: Api, month: dict):
    await api.set_clock("2026-10-28T09:00:00+08:00")
    db = create_engine(api.database_url)
    try:
        async with db.connect() as conn:
            place = await offices.county(conn, "340621")
        first = await db.connect()
        await first.begin()
        first_id = await batches.build(first, place, "paytest", date(2026, 11, 1), "system")

        async def second() -> int:
            async with db.begin() as conn:
                return await batches.build(conn, place, "paytest", date(2026, 11, 1), "county")

        if api.database_url.startswith("postgresql"):
            racing = asyncio.create_task(second())
            await _waits_at(db, "INSERT INTO payment_batches")  # the first's batch row is not committed yet
            await first.commit()
            await first.close()
            second_id = await racing
        else:
            await first.commit()
            await first.close()
            second_id = await second()
    finally:
        await db.dispose()
    assert second_id == first_id
    assert await api.count("payment_batches") == 1 and await api.count("payment_items") == 4


async def test_the_worker_builds_the_batch_once_as_the_pay_date_comes_near(api: Api, month: dict):
    async def work() -> dict:
        r = await api.post("admin", "/admin/timers/run")
        assert r.status_code == 200, r.text
        return r.json()

    await api.set_clock("2026-10-25T09:00:00+08:00")  # 7 days before 1 November: not yet (5 days ahead)
    assert (await work())["payment_batches_built"] == 0
    await api.set_clock("2026-10-27T09:00:00+08:00")
    assert (await work())["payment_batches_built"] == 1
    assert (await work())["payment_batches_built"] == 0  # once a day, whichever worker comes first
    [batch] = (await api.get("county", "/payments/batches")).json()
    assert batch["built_by"] == "system" and batch["pay_date"] == "2026-11-01" and batch["item_count"] == 4
    # A death reported next day: the worker builds its own draft again.
    await api.message("person_deceased", month["a"]["id"], {"died_on": "2026-10-27"})
    await api.set_clock("2026-10-28T09:00:00+08:00")
    assert (await work())["payment_batches_built"] == 1
    batch = (await api.get("county", f"/payments/batches/{batch['id']}")).json()
    assert batch["item_count"] == 3  # the enrolment ended with the month of death, October
    assert await _left_out(api, batch["id"]) == {
        month["a"]["id"]: "deceased",
        month["e"]["id"]: "no_bank_account",
    }


async def test_scheduled_one_time_payments_are_paid_once_and_caps_checked_again(api: Api, month: dict):
    """One-time rows scheduled on or before the pay date are paid once; the ledger's yearly cap is
    checked again when the batch is built (here a cap corrected downwards after scheduling)."""
    await api.set_clock("2026-10-28T09:00:00+08:00")
    db = create_engine(api.database_url)
    try:
        async with db.begin() as conn:
            case = await ledger.subject_of(conn, month["d"]["id"])
            for amount, day in (
                ("600", date(2026, 10, 30)),
                ("600", date(2026, 10, 31)),
                ("50", date(2026, 12, 1)),
            ):
                await ledger.record(conn, case, kind="one_time", amount=amount, starts_on=day, scheduled=True)
            await conn.execute(
                sa.text("UPDATE applications SET settings = :s WHERE id = :id"),
                {"s": '{"person_year_cap": 1000}', "id": case["id"]},
            )
    finally:
        await db.dispose()
    batch = await _build(api, "2026-11-01")
    items = await _items(api, batch["id"])
    once = [i for i in items if i["period"] == "once"]
    assert [Decimal(i["amount"]) for i in once] == [Decimal("600.00")]  # the December one is not due yet
    r = await api.get("county", f"/payments/batches/{batch['id']}/left-out")
    [capped] = [row for row in r.json() if row["reason"] == "cap_exceeded"]
    assert Decimal(capped["amount"]) == 600 and capped["detail"] == "person_year_cap 1000"
    # December: the 600 paid in November is not paid again; the capped 600 still counts as scheduled in
    # the ledger (until the office cancels it), so the 50 due now would exceed the cap as well.
    december = await _build(api, "2026-12-01")
    assert [i for i in await _items(api, december["id"]) if i["period"] == "once"] == []
    r = await api.get("county", f"/payments/batches/{december['id']}/left-out")
    assert sorted(Decimal(row["amount"]) for row in r.json() if row["reason"] == "cap_exceeded") == [50, 600]


async def test_account_keys_rotate_with_the_cli(api: Api, month: dict):
    """A new key goes first, the old one after it; `aidflow rotate-account-keys` re-encrypts every
    account under the new one, after which the old key can be dropped."""
    secret = make_settings(api.database_url).secret_key
    old = derived_key(secret)  # what the tests' service used: no key configured outside production
    new = b"Q0hBTkdFLU1FLUNIQU5HRS1NRS1DSEFOR0UtTUUtMDE="
    env = {
        **os.environ,
        "AIDFLOW_DATABASE_URL": api.database_url,
        "AIDFLOW_LOG_JSON": "false",
        "AIDFLOW_ENV": "development",
        "AIDFLOW_SECRET_KEY": secret,
        "AIDFLOW_PAYMENT_ACCOUNT_KEYS": f"{new.decode()},{old.decode()}",
    }
    done = subprocess.run(
        command("aidflow", "rotate-account-keys"), env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0 and "re-encrypted: 4" in done.stdout, done.stdout + done.stderr
    again = subprocess.run(
        command("aidflow", "rotate-account-keys"), env=env, capture_output=True, text=True, timeout=120
    )
    assert "re-encrypted: 0" in again.stdout, again.stdout + again.stderr
    db = create_engine(api.database_url)
    try:
        async with db.connect() as conn:
            account_id = (
                await conn.execute(
                    sa.text("SELECT id FROM bank_accounts WHERE person_id_number = :p"),
                    {"p": month["a"]["person"]},
                )
            ).scalar_one()
            assert await bank_accounts.number_of(conn, Vault((new,)), account_id) == ACCOUNT
            with pytest.raises(Invalid) as refused:
                await bank_accounts.number_of(conn, Vault((old,)), account_id)
            assert refused.value.code == "payment_key_unknown"
    finally:
        await db.dispose()


async def test_bad_requests_leave_the_database_untouched(api: Api, month: dict):
    await api.set_clock("2026-10-28T09:00:00+08:00")
    for body, status, code in [
        ({"pay_date": "2020-11-01"}, 422, "invalid_pay_date"),
        ({"pay_date": "2026-02-30"}, 422, None),
        ({"program": "no_such_program"}, 422, "unknown_program"),
        ({"program": "zizhu_report"}, 422, "program_not_payable"),  # no owner department: nobody submits it
        ({"county_code": "340621100"}, 404, "county_not_found"),  # a township
        ({"county_code": "999999"}, 404, "county_not_found"),
    ]:
        r = await api.post(
            "county",
            "/payments/batches",
            {"county_code": "340621", "program": "paytest", "pay_date": "2026-11-01", **body},
        )
        assert r.status_code == status and r.headers["content-type"] == "application/problem+json", (
            body,
            r.text,
        )
        assert code is None or r.json()["code"] == code, (body, r.text)
    assert (
        await api.count("payment_batches") == 0 and await api.count("events", "subject LIKE 'payment%'") == 0
    )
    # A batch with nothing to pay cannot be submitted.
    empty = await _build(api, "2026-10-01")  # the enrolments start in November
    assert empty["item_count"] == 0
    r = await api.post("county", f"/payments/batches/{empty['id']}/submit")
    assert r.status_code == 409 and r.json()["code"] == "batch_empty", r.text
    assert (await api.get("county", f"/payments/batches/{empty['id']}")).json()["status"] == "draft"
    assert (await api.get("county", "/payments/batches/999999")).status_code == 404

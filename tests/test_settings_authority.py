"""Settings follow the hierarchy of authority (issue 15, finding 1).

The county's work plan: "將鄉鎮(街道)審批金額上限從3000 元提高至 5000 元" — the township's approval
limit is the county's to set (``setting_authority.township_limit`` = ``county:ceiling``). A township
cannot raise it; a lower place may only be stricter than the places above it; only the program's
own department at that place (or an administrator) sets it; every change is audited.
"""

import sqlalchemy as sa

from app import clock
from app.db.engine import create_engine
from app.db.models import program_settings
from tests.helpers import PASSWORD, VILLAGE_A, Api, id_number

LINSHI = "/programs/linshi/settings"
APPROVE = {"decision": "approve", "opinion": "同意"}


async def _person(api: Api, username: str, role: str, code: str) -> None:
    r = await api.post(
        "admin",
        "/admin/users",
        {
            "username": username,
            "password": PASSWORD,
            "display_name": username,
            "grants": [{"role": role, "division_code": code}],
        },
    )
    assert r.status_code == 201, r.text
    await api.login(username)


async def _linshi_case_to_decision(api: Api, amount: float) -> dict:
    case = await api.apply(
        program="linshi",
        family_id="340621100201-户-0015",
        data={"relief_type": "expenditure", "hardship": "家庭成员突发重病，医疗支出较大"},
        applicant={"name": "李四", "id_number": id_number()},
    )
    await api.step("town_a", case["id"], "accept_application", {"decision": "accept"})
    await api.step("town_a", case["id"], "township_review", {"decision": "approve", "amount": amount})
    await api.advance(days=7, seconds=600)
    assert await api.run_timers() >= 1
    return case | {"task": await api.open_task(case["id"])}


async def test_a_township_cannot_raise_its_own_limit_above_the_countys(api: Api):
    r = await api.put("county", f"{LINSHI}?division_code=340621", {"values": {"township_limit": 3000}})
    assert r.status_code == 200, r.text
    # The finding, exactly: the township PUTs for itself a limit and a cap far above the county's.
    r = await api.put(
        "town_a",
        f"{LINSHI}?division_code=340621100",
        {"values": {"township_limit": 100000, "family_year_cap": 1000000}},
    )
    assert r.status_code == 403 and r.json()["code"] == "setting_level_not_allowed", r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["lowest_level"] == "county"
    assert await api.count("program_settings", "division_code = '340621100'") == 0

    view = (await api.get("town_a", LINSHI, division_code="340621100")).json()
    assert view["owner_department"] == "civil_affairs"
    assert view["settings"]["township_limit"] == {
        "value": 3000,
        "source": "340621",
        "range": [0, 100000],
        "authority": {"level": "county", "direction": "ceiling"},
        "own": None,
    }

    case = await _linshi_case_to_decision(api, 50000)
    assert case["settings"]["township_limit"] == 3000
    task = case["task"]  # 50,000 > 3,000 (and above the family cap): the county decides, not the township
    assert task["role"] == "county_civil_affairs" and task["division_code"] == "340621", task
    r = await api.post("town_a", f"/tasks/{task['id']}/complete", {"data": APPROVE})
    assert r.status_code == 404 and r.json()["code"] == "task_not_found", (
        r.text
    )  # a county task is not the township's to see

    # Nothing of the refused attempt reached the trail; the county's change did, with old and new.
    trail = (await api.get("admin", "/admin/audit", type="setting.")).json()
    assert [(c["type"], c["subject"], c["actor"], c["old"], c["new"], c["division_code"]) for c in trail] == [
        ("setting.set", "setting:linshi/340621/township_limit", "county", None, {"value": 3000}, "340621")
    ]


async def test_a_lower_place_may_only_be_stricter_and_a_stricter_place_above_binds_at_once(api: Api):
    await _person(api, "city_ca", "city_civil_affairs", "3406")
    r = await api.put("city_ca", f"{LINSHI}?division_code=3406", {"values": {"township_limit": 4000}})
    assert r.status_code == 200, r.text
    r = await api.put("county", f"{LINSHI}?division_code=340621", {"values": {"township_limit": 10000}})
    assert r.status_code == 422 and r.json()["code"] == "setting_above_ceiling", r.text
    assert (r.json()["bound"], r.json()["source"]) == (4000, "3406")
    r = await api.put("county", f"{LINSHI}?division_code=340621", {"values": {"township_limit": 3000}})
    assert r.status_code == 200, r.text

    # A floor the other way round: the county may pay above the city's monthly standard, never below.
    r = await api.put(
        "city_ca",
        f"{LINSHI}?division_code=3406",
        {"values": {"township_limit": 4000, "monthly_standard": 700}},
    )
    assert r.status_code == 200, r.text
    r = await api.put(
        "county",
        f"{LINSHI}?division_code=340621",
        {"values": {"township_limit": 3000, "monthly_standard": 650}},
    )
    assert r.status_code == 422 and r.json()["code"] == "setting_below_floor", r.text
    r = await api.put(
        "county",
        f"{LINSHI}?division_code=340621",
        {"values": {"township_limit": 3000, "monthly_standard": 800}},
    )
    assert r.status_code == 200, r.text

    # The city later lowers its ceiling below the county's value: it binds at once, the county's own
    # value is kept (and shown) and applies again when the city raises its ceiling.
    r = await api.put(
        "city_ca",
        f"{LINSHI}?division_code=3406",
        {"values": {"township_limit": 2000, "monthly_standard": 700}},
    )
    assert r.status_code == 200, r.text
    assert r.json()["overruled_below"] == [
        {"division_code": "340621", "setting": "township_limit", "value": 3000}
    ]
    here = (await api.get("town_a", LINSHI, division_code=VILLAGE_A)).json()["settings"]
    assert (here["township_limit"]["value"], here["township_limit"]["source"]) == (2000, "3406")
    assert (here["monthly_standard"]["value"], here["monthly_standard"]["source"]) == (800, "340621")
    county = (await api.get("county", LINSHI, division_code="340621")).json()["settings"]["township_limit"]
    assert (county["value"], county["source"], county["own"]) == (2000, "3406", 3000)
    case = await _linshi_case_to_decision(api, 2500)
    assert case["settings"]["township_limit"] == 2000 and case["task"]["name"] == "county_decide"

    r = await api.put("city_ca", f"{LINSHI}?division_code=3406", {"values": {"monthly_standard": 700}})
    assert r.status_code == 200, r.text
    here = (await api.get("town_a", LINSHI, division_code=VILLAGE_A)).json()["settings"]
    assert (here["township_limit"]["value"], here["township_limit"]["source"]) == (3000, "340621")


async def test_only_the_programs_own_department_at_that_place_sets_its_values(api: Api):
    for username, role in (("edu", "county_education"), ("finance", "county_finance")):
        await _person(api, username, role, "340621")
        r = await api.put(
            username, "/programs/dibao/settings?division_code=340621", {"values": {"recheck_months_c": 3}}
        )
        assert r.status_code == 403 and r.json()["code"] == "not_program_department", r.text
        assert r.json()["owner_department"] == "civil_affairs"
    # Someone who holds the right department elsewhere, a portal key, a stranger: not here either.
    for who, code in (
        ("other_county", "not_allowed"),
        ("town_a", "not_allowed"),
        ("portal", "not_allowed"),
        ("stranger", "not_authenticated"),
    ):
        r = await api.put(
            who, "/programs/dibao/settings?division_code=340621", {"values": {"recheck_months_c": 3}}
        )
        assert r.status_code == (401 if who == "stranger" else 403) and r.json()["code"] == code, (
            who,
            r.text,
        )
    r = await api.put("county", "/programs/dibao/settings", {"values": {"recheck_months_c": 3}})
    assert r.status_code == 403, r.text  # country-wide values: administrators only
    assert await api.count("program_settings") == 0
    r = await api.put(
        "county", "/programs/dibao/settings?division_code=340621", {"values": {"recheck_months_c": 3}}
    )
    assert r.status_code == 200, r.text
    # An administrator may set any place's values, within the same hierarchy.
    r = await api.put(
        "admin", "/programs/dibao/settings?division_code=340621100", {"values": {"recheck_months_c": 2}}
    )
    assert r.status_code == 403 and r.json()["code"] == "setting_level_not_allowed"
    r = await api.put(
        "admin", "/programs/dibao/settings?division_code=34", {"values": {"recheck_months_c": 4}}
    )
    assert r.status_code == 200, r.text
    r = await api.put(
        "admin", "/programs/dibao/settings?division_code=3406", {"values": {"recheck_months_c": 5}}
    )
    assert r.status_code == 422 and r.json()["code"] == "setting_above_ceiling"


async def test_every_change_is_in_a_history_those_who_read_the_settings_may_read(api: Api):
    await _person(api, "city_ca", "city_civil_affairs", "3406")
    steps = [
        ("city_ca", "3406", {"township_limit": 4000}),
        ("county", "340621", {"township_limit": 3000, "family_year_cap": 15000}),
        ("county", "340621", {"township_limit": 2500, "family_year_cap": 15000}),
        ("county", "340621", {"township_limit": 2500}),
        ("admin", "340622", {"township_limit": 1000}),
    ]  # another county: not in 340621's history
    for who, code, values in steps:
        r = await api.put(who, f"{LINSHI}?division_code={code}", {"values": values})
        assert r.status_code == 200, (who, r.text)
    r = await api.put("town_a", f"{LINSHI}?division_code=340621100", {"values": {"township_limit": 9999}})
    assert r.status_code == 403

    r = await api.get("town_a", f"{LINSHI}/history", division_code="340621100")
    assert r.status_code == 200, r.text
    assert [(c["type"], c["subject"].split("/", 1)[1], c["actor"], c["old"], c["new"]) for c in r.json()] == [
        ("setting.removed", "340621/family_year_cap", "county", {"value": 15000}, None),
        ("setting.changed", "340621/township_limit", "county", {"value": 3000}, {"value": 2500}),
        ("setting.set", "340621/township_limit", "county", None, {"value": 3000}),
        ("setting.set", "340621/family_year_cap", "county", None, {"value": 15000}),
        ("setting.set", "3406/township_limit", "city_ca", None, {"value": 4000}),
    ]
    assert all(c["at"] for c in r.json())
    page = (await api.get("county", f"{LINSHI}/history", division_code="340621", limit=2)).json()
    older = (
        await api.get("county", f"{LINSHI}/history", division_code="340621", before_id=page[-1]["id"])
    ).json()
    assert len(page) == 2 and len(older) == 3 and page[-1]["id"] > older[0]["id"]
    assert [c["subject"] for c in (await api.get("admin", f"{LINSHI}/history")).json()] == []  # country-wide

    r = await api.get("stranger", f"{LINSHI}/history", division_code="340621")
    assert r.status_code == 401 and r.headers["content-type"] == "application/problem+json"
    r = await api.get("county", f"{LINSHI}/history", division_code="nowhere")
    assert r.status_code == 422 and r.json()["code"] == "unknown_division"


async def test_a_value_stored_where_it_may_not_be_set_is_ignored(api: Api):
    """A township's value stored before the authority was declared (the finding's 100,000) has no force."""
    db = create_engine(api.database_url)
    try:
        async with db.begin() as conn:
            await conn.execute(
                sa.insert(program_settings).values(
                    program="linshi",
                    division_code="340621100",
                    division_path="/34/3406/340621/340621100/",
                    values={"township_limit": 100000, "family_year_cap": 1000000},
                    set_by="town_a",
                    set_at=clock.now(),
                )
            )
    finally:
        await db.dispose()
    here = (await api.get("town_a", LINSHI, division_code=VILLAGE_A)).json()["settings"]
    assert (here["township_limit"]["value"], here["township_limit"]["source"]) == (5000, "bpmn")
    case = await _linshi_case_to_decision(api, 50000)
    assert case["settings"]["township_limit"] == 5000 and case["task"]["division_code"] == "340621"

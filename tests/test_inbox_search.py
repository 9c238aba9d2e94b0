"""The inbox's search (``GET /tasks?q=``): a case by its number, its applicant's ID number or name (or
part of it), only among the tasks the caller's tab holds, on both databases; a search never widens
what a caller sees, and a search too long is a 422 that touches nothing. And what a page costs the
database: three statements outside any transaction."""

from sqlalchemy import event

from tests.conftest import ADMIN_PASSWORD, RunningApp
from tests.helpers import VILLAGE_B, Api, id_number


async def _found(api: Api, who: str, q: str, **params) -> list[str]:
    r = await api.get(who, "/tasks", q=q, **params)
    assert r.status_code == 200, r.text
    return [t["application_id"] for t in r.json()["items"]]


async def _case(api: Api, name: str, **kw) -> dict:
    number = id_number()
    return {**await api.apply(applicant={"name": name, "id_number": number}, **kw), "id_number": number}


async def test_search_by_number_id_number_and_name(api: Api):
    li = await _case(api, "李超丽")
    wang = await _case(api, "王芳")
    other_town = await _case(api, "李超丽", division_code=VILLAGE_B)

    assert await _found(api, "town_a", li["number"]) == [li["id"]]
    assert await _found(api, "town_a", li["number"].lower()) == [li["id"]]
    assert await _found(api, "town_a", f"  {wang['id_number']} ") == [wang["id"]]
    # A name or part of it; the same name in another township is not in town_a's inbox.
    assert await _found(api, "town_a", "李超丽") == [li["id"]]
    assert await _found(api, "town_a", "超丽") == [li["id"]]
    assert await _found(api, "town_a", "芳") == [wang["id"]]
    assert sorted(await _found(api, "county", "超丽", scope="all")) == sorted([li["id"], other_town["id"]])
    assert await _found(api, "town_b", "超丽") == [other_town["id"]]
    # Characters in the name's order only, and LIKE's wildcards are plain characters.
    assert await _found(api, "town_a", "丽超") == []
    assert await _found(api, "town_a", "%") == []
    assert await _found(api, "town_a", "李_丽") == []
    # A blank search is no search.
    assert sorted(await _found(api, "town_a", "   ")) == sorted([li["id"], wang["id"]])
    # With the other filters and tabs: one claimed case leaves 待认领 for 我的待办.
    task = await api.open_task(li["id"])
    assert (await api.post("town_a", f"/tasks/{task['id']}/claim")).status_code == 200
    assert await _found(api, "town_a", "李超丽") == []
    assert await _found(api, "town_a", "李超丽", scope="mine") == [li["id"]]
    assert await _found(api, "town_a", "李超丽", scope="mine", program="tekun") == []
    assert await _found(api, "portal", li["number"], scope="started") == [li["id"]]


async def test_search_never_widens_what_a_caller_sees(api: Api):
    li = await _case(api, "李超丽")
    # Another county, another township, another department's key: the case is not theirs to see.
    for who in ("other_county", "town_b"):
        for scope in ("candidate", "all", "mine", "done", "started"):
            assert await _found(api, who, li["number"], scope=scope) == [], (who, scope)
            assert await _found(api, who, li["id_number"], scope=scope) == [], (who, scope)
    r = await api.post(
        "admin",
        "/admin/api-keys",
        {"name": "other_portal", "grants": [{"role": "portal", "division_code": "340622"}]},
    )
    assert r.status_code == 201, r.text
    api.headers["other_portal"] = {"X-API-Key": r.json()["key"]}
    assert await _found(api, "other_portal", li["number"], scope="started") == []
    assert await _found(api, "other_portal", "李超丽", scope="all") == []
    # A stranger is not answered at all.
    r = await api.client.get("/api/v1/tasks", params={"q": li["number"]})
    assert r.status_code == 401
    assert r.headers["content-type"].startswith("application/problem+json")


async def test_a_search_too_long_is_refused(api: Api):
    await _case(api, "李超丽")
    before = await api.count("tasks")
    r = await api.get("town_a", "/tasks", q="李" * 41)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["code"] == "invalid_search"
    assert await api.count("tasks") == before
    assert await _found(api, "town_a", "李" * 40) == []


async def test_an_inbox_page_is_three_statements_and_no_transaction(database_url):
    """Who is calling, the page, the calendar: on PostgreSQL on the read pool in autocommit (no
    BEGIN, no COMMIT), nothing on the pool that writes; a page without deadlines skips the calendar."""
    running = RunningApp(database_url)
    async with running as client:
        api = Api(client, database_url)
        await api.setup_places_and_people(ADMIN_PASSWORD)
        case = await api.apply()
        await api.step(
            "town_a", case["id"], "accept_application", {"decision": "accept"}
        )  # 初审 has a deadline
        seen: dict[str, list[str]] = {"reads": [], "writes": []}
        listeners = []
        for name, engine in (("reads", running.app.state.reads), ("writes", running.app.state.db)):

            def record(_conn, _cursor, statement, *_args, into=seen[name]):
                if "service_clock" not in statement:  # the test clock's middleware (test mode only)
                    into.append(statement.split()[0].upper())

            event.listen(engine.sync_engine, "before_cursor_execute", record)
            listeners.append((engine.sync_engine, record))
        try:
            r = await api.get("town_a", "/tasks")
            assert r.status_code == 200 and len(r.json()["items"]) == 1, r.text
            statements = [s for s in seen["reads"] if s != "BEGIN"]  # SQLite's BEGIN IMMEDIATE
            assert statements == ["SELECT"] * 3, seen
            if database_url.startswith("postgresql"):
                assert seen["reads"] == ["SELECT"] * 3 and running.app.state.reads is not running.app.state.db
            seen["reads"].clear()
            r = await api.get("town_a", "/tasks", scope="cc")
            assert r.status_code == 200 and r.json()["items"] == [], r.text
            assert [s for s in seen["reads"] if s != "BEGIN"] == ["SELECT"] * 2, seen
        finally:
            for engine, record in listeners:
                event.remove(engine, "before_cursor_execute", record)

"""What changes behaviour is in the authority trail (issue 15, finding 7): places, the calendar, process
versions and their rollout, review panels — who, when, old and new value; refused changes leave nothing."""

from app.config import PROJECT_ROOT
from tests.helpers import Api

LINSHI = (PROJECT_ROOT / "processes" / "linshi.bpmn").read_bytes()
PANEL = [
    {"name": "刘园长", "role": "head"},
    {"name": "陈老师", "role": "staff"},
    {"name": "林老师", "role": "staff"},
    {"name": "黄家长", "role": "parent"},
    {"name": "郑家长", "role": "parent"},
]


async def _trail(api: Api, **query) -> list[tuple]:
    r = await api.get("admin", "/admin/audit", limit=200, **query)
    assert r.status_code == 200, r.text
    return [(c["type"], c["actor"], c["old"], c["new"]) for c in r.json()]


async def test_places_created_and_renamed(api: Api):
    assert await _trail(api, subject="division:340621") == [
        ("division.created", "admin", None, {"name": "濉溪县", "level": "county", "parent_code": "3406"})
    ]
    r = await api.put(
        "admin",
        "/admin/divisions",
        [
            {"code": "340621", "name": "濉溪县（试点）", "parent_code": "3406", "level": "county"},
            {"code": "340621100", "name": "濉溪镇", "parent_code": "340621", "level": "township"},
        ],
    )  # unchanged
    assert r.status_code == 200, r.text
    assert (await _trail(api, subject="division:340621"))[0] == (
        "division.renamed",
        "admin",
        {"name": "濉溪县"},
        {"name": "濉溪县（试点）"},
    )
    assert len(await _trail(api, subject="division:340621100")) == 1
    # Refused: a place that cannot sit there; nothing recorded.
    before = await _trail(api, type="division.")
    r = await api.put(
        "admin",
        "/admin/divisions",
        [{"code": "9", "name": "x", "parent_code": "340621100201", "level": "city"}],
    )
    assert r.status_code == 422 and await _trail(api, type="division.") == before


async def test_calendar_years_with_the_old_days(api: Api):
    await api.load_year(2031, holidays=["2031-10-01"])
    await api.load_year(2031, holidays=["2031-10-01"])  # the same again: nothing changed, nothing recorded
    await api.load_year(2031, holidays=["2031-10-01", "2031-10-02"], working_days=["2031-09-28"])
    source = "国务院办公厅关于测试年份部分节假日安排的通知"
    assert await _trail(api, subject="calendar:2031") == [
        (
            "calendar.changed",
            "admin",
            {"source": source, "holidays": ["2031-10-01"], "working_days": []},
            {"source": source, "holidays": ["2031-10-01", "2031-10-02"], "working_days": ["2031-09-28"]},
        ),
        ("calendar.set", "admin", None, {"source": source, "holidays": ["2031-10-01"], "working_days": []}),
    ]
    r = await api.put("county", "/admin/calendar/2031", {"source": "x", "holidays": [], "working_days": []})
    assert r.status_code == 403 and len(await _trail(api, subject="calendar:2031")) == 2


async def test_process_versions_and_their_rollout(api: Api):
    [startup] = await _trail(api, subject="definition:linshi")
    assert startup[:3] == ("definition.deployed", "system", None) and startup[3]["version"] == 1
    revised = LINSHI.replace(
        b'name="setting.township_limit" value="5000"', b'name="setting.township_limit" value="3000"'
    )
    r = await api.client.post(
        "/api/v1/process-definitions",
        files={"file": ("linshi.bpmn", revised, "application/xml")},
        data={"version_tag": "2027-1", "comment": "乡镇审批上限3000元"},
        headers=api.headers["admin"],
    )
    assert r.status_code == 201, r.text
    deployed = (await _trail(api, subject="definition:linshi"))[0]
    assert deployed[:2] == ("definition.deployed", "admin") and deployed[2]["version"] == 1
    assert {k: deployed[3][k] for k in ("version", "version_tag", "comment")} == {
        "version": 2,
        "version_tag": "2027-1",
        "comment": "乡镇审批上限3000元",
    }
    r = await api.client.post(
        "/api/v1/process-definitions?dry_run=true",
        headers=api.headers["admin"],
        files={"file": ("linshi.bpmn", revised + b" ", "application/xml")},
    )
    assert r.status_code == 200 and len(await _trail(api, subject="definition:linshi")) == 2

    pilot = {"default_version": 1, "rules": [{"division_code": "340621101", "version": 2}]}
    assert (await api.put("county", "/process-definitions/linshi/rollout", pilot)).status_code == 403
    assert (await api.put("admin", "/process-definitions/linshi/rollout", pilot)).status_code == 200
    assert (
        await api.put("admin", "/process-definitions/linshi/rollout", pilot)
    ).status_code == 200  # unchanged
    assert (await api.put("admin", "/process-definitions/linshi/rollout", {})).status_code == 200
    assert await _trail(api, subject="rollout:linshi") == [
        ("rollout.changed", "admin", pilot, {"default_version": None, "rules": []}),
        ("rollout.changed", "admin", {"default_version": None, "rules": []}, pilot),
    ]


async def test_review_panels_with_the_members_before(api: Api):
    place = "340621100201"
    r = await api.put("admin", f"/panels/{place}/2027", {"members": PANEL})
    assert r.status_code == 200, r.text
    assert (await api.put("town_a", f"/panels/{place}/2027", {"members": PANEL[:1] * 5})).status_code == 403
    changed = [*PANEL[:4], {"name": "何家长", "role": "parent"}]
    assert (await api.put("admin", f"/panels/{place}/2027", {"members": changed})).status_code == 200
    assert await _trail(api, subject=f"panel:{place}/2027") == [
        ("panel.changed", "admin", {"members": PANEL}, {"members": changed}),
        ("panel.set", "admin", None, {"members": PANEL}),
    ]

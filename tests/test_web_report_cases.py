"""案件清单 (/ui/reports/cases): from a number of 统计报表 to the cases behind it, in Chromium at desktop and
phone width (docs/reports.md). A number clicked in 按月趋势 or 汇总 lands on the list; its rows equal
``GET /api/v1/reports/cases`` for the same parameters and their count the number clicked; the downloads
equal the page; zeros are no links; and who may not read a list is refused. One live server for the
module: its tests only read the 低保 story of tests/test_reports.py."""

import csv
import io
import shutil
from datetime import datetime
from io import BytesIO
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook

from app.web.labels import STATUSES
from tests.conftest import ADMIN_PASSWORD
from tests.helpers import VILLAGE_A
from tests.test_payments import _staff
from tests.test_reports import _story
from tests.web_support import DESKTOP, PHONE, _live

SHANGHAI = ZoneInfo("Asia/Shanghai")
PROGRAMS = {"dibao": "最低生活保障"}
COLUMNS = ["案件编号", "申请人", "身份证号", "业务", "地区代码", "地区", "状态"]


@pytest.fixture(scope="module")
async def ui(tmp_path_factory, sqlite_template, browser, request):
    path = tmp_path_factory.mktemp("cases-ui") / "ui.db"
    shutil.copy(sqlite_template, path)
    async for live in _live(f"sqlite+aiosqlite:///{path}", browser, request, ADMIN_PASSWORD):
        await _staff(live.api)  # edu_county: the county education bureau
        await _story(live.api)
        await live.api.add_people({"village_a": ("village_civil_affairs", VILLAGE_A)})
        yield live


async def _table(page, selector: str) -> list[list[str]]:
    table = page.locator(selector)
    header = await table.locator("thead th").all_inner_texts()
    rows = [await row.locator("td").all_inner_texts() for row in await table.locator("tbody tr").all()]
    return [[h.strip() for h in header], *[[c.strip() for c in r] for r in rows]]


async def _listed(ui, **params) -> dict:
    r = await ui.api.get("county", "/reports/cases", **params)
    assert r.status_code == 200, r.text
    return r.json()


def _day(at: str) -> str:
    return datetime.fromisoformat(at).astimezone(SHANGHAI).date().isoformat()


def _api_rows(found: dict, places: dict[str, str]) -> list[list[str]]:
    """The API's items as the page writes them: program, place and status in words, the day counted."""
    return [
        [
            i["number"],
            i["applicant_name"],
            i["applicant_id_number"],
            PROGRAMS[i["program"]],
            i["division_code"],
            places[i["division_code"]],
            STATUSES[i["status"]],
            _day(i["counted_at"]),
        ]
        for i in found["items"]
    ]


async def _download(page, link: str, tmp_path, name: str) -> bytes:
    async with page.expect_download() as download:
        await page.locator(f"a[href^='{link}']").click()
    saved = tmp_path / name
    await (await download.value).save_as(saved)
    return saved.read_bytes()


def _query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
async def test_a_number_in_the_months_table_leads_to_the_cases_behind_it(ui, viewport, tmp_path):
    page = await ui.login("county", viewport=viewport)
    await page.goto(ui.url + "/ui/reports?place=340621&from=2026-11&to=2026-12")
    months = page.locator("#table-months")
    november = months.locator("tbody tr").filter(has_text="2026年11月")
    # Zeros lead nowhere; a stock column (期末在册: a month's end value) neither.
    for cell in await months.locator("td").all():
        if (await cell.inner_text()).strip() == "0":
            assert await cell.locator("a").count() == 0
    assert await months.locator("td[data-key=enrolments_active] a").count() == 0
    received = november.locator("td[data-key=received] a")
    clicked = int(await received.inner_text())
    assert clicked == 4  # the story's four applications in November
    await received.click()
    await page.wait_for_url("**/ui/reports/cases?**")
    assert _query(page.url) == {"figure": "received", "place": "340621", "month": "2026-11"}
    assert await page.locator("#cases-heading").inner_text() == "收到申请：濉溪县 · 全部业务 · 2026年11月"

    found = await _listed(ui, figure="received", place="340621", month="2026-11")
    places = {"340621100201": "东关村", "340621101201": "临涣村"}
    shown = await _table(page, "#table-cases")
    assert shown[0] == [*COLUMNS, "计入日期"]
    assert shown[1:] == _api_rows(found, places)
    assert len(shown) - 1 == clicked and not found["has_more"]
    assert await page.locator("a[rel=next]").count() == 0
    if viewport == PHONE:  # the wide table scrolls in its box; the page does not
        assert await page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
    await ui.shot(page, f"report-cases-{viewport['width']}")

    if viewport == DESKTOP:
        body = await _download(page, "/ui/reports/cases.csv", tmp_path, "cases.csv")
        assert body.startswith("\ufeff".encode())
        assert list(csv.reader(io.StringIO(body.decode("utf-8-sig")))) == shown
        body = await _download(page, "/ui/reports/cases.xlsx", tmp_path, "cases.xlsx")
        sheet = load_workbook(BytesIO(body)).worksheets[0]
        assert sheet.title == "案件清单"
        book = [list(r) for r in sheet.iter_rows(values_only=True)]
        assert book[0] == shown[0]
        assert [[*r[:-1], r[-1].date().isoformat()] for r in book[1:]] == shown[1:]
        assert sheet["H2"].number_format == "yyyy-mm-dd"

        # A page of two, then the next: the API's paging.
        await page.goto(ui.url + "/ui/reports/cases?figure=received&place=340621&month=2026-11&limit=2")
        assert (await _table(page, "#table-cases"))[1:] == shown[1:3]
        await page.locator("a[rel=next]").click()
        await page.wait_for_url("**offset=2**")
        assert (await _table(page, "#table-cases"))[1:] == shown[3:5]
        assert await page.locator("a[rel=next]").count() == 0
        await page.locator("a[rel=prev]").click()
        await page.wait_for_url("**offset=0**")
        assert (await _table(page, "#table-cases"))[1:] == shown[1:3]

    # A case number opens the case.
    first = found["items"][1]
    await page.locator("#table-cases").get_by_role("link", name=first["number"]).click()
    await page.wait_for_url(f"**/ui/cases/{first['id']}")


async def test_the_figures_of_now_in_the_summary_lead_to_the_lists_of_now(ui):
    page = await ui.login("county")
    summary = page.locator("#table-summary")
    for header, figure in (
        ("当前超期待办", "overdue_now"),
        ("公示中", "in_notice"),
        ("期末在册", "enrolments_active"),
    ):
        # The period reaches the service clock's month (December 2026): its stock figures are now's.
        await page.goto(ui.url + "/ui/reports?place=340621&program=dibao&from=2026-11&to=2026-12")
        link = summary.locator("tbody tr").filter(has_text=header).locator("a")
        clicked = int(await link.inner_text())
        await link.click()
        await page.wait_for_url(f"**/ui/reports/cases?figure={figure}&place=340621&program=dibao**")
        assert await page.locator("#cases-heading").inner_text() == f"{header}：濉溪县 · 最低生活保障 · 当前"
        found = await _listed(ui, figure=figure, place="340621", program="dibao")
        rows = (await _table(page, "#table-cases"))[1:]
        assert [r[0] for r in rows] == [i["number"] for i in found["items"]]
        assert len(rows) == clicked >= 1, header
    # A period over two months: its figures are sums no one month's list tells, so they lead nowhere;
    # a period that ended before now: its 期末在册 is not now's.
    await page.goto(ui.url + "/ui/reports?place=340621&from=2026-11&to=2026-12")
    assert await summary.locator("tbody tr").filter(has_text="收到申请").locator("a").count() == 0
    await page.goto(ui.url + "/ui/reports?place=340621&from=2026-11&to=2026-11")
    assert await summary.locator("tbody tr").filter(has_text="期末在册").locator("a").count() == 0
    assert await summary.locator("tbody tr").filter(has_text="当前超期待办").locator("a").count() == 1
    # One month: its figures lead to that month's lists.
    link = summary.locator("tbody tr").filter(has_text="收到申请").locator("a")
    assert await link.get_attribute("href") == "/ui/reports/cases?figure=received&place=340621&month=2026-11"


async def test_who_may_not_read_a_list_of_cases(ui):
    paths = ["/ui/reports/cases", "/ui/reports/cases.csv", "/ui/reports/cases.xlsx"]
    dibao = "?figure=received&place=340621&program=dibao&month=2026-11"
    # The county education bureau asking for 低保's list: not its program.
    education = await ui.login("edu_county")
    for path in paths:
        answer = await education.request.get(ui.url + path + dibao)
        assert answer.status == 403 and "无权查看该项目的统计" in await answer.text(), path
    # Another county's office; a village's office (no figures of its own).
    for who in ("other_county", "village_a"):
        other = await ui.login(who)
        for path in paths:
            answer = await other.request.get(ui.url + path + dibao)
            assert answer.status == 403 and "无权查看该地区" in await answer.text(), (who, path)
    # Bad input: a figure that is none, a month that is none or missing, an unknown place, a bad page.
    county = await ui.login("county")
    for query, status, words in (
        ("?figure=everything&place=340621&month=2026-11", 422, "没有这项统计指标"),
        ("?place=340621&month=2026-11", 422, "没有这项统计指标"),
        ("?figure=received&place=340621&month=2026-13", 422, "月份格式"),
        ("?figure=received&place=340621", 422, "请选择统计月份"),
        ("?figure=received&place=99&month=2026-11", 404, "没有这个行政区划"),
        ("?figure=received&place=340621&month=2026-11&limit=0", 422, "格式不正确"),
    ):
        for path in paths:
            answer = await county.request.get(ui.url + path + query)
            text = await answer.text()
            assert answer.status == status and words in text, (path, query)
            assert answer.headers["content-type"].startswith("text/html"), (path, query)
    # A stranger, and a portal key (keys open the API, not the pages): sent to the login.
    stranger = await ui.page()
    for path in paths:
        answer = await stranger.request.get(ui.url + path + dibao, max_redirects=0)
        assert answer.status == 303 and answer.headers["location"].startswith("/ui/login"), path
        keyed = await ui.api.client.get(path + dibao, headers=ui.api.headers["portal"])
        assert keyed.status_code == 303 and keyed.headers["location"].startswith("/ui/login"), path

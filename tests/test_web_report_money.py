"""统计报表's money, enrolments and working days, and 月度报表 (/ui/reports/monthly), in Chromium at desktop
and phone width (docs/reports.md): every new cell equals the API's JSON, every download equals the page,
and who may not read the monthly page is refused. One live server for the module: its tests only read
the story written once (the payments month of tests/test_report_money.py, then tests/test_reports.py's)."""

import csv
import io
import json
import re
import shutil
from datetime import date
from io import BytesIO

import pytest
from openpyxl import load_workbook

from app.domain.reports.tables import ALL_HEADERS
from tests.conftest import ADMIN_PASSWORD
from tests.helpers import VILLAGE_A
from tests.test_payments import BPMN, _account, _enrol, _staff
from tests.test_report_money import _pay_november
from tests.test_reports import _story
from tests.web_support import DESKTOP, PHONE, _live

PERIOD = {"place": "340621", "from": "2026-10", "to": "2026-12"}
KEYS = {header: key for key, header in ALL_HEADERS.items()}
YUAN_FORMAT = "#,##0.00"


@pytest.fixture(scope="module")
async def ui(tmp_path_factory, sqlite_template, browser, request):
    path = tmp_path_factory.mktemp("money-ui") / "ui.db"
    shutil.copy(sqlite_template, path)
    async for live in _live(f"sqlite+aiosqlite:///{path}", browser, request, ADMIN_PASSWORD):
        api = live.api
        await _staff(api)  # finance, edu_county (the county education bureau), both
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
        await _pay_november(api, people)
        await _story(api)  # 低保 in November and December
        await api.add_people({"village_a": ("village_civil_affairs", VILLAGE_A)})
        yield live


async def _api(ui, who: str, path: str, **params) -> dict:
    r = await ui.api.get(who, f"/reports/{path}", **params)
    assert r.status_code == 200, r.text
    return r.json()


async def _table(page, selector: str) -> list[list[str]]:
    table = page.locator(selector)
    header = await table.locator("thead th").all_inner_texts()
    rows = [await row.locator("td").all_inner_texts() for row in await table.locator("tbody tr").all()]
    return [[h.strip() for h in header], *[[c.strip() for c in r] for r in rows]]


def _shown(key: str, value) -> str:
    """A figure as the page (and the CSV) writes it: yuan with two decimals, no separators."""
    if value is None:
        return ""
    return f"{value:.2f}" if ALL_HEADERS[key].endswith("（元）") else str(value)


def _row_of(report: dict, headers: list[str]) -> list[str]:
    return [_shown(KEYS[h], report[KEYS[h]]) for h in headers]


async def _download(page, link: str, tmp_path, name: str) -> bytes:
    async with page.expect_download() as download:
        await page.locator(f"a[href^='{link}']").click()
    saved = tmp_path / name
    await (await download.value).save_as(saved)
    return saved.read_bytes()


def _csv(body: bytes) -> list[list[str]]:
    assert body.startswith("\ufeff".encode())
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))


def _xlsx_as_shown(body: bytes) -> list[list[str]]:
    """The first sheet written back as the page shows it, by each cell's number format."""
    sheet = load_workbook(BytesIO(body)).worksheets[0]
    rows = []
    for number, row in enumerate(sheet.iter_rows()):
        cells = []
        for cell in row:
            value = cell.value
            if number == 0 or value is None:
                cells.append("" if value is None else str(value))
            elif cell.number_format == YUAN_FORMAT:
                assert isinstance(value, (int, float)), cell  # a number in the workbook, not text
                cells.append(f"{value:.2f}")
            elif cell.number_format == "0.00%":
                cells.append(f"{value:.2%}")
            elif isinstance(value, date):
                cells.append(f"{value.year}年{value.month}月")
            else:
                assert cell.number_format == "@" or isinstance(value, int), cell
                cells.append(str(value))
        rows.append(cells)
    return rows


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
async def test_money_enrolments_and_working_days_equal_the_api(ui, viewport, tmp_path):
    page = await ui.login("county", viewport=viewport)
    await page.goto(ui.url + "/ui/reports?place=340621&from=2026-10&to=2026-12")
    summary = await _api(ui, "county", "summary", **PERIOD)
    assert summary["amount_paid"] > 0 and summary["enrolments_active"] > 0  # the story has money

    # 汇总: every figure, the money among them.
    shown = await _table(page, "#table-summary")
    assert [r[0] for r in shown[1:]] == list(ALL_HEADERS.values())
    assert [r[1] for r in shown[1:]] == _row_of(summary, [r[0] for r in shown[1:]])
    assert dict(shown[1:])["已发放金额（元）"] == f"{summary['amount_paid']:.2f}"

    # 按月趋势: a month's own figures; a stock (期末…) is the month's end value, never a sum.
    months = await _table(page, "#table-months")
    assert "期末在册" in months[0] and "已发放金额（元）" in months[0] and "当前超期待办" not in months[0]
    for row, month in zip(months[1:], ("2026-10", "2026-11", "2026-12"), strict=True):
        each = await _api(ui, "county", "summary", place="340621", **{"from": month}, to=month)
        assert row[1:] == _row_of(each, months[0][1:]), month
    column = months[0].index("期末在册")
    assert months[-1][column] == str(summary["enrolments_active"])

    # 分地区: the money and enrolments of each township.
    by_place = await _api(ui, "county", "by-place", **PERIOD)
    places = await _table(page, "#table-places")
    assert [r[:2] for r in places[1:]] == [[p["code"], p["name"]] for p in by_place["places"]]
    for row, place in zip(places[1:], by_place["places"], strict=True):
        assert row[2:] == _row_of(place, places[0][2:]), place["name"]

    # 各环节: the working days beside the on-time share, and their chart.
    steps = await _api(ui, "county", "steps", **PERIOD)
    table = await _table(page, "#table-steps")
    assert table[0][-2:] == ["用时中位数（工作日）", "用时90%分位（工作日）"]
    assert [r[1:] for r in table[1:]] == [
        [
            s["step"],
            *(str(s[k]) for k in ("done", "timed", "on_time")),
            "" if s["on_time_share"] is None else f"{s['on_time_share']:.2%}",
            *("" if s[k] is None else str(s[k]) for k in ("median_days", "p90_days")),
        ]
        for s in steps["steps"]
    ]
    figure = page.locator("figure[data-chart=chart-days]")
    await page.wait_for_selector("figure[data-chart=chart-days].chart-ready, figure[data-chart-error]")
    assert await figure.get_attribute("data-chart-error") is None
    drawn = json.loads(await page.locator("#chart-days").text_content())
    timed = [r for r in table[1:] if r[-2]]
    assert drawn["labels"] == [r[0] for r in timed]
    assert [s["data"] for s in drawn["series"]] == [[int(r[-2]) for r in timed], [int(r[-1]) for r in timed]]
    svg = await figure.locator(".chart-canvas svg").inner_html()
    assert "中位数" in svg and "90%分位" in svg and timed[0][0] in svg
    if viewport == PHONE:  # wide tables scroll in their boxes; the page itself does not
        assert await page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
    await ui.shot(page, f"reports-money-{viewport['width']}")
    if viewport == PHONE:
        return

    # Every download equals the page: CSV text, and XLSX numbers in the API workbooks' formats.
    for name in ("summary", "months", "places", "steps"):
        shown = await _table(page, f"#table-{name}")
        body = await _download(page, f"/ui/reports/{name}.csv", tmp_path, f"{name}.csv")
        rows = _csv(body)
        if name == "months":
            rows = [rows[0], *[[f"{r[0][:4]}年{int(r[0][5:])}月", *r[1:]] for r in rows[1:]]]
        assert rows == shown, name
        body = await _download(page, f"/ui/reports/{name}.xlsx", tmp_path, f"{name}.xlsx")
        book = _xlsx_as_shown(body)
        if name == "places":  # the drill-down workbook: the parent's name first
            book = [r[1:] for r in book]
        assert book == shown, name
    sheet = load_workbook(tmp_path / "summary.xlsx").worksheets[0]
    formats = {row[0].value: row[1].number_format for row in sheet.iter_rows(min_row=2)}
    assert formats["已发放金额（元）"] == YUAN_FORMAT and formats["已发放笔数"] == "#,##0"


async def _choose_monthly(page, ui, program: str, month: str) -> None:
    await page.get_by_label("业务").select_option(program)
    await page.get_by_label("月份").fill(month)
    await page.get_by_role("button", name="查看").click()
    await page.wait_for_url(re.compile(rf".*/ui/reports/monthly\?.*program={program}.*month={month}.*"))


def _date_cn(text: str) -> str:
    day = date.fromisoformat(text)
    return f"{day.year}年{day.month}月{day.day}日"


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
async def test_monthly_report_page_downloads_print_and_drill_down(ui, viewport, tmp_path):
    page = await ui.login("county", viewport=viewport)
    await page.goto(ui.url + "/ui/reports?place=340621&from=2026-10&to=2026-11")
    await page.get_by_role("link", name="月度报表").click()
    await page.wait_for_url("**/ui/reports/monthly?place=340621&month=2026-11")
    offered = await page.get_by_label("业务").locator("option").evaluate_all("os => os.map(o => o.value)")
    assert "dibao" in offered and "paytest" in offered and "xueqian" not in offered  # civil affairs' own
    await _choose_monthly(page, ui, "paytest", "2026-11")
    report = await _api(ui, "county", "monthly/paytest", place="340621", month="2026-11")
    assert await page.locator("#monthly-title").inner_text() == report["title"]
    assert await page.locator("#data-due").inner_text() == _date_cn(report["data_due"])
    assert await page.locator("#report-due").inner_text() == _date_cn(report["report_due"])
    stages = {"collecting": "数据报送中", "reporting": "数据已截止，报表待报送", "closed": "报送期已过"}
    assert await page.locator("#report-stage").inner_text() == stages[report["stage"]]
    shown = await _table(page, "#table-monthly")
    assert shown[0] == ["地区代码", "地区", *(ALL_HEADERS[c] for c in report["columns"])]
    assert [r[:2] for r in shown[1:]] == [
        [r["code"], r["name"] + ("（合计）" if r["total"] else "")] for r in report["rows"]
    ]
    for row, want in zip(shown[1:], report["rows"], strict=True):
        assert row[2:] == [_shown(c, want[c]) for c in report["columns"]], want["name"]
    assert shown[1][shown[0].index("已发放金额（元）")] == f"{report['rows'][0]['amount_paid']:.2f}"
    if viewport == PHONE:
        assert await page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
    await ui.shot(page, f"reports-monthly-{viewport['width']}")

    if viewport == DESKTOP:
        assert _csv(await _download(page, "/ui/reports/monthly.csv", tmp_path, "m.csv")) == shown
        body = await _download(page, "/ui/reports/monthly.xlsx", tmp_path, "m.xlsx")
        assert _xlsx_as_shown(body) == shown
        assert load_workbook(BytesIO(body)).sheetnames == ["社会救助月度统计表"]

    # The print view: the same report without the navigation.
    await page.get_by_role("link", name="打印版").click()
    await page.wait_for_url("**/ui/reports/monthly/print?**")
    assert await page.locator("header.top").count() == 0
    assert await _table(page, "#table-monthly") == shown
    assert await page.locator("#data-due").inner_text() == _date_cn(report["data_due"])
    await page.emulate_media(media="print")
    assert not await page.locator(".no-print").is_visible()
    await page.emulate_media(media="screen")
    await page.get_by_role("link", name="返回月度报表").click()

    # A township's row leads to its own monthly report.
    await page.locator("#table-monthly").get_by_role("link", name="濉溪镇").click()
    await page.wait_for_url("**/ui/reports/monthly?place=340621100&program=paytest&month=2026-11")
    town = await _api(ui, "county", "monthly/paytest", place="340621100", month="2026-11")
    rows = await _table(page, "#table-monthly")
    assert rows[1:] == [
        [r["code"], r["name"] + "（合计）", *(_shown(c, r[c]) for c in town["columns"])] for r in town["rows"]
    ]


async def test_who_may_not_read_the_monthly_page(ui):
    pages = ["/ui/reports/monthly", "/ui/reports/monthly/print", "/ui/reports/monthly.csv"]
    pages.append("/ui/reports/monthly.xlsx")
    dibao = "?place=340621&program=dibao&month=2026-11"
    # A village's office has no figures of its own.
    village = await ui.login("village_a")
    for path in pages:
        answer = await village.request.get(ui.url + path)
        assert answer.status == 403 and "无权查看该地区" in await answer.text(), path
    # The county education bureau: not 低保's report, nor its files; its own programs only.
    education = await ui.login("edu_county")
    for path in pages:
        answer = await education.request.get(ui.url + path + dibao)
        assert answer.status == 403 and "无权查看该项目的统计" in await answer.text(), path
    await education.goto(ui.url + "/ui/reports/monthly?place=340621&month=2026-11")
    offered = (
        await education.get_by_label("业务").locator("option").evaluate_all("os => os.map(o => o.value)")
    )
    assert "xueqian" in offered and "dibao" not in offered and "paytest" not in offered
    assert "学生资助月度变动报告" in await education.locator("#monthly-title").inner_text()
    # Another county's office.
    other = await ui.login("other_county")
    for path in pages:
        answer = await other.request.get(ui.url + path + dibao)
        assert answer.status == 403 and "无权查看该地区" in await answer.text(), path
    # Bad input: a month that is none, an unknown place; nothing else is read.
    county = await ui.login("county")
    for query, status, words in (
        ("?month=2026-13", 422, "月份格式"),
        ("?place=99", 404, "没有这个行政区划"),
        ("?place=340621100201", 422, "请选择上一级地区"),
    ):
        answer = await county.request.get(ui.url + "/ui/reports/monthly" + query)
        assert answer.status == status and words in await answer.text(), query
    # A stranger, and a portal key (keys open the API, not the pages): sent to the login.
    stranger = await ui.page()
    for path in pages:
        answer = await stranger.request.get(ui.url + path + dibao, max_redirects=0)
        assert answer.status == 303 and answer.headers["location"].startswith("/ui/login"), path
        keyed = await ui.api.client.get(path + dibao, headers=ui.api.headers["portal"])
        assert keyed.status_code == 303 and keyed.headers["location"].startswith("/ui/login"), path

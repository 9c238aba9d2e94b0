"""统计报表 in Chromium at desktop and phone width (docs/reports.md): the tables hold the API's figures,
each chart is drawn beside its table by ECharts (served by the service), every table downloads as CSV and
XLSX with the page's values, the drill-down goes province → city → county → township → 案件查询, the
print view has no navigation; and who may not read the pages is refused."""

import csv
import hashlib
import io
import re
from io import BytesIO

import pytest
from openpyxl import load_workbook

from tests.conftest import ADMIN_PASSWORD
from tests.helpers import VILLAGE_A
from tests.test_reports import _story
from tests.web_support import DESKTOP, PHONE

ASSETS = "/ui/static/echarts-6.1.0"
PERIOD = {"from": "2026-11", "to": "2026-12"}
TABLES = ("summary", "months", "steps", "places", "overdue")


async def _table(page, name: str) -> list[list[str]]:
    """The page's table as text, header row first."""
    table = page.locator(f"#table-{name}")
    header = await table.locator("thead th").all_inner_texts()
    rows = [await row.locator("td").all_inner_texts() for row in await table.locator("tbody tr").all()]
    return [[h.strip() for h in header], *[[c.strip() for c in r] for r in rows]]


def _share(value) -> str:
    return "" if value is None else f"{value:.2%}"


async def _api(ui, who: str, path: str, **params) -> dict:
    r = await ui.api.get(who, f"/reports/{path}", **params)
    assert r.status_code == 200, r.text
    return r.json()


async def _drawn(page, name: str) -> str:
    """Waits for a chart; fails with ECharts' own message if it could not draw. Returns its SVG."""
    figure = page.locator(f"figure[data-chart=chart-{name}]")
    await page.wait_for_selector(f"figure[data-chart=chart-{name}].chart-ready, figure[data-chart-error]")
    assert await figure.get_attribute("data-chart-error") is None
    return await figure.locator(".chart-canvas svg").inner_html()


def _xlsx_rows(body: bytes, sheet: str | None = None) -> list[list[object]]:
    book = load_workbook(BytesIO(body))
    chosen = book[sheet] if sheet else book.worksheets[0]
    return [list(r) for r in chosen.iter_rows(values_only=True)]


def _text(value) -> str:
    return "" if value is None else str(value)


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
async def test_county_report_tables_charts_downloads_and_drill_down(live_ui, viewport, tmp_path):
    ui = live_ui
    await _story(ui.api)
    page = await ui.login("county", viewport=viewport)
    await page.get_by_role("link", name="统计报表").click()
    await page.wait_for_url(ui.url + "/ui/reports")
    await page.get_by_label("起始月份").fill("2026-11")
    await page.get_by_label("截止月份").fill("2026-12")
    await page.get_by_role("button", name="统计").click()
    await page.wait_for_url(re.compile(r".*/ui/reports\?place=340621&program=&from=2026-11&to=2026-12$"))
    response = await page.reload()
    assert "script-src 'self';" in response.headers["content-security-policy"]  # charts from our files only
    assert "濉溪县" in await page.locator("#report-scope").inner_text()

    # The tables hold the API's figures.
    summary = await _api(ui, "county", "summary", place="340621", **PERIOD)
    by_place = await _api(ui, "county", "by-place", place="340621", **PERIOD)
    shown = await _table(page, "summary")
    assert shown[0] == ["指标", "数值"]
    values = {r[0]: r[1] for r in shown[1:]}
    assert values["收到申请"] == "4" and values["批准"] == "1" and values["撤销"] == "1"
    assert values["当前超期待办"] == str(summary["overdue_now"]) == "1"
    months = await _table(page, "months")
    assert [r[0] for r in months[1:]] == ["2026年11月", "2026年12月"]
    for row, month in zip(months[1:], ("2026-11", "2026-12"), strict=True):
        each = await _api(ui, "county", "summary", place="340621", **{"from": month}, to=month)
        column = {header: i for i, header in enumerate(months[0])}
        assert [row[column[h]] for h in ("收到申请", "受理", "批准", "不予批准")] == [
            str(each["received"]),
            str(each["accepted"]),
            str(each["approved"]),
            str(each["refused"]),
        ], month
    steps = await _table(page, "steps")
    assert steps[0] == [
        *("环节", "环节代码", "办结", "有办理时限", "按时办结", "按时率"),
        *("用时中位数（工作日）", "用时90%分位（工作日）"),
    ]
    assert [r[1:] for r in steps[1:]] == [
        [
            *(s["step"], str(s["done"]), str(s["timed"]), str(s["on_time"]), _share(s["on_time_share"])),
            *(_text(s["median_days"]), _text(s["p90_days"])),
        ]
        for s in summary["steps"]
    ]
    assert steps[1][0] == "受理"  # the step's Chinese title, not its key
    places = await _table(page, "places")
    assert [r[:3] for r in places[1:]] == [
        [p["code"], p["name"], str(p["received"])] for p in by_place["places"]
    ]
    ranked = await _table(page, "overdue")
    assert [r[2:] for r in ranked[1:]] == [["临涣镇", "1"], ["濉溪镇", "0"]]  # most overdue work first

    # Each chart drawn beside its table, from the same numbers.
    trend = await _drawn(page, "months")
    assert "收到申请" in trend and "不予批准" in trend
    assert "受理" in await _drawn(page, "steps") or "初审" in await _drawn(page, "steps")
    assert "临涣镇" in await _drawn(page, "overdue")
    figure = await page.locator("figure[data-chart=chart-months]").bounding_box()
    table = await page.locator("#table-summary").bounding_box()
    if viewport == DESKTOP:  # side by side
        assert figure["x"] + figure["width"] <= table["x"] + 1 and abs(figure["y"] - table["y"]) < 80
    else:  # stacked, and nothing wider than the phone
        assert table["y"] > figure["y"]
        assert await page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
    await ui.shot(page, "reports-county")

    # Every table downloads as CSV and XLSX holding the page's values.
    for name in TABLES:
        shown = await _table(page, name)
        async with page.expect_download() as download:
            await page.locator(f"a[href^='/ui/reports/{name}.csv']").click()
        saved = tmp_path / f"{name}.csv"
        await (await download.value).save_as(saved)
        assert saved.read_bytes().startswith("\ufeff".encode())
        rows = list(csv.reader(io.StringIO(saved.read_text("utf-8-sig"))))
        if name == "months":  # the CSV writes months as 2026-11, the page as 2026年11月
            rows = [rows[0], *[[f"{r[0][:4]}年{int(r[0][5:])}月", *r[1:]] for r in rows[1:]]]
        assert rows == shown, name
        async with page.expect_download() as download:
            await page.locator(f"a[href^='/ui/reports/{name}.xlsx']").click()
        saved = tmp_path / f"{name}.xlsx"
        await (await download.value).save_as(saved)
        book = _xlsx_rows(saved.read_bytes())
        if name == "places":  # one sheet per level: here the townships, after the county's name
            assert load_workbook(saved).sheetnames == ["乡镇（街道）"]
            assert [r[0] for r in book[1:]] == ["濉溪县", "濉溪县"]
            book = [r[1:] for r in book]
        assert book[0] == shown[0], name
        for got, want in zip(book[1:], shown[1:], strict=True):
            for value, text, header in zip(got, want, shown[0], strict=True):
                if header == "按时率":
                    assert _share(value) == text, (name, got)
                elif header.endswith("（元）") or (header == "数值" and want[0].endswith("（元）")):
                    assert f"{value:.2f}" == text, (name, got)
                elif header == "月份":
                    assert f"{value.year}年{value.month}月" == text, (name, got)
                else:
                    assert _text(value) == text, (name, got)
    sheet = load_workbook(tmp_path / "steps.xlsx").worksheets[0]
    assert sheet["F1"].value == "按时率" and sheet["F3"].number_format == "0.00%"
    assert load_workbook(tmp_path / "months.xlsx").worksheets[0]["A2"].number_format == 'yyyy"年"m"月"'

    # Drill-down: a township's row lists its cases in 案件查询, filtered by place and period.
    await page.locator("#table-places").get_by_role("link", name="临涣镇").click()
    await page.wait_for_url("**/ui/cases?division_code=340621101**")
    assert "submitted_from=2026-11-01" in page.url and "submitted_to=2026-12-31" in page.url
    found = page.locator("table.tasks tbody tr")
    assert await found.count() == 1 and "临涣村" in await found.inner_text()  # B, filed in 临涣村
    await ui.shot(page, "reports-township-cases")

    # The print view: the same tables on A4, without the navigation.
    await page.goto(ui.url + "/ui/reports?place=340621&from=2026-11&to=2026-12")
    await page.get_by_role("link", name="打印版").click()
    await page.wait_for_url("**/ui/reports/print?**")
    assert await page.locator("header.top").count() == 0
    assert await _table(page, "places") == places
    await _drawn(page, "months")
    await page.emulate_media(media="print")
    assert not await page.locator(".no-print").is_visible()
    await ui.shot(page, "reports-print")
    if viewport == DESKTOP:
        pdf = await page.pdf(prefer_css_page_size=True)
        boxes = re.findall(rb"/MediaBox \[0 0 ([0-9.]+) ([0-9.]+)\]", pdf)
        assert pdf.startswith(b"%PDF") and boxes  # A4 pages: 595 × 842 points (210 × 297 mm)
        assert all(round(float(w)) == 595 and round(float(h)) == 842 for w, h in boxes), boxes


async def test_admin_drills_down_from_the_province_and_downloads_one_sheet_per_level(live_ui, tmp_path):
    ui = live_ui
    await _story(ui.api)
    page = await ui.login("admin", ADMIN_PASSWORD)
    await page.goto(ui.url + "/ui/reports?place=34&from=2026-11&to=2026-12")
    await page.locator("#table-places").get_by_role("link", name="淮北市").click()
    await page.wait_for_url("**/ui/reports?place=3406&**")
    await page.locator("#table-places").get_by_role("link", name="濉溪县").click()
    await page.wait_for_url("**/ui/reports?place=340621&**")
    crumbs = page.get_by_role("navigation", name="上级地区")
    assert await crumbs.inner_text() == "安徽省 › 淮北市 › 濉溪县"
    await crumbs.get_by_role("link", name="安徽省").click()
    await page.wait_for_url("**/ui/reports?place=34&**")
    assert "program" not in page.url and "from=2026-11" in page.url
    await ui.shot(page, "reports-province")
    r = await page.request.get(ui.url + "/ui/reports/places.xlsx?place=34&from=2026-11&to=2026-12")
    assert r.status == 200
    saved = tmp_path / "levels.xlsx"
    saved.write_bytes(await r.body())
    assert load_workbook(saved).sheetnames == ["市", "县（区）", "乡镇（街道）"]
    for sheet, parents in (("市", ["34"]), ("县（区）", ["3406"]), ("乡镇（街道）", ["340621", "340622"])):
        rows = _xlsx_rows(saved.read_bytes(), sheet)
        expected = []
        for parent in parents:
            report = await _api(ui, "admin", "by-place", place=parent, **PERIOD)
            expected += [
                [
                    report["place"]["name"],
                    p["code"],
                    p["name"],
                    p["received"],
                    p["accepted"],
                    p["approved"],
                    p["overdue_now"],
                ]
                for p in report["places"]
            ]
        got = [[r[0], r[1], r[2], r[3], r[4], r[5], r[-1]] for r in rows[1:]]
        assert got == expected, sheet
    # One program: the filter narrows every table (linshi has no cases in the story).
    await page.get_by_label("业务").select_option("linshi")
    await page.get_by_role("button", name="统计").click()
    await page.wait_for_url("**program=linshi**")
    assert {r[0]: r[1] for r in (await _table(page, "summary"))[1:]}["收到申请"] == "0"


async def test_who_may_not_read_the_reports_pages(live_ui):
    ui = live_ui
    await ui.api.add_people({"village_a": ("village_civil_affairs", VILLAGE_A)})
    pages = ["/ui/reports", "/ui/reports/print", "/ui/reports/places.csv", "/ui/reports/summary.xlsx"]
    # A village's office: no 统计报表 in its navigation, and the pages refuse it.
    village = await ui.login("village_a")
    assert await village.get_by_role("link", name="统计报表").count() == 0
    for path in pages:
        answer = await village.request.get(ui.url + path)
        assert answer.status == 403 and "无权查看该地区" in await answer.text(), path
    # Another county, and a township asking about its county.
    for who in ("other_county", "town_a"):
        other = await ui.login(who)
        for path in pages:
            answer = await other.request.get(ui.url + path + "?place=340621")
            assert answer.status == 403 and "无权查看该地区" in await answer.text(), (who, path)
    # A township reads its own figures (no places below it: its cases instead).
    town = await ui.login("town_a")
    await town.get_by_role("link", name="统计报表").click()
    assert "濉溪镇" in await town.locator("#report-scope").inner_text()
    assert await town.locator("#table-places").count() == 0
    own = await town.get_by_role("link", name="查看本地区案件").get_attribute("href")
    assert own.startswith("/ui/cases?division_code=340621100&submitted_from="), own
    answer = await town.request.get(ui.url + "/ui/reports/places.csv")
    assert answer.status == 404 and "没有这张统计表" in await answer.text()
    # Bad input: a month that is none, a period running backwards, an unknown place.
    for query, status, words in (
        ("from=2026-13", 422, "月份格式"),
        ("from=2026-12&to=2026-11", 422, "起始月份不能晚于截止月份"),
        ("place=99", 404, "没有这个行政区划"),
    ):
        answer = await town.request.get(ui.url + "/ui/reports?" + query)
        assert answer.status == status and words in await answer.text(), query
    # A stranger, and a portal key (keys open the API, not the pages): sent to the login.
    stranger = await ui.page()
    for path in pages:
        answer = await stranger.request.get(ui.url + path, max_redirects=0)
        assert answer.status == 303 and answer.headers["location"].startswith("/ui/login"), path
        keyed = await ui.api.client.get(path, headers=ui.api.headers["portal"])
        assert keyed.status_code == 303 and keyed.headers["location"].startswith("/ui/login"), path


async def test_chart_library_is_served_with_its_licence(live_ui):
    ui = live_ui
    for asset, text in (
        ("LICENSE", "Apache License"),
        ("NOTICE", "The Apache Software Foundation"),
        ("LICENSE-d3", "Mike Bostock"),
        ("echarts.common.min.js", 'version:"6.1.0"'),
    ):
        r = await ui.api.client.get(f"{ASSETS}/{asset}")
        assert r.status_code == 200 and text in r.text, asset
    # The bundle as npm's echarts@6.1.0 holds it (the package's sha512 is checked by
    # scripts/vendor_docs_assets.sh when it is fetched): an edited copy fails here.
    bundle = await ui.api.client.get(f"{ASSETS}/echarts.common.min.js")
    assert (
        hashlib.sha256(bundle.content).hexdigest()
        == "61f13280aba3161f77fc801bf5f9c786f55f10432153a0683fc5cc0700b013d5"
    )

"""Keyboard alone, labelled controls and a 360-pixel phone on the main pages."""

from tests.conftest import ADMIN_PASSWORD
from tests.helpers import PASSWORD
from tests.web_support import PHONE

# Every visible control must have an accessible name (label, aria-label or aria-labelledby).
UNLABELLED = """() => [...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
  .filter(el => el.offsetParent !== null)
  .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label') && !el.getAttribute('aria-labelledby'))
  .map(el => el.name || el.id || el.outerHTML.slice(0, 80))"""


async def _fits(page) -> None:
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"{page.url} is {width}px wide on a {PHONE['width']}px phone"


async def test_a_day_of_work_with_the_keyboard_alone(live_ui):
    ui = live_ui
    app = await ui.api.apply()
    page = await ui.page()
    await page.goto(ui.url + "/ui/login")
    await page.keyboard.type("town_a")  # the username field has the focus
    await page.keyboard.press("Tab")
    await page.keyboard.type(PASSWORD)
    await page.keyboard.press("Enter")
    await page.wait_for_url(ui.url + "/ui/")
    # Tab to the row's 认领 button and press Enter.
    claim = page.locator("tr[data-task-id]").first.get_by_role("button", name="认领")
    for _ in range(40):
        await page.keyboard.press("Tab")
        if await claim.evaluate("b => b === document.activeElement"):
            break
    else:
        raise AssertionError("the claim button cannot be reached with Tab")
    await page.keyboard.press("Enter")
    await page.wait_for_url(ui.url + "/ui/tasks/*")
    opinion = page.get_by_label("经办意见")
    await opinion.focus()
    await page.keyboard.type("材料齐全，予以受理")
    await page.keyboard.press("Tab")  # to 需补齐的材料
    await page.keyboard.press("Tab")  # to 通过（予以受理）
    focused = await page.evaluate("document.activeElement.textContent")
    assert focused == "通过（予以受理）", focused
    await page.keyboard.press("Enter")
    await page.wait_for_url(ui.url + "/ui/?*")
    assert (await ui.api.open_task(app["id"]))["name"] == "initial_review"


async def test_controls_are_labelled_and_pages_fit_a_phone(live_ui):
    ui = live_ui
    app = await ui.api.apply()
    await ui.api.to_notice(app["id"])
    notice_id = (await ui.api.get("admin", "/public/notices")).json()[0]["id"]
    r = await ui.api.client.post(
        f"/api/v1/public/notices/{notice_id}/objections",
        json={
            "entry_id": (await ui.api.get("admin", f"/public/notices/{notice_id}")).json()["entries"][0][
                "id"
            ],
            "reason": "该户收入情况不实，请核查。",
        },
    )
    assert r.status_code == 202, r.text
    task = await ui.api.open_task(app["id"], "reinvestigate")
    person = await ui.page(PHONE)
    for path in (
        "/ui/login",
        "/ui/public/notices",
        f"/ui/public/notices/{notice_id}",
        "/ui/public/objections",
    ):
        await person.goto(ui.url + path)
        assert await person.evaluate(UNLABELLED) == [], path
        await _fits(person)
    page = await ui.login("town_a2", viewport=PHONE)
    await page.goto(ui.url + f"/ui/tasks/{task['id']}")
    await page.get_by_role("button", name="认领").click()
    await page.get_by_role("button", name="通过（异议不成立，维持拟批准）").wait_for()
    await ui.shot(page, "task-phone")
    for path in ("/ui/", f"/ui/tasks/{task['id']}", f"/ui/cases/{app['id']}"):
        await page.goto(ui.url + path)
        assert await page.evaluate(UNLABELLED) == [], path
        await _fits(page)
    admin = await ui.login("admin", viewport=PHONE, password=ADMIN_PASSWORD)
    for path in (
        "/ui/admin",
        "/ui/admin/processes/dibao",
        "/ui/admin/calendar?year=2026",
        "/ui/admin/users",
        "/ui/supervision",
    ):
        await admin.goto(ui.url + path)
        assert await admin.evaluate(UNLABELLED) == [], path
        await _fits(admin)
    await ui.shot(admin, "supervision-phone")

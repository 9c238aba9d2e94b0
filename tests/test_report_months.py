"""The reports page's helpers on both databases: the figures month by month add up to the API's summary of
each month, and the places offered are those a person may read, down to the township."""

from datetime import date

from app.db.engine import create_engine, transaction
from app.domain.people.principal import GrantScope, Principal
from app.domain.reports import figures, months, places
from tests.helpers import Api
from tests.test_reports import _story


async def test_months_add_up_to_each_months_summary_and_places_stop_at_the_township(api: Api):
    await _story(api)
    county = Principal("county", "user", (GrantScope("county_civil_affairs", "340621", "/34/3406/340621/"),))
    village = Principal(
        "v",
        "user",
        (GrantScope("village_civil_affairs", "340621100201", "/34/3406/340621/340621100/340621100201/"),),
    )
    portal = Principal("p", "api_key", (GrantScope("portal", "340621", "/34/3406/340621/"),))
    db = create_engine(api.database_url)
    try:
        async with transaction(db) as conn:
            where = await figures.scope(conn, county, "340621", None, date(2026, 10, 1), date(2026, 12, 1))
            rows = await months.by_month(conn, where)
            offered = await places.choices(conn, county, 4)
            cities = await places.choices(conn, county, 2)
            up = await places.ancestors(conn, county, "/34/3406/340621/340621100/")
    finally:
        await db.dispose()
    assert [r["month"] for r in rows] == [date(2026, 10, 1), date(2026, 11, 1), date(2026, 12, 1)]
    for row in rows:
        month = f"{row['month']:%Y-%m}"
        r = await api.get("county", "/reports/summary", place="340621", **{"from": month}, to=month)
        expected = r.json()
        del expected["overdue_now"]  # now, not a month's
        for key in ("place", "program", "from", "to"):
            del expected[key]
        assert {k: v for k, v in row.items() if k != "month"} == expected, month
    assert rows[1]["received"] == 4 and rows[2]["withdrawn"] == 1 and rows[0]["received"] == 0
    # The county and its townships, not the villages below (figures stop at the township), nor 萧县.
    assert [p["code"] for p in offered] == ["340621", "340621100", "340621101"]
    assert cities == []  # nothing at or above the city level is the county's
    # The way back up from a township: its county, not the city or province the county may not read.
    assert [p["code"] for p in up] == ["340621"]
    assert places.reads_reports(county) and not places.reads_reports(village)
    assert not places.reads_reports(portal)

"""GET /api/v1/divisions: the division codes a portal or reviewer may file under, and no others."""

from tests.helpers import Api


async def test_a_portal_walks_its_own_places_one_level_at_a_time(api: Api):
    top = (await api.get("portal", "/divisions")).json()
    assert top == [{"code": "340621", "name": "濉溪县", "level": "county", "parent_code": "3406"}]
    towns = (await api.get("portal", "/divisions", parent_code="340621")).json()
    assert [(d["code"], d["name"]) for d in towns] == [("340621100", "濉溪镇"), ("340621101", "临涣镇")]
    villages = (await api.get("town_a", "/divisions", parent_code="340621100")).json()
    assert [d["code"] for d in villages] == ["340621100201"] and villages[0]["level"] == "village"
    assert [d["code"] for d in (await api.get("town_a", "/divisions")).json()] == ["340621100"]
    admin = (await api.get("admin", "/divisions")).json()
    assert [d["code"] for d in admin] == ["34"]  # an administrator starts at the top


async def test_who_may_not_list_division_codes(api: Api):
    anonymous = await api.client.get("/api/v1/divisions")
    assert anonymous.status_code == 401 and anonymous.json()["code"] == "not_authenticated"
    # Another county's place, a neighbouring township, the city above: as unknown as a code that is not.
    for who, parent in (("portal", "340622"), ("town_a", "340621101"), ("portal", "3406"), ("portal", "99")):
        r = await api.get(who, "/divisions", parent_code=parent)
        assert r.status_code == 404 and r.json()["code"] == "unknown_division", (who, parent, r.text)
    other = (await api.get("other_county", "/divisions")).json()
    assert [d["code"] for d in other] == ["340622"]


async def test_a_malformed_web_address_is_explained_in_chinese(api: Api):
    r = await api.client.get("/ui/admin/processes/dibao/versions/abc/diagram.svg")
    assert r.status_code == 422 and "提交的内容不完整或格式不正确" in r.text and "malformed" not in r.text
    assert r.headers["content-type"].startswith("text/html")


async def test_refusals_before_any_route_are_chinese_pages_under_ui(api: Api):
    """The input guard (NUL in a query) and the body limit (a huge form) answer before the web UI sees
    the request: under /ui/ a person gets the error page in Chinese, the API keeps its problem JSON."""
    r = await api.client.get("/ui/cases", params={"q": "a\x00b"})
    assert r.status_code == 422 and r.headers["content-type"].startswith("text/html"), r.text
    assert "内容包含不允许的字符" in r.text and "U+0000" not in r.text
    big = {"username": "x" * 3_000_000, "password": "y"}
    r = await api.client.post("/ui/login", data=big)
    assert r.status_code == 413 and r.headers["content-type"].startswith("text/html"), r.text[:200]
    assert "提交的内容过大" in r.text
    r = await api.client.get("/api/v1/applications", params={"q": "a\x00b"})
    assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["code"] == "invalid_character"

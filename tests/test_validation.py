"""Every bad input gets a clear 4xx problem and changes nothing."""

from datetime import datetime, timedelta

import pytest

from tests.helpers import Api, id_number
from tests.row_barrier import collide


async def _assert_problem(r, status: int, code: str):
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["code"] == code and body["status"] == status and body["type"].endswith(code)
    return body


def _body(**overrides):
    body = {
        "program": "dibao",
        "division_code": "340621100201",
        "applicant": {"name": "李四", "id_number": id_number(), "phone": "13900000001"},
        "data": {},
    }
    body.update(overrides)
    return body


@pytest.mark.parametrize(
    "change, status, code",
    [
        (
            {"applicant": {"name": "李四", "id_number": "340621198001010011"}},
            422,
            "invalid_id_number",
        ),  # bad check digit
        (
            {"applicant": {"name": "李四", "id_number": "34062119800101001"}},
            422,
            "invalid_id_number",
        ),  # 17 characters
        (
            {"applicant": {"name": "李四", "id_number": "340621198013010010"}},
            422,
            "invalid_id_number",
        ),  # month 13
        ({"division_code": "999999"}, 422, "unknown_division"),
        (
            {"division_code": "340621"},
            422,
            "division_level_not_accepted",
        ),  # a county is not where dibao is filed
        ({"program": "no_such_program"}, 422, "unknown_program"),
        ({"applicant": {"name": "", "id_number": "x"}}, 422, "validation_error"),
        ({"data": "not an object"}, 422, "validation_error"),
    ],
)
async def test_bad_applications_are_refused_and_store_nothing(api: Api, change, status, code):
    await _assert_problem(await api.post("portal", "/applications", _body(**change)), status, code)
    assert await api.count("applications") == 0
    assert await api.count("events", "application_id IS NOT NULL") == 0


async def test_malformed_json_and_missing_auth(api: Api):
    r = await api.client.post(
        "/api/v1/applications",
        content=b"{not json",
        headers={**api.headers["portal"], "content-type": "application/json"},
    )
    await _assert_problem(r, 422, "validation_error")
    await _assert_problem(
        await api.client.post("/api/v1/applications", json=_body()), 401, "not_authenticated"
    )
    r = await api.client.post("/api/v1/applications", json=_body(), headers={"X-API-Key": "af_wrong"})
    await _assert_problem(r, 401, "invalid_api_key")
    r = await api.client.get("/api/v1/tasks", headers={"Authorization": "Bearer not.a.token"})
    await _assert_problem(r, 401, "invalid_token")
    r = await api.client.post("/api/v1/auth/token", data={"username": "town_a", "password": "wrong-password"})
    await _assert_problem(r, 401, "invalid_credentials")
    await _assert_problem(await api.get("portal", "/no/such/path"), 404, "not_found")
    assert await api.count("applications") == 0


async def test_only_starters_of_the_place_may_apply(api: Api):
    await _assert_problem(await api.post("county", "/applications", _body()), 403, "not_a_starter")
    await _assert_problem(await api.post("town_b", "/applications", _body()), 403, "not_a_starter")
    r = await api.post("town_a", "/applications", _body())  # the township itself may file for the family
    assert r.status_code == 201
    assert await api.count("applications") == 1


async def test_external_ref_is_unique_per_program(api: Api):
    first = await api.apply(external_ref="PORTAL-0001")
    r = await api.post("portal", "/applications", _body(external_ref="PORTAL-0001"))
    body = await _assert_problem(r, 409, "duplicate_external_ref")
    assert body["existing_id"] == first["id"]
    assert await api.count("applications") == 1
    r = await api.post(
        "portal",
        "/messages",
        {"name": "objection", "external_ref": "PORTAL-0001", "payload": {"reason": "x"}},
    )
    await _assert_problem(r, 409, "no_waiting_receiver")
    r = await api.post(
        "portal", "/messages", {"name": "objection", "external_ref": "PORTAL-9999", "payload": {}}
    )
    await _assert_problem(r, 404, "application_not_found")


async def test_one_active_case_per_person_and_program(api: Api):
    person = {"name": "王五", "id_number": id_number(), "phone": "13900000002"}
    first = await api.apply(applicant=person)
    r = await api.post("portal", "/applications", _body(applicant=person))
    body = await _assert_problem(r, 409, "active_application_exists")
    assert body["existing_id"] == first["id"]
    assert await api.count("applications") == 1


async def _county_counter(api: Api) -> dict:
    """The case number counter every new 低保 case of the county takes a number from (after its
    duplicate checks, before its INSERT): where racing submissions are made to meet (PostgreSQL)."""
    await api.apply()  # another person's case: the counter row exists
    return {"program": "dibao", "area_code": "340621", "year": int((await api.today())[:4])}


async def test_concurrent_duplicate_applications_make_one_case(api: Api):
    person = {"name": "赵六", "id_number": id_number(), "phone": "13900000003"}
    # All three passed the duplicate check before any committed; the unique index decides.
    results = await collide(
        api.database_url,
        "case_number_counters",
        await _county_counter(api),
        "INSERT INTO case_number_counters",
        *(api.post("portal", "/applications", _body(applicant=person)) for _ in range(3)),
    )
    assert sorted(r.status_code for r in results) == [201, 409, 409], [r.text for r in results]
    [created] = [r.json() for r in results if r.status_code == 201]
    for refused in (r.json() for r in results if r.status_code == 409):
        assert (refused["code"], refused["existing_id"]) == ("active_application_exists", created["id"])
    assert await api.count("applications", f"applicant_id_number = '{person['id_number']}'") == 1
    assert await api.count("applications") == 2


async def test_idempotency_key_returns_the_first_result(api: Api):
    body = _body(external_ref="IDEM-1")
    headers = {"Idempotency-Key": "portal-req-42"}
    first = await api.post("portal", "/applications", body, headers=headers)
    again = await api.post("portal", "/applications", body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json()["id"] == first.json()["id"]
    assert await api.count("applications") == 1
    other = _body(external_ref="IDEM-2")
    await _assert_problem(
        await api.post("portal", "/applications", other, headers=headers), 409, "idempotency_key_reused"
    )
    # Racing retries of one request still create one case.
    body3 = _body(external_ref="IDEM-3")
    results = await collide(
        api.database_url,
        "case_number_counters",
        {"program": "dibao", "area_code": "340621", "year": int((await api.today())[:4])},
        "INSERT INTO case_number_counters",
        *(api.post("portal", "/applications", body3, headers={"Idempotency-Key": "k3"}) for _ in range(3)),
    )
    assert [r.status_code for r in results] == [201] * 3, [r.text for r in results]
    assert len({r.json()["id"] for r in results}) == 1 and len({r.json()["number"] for r in results}) == 1
    assert await api.count("applications") == 2


async def test_bad_messages(api: Api):
    case = await api.apply()
    r = await api.post("portal", "/messages", {"name": "objection", "payload": {}})
    await _assert_problem(r, 422, "validation_error")
    r = await api.post("portal", "/messages", {"name": "objection", "application_id": "nope", "payload": {}})
    await _assert_problem(r, 404, "application_not_found")
    r = await api.post(
        "portal", "/messages", {"name": "unknown_message", "application_id": case["id"], "payload": {}}
    )
    await _assert_problem(r, 409, "no_waiting_receiver")
    assert await api.count("events", "type = 'message.received'") == 0


async def test_admin_endpoints_need_admin(api: Api):
    r = await api.post(
        "county", "/admin/users", {"username": "x", "password": "password-1", "display_name": "x"}
    )
    await _assert_problem(r, 403, "admin_only")
    await _assert_problem(await api.put("portal", "/admin/divisions", []), 403, "admin_only")
    await _assert_problem(await api.post("town_a", "/admin/clock", {"advance_seconds": 1}), 403, "admin_only")


async def test_bad_users_keys_and_places(api: Api):
    r = await api.post(
        "admin", "/admin/users", {"username": "town_a", "password": "a-long-password-1", "display_name": "x"}
    )
    await _assert_problem(r, 409, "username_taken")
    r = await api.post(
        "admin",
        "/admin/users",
        {
            "username": "u1",
            "password": "a-long-password-1",
            "display_name": "x",
            "grants": [{"role": "township_civil_affairs", "division_code": "0"}],
        },
    )
    await _assert_problem(r, 422, "unknown_division")
    r = await api.post(
        "admin",
        "/admin/users",
        {
            "username": "u1",
            "password": "a-long-password-1",
            "display_name": "x",
            "grants": [{"role": "mayor", "division_code": "340621"}],
        },
    )
    await _assert_problem(r, 422, "invalid_role")
    r = await api.post("admin", "/admin/api-keys", {"name": "portal", "grants": []})
    await _assert_problem(r, 409, "api_key_name_taken")
    users_before = await api.count("users")
    for places, code in (
        ([{"code": "9", "name": "x", "parent_code": "404", "level": "city"}], "unknown_parent"),
        ([{"code": "9", "name": "x", "parent_code": "340621100", "level": "county"}], "level_order"),
        ([{"code": "9", "name": "x", "parent_code": None, "level": "galaxy"}], "invalid_level"),
        (
            [
                {"code": "8", "name": "x", "parent_code": "9", "level": "city"},
                {"code": "9", "name": "x", "parent_code": "8", "level": "city"},
            ],
            "division_cycle",
        ),
    ):
        await _assert_problem(await api.put("admin", "/admin/divisions", places), 422, code)
    r = await api.put(
        "admin",
        "/admin/divisions",
        [{"code": "340621100", "name": "x", "parent_code": "340622", "level": "township"}],
    )
    await _assert_problem(r, 409, "division_move_not_supported")
    assert await api.count("divisions", "code IN ('8', '9')") == 0
    assert await api.count("users") == users_before


async def test_clock_goes_to_any_instant_within_sane_years(api: Api):
    for to in ("2019-02-05T09:00:00+08:00", "2031-07-01T00:00:00+08:00", "2024-02-29T12:00:00+08:00"):
        r = await api.post("admin", "/admin/clock", {"to": to})
        assert r.status_code == 200, r.text
        assert datetime.fromisoformat(r.json()["now"]) - datetime.fromisoformat(to) < timedelta(seconds=5)
    r = await api.post("admin", "/admin/clock", {"advance_seconds": -86400})
    assert r.status_code == 200, r.text
    assert r.json()["now"].startswith("2024-02-28T")
    now = (await api.get("admin", "/admin/clock")).json()["now"]
    assert now.startswith("2024-02-28T")


async def test_clock_refuses_insane_instants_and_keeps_its_place(api: Api):
    await api.set_clock("2026-03-02T09:00:00+08:00")
    for body, code in (
        ({"to": "9999-12-31T23:59:59+00:00"}, "clock_out_of_range"),
        ({"to": "1999-12-31T23:00:00+00:00"}, "clock_out_of_range"),
        ({"to": "2100-01-01T00:00:00+00:00"}, "clock_out_of_range"),
        ({"advance_seconds": 1e300}, "clock_out_of_range"),
        ({"advance_seconds": -86400 * 365 * 40}, "clock_out_of_range"),
        ({"advance_seconds": 86400 * 365 * 80}, "clock_out_of_range"),
        ({"to": "2027-01-01T00:00:00"}, "clock_bad_request"),
        ({"advance_seconds": 5, "to": "2027-01-01T00:00:00+08:00"}, "clock_bad_request"),
        ({}, "clock_bad_request"),
    ):
        await _assert_problem(await api.post("admin", "/admin/clock", body), 422, code)
    for raw in (
        b'{"advance_seconds": NaN}',
        b'{"advance_seconds": Infinity}',
        b'{"advance_seconds": -Infinity}',
    ):
        r = await api.client.post(
            "/api/v1/admin/clock",
            content=raw,
            headers={**api.headers["admin"], "content-type": "application/json"},
        )
        assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json", r.text
    now = (await api.get("admin", "/admin/clock")).json()["now"]
    assert now.startswith("2026-03-02T"), now


async def test_only_an_admin_moves_the_clock(api: Api):
    await api.set_clock("2026-03-02T09:00:00+08:00")
    # Known callers who are not administrators: 403; a caller without credentials: 401.
    for who, status, code in (
        ("county", 403, "admin_only"),
        ("town_a", 403, "admin_only"),
        ("portal", 403, "admin_only"),
        ("stranger", 401, "not_authenticated"),
    ):
        r = await api.post(who, "/admin/clock", {"to": "2030-01-01T00:00:00+08:00"})
        assert (r.status_code, r.json()["code"]) == (status, code), (who, r.text)
        r = await api.get(who, "/admin/clock")
        assert (r.status_code, r.json()["code"]) == (status, code), (who, r.text)
    assert (await api.get("admin", "/admin/clock")).json()["now"].startswith("2026-03-02T")


async def test_oversized_bodies_are_refused_before_parsing(api: Api):
    huge = {"entry_id": "x", "reason": "理由" * 10, "padding": "x" * (1024 * 1024 + 10)}
    r = await api.client.post("/api/v1/public/notices/nope/objections", json=huge)
    await _assert_problem(r, 413, "body_too_large")

    async def stream():  # no Content-Length: the body is counted as it arrives
        yield b'{"program": "dibao", "data": {"x": "'
        for _ in range(40):
            yield b"y" * 32 * 1024
        yield b'"}}'

    r = await api.client.post(
        "/api/v1/applications",
        content=stream(),
        headers={**api.headers["portal"], "content-type": "application/json"},
    )
    await _assert_problem(r, 413, "body_too_large")
    assert await api.count("applications") == 0


async def test_a_grant_names_a_known_department_at_its_own_level(api: Api):
    """`township_civl_affairs` (a typo) and `county_civil_affairs` at a township were accepted."""

    def user(name: str, role: str, code: str) -> dict:
        return {
            "username": name,
            "password": "granite-harbour-lantern-7",
            "display_name": name,
            "grants": [{"role": role, "division_code": code}],
        }

    r = await api.post("admin", "/admin/users", user("typo", "township_civl_affairs", "340621100"))
    assert r.status_code == 422 and r.json()["code"] == "unknown_role", r.text
    assert "civil_affairs" in r.json()["departments"]
    r = await api.post("admin", "/admin/users", user("misplaced", "county_civil_affairs", "340621100"))
    assert r.status_code == 422 and r.json()["code"] == "role_level_mismatch", r.text
    r = await api.post(
        "admin",
        "/admin/api-keys",
        {"name": "misplaced-key", "grants": [{"role": "township_civil_affairs", "division_code": "340621"}]},
    )
    assert r.status_code == 422 and r.json()["code"] == "role_level_mismatch", r.text
    assert await api.count("users", "username IN ('typo', 'misplaced')") == 0
    assert await api.count("api_keys", "name = 'misplaced-key'") == 0
    # A village committee's civil-affairs member holds no step but is a department processes work with.
    r = await api.post(
        "admin", "/admin/users", user("village.member", "village_civil_affairs", "340621100201")
    )
    assert r.status_code == 201, r.text

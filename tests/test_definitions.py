"""Deploying BPMN: versions, running cases keep theirs, and hostile or broken files are refused."""

from app.config import PROJECT_ROOT
from tests.helpers import Api

DIBAO = (PROJECT_ROOT / "processes" / "dibao.bpmn").read_bytes()


async def _upload(api: Api, content: bytes, name: str = "dibao.bpmn", who: str = "admin"):
    return await api.client.post(
        "/api/v1/process-definitions",
        files={"file": (name, content, "application/xml")},
        headers=api.headers[who],
    )


async def test_versions_and_running_cases_keep_theirs(api: Api):
    listed = (await api.get("county", "/process-definitions")).json()
    assert ("dibao", 1, "最低生活保障") in [(d["key"], d["version"], d["name"]) for d in listed]
    assert {d["key"] for d in listed} >= {
        "tekun",
        "linshi",
        "yiliao",
        "dibao_recheck",
        "dibao_termination",
        "tekun_termination",
    }
    r = await _upload(api, DIBAO)
    assert r.status_code == 200 and r.json() == {
        "key": "dibao",
        "version": 1,
        "name": "最低生活保障",
        "created": False,
    }

    old_case = await api.apply()
    revised = DIBAO.replace(b'"P7D"', b'"P5D"').replace(
        b'name="starters" value="portal,township_civil_affairs"', b'name="starters" value="portal"'
    )
    r = await _upload(api, revised)
    assert r.status_code == 201 and r.json()["version"] == 2
    versions = (await api.get("county", "/process-definitions/dibao")).json()
    assert [v["version"] for v in versions] == [2, 1] and versions[0]["deployed_by"] == "admin"

    new_case = await api.apply()
    assert new_case["definition_version"] == 2
    r = await api.post(
        "town_a",
        "/applications",
        {
            "program": "dibao",
            "division_code": "340621100201",
            "applicant": {"name": "x", "id_number": "11010519491231002X"},
        },
    )
    assert r.status_code == 403  # version 2 lets only portals start cases

    # The old case still follows version 1: its notice lasts 7 days, the new one's 5.
    await api.to_notice(old_case["id"])
    await api.to_notice(new_case["id"])
    await api.advance(days=6)
    assert await api.run_timers() == 1
    assert (await api.open_task(new_case["id"]))["name"] == "county_confirm"
    assert (await api.application(old_case["id"]))["open_tasks"] == []
    assert (await api.application(old_case["id"]))["definition_version"] == 1
    assert (await api.get("town_a", "/process-definitions/nothing")).status_code == 404


async def test_broken_and_hostile_files_are_refused(api: Api):
    xxe = b"""<?xml version="1.0"?>
<!DOCTYPE d [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d">
  <bpmn:process id="evil" name="&secret;" isExecutable="true"><bpmn:startEvent id="s"/></bpmn:process>
</bpmn:definitions>"""
    laughs = b"""<?xml version="1.0"?>
<!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d">
  <bpmn:process id="laughs" name="&c;" isExecutable="true"><bpmn:startEvent id="s"/></bpmn:process>
</bpmn:definitions>"""
    cases = [
        (b"<not-closed", 422, "invalid_bpmn"),
        (b"<svg xmlns='http://www.w3.org/2000/svg'/>", 422, "invalid_bpmn"),
        (xxe, 422, "invalid_bpmn"),
        (laughs, 422, "invalid_bpmn"),
        (DIBAO.replace(b'="county_civil_affairs"', b'="county_nobody at all"'), 422, "invalid_bpmn"),
        # the lane's role property alone (its steps name their role themselves)
        (
            DIBAO.replace(b'name="role" value="county_civil_affairs"', b'name="role" value="county"'),
            422,
            "invalid_bpmn",
        ),
        (DIBAO.replace(b'value="review.json"', b'value="../../etc/passwd"'), 422, "invalid_bpmn"),
        (DIBAO.replace(b'value="approved"', b'value="maybe"'), 422, "invalid_bpmn"),
    ]
    for content, status, code in cases:
        r = await _upload(api, content)
        assert r.status_code == status and r.json()["code"] == code, (content[:60], r.text)
        assert r.headers["content-type"] == "application/problem+json"
    body = (await _upload(api, cases[4][0])).json()
    assert body["errors"] and {"line", "element_id", "code", "message"} <= set(body["errors"][0])
    r = await _upload(api, DIBAO, name="dibao.txt")
    assert r.status_code == 422 and r.json()["code"] == "not_bpmn_file"
    r = await _upload(api, b"<x/>" + b" " * (10 * 1024 * 1024))  # 10 MiB
    assert r.status_code == 413 and r.json()["code"] == "upload_too_large"
    r = await _upload(api, DIBAO, who="county")
    assert r.status_code == 403
    assert [d["version"] for d in (await api.get("admin", "/process-definitions/dibao")).json()] == [1]
    assert await api.count("process_definitions", "key = 'dibao'") == 1


async def test_pilot_rollout_tags_xml_and_diff(api: Api):
    revised = DIBAO.replace(b'"P7D"', b'"P5D"').replace(b'value="3 working days"', b'value="5 working days"')
    r = await api.client.post(
        "/api/v1/process-definitions",
        files={"file": ("dibao.bpmn", revised, "application/xml")},
        data={"version_tag": "皖2026-1", "comment": "安徽试点：公示5日"},
        headers=api.headers["admin"],
    )
    assert r.status_code == 201 and r.json()["version"] == 2
    versions = (await api.get("county", "/process-definitions/dibao")).json()
    assert (versions[0]["version_tag"], versions[0]["comment"]) == ("皖2026-1", "安徽试点：公示5日")
    xml = await api.get("county", "/process-definitions/dibao/versions/2/xml")
    assert xml.headers["content-type"].startswith("application/xml") and b'"P5D"' in xml.content
    assert (await api.get("county", "/process-definitions/dibao/versions/9/xml")).status_code == 404
    changes = (
        await api.get("county", "/process-definitions/dibao/diff", from_version=1, to_version=2)
    ).json()
    assert changes["changed_steps"] == ["deliver_refusal_notice"] and changes["added_steps"] == []

    # Pilot: township 340621101 (临涣镇) on v2, everyone else stays on v1.
    rollout = {"default_version": 1, "rules": [{"division_code": "340621101", "version": 2}]}
    for bad, code in (
        ({"rules": [{"division_code": "340621101", "version": 7}]}, "unknown_version"),
        ({"rules": [{"division_code": "nowhere", "version": 2}]}, "unknown_division"),
    ):
        r = await api.put("admin", "/process-definitions/dibao/rollout", bad)
        assert r.status_code == 422 and r.json()["code"] == code
    assert (await api.put("county", "/process-definitions/dibao/rollout", rollout)).status_code == 403
    r = await api.put("admin", "/process-definitions/dibao/rollout", rollout)
    assert r.status_code == 200 and r.json()["rules"][0]["division_code"] == "340621101"
    pilot = await api.apply(division_code="340621101201")
    elsewhere = await api.apply(division_code="340621100201")
    assert (pilot["definition_version"], elsewhere["definition_version"]) == (2, 1)
    # Back to "newest everywhere": new cases take v2, running ones keep theirs.
    assert (await api.put("admin", "/process-definitions/dibao/rollout", {})).json()["rules"] == []
    assert (await api.apply(division_code="340621100201"))["definition_version"] == 2
    assert (await api.application(elsewhere["id"]))["definition_version"] == 1

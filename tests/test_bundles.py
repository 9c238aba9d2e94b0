"""A process is a bundle: the BPMN with its forms and DMN, uploaded as a zip, versioned together and
downloaded again. Files as Camunda Modeler writes them (DI, candidate groups, an ISO timer, formKey
with its form, decisionRef with its table) deploy and run cases; hostile zips are refused with a
stable code and nothing stored; problems of every file come in one reply."""

import io
import stat
import zipfile

import pytest

from app import engine
from app.config import PROJECT_ROOT
from app.domain.errors import Invalid
from app.domain.programs import bundles, validation
from tests.helpers import Api

HERE = PROJECT_ROOT / "tests" / "bpmn" / "bundle_hardship"
FILES = {str(p.relative_to(HERE)): p.read_bytes() for p in sorted(HERE.rglob("*")) if p.is_file()}
KEY = "bundle_hardship"


def _zip(files: dict[str, bytes], infos: list[tuple[zipfile.ZipInfo, bytes]] = ()) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in files.items():
            archive.writestr(name, content)
        for info, content in infos:
            archive.writestr(info, content)
    return buffer.getvalue()


async def _upload(
    api: Api, content: bytes, name: str = "hardship.zip", who: str = "admin", dry_run: bool = False
):
    return await api.client.post(
        "/api/v1/process-definitions",
        params={"dry_run": str(dry_run).lower()},
        files={"file": (name, content, "application/zip")},
        headers=api.headers.get(who, {}),
    )


def _apply(size: int) -> dict:
    return {"program": KEY, "data": {"household_size": size}}


def _line_of(xml: bytes, marker: bytes) -> int:
    return xml[: xml.index(marker)].count(b"\n") + 1


async def _through_publicity(api: Api) -> None:
    await api.advance(days=7, seconds=60)
    assert await api.run_timers() >= 1


async def test_a_camunda_bundle_deploys_and_runs(api: Api):
    await api.set_clock("2026-11-23T09:00:00+08:00")  # a Monday
    bundle = _zip(FILES)
    r = await _upload(api, bundle, who="county")
    assert r.status_code == 403, r.text  # only administrators deploy
    assert (await _upload(api, bundle, who="portal")).status_code == 403
    assert (await _upload(api, bundle, who="nobody")).status_code == 401
    assert await api.count("process_definitions", f"key = '{KEY}'") == 0
    r = await _upload(api, bundle, dry_run=True)
    assert r.status_code == 200 and r.json()["dry_run"] is True, r.text
    r = await _upload(api, bundle)
    assert r.status_code == 201 and r.json()["version"] == 1, r.text

    large = await api.apply(**_apply(3))
    township = large["open_tasks"][0]
    assert (township["name"], township["role"]) == ("township_check", "township_civil_affairs")
    task = (await api.get("town_a", f"/tasks/{township['id']}")).json()
    assert (
        task["form_schema"]["title"] == "乡镇核实" and task["due_at"] is not None
    )  # formKey's form, dueDate
    assert (
        await api.post("town_b", f"/tasks/{township['id']}/complete", {"data": {"decision": "approve"}})
    ).status_code == 404
    # The bundle's form is the step's: a decision is required, nothing else may come along.
    refused = await api.complete("town_a", township["id"], {}, expect=422)
    assert refused["code"] == "form_invalid", refused
    refused = await api.complete("town_a", township["id"], {"decision": "approve", "x": 1}, expect=422)
    assert refused["code"] == "form_invalid", refused
    done = await api.complete("town_a", township["id"], {"decision": "approve", "opinion": "属实"})
    assert done["next_tasks"] == []  # the DMN ran; the case waits out the publicity (P7D)
    small = await api.apply(**_apply(2))
    await api.step("town_a", small["id"], "township_check", {"decision": "approve"})
    refused_case = await api.apply(**_apply(4))
    done = await api.step("town_a", refused_case["id"], "township_check", {"decision": "refuse"})
    assert done["application"]["status"] == "refused"

    await _through_publicity(api)
    # 800 yuan for three people (the table): the county approves; 500 for two: approved at once.
    county = await api.open_task(large["id"], "county_approve")
    assert county["role"] == "county_civil_affairs"
    schema = (await api.get("county", f"/tasks/{county['id']}")).json()["form_schema"]
    assert schema["title"] == "县级审批"  # camunda:formKey="county_approve" is forms/county_approve.json
    done = await api.complete("county", county["id"], {"decision": "approve"})
    assert done["application"]["status"] == "approved"
    assert (await api.application(small["id"]))["status"] == "approved"
    assert (await api.application(small["id"]))["open_tasks"] == []


async def test_forms_and_tables_change_without_a_repository_change_and_running_cases_keep_theirs(api: Api):
    await api.set_clock("2026-11-23T09:00:00+08:00")
    assert (await _upload(api, _zip(FILES))).status_code == 201
    before = await api.apply(**_apply(3))
    # Version 2 changes only the bundle's files: a visit note is required, and every household gets 500.
    form = (
        FILES["forms/township_check.json"]
        .replace(b'"required": ["decision"]', b'"required": ["decision", "visit_note"]')
        .replace(
            b'"opinion":', '"visit_note": {"title": "走访记录", "type": "string"},\n    "opinion":'.encode()
        )
    )
    table = FILES["decisions/hardship_amount.dmn"].replace(b"<text>800</text>", b"<text>500</text>")
    revised = _zip({**FILES, "forms/township_check.json": form, "decisions/hardship_amount.dmn": table})
    r = await _upload(api, revised)
    assert r.status_code == 201 and r.json()["version"] == 2, r.text
    assert (await _upload(api, revised)).status_code == 200  # the same bundle again: no new version
    after = await api.apply(**_apply(3))
    assert after["definition_version"] == 2 and before["definition_version"] == 1

    # The running case keeps version 1's form and table.
    old_task = before["open_tasks"][0]
    schema = (await api.get("town_a", f"/tasks/{old_task['id']}")).json()["form_schema"]
    assert "visit_note" not in schema["properties"]
    await api.complete("town_a", old_task["id"], {"decision": "approve"})
    new_task = after["open_tasks"][0]
    refused = await api.complete("town_a", new_task["id"], {"decision": "approve"}, expect=422)
    assert refused["code"] == "form_invalid"
    await api.complete("town_a", new_task["id"], {"decision": "approve", "visit_note": "入户核实"})
    await _through_publicity(api)
    assert (await api.open_task(before["id"]))["name"] == "county_approve"  # 800 by version 1's table
    assert (await api.application(after["id"]))["status"] == "approved"  # 500 by version 2's: no county step


async def test_the_bundle_downloads_and_uploads_again_and_only_an_administrator_may(api: Api):
    assert (await _upload(api, _zip(FILES))).status_code == 201
    path = f"/process-definitions/{KEY}/versions/1/bundle"
    for who, status in (("county", 403), ("town_a", 403), ("portal", 403), ("nobody", 401)):
        r = await api.get(who, path)
        assert r.status_code == status and r.headers["content-type"] == "application/problem+json", (
            who,
            r.text,
        )
    assert (await api.get("admin", f"/process-definitions/{KEY}/versions/9/bundle")).status_code == 404
    r = await api.get("admin", path)
    assert r.status_code == 200 and r.headers["content-type"] == "application/zip", r.text
    assert f'filename="{KEY}-v1.zip"' in r.headers["content-disposition"]
    with zipfile.ZipFile(io.BytesIO(r.content)) as archive:
        names = set(archive.namelist())
        assert names == {
            f"{KEY}.bpmn",
            "forms/township_check.json",
            "forms/county_approve.json",
            "decisions/hardship_amount.dmn",
        }
        assert archive.read("forms/township_check.json") == FILES["forms/township_check.json"]  # as uploaded
        assert archive.read("decisions/hardship_amount.dmn") == FILES["decisions/hardship_amount.dmn"]
    again = await _upload(api, r.content, f"{KEY}-v1.zip")
    assert again.status_code == 200 and again.json()["created"] is False, again.text

    # A shipped program's bundle holds the default forms and tables it took; it uploads as itself.
    r = await api.get("admin", "/process-definitions/yiliao/versions/1/bundle")
    with zipfile.ZipFile(io.BytesIO(r.content)) as archive:
        names = set(archive.namelist())
        assert {"yiliao.bpmn", "forms/yiliao_application.json", "decisions/yiliao_amount.dmn"} <= names, names
        shipped = PROJECT_ROOT / "processes" / "decisions" / "yiliao_amount.dmn"
        assert archive.read("decisions/yiliao_amount.dmn") == shipped.read_bytes()
    again = await _upload(api, r.content, "yiliao.zip")
    assert again.status_code == 200 and again.json()["created"] is False, again.text


def _info(name: str, **attributes) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name)
    for attribute, value in attributes.items():
        setattr(info, attribute, value)
    return info


def _bomb() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr("process.bpmn", FILES["process.bpmn"])
        archive.writestr("forms/township_check.json", b" " * (1024 * 1024))
    return buffer.getvalue()


def _encrypted() -> bytes:
    """A zip whose entry says it is encrypted (bit 0 of its flags in the central directory)."""
    content = bytearray(_zip({**FILES, "forms/secret.json": b"{}"}))
    header = content.rindex(b"forms/secret.json") - 46  # the central directory's record of it
    assert content[header : header + 4] == b"PK\x01\x02"
    content[header + 8] |= 0x1
    return bytes(content)


HOSTILE = [
    ("not a zip", b"PK\x03\x04 this is not a zip", 422, "bundle_invalid"),
    ("path traversal", _zip({**FILES, "../forms/evil.json": b"{}"}), 422, "bundle_unsafe_path"),
    ("absolute path", _zip({**FILES, "/etc/cron.d/evil.json": b"{}"}), 422, "bundle_unsafe_path"),
    ("backslashes", _zip(FILES, [(_info("forms\\..\\..\\evil.json"), b"{}")]), 422, "bundle_unsafe_path"),
    (
        "a symbolic link",
        _zip(FILES, [(_info("forms/link.json", external_attr=(stat.S_IFLNK | 0o777) << 16), b"/etc/passwd")]),
        422,
        "bundle_unsafe_path",
    ),
    ("a nested zip", _zip({**FILES, "forms/inner.zip": _zip(FILES)}), 422, "bundle_nested_archive"),
    ("a zip named .json", _zip({**FILES, "forms/inner.json": _zip(FILES)}), 422, "bundle_nested_archive"),
    ("a zip bomb", _bomb(), 413, "bundle_compression_ratio"),
    (
        "too big unpacked",
        _zip({**FILES, "forms/big.json": bytes(range(256)) * 12000}),
        413,
        "bundle_too_large",
    ),
    (
        "too many entries",
        _zip({**FILES, **{f"forms/f{i}.json": b"{}" for i in range(bundles.MAX_ENTRIES)}}),
        413,
        "bundle_too_many_files",
    ),
    ("encrypted", _encrypted(), 422, "bundle_encrypted"),
    ("no BPMN", _zip({k: v for k, v in FILES.items() if k != "process.bpmn"}), 422, "bundle_without_bpmn"),
    (
        "two BPMN",
        _zip({"a.bpmn": FILES["process.bpmn"], "b.bpmn20.xml": FILES["process.bpmn"]}),
        422,
        "bundle_several_bpmn",
    ),
    ("an unknown file", _zip({**FILES, "README.txt": b"hello"}), 422, "bundle_unknown_file"),
    (
        "a duplicate",
        _zip({**FILES, "decisions/a.dmn": b"", "DECISIONS/A.dmn": b""}),
        422,
        "bundle_duplicate_file",
    ),
]


@pytest.mark.parametrize("what, content, status, code", HOSTILE, ids=[h[0] for h in HOSTILE])
async def test_a_hostile_or_malformed_zip_is_refused_with_its_code_and_nothing_stored(
    api: Api, what: str, content: bytes, status: int, code: str
):
    for dry_run in (True, False):
        r = await _upload(api, content, dry_run=dry_run)
        assert r.status_code == status and r.headers["content-type"] == "application/problem+json", (
            what,
            r.text,
        )
        assert r.json()["code"] == code, (what, r.text)
    assert await api.count("process_definitions", f"key = '{KEY}'") == 0
    assert await api.count("definition_files", "name LIKE '%evil%' OR name LIKE '%secret%'") == 0


async def test_a_folder_zipped_as_a_whole_with_archiver_litter_is_read(api: Api):
    content = _zip(
        {f"hardship/{name}": data for name, data in FILES.items()}
        | {"__MACOSX/hardship/._process.bpmn": b"\x00\x05\x16\x07", "hardship/.DS_Store": b"\x00"}
    )
    r = await _upload(api, content)
    assert r.status_code == 201, r.text
    assert await api.count("definition_files", "origin = 'bundle'") == 3


async def test_problems_of_every_file_come_in_one_reply(api: Api):
    """BPMN problems with the forms' and the tables': an assignee, a formKey naming no form, a form that
    is not JSON, a form that is not JSON Schema, a form no step uses, a table with an unsafe output,
    a result mapping AidFlow would run otherwise, a second table that is not XML."""
    bpmn = (
        FILES["process.bpmn"]
        .replace(
            b'camunda:formKey="county_approve"', b'camunda:formKey="county_nothing" camunda:assignee="zhang"'
        )
        .replace(b'camunda:resultVariable="amount"', b'camunda:resultVariable="result"')
    )
    files = {
        "process.bpmn": bpmn,
        "forms/township_check.json": b'{"type": "object", "properties": {',
        "forms/county_approve.json": FILES["forms/county_approve.json"],
        "forms/leftover.json": b'{"type": "strnig"}',
        "decisions/hardship_amount.dmn": FILES["decisions/hardship_amount.dmn"].replace(
            b"<text>800</text>", b"<text>__import__('os').system('id')</text>"
        ),
        "decisions/broken.dmn": b"<definitions><decision id='x'>",
    }
    for dry_run in (True, False):
        r = await _upload(api, _zip(files), dry_run=dry_run)
        assert r.status_code == 422 and r.json()["code"] == "invalid_bpmn", r.text
        found = {(e["code"], e["element_id"]): e for e in r.json()["errors"]}
        county_line = _line_of(bpmn, b'camunda:formKey="county_nothing"')
        rule_line = (
            _line_of(bpmn, b'<bpmn:businessRuleTask id="amount_by_size"') + 1
        )  # the start tag's last line
        township_line = _line_of(bpmn, b'camunda:formKey="embedded')
        expected = {
            ("unsupported_assignee", "county_approve"): county_line,
            ("unknown_form", "county_approve"): county_line,
            ("invalid_form", "township_check"): township_line,
            ("unused_bundle_file", "forms/county_approve.json"): None,
            ("unused_bundle_file", "forms/leftover.json"): None,
            ("invalid_expression", "hardship_amount"): None,
            ("unsupported_decision_result", "amount_by_size"): rule_line,
            ("invalid_dmn", "decisions/broken.dmn"): 1,
        }
        assert set(found) == set(expected), sorted(found)
        for key, line in expected.items():
            if line is not None:
                assert found[key]["line"] == line, found[key]
    assert await api.count("process_definitions", f"key = '{KEY}'") == 0
    assert await api.count("definition_files", "name LIKE 'forms/leftover%'") == 0


async def test_a_form_that_is_not_json_schema_is_refused_with_where(api: Api):
    files = {
        **FILES,
        "forms/county_approve.json": b'{"type": "object", "properties": {"decision": {"type": "strnig"}}}',
    }
    r = await _upload(api, _zip(files))
    assert r.status_code == 422, r.text
    [problem] = r.json()["errors"]
    assert (problem["code"], problem["element_id"]) == ("invalid_form", "county_approve"), problem
    assert "properties/decision/type" in problem["message"], problem


async def test_a_single_bpmn_still_takes_the_shipped_forms(api: Api):
    """Without a bundle, formKey names a shipped default in processes/forms/."""
    bpmn = (
        FILES["process.bpmn"]
        .replace(b"embedded:deployment:forms/township_check.json", b"review.json")
        .replace(b'camunda:formKey="county_approve"', b'camunda:formKey="review.json"')
    )
    r = await _upload(
        api,
        _zip({"process.bpmn": bpmn, "decisions/hardship_amount.dmn": FILES["decisions/hardship_amount.dmn"]}),
    )
    assert r.status_code == 201, r.text
    origins = await api.count(
        "definition_files",
        "name = 'forms/review.json' AND origin = 'default' AND definition_id IN "
        f"(SELECT id FROM process_definitions WHERE key = '{KEY}')",
    )
    assert origins == 1
    # The table is no shipped default: the BPMN alone cannot find it.
    r = await api.client.post(
        "/api/v1/process-definitions",
        files={
            "file": (
                "process.bpmn",
                bpmn.replace(b'id="bundle_hardship"', b'id="bundle_alone"'),
                "application/xml",
            )
        },
        headers=api.headers["admin"],
    )
    assert r.status_code == 422 and "unknown_decision" in {e["code"] for e in r.json()["errors"]}, r.text


def _validate(files: dict[str, bytes]) -> validation.Checked:
    return validation.validate(bundles.read_zip(_zip(files)), PROJECT_ROOT / "processes" / "forms")


def test_a_feel_list_in_a_table_is_refused_and_what_to_write_instead_runs():
    table = FILES["decisions/hardship_amount.dmn"]
    with pytest.raises(Invalid) as refused:
        _validate(
            {
                **FILES,
                "decisions/hardship_amount.dmn": table.replace(b"<text>&lt;= 2</text>", b"<text>1,2</text>"),
            }
        )
    [problem] = refused.value.extra["errors"]
    assert (problem["code"], problem["element_id"]) == ("invalid_expression", "hardship_amount"), problem
    assert "? in (1,2)" in problem["message"]
    checked = _validate(
        {
            **FILES,
            "decisions/hardship_amount.dmn": table.replace(
                b"<text>&lt;= 2</text>", b"<text>? in (1, 2)</text>"
            ),
        }
    )
    for size, amount in ((1, 500), (2, 500), (3, 800)):
        case = engine.Case.start(checked.model, {"household_size": size})
        case.complete(case.outcome().opened[0].engine_task_id, {"decision": "approve"})
        assert (
            case.outcome().timers_added
            and case.data_of(case.outcome().timers_added[0].engine_task_id)["amount"] == amount
        )


def test_a_table_with_a_doctype_is_refused_like_a_bpmn_file():
    table = FILES["decisions/hardship_amount.dmn"].replace(
        b'<?xml version="1.0" encoding="UTF-8"?>',
        b'<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE definitions>',
    )
    with pytest.raises(Invalid) as refused:
        _validate({**FILES, "decisions/hardship_amount.dmn": table})
    codes = {(e["code"], e["element_id"]) for e in refused.value.extra["errors"]}
    assert ("doctype_not_allowed", "decisions/hardship_amount.dmn") in codes, codes

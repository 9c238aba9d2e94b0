"""Every error code the service can raise has Chinese words for the web UI (app/web/problem_texts.py,
labels.ERRORS), with its parameters filled in; a new code without them fails here."""

import ast
import re
from pathlib import Path

from app.domain.errors import DomainError, Invalid
from app.web import labels, problem_texts

APP = Path(__file__).resolve().parent.parent / "app"
BASES = {"DomainError", "Invalid", "NotFound", "Conflict", "Forbidden", "Unauthorized", "TooLarge", "TooMany"}
# Calls whose code is not a literal at the call: where they are and every code they can produce.
DYNAMIC = {
    ("app/domain/programs/settings.py", "code"): {"setting_above_ceiling", "setting_below_floor"},
    # forms.validate(…, code=…): the step form's default and the codes its callers pass.
    ("app/domain/programs/forms.py", "code"): {"form_invalid", "payload_invalid", "data_invalid"},
    ("app/domain/tasks/panels.py", "'panel_not_registered'"): {"panel_not_registered"},
}
# Answers written outside DomainError: the problem handlers and the request guards.
HANDLERS = {
    "validation_error",
    "not_found",
    "method_not_allowed",
    "database_unavailable",
    "internal_error",
    "upload_too_large",
    "body_too_large",
    "too_deeply_nested",
    "invalid_number",
    "invalid_character",
}


def _error_classes(trees: list[ast.Module]) -> set[str]:
    names = set(BASES)
    changed = True
    while changed:  # subclasses of subclasses (CsrfFailed, AccountLocked…)
        changed = False
        for tree in trees:
            for node in ast.walk(tree):
                if isinstance(node, ast.ClassDef) and node.name not in names:
                    bases = {b.id if isinstance(b, ast.Name) else getattr(b, "attr", "") for b in node.bases}
                    if bases & names:
                        names.add(node.name)
                        changed = True
    return names


def raised_codes() -> tuple[set[str], set[tuple[str, str]]]:
    files = sorted(APP.rglob("*.py"))
    trees = [ast.parse(f.read_text()) for f in files]
    classes = _error_classes(trees)
    codes, dynamic = set(), set()
    for path, tree in zip(files, trees, strict=True):
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
            if name == "Refused" and node.args and isinstance(node.args[0], ast.Constant):
                codes.add(node.args[0].value)
            if name not in classes or not node.args:
                continue
            first = node.args[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                codes.add(first.value)
            else:
                dynamic.add((str(path.relative_to(APP.parent)), ast.unparse(first)))
    return codes, dynamic


def test_every_raised_code_has_chinese_words():
    codes, dynamic = raised_codes()
    assert len(codes) > 100  # the scan itself finds the codes (a broken scan must not pass)
    assert dynamic <= set(DYNAMIC), f"a code chosen at run time: list it in DYNAMIC: {dynamic - set(DYNAMIC)}"
    everything = codes | HANDLERS | set().union(*DYNAMIC.values())
    missing = sorted(c for c in everything if not (c in labels.ERRORS or c in problem_texts.PLAIN))
    assert missing == [], f"codes without Chinese words (add them to app/web/problem_texts.py): {missing}"
    for code in everything:
        text = labels.error(code, "English detail that must not show")
        assert "English" not in text and re.search(r"[\u4e00-\u9fff]", text), (code, text)


def test_every_template_has_a_plain_sentence_and_reads_chinese():
    for code, template in problem_texts.TEMPLATES.items():
        assert code in problem_texts.PLAIN or code in labels.ERRORS, code
        assert re.search(r"[\u4e00-\u9fff]", template)
    for code, text in {**labels.ERRORS, **problem_texts.PLAIN}.items():
        ascii_words = re.findall(r"[A-Za-z]{3,}", text)
        # file types and a bundle's names, a secret's prefix, a role as typed: no English sentence
        allowed = {
            "bpmn",
            "xml",
            "zip",
            "json",
            "dmn",
            "forms",
            "process",
            "pdf",
            "jpeg",
            "png",
            "webp",
            "heic",
            "whsec",
            "https",
            "township",
            "civil",
            "affairs",
        }
        assert {w.lower() for w in ascii_words} <= allowed, (code, ascii_words)


def test_parameters_are_filled_in_with_the_forms_words():
    # The message of issue 18: 650.555 yuan from the API's English to the reviewer's Chinese.
    exc = Invalid(
        "invalid_amount", "monthly_amount 650.555 is not a plausible amount", field="monthly_amount"
    )
    assert labels.problem(exc) == "月保障金额不是有效的金额：须大于0、最多两位小数、小于100万元。"
    assert labels.problem(exc, {"monthly_amount": "月保障金额（元）"}).startswith("月保障金额（元）不是")
    above = Invalid("amount_above_limit", "…", limit=800.0, field="monthly_amount")
    assert labels.problem(above) == "月保障金额超过了本地规定的上限800元。"
    assert labels.problem(Invalid("not_eligible", "…", rule="age", message="申请人须年满60周岁")) == (
        "不符合申请条件：申请人须年满60周岁"
    )
    role = Invalid("no_division_for_role", "…", role="county_civil_affairs")
    assert "县级民政" in labels.problem(role)
    # A domain's own Chinese words are shown as they are (they say more than the table).
    said = Invalid("unsupported_type", "不接受此类文件（Windows 可执行程序）：只接受 PDF、JPEG、PNG、WebP")
    assert labels.problem(said) == said.detail
    # A parameter missing: the plain sentence, never a half-filled template or the English detail.
    assert labels.problem(Invalid("amount_above_limit", "English")) == "金额超过了本地规定的上限。"
    assert (
        labels.problem(DomainError("no_such_code_yet", "English"))
        == "操作未能完成（错误代码 no_such_code_yet）。"
    )


def test_bpmn_syntax_errors_from_lxml_are_said_in_chinese():
    from lxml import etree

    broken = {
        b"<a><b></a>": "与结束标签",
        b"<a>": "结束之前就结束了",
        b'<a x="1" x="2"/>': "重复出现",
        b"<a/><b/>": "多余内容",
        b"<a:b/>": "命名空间前缀",
    }
    for xml, words in broken.items():
        try:
            etree.fromstring(xml)
        except etree.XMLSyntaxError as exc:
            said = problem_texts.bpmn_detail("xml_syntax", str(exc))
        assert words in said and not re.search(r"[A-Za-z]{4,}", said), (xml, said)
    lane = "lane 'county_nobody at all' of 'county_confirm' is not a role key <level>_<department>"
    assert (
        problem_texts.bpmn_detail("invalid_role", lane)
        == "环节 county_confirm 所在的泳道“county_nobody at all”不是有效的角色"
    )
    assert problem_texts.bpmn_detail("invalid_timer", "anything else") == ""  # the headline alone then

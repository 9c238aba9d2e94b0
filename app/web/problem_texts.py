"""Chinese wording of the domain's error codes for the web UI, with the problem's parameters filled in.

The API keeps its English ``detail`` for portals; a reviewer or administrator reads these instead.
``{name}`` is replaced by the problem's parameter of that name (``DomainError.extra``); a template
whose parameter is missing falls back to its plain sentence (``PLAIN``), never to English.
``labels.ERRORS`` holds the plain sentences written before this table; both are looked up by
``labels.error``, and tests/test_problem_texts.py fails when a code raised anywhere in ``app/`` has none.
"""

import re
from collections.abc import Callable, Mapping

# Codes whose message names what went wrong; the field is the form's label when the page knows it.
TEMPLATES: dict[str, str] = {
    "invalid_amount": "{field}不是有效的金额：须大于0、最多两位小数、小于100万元。",
    "amount_above_limit": "{field}超过了本地规定的上限{limit}元。",
    "amount_below_floor": "{field}低于本地规定的下限{floor}元。",
    "amount_required": "本环节核定待遇，须填写{field}。",
    "limit_not_configured": "本地尚未设置{field}的上限，请县级业务科室先在业务参数中设置。",
    "not_eligible": "不符合申请条件：{message}",
    "signature_missing": "本环节须签字后才能办结，还缺少：{labels}。请手写签名或上传签字件。",
    "setting_above_ceiling": "参数“{setting}”不能高于上级（{source}）规定的{bound}，下级只能从严。",
    "setting_below_floor": "参数“{setting}”不能低于上级（{source}）规定的{bound}，下级只能从严。",
    "setting_level_not_allowed": "参数“{setting}”只能由{lowest_level}级或以上设置。",
    "unknown_setting": "本业务没有这个参数；可设置的参数：{known}。",
    "division_level_not_accepted": "本业务只受理以下层级的申请：{accepted_levels}。",
    "message_not_allowed": "该消息只能由{senders}发送。",
    "no_quorum": "参与表决{votes}人，评审小组共{members}人：须至少3人且超过半数参与表决。",
    "invalid_panel": "评审小组至少{min_members}人，须包括负责人、教职工代表和家长代表。",
    "unknown_panel_member": "表决人不在本年度登记的评审小组名单中（名单：{members}）。",
    "not_program_department": "本业务的参数由{owner_department}科室（或系统管理员）设置。",
    "no_division_for_role": "案件所在地的上级中没有能办理“{role}”的单位，请检查行政区划。",
    "unknown_event_type": "没有这种事件类型；可订阅的事件：{known}。",
    "division_move_not_supported": "行政区划{division_code}已存在且上级或层级不同，不支持迁移。",
    "level_order": "行政区划{division_code}的层级不能隶属于所填的上级。",
    "unknown_parent": "行政区划{division_code}的上级代码不存在。",
    "rate_limited": "提交过于频繁，请{retry_after}秒后再试。",
    "not_payment_office": "只有{role}可以进行这项发放操作。",
    "county_not_found": "没有代码为 {division_code} 的县级行政区划。",
    "program_not_payable": "项目“{program}”未声明主管部门，不能发放。",
    "result_file_invalid": "回盘文件有{count}处问题，未导入任何一行，请核对后重新导入。",
}

# The same codes without their parameters, and every code no older table words.
PLAIN: dict[str, str] = {
    "invalid_amount": "金额不正确：须大于0、最多两位小数、小于100万元。",
    "amount_above_limit": "金额超过了本地规定的上限。",
    "amount_below_floor": "金额低于本地规定的下限。",
    "amount_required": "本环节核定待遇，须填写金额。",
    "limit_not_configured": "本地尚未设置待遇上限，请县级业务科室先在业务参数中设置。",
    "not_eligible": "不符合申请条件。",
    "setting_above_ceiling": "参数高于上级规定的上限，下级只能从严。",
    "setting_below_floor": "参数低于上级规定的下限，下级只能从严。",
    "setting_level_not_allowed": "该参数不能在本级设置。",
    "unknown_setting": "本业务没有这个参数。",
    "division_level_not_accepted": "本业务不受理该层级的申请。",
    "message_not_allowed": "您不能向该案件发送这一消息。",
    "no_quorum": "参与表决的人数不足：须至少3人且超过半数。",
    "invalid_panel": "评审小组名单有误：成员不能重复，人数不能少于规定。",
    "unknown_panel_member": "表决人不在本年度登记的评审小组名单中。",
    "not_program_department": "本业务的参数只能由主管科室（或系统管理员）设置。",
    "no_division_for_role": "案件所在地的上级中没有能办理该环节的单位，请检查行政区划。",
    "unknown_event_type": "没有这种事件类型。",
    "division_move_not_supported": "该行政区划已存在且上级或层级不同，不支持迁移。",
    "level_order": "行政区划的层级与上级不匹配。",
    "unknown_parent": "所填的上级行政区划不存在。",
    "active_application_exists": "该申请人已有一件同类申请正在办理，不能重复申请。",
    "already_confirmed": "县级已作出决定，不能再撤回。",
    "api_key_name_taken": "该名称已被使用（接口密钥或用户），请换一个名称。",
    "concurrent_change": "案件刚被其他人修改，请刷新页面后重试。",
    "delivery_in_flight": "该条推送正在发送，请稍后再试。",
    "duplicate_external_ref": "该外部编号已被本业务的其他申请使用。",
    "idempotency_key_reused": "该幂等键已用于另一个请求。",
    "idempotency_key_mismatch": "幂等键与消息编号不一致。",
    "no_waiting_receiver": "案件当前不在等待这一消息（可能已过公示期或已办结）。",
    "not_cancellable": "案件已办结，不能撤销。",
    "subject_case_in_progress": "该对象已有一件同类案件正在办理。",
    "subject_not_enrolled": "所指的案件不是已批准、正在享受待遇的案件。",
    "subscription_inactive": "请先启用该订阅。",
    "division_not_covered": "您的授权不包括该行政区划。",
    "not_a_starter": "您所在的单位不能发起这项业务的申请。",
    "not_subscription_owner": "只有创建该订阅的账户（或系统管理员）才能修改它。",
    "ambiguous_external_ref": "该外部编号在多项业务中都有使用，请指明业务。",
    "applicant_required": "请填写申请人和所在行政区划。",
    "calendar_bad_request": "日期计算的参数不正确。",
    "clock_bad_request": "时间设置不正确：请给出带时区的时间，或前进的秒数（二者选一）。",
    "clock_out_of_range": "演示时钟只能设在2000年至2099年之间。",
    "data_invalid": "申请数据无法按条件核对，请检查填写内容。",
    "division_cycle": "行政区划的上下级关系形成了循环。",
    "invalid_level": "行政区划的层级不正确。",
    "invalid_setting": "参数值不正确，请按参数说明填写。",
    "invalid_benefit_kind": "待遇类型不正确。",
    "invalid_calendar": "该年度的工作日历前后矛盾，请检查节假日和调休上班日。",
    "invalid_category": "待遇类别须为32个字以内的文字。",
    "invalid_date": "日期格式不正确（应如 2026-10-08）。",
    "invalid_due_before": "截止时间须带时区。",
    "invalid_id_number": "身份证号码不正确（须为18位有效的居民身份证号码）。",
    "invalid_related_staff": "请填写相关工作人员的用户名。",
    "invalid_school_year": "学年须为年份，如 2026。",
    "invalid_staff_relative": "“是否工作人员近亲属”须选择是或否。",
    "invalid_state": "没有这种任务状态。",
    "invalid_status": "没有这种状态。",
    "invalid_task_mapping": "环节对应关系须为“旧环节 → 新环节”。",
    "invalid_votes": "同一成员不能表决两次。",
    "invalid_webhook_secret": "推送密钥格式不正确（须以 whsec_ 开头）。",
    "no_county": "该案件没有所属县（区），无法抽查。",
    "not_enrolled": "要调整的待遇已经停止。",
    "panel_not_registered": "本单位尚未登记本年度的评审小组。",
    "payload_invalid": "消息内容不正确。",
    "place_case": "这项业务针对地区，不需要填写申请人。",
    "script_limit_exceeded": "流程中的计算超出了限制，请联系管理员检查流程文件。",
    "timer_value_out_of_range": "流程中的定时器算出的时间无效或超过十年，请联系管理员检查流程文件或申请数据。",
    "secret_conflict": "推送密钥：设置新密钥与轮换密钥只能二选一。",
    "subject_not_allowed": "这项业务不针对已有案件，请不要填写所指案件。",
    "subject_required": "这项业务针对已批准的案件，请填写所指案件编号。",
    "unknown_action": "没有这个操作。",
    "invalid_action": "没有这种办理操作（可选：转办、委派、加签、抄送）。",
    "webhook_url_refused": "推送地址不被允许（须为允许的外部 https 地址）。",
    "delivery_not_found": "没有这条推送记录。",
    "subscription_not_found": "没有这个订阅。",
    "timer_not_failed": "该计时没有处于失败状态。",
    "view_not_found": "没有这个视图。",
    "invalid_api_key": "接口密钥无效或已吊销。",
    "invalid_token": "登录已失效，请重新登录。",
    "not_authenticated": "请先登录。",
    "validation_error": "提交的内容不完整或格式不正确。",
    "method_not_allowed": "不支持这种访问方式。",
    "body_too_large": "提交的内容过大。",
    "too_deeply_nested": "提交的内容层级过深。",
    "invalid_number": "数字超出范围或格式不正确。",
    "invalid_character": "内容包含不允许的字符。",
    "database_unavailable": "系统正在切换数据库，请稍候几秒后重试。",
    "internal_error": "系统内部错误，请稍后再试。",
    "no_overdue_selected": "请先勾选要催办的任务。",
    # 资金发放 (domain/money: batches, bank accounts)
    "not_payment_office": "只有本县的主管科室或财政部门可以进行这项发放操作。",
    "county_not_found": "没有这个县级行政区划。",
    "program_not_payable": "该项目未声明主管部门，不能发放。",
    "account_not_found": "没有这个银行账号。",
    "batch_empty": "发放批次没有发放明细，不能提交。",
    "batch_not_draft": "发放批次不是待提交状态（可能已被他人提交）。",
    "batch_not_found": "没有这个发放批次，或您无权查看。",
    "batch_not_submitted": "发放批次不是待审核状态（可能已被他人处理）。",
    "invalid_account_number": "银行账号应为12至30位数字。",
    "invalid_pay_date": "发放日期应在今天前后一年之内。",
    "payment_key_unknown": "银行账号无法解密：加密它的密钥已不在配置中，请联系管理员。",
    "payment_keys_invalid": "银行账号加密密钥格式错误，请联系管理员。",
    "payment_keys_missing": "未配置银行账号加密密钥，请联系管理员。",
    "person_not_paid_here": "您所在单位不向此人发放待遇。",
    "same_person": "提交人不能审核自己提交的发放批次。",
    # 银行文件与回盘 (domain/money: bank_files, bank_results, reconciliation)
    "unknown_bank_template": "没有这个银行文件模板，请从列表中选择。",
    "bank_file_unencodable": "有发放对象的姓名或开户行含所选银行文件编码无法表示的字，请改用其他模板或联系银行。",
    "batch_not_exportable": "只有审核通过、尚未全部回盘的发放批次可以导出银行文件。",
    "batch_not_exported": "发放批次尚未导出银行文件，不能导入回盘。",
    "result_file_unreadable": "无法读取回盘文件，请确认文件格式、编码与所选模板一致。",
    "result_file_invalid": "回盘文件有问题，未导入任何一行，请核对后重新导入。",
    "same_person_builder": "生成发放批次的人不能审核该批次。",
    "same_person_account": "申请变更银行账号的人不能自己确认。",
    "holder_name_mismatch": "开户人姓名与申请书记载的救助对象姓名不一致：待遇只能发放到本人账户。",
    "account_change_not_proposed": "该银行账号变更不是待确认状态（可能已被他人处理）。",
    "batch_account_replaced": "发放批次中有银行账号已变更的明细，请重新生成批次后再提交或审核。",
    "invalid_reason": "理由须为1至500个字符。",
    "program_owner_is_finance": "该项目的主管部门是财政部门，而财政部门负责审核发放，不能发放。",
    # 申请材料 (domain/materials) and 统计报表 (domain/reports)
    "no_file": "请选择要上传的文件。",
    "materials_not_readable": "本案材料仅限承办该项目的部门和当前环节的经办人查阅。",
    "personal_data_not_readable": "本案个人信息仅限承办该项目的部门、当前环节的经办人和抄送对象查阅。",
    "empty_file": "文件是空的（0 字节），请重新选择。",
    "file_too_large": "文件过大，请压缩后再上传。",
    "file_unreadable": "图片文件已损坏或无法识别，请重新拍摄或扫描后上传。",
    "image_too_large": "图片像素过多，请缩小后再上传。",
    "pdf_active_content": "PDF 文件含有脚本或自动操作，请打印为普通 PDF 后上传。",
    "pdf_encrypted": "PDF 文件已加密，请上传未加密的文件。",
    "unsupported_type": "不接受此类文件：只接受 PDF、JPEG、PNG、WebP。",
    "unknown_checklist_key": "该业务的材料清单中没有这项材料，请选择清单中的材料或“其他材料”。",
    "type_not_accepted_for_item": "这项材料不接受此类文件，请按材料清单的要求上传。",
    "checklist_item_full": "这项材料的份数已经齐了，不能再上传。",
    "signature_missing": "本环节须签字后才能办结，请手写签名或上传签字件。",
    "signature_needs_its_step": "签名须在要求签名的环节上添加。",
    "signer_name_required": "请填写签字人姓名（不超过 50 个字）。",
    "signature_unreadable": "没有收到手写签名，请在签名框内签字后再保存。",
    "signature_empty": "签名框是空的，请签字后再保存。",
    "not_a_signature": "手写签名只能用于本环节要求的签名。",
    "heic_unsupported": "本服务暂不能识别 HEIC 照片，请在手机上以 JPEG 格式分享后上传。",
    "division_not_found": "没有这个行政区划，或您无权查看。",
    "invalid_month": "月份格式应为 2026-10。",
    "invalid_period": "起始月份不能晚于截止月份。",
    "place_required": "请选择要统计的地区。",
    "report_not_allowed": "无权查看该地区或该项目的统计。",
    "month_required": "请选择统计月份。",
    "invalid_figure": "没有这项统计指标。",
    "program_required": "月度报表须选择一个项目。",
    "report_table_not_found": "没有这张统计表。",
    "report_place_too_low": "统计只细分到较高层级的地区，请选择上一级地区。",
}

# Data fields named in problems when the page has no form label for them.
FIELDS: dict[str, str] = {
    "amount": "金额",
    "monthly_amount": "月保障金额",
    "approved_amount": "核定金额",
    "proposed_amount": "拟保障金额",
    "monthly_income": "家庭月收入",
    "relief_amount": "救助金额",
}

_PLACEHOLDER = re.compile(r"\{(\w+)\}")


def is_chinese(text: str) -> bool:
    """A sentence in Chinese (a domain's own words), not an English detail meant for portals."""
    # Names in it (Windows, PDF) are fine; two English words in a row are an English sentence.
    return bool(re.search(r"[\u4e00-\u9fff]", text)) and not re.search(r"[A-Za-z]+ +[A-Za-z]+", text)


def shown(value: object, word: Callable[[str], str]) -> str:
    """A parameter as a reviewer reads it: lists joined with 、, numbers without a useless .0."""
    if isinstance(value, (list, tuple)):
        return "、".join(shown(v, word) for v in value)
    if isinstance(value, float) and value == int(value):
        return str(int(value))
    return word(str(value)) if isinstance(value, str) else str(value)


def fill(code: str, extra: Mapping[str, object], word: Callable[[str], str]) -> str | None:
    """The template of ``code`` with every parameter present, else None."""
    template = TEMPLATES.get(code)
    if template is None:
        return None
    names = _PLACEHOLDER.findall(template)
    if any(extra.get(name) in (None, "", []) for name in names):
        return None
    return _PLACEHOLDER.sub(lambda m: shown(extra[m[1]], word), template)


# libxml2's syntax messages (BPMN uploads) in Chinese; the position is shown beside them by line.
_XML_SYNTAX: list[tuple[re.Pattern[str], str]] = [
    (
        re.compile(r"Opening and ending tag mismatch: (\S+) line (\d+) and (\S+?),"),
        "第{1}行的开始标签 <{0}> 与结束标签 </{2}> 不匹配",
    ),
    (
        re.compile(r"Premature end of data in tag (\S+) line (\d+)"),
        "文件在标签 <{0}>（第{1}行开始）结束之前就结束了，文件可能不完整",
    ),
    (re.compile(r"Document is empty"), "文件是空的"),
    (re.compile(r"Extra content at the end of the document"), "根元素结束后还有多余内容"),
    (re.compile(r"Attribute (\S+) redefined"), "属性 {0} 重复出现"),
    (re.compile(r"AttValue: \" or ' expected"), "属性值缺少引号"),
    (re.compile(r"Entity '([^']+)' not defined"), "使用了未定义的实体 &{0};"),
    (re.compile(r"StartTag: invalid element name"), "标签名不合法"),
    (
        re.compile(r"Namespace prefix (\S+) on (\S+) is not defined"),
        "元素 {1} 使用的命名空间前缀 {0} 没有声明",
    ),
    (re.compile(r"Couldn't find end of Start Tag (\S+)"), "标签 <{0}> 没有正确结束"),
    (re.compile(r"(?i)entit(y|ies).*(forbidden|not allowed)|DOCTYPE"), "文件不得包含 DOCTYPE 或实体声明"),
]
_COLUMN = re.compile(r"column (\d+)")
_OTHER: list[tuple[str, re.Pattern[str], str]] = [
    ("unknown_form", re.compile(r"form '([^']+)' not found"), "表单文件 {0} 不存在"),
    ("invalid_form", re.compile(r"form '([^']+)' is not JSON"), "表单文件 {0} 不是有效的 JSON"),
    ("invalid_role", re.compile(r"role '([^']+)' is neither"), "“{0}”不是有效的角色"),
    (
        "invalid_role",
        re.compile(r"lane '([^']+)' of '([^']+)' is not a role"),
        "环节 {1} 所在的泳道“{0}”不是有效的角色",
    ),
    ("unknown_property", re.compile(r"has no property '([^']+)'"), "没有属性 {0}"),
    ("invalid_property", re.compile(r"property ([\w.-]+)=(.*?): "), "属性 {0} 的值 {1} 不正确"),
    ("no_role", re.compile(r"user task '([^']+)' is in no lane"), "用户任务 {0} 不在任何泳道中"),
]


def bpmn_detail(code: str, message: str) -> str:
    """What a BPMN upload problem means in Chinese, or "" when only the headline can be said."""
    if code == "xml_syntax":
        for pattern, words in _XML_SYNTAX:
            if found := pattern.search(message):
                column = _COLUMN.search(message)
                where = f"（第{column[1]}列）" if column else ""
                return words.format(*found.groups()) + where
        return "XML 语法错误"
    for each, pattern, words in _OTHER:  # one code may have several wordings: the first that matches
        if each == code and (found := pattern.search(message)):
            return words.format(*found.groups())
    return ""

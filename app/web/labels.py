"""The domain's words in Simplified Chinese, in one place (roles, statuses, audit events, errors)."""

from collections.abc import Mapping

from app.domain.errors import DomainError
from app.domain.people.divisions import role_level

# Levels, departments and roles are named in one table, shared with the API and the diagrams.
from app.domain.people.roles import DEPARTMENTS, LEVELS, SPECIAL_ROLES, role_label
from app.web import problem_texts

# A step's decision as the 审批记录 shows it.
RESULTS = {
    "approve": "同意",
    "refuse": "不同意",
    "accept": "受理",
    "incomplete": "材料不全，一次性告知",
    "reject": "不予受理",
}
STATUSES = {
    "in_progress": "办理中",
    "approved": "已批准",
    "refused": "不予批准",
    "withdrawn": "已撤销",
    "terminated": "已终止",
}
TASK_STATES = {"open": "待办", "completed": "已办结", "cancelled": "已取消"}
SCOPES = {
    "candidate": "待认领",
    "mine": "我的待办",
    "done": "已办",
    "cc": "抄送我的",
    "started": "我发起的",
    "all": "全部",
}
OBJECTION_STATUSES = {"received": "已受理，正在核实", "answered": "已答复"}
OBJECTION_OUTCOMES = {"upheld": "异议成立", "dismissed": "异议不成立"}
NOTICE_ENTRY_STATUSES = {
    "listed": "公示中",
    "objected": "有异议，核实中",
    "passed": "公示期满无异议",
    "resolved": "异议已处理",
}
EVENTS = {
    "application.attachment_added": "上传材料",
    "attachment.downloaded": "下载材料",
    "attachment.previewed": "查看材料",
    "attachment.signature_recorded": "手写签名",
    "attachment.deleted": "材料到期删除",
    "application.submitted": "提交申请",
    "application.status_changed": "案件状态变更",
    "application.staff_relative_declared": "申报近亲属备案",
    "application.migrated": "迁移到新版本流程",
    "application.deadline_recomputed": "办结期限重新计算",
    "application.terminated": "终止",
    "task.created": "进入环节",
    "task.claimed": "认领",
    "task.unclaimed": "放弃认领",
    "task.assigned": "指派",
    "task.completed": "办理完成",
    "task.cancelled": "环节取消",
    "task.reminder": "临期提醒",
    "task.overdue": "超期",
    "task.claim_released": "认领超时释放",
    "task.deadline_recomputed": "办理期限重新计算",
    "timer.scheduled": "计时开始",
    "timer.fired": "计时届满",
    "timer.rescheduled": "计时调整",
    "timer.failed": "计时届满后处理失败",
    "timer.retried": "重新处理计时",
    "message.received": "收到消息",
    "notice.opened": "公示开始",
    "notice.closed": "公示期满",
    "notice.objected": "公示中收到异议",
    "objection.received": "收到异议",
    "objection.answered": "答复异议",
    "benefit.recorded": "记入待遇台账",
    "benefit.scheduled": "待遇发放计划",
    "enrolment.ended": "停止发放",
    "enrolment.continued": "继续享受",
    "enrolment.adjusted": "调整金额",
    "enrolment.gradual_exit": "进入渐退期",
    "case.notified": "报上级备案",
    "case.followed_up": "启动后续案件",
    "case.followup_failed": "后续案件未能启动",
    "case.followup_retried": "重新启动后续案件",
    "sample.drawn": "随机抽查",
    # The reviewer actions.
    "task.returned": "退回",
    "task.transferred": "转办",
    "task.delegated": "委派",
    "task.resolved": "提出委派意见",
    "task.signers_added": "加签",
    "task.signer_removed": "减签",
    "task.signed": "签署意见",
    "task.decided_awaiting_signers": "已作结论，等待加签人签署",
    "task.deciders_set": "确定会签人员",
    "case.copied": "抄送",
    "task.urged": "催办",
    "task.withdrawn": "撤回",
    "application.withdrawn": "撤销申请",
}
# Messages for the domain's error codes; the English detail is the fallback.
ERRORS = {
    "timer_not_failed": "该计时已不在异常列表中（可能已被重新处理）。",
    "followup_not_failed": "该后续案件已不在异常列表中（可能已被重新处理）。",
    "subject_case_in_progress": "该救助对象已有同类案件正在办理，须等其办结后再启动。",
    "invalid_search": "查找内容最多40个字。",
    "task_claimed": "该任务已被他人认领，您不能办理。",
    "task_not_open": "该任务已办结或案件已进入下一环节。",
    "not_your_role": "您没有办理该任务的权限。",
    "cannot_receive_copy": "只能抄送给本业务在该案件所在地或上级负责的人员或角色。",
    "not_a_person": "接口密钥不能认领或委派任务。",
    "task_not_found": "找不到该任务，或您无权查看。",
    "application_not_found": "找不到该案件，或您无权查看。",
    "four_eyes": "您已办理过本案件的其他审核环节，按规定不能再办理本环节（双人审核）。",
    "related_staff": "您是申请人的近亲属，按规定须回避，不能办理本案件。",
    "form_invalid": "表单填写有误，请按提示修改。",
    "objection_outcomes_missing": "每一条异议都需要填写处理结果和答复。",
    "objection_outcome_invalid": "异议答复填写不完整：每条需选择处理结果并填写答复。",
    "notice_not_found": "找不到该公示。",
    "entry_not_found": "公示中没有这一序号。",
    "notice_closed": "该对象的公示期已结束，不再受理异议。",
    "objection_not_found": "没有找到该异议编号，或查询码不正确。",
    "invalid_credentials": "用户名或密码错误。",
    "account_locked": "连续登录失败次数过多，账户已临时锁定，请稍后再试。",
    "weak_password": "密码强度不够：至少10位，不能是同一字符重复，不能与用户名相同，也不能是常见密码或简单组合。",
    "wrong_password": "当前密码错误。",
    "cannot_disable_self": "不能停用自己的账户。",
    "cannot_remove_own_admin": "不能取消自己的系统管理员授权。",
    "blank_display_name": "姓名不能为空。",
    "unknown_user": "没有这个用户。",
    "unknown_api_key": "没有这个接口密钥。",
    "users_only": "只有用户账户才有密码。",
    "admin_only": "此页面仅限系统管理员。",
    "not_a_supervisor": "督办页面仅限县级及以上的业务科室。",
    "invalid_bpmn": "流程文件未通过校验，请按下列问题逐条修改。",
    "not_bpmn_file": "请上传扩展名为 .bpmn 或 .bpmn20.xml 的流程文件，或 .zip 流程包。",
    "bundle_invalid": "流程包不是可读取的 zip 文件（文件可能已损坏）。",
    "bundle_too_large": "流程包解压后过大：每个文件不超过 2 MB，合计不超过 16 MB。",
    "bundle_too_many_files": "流程包中的文件过多（不超过 200 个）。",
    "bundle_compression_ratio": "流程包中有压缩比异常的文件（疑似压缩炸弹），未予读取。",
    "bundle_unsafe_path": "流程包中有不安全的文件路径（绝对路径、“..”或链接），未予读取。",
    "bundle_encrypted": "流程包中有加密的文件：请不加密重新打包。",
    "bundle_nested_archive": "流程包中不能再包含压缩包：请解开后直接放入文件。",
    "bundle_duplicate_file": "流程包中有重名的文件。",
    "bundle_without_bpmn": "流程包中没有流程文件（.bpmn 或 .bpmn20.xml）。",
    "bundle_several_bpmn": "流程包中有多个流程文件：每个流程包一个流程，有多个时须把要部署的命名为 process.bpmn。",
    "bundle_unknown_file": "流程包中有系统不读取的文件：流程包只含一个流程文件、forms/ 下的表单（.json）和决策表（.dmn）。",
    "upload_too_large": "文件过大。",
    "unknown_division": "没有这个行政区划代码。",
    "username_taken": "该用户名已存在。",
    "invalid_role": "角色格式不正确（应为“层级_部门”，如 township_civil_affairs）。",
    "grant_needs_division": "除系统管理员外，授权必须指定行政区划。",
    "unknown_role": "没有已部署的流程使用这个部门，请检查角色拼写，或先部署相应流程。",
    "role_level_mismatch": "角色的层级与所选行政区划的层级不一致（如县级角色不能授予乡镇）。",
    "view_name_taken": "已有同名的视图。",
    "invalid_view_name": "视图名称须为1至50个字。",
    "too_many_views": "保存的视图已达上限。",
    "rate_limited": "提交过于频繁，请稍后再试。",
    "engine_error": "流程无法继续，请联系管理员。",
    "already_enrolled": "申请人已在享受同类待遇，不能重复纳入。",
    "benefit_cap_exceeded": "超过年度救助上限。",
    "unknown_version": "没有这个版本。",
    "unknown_process": "没有这个流程。",
    "invalid_year": "年份不正确。",
    "not_found": "页面不存在。",
    "csrf_failed": "页面已过期或来源不明，请刷新页面后重试。",
    "action_unavailable": "该操作暂不可用。",
    "bulk_not_allowed": "本环节需要逐件填写，不支持批量办理。",
    "unknown_step": "没有这个环节。",
    "unknown_program": "没有这项业务。",
    "invalid_scope": "没有这个待办分类。",
    "invalid_sort": "不支持这种排序。",
    "duplicate_division_code": "同一地区出现了两次。",
    "assignee_cannot_act": "该用户没有办理此任务的权限。",
    # The reviewer actions' refusals.
    "task_delegated": "该任务已委派他人提出意见，收到意见后才能办理。",
    "not_delegated_to_you": "该任务没有请您提出意见。",
    "cannot_give_opinion": "该用户不在本地区或上级，不能受委派提出意见。",
    "signers_pending": "还有加签人未签署意见。",
    "not_your_turn": "还没有轮到您签署。",
    "cannot_sign": "您不能签署本任务。",
    "already_a_signer": "该用户已是加签人。",
    "not_removable": "只能减去您加签、且尚未签署的人。",
    "invalid_return_target": "只能退回到本路径上已办理过的前序环节。",
    "not_withdrawable": "下一环节已被认领或办理，或本环节不允许撤回。",
    "urged_today": "今天已经催办过，每个工作日最多催办一次。",
    "cannot_take_task": "该用户没有办理此任务的权限。",
    "claim_first": "请先认领再操作。",
    "task_decided": "该任务已有结论。",
    "decided_by_votes": "本环节由表决决定。",
    "not_allowed": "您没有进行此操作的权限。",
    "no_deciders": "没有可参与表决的人员。",
    # materials (材料); problems about the file itself already carry their Chinese detail
    "not_allowed_to_add": "只有提交申请的平台或本案件当前环节的经办人可以上传材料。",
    "not_your_task": "只能在您可以办理的待办环节上传材料。",
    "case_closed": "案件已结束，不能再上传材料。",
    "invalid_checklist_key": "请选择材料类别。",
    "attachment_not_found": "材料不存在或您无权查看。",
    "attachment_content_missing": "材料文件在存储中不存在，请联系管理员。",
    "attachment_content_corrupt": "材料文件已损坏（与登记的校验值不符），请联系管理员从备份恢复。",
}


def role(key: str) -> str:
    return role_label(key)


def error(
    code: str,
    detail: str = "",
    extra: Mapping[str, object] | None = None,
    fields: Mapping[str, str] | None = None,
) -> str:
    """A problem in Chinese: its template with the parameters (``fields`` names form fields by their
    labels), else its plain sentence; never the English ``detail``, which stays for the API."""

    def word(value: str) -> str:
        if fields and value in fields:
            return fields[value]
        if value in problem_texts.FIELDS:
            return problem_texts.FIELDS[value]
        if value in DATA or value in LEVELS or value in DEPARTMENTS:
            return DATA.get(value) or LEVELS.get(value) or DEPARTMENTS[value]
        return role(value) if role_level(value) or value in SPECIAL_ROLES else value

    filled = problem_texts.fill(code, extra or {}, word)
    # A domain that words its refusals in Chinese itself (materials, payments) says more than a table can.
    said_in_chinese = detail if problem_texts.is_chinese(detail) else None
    return (
        filled
        or said_in_chinese
        or ERRORS.get(code)
        or problem_texts.PLAIN.get(code)
        or f"操作未能完成（错误代码 {code}）。"
    )


def problem(exc: DomainError, fields: Mapping[str, str] | None = None) -> str:
    return error(exc.code, exc.detail, exc.extra, fields)


# Application data shown in the case summary when the program's application form does not name it.
DATA = {
    "household_size": "家庭人口",
    "proposed_amount": "拟保障金额",
    "staff_relative": "工作人员近亲属",
    "related_staff": "相关工作人员",
    "relief_type": "救助类型",
    "monthly_income": "家庭月收入",
}
MONEY = {"proposed_amount", "amount", "monthly_amount", "approved_amount", "monthly_income"}
# BPMN validation problems: a Chinese headline per code; the engine's English message follows as detail.
BPMN_PROBLEMS = {
    "xml_syntax": "XML 格式错误",
    "doctype_not_allowed": "文件含有 DOCTYPE 声明：BPMN 文件不需要它，请删除 <!DOCTYPE …> 一行",
    "not_bpmn": "不是 BPMN 文件",
    "process_count": '文件须恰好包含一个可执行流程：在要运行的流程上勾选“可执行”（isExecutable="true"），其余流程取消勾选或另存为单独的文件',
    "invalid_bpmn": "流程结构错误",
    "invalid_role": "泳道或候选组不是有效的角色（应为“层级_部门”）",
    "no_role": "任务没有指定办理角色",
    "no_starters": "流程没有指定可发起的角色（starters）",
    "unknown_form": "找不到任务引用的表单文件：流程包的 forms/ 和系统默认表单中都没有",
    "invalid_form": "表单不是有效的 JSON Schema",
    "invalid_expression": "条件或脚本表达式不安全或有误",
    "invalid_timer": "计时表达式有误",
    "invalid_time_limit": "办理时限格式有误",
    "invalid_outcome": "结束事件的 outcome 不正确",
    "invalid_notice_fields": "公示字段包含不可公开的信息",
    "invalid_level": "层级不正确",
    "invalid_setting": "参数声明有误",
    "invalid_property": "属性值有误",
    "unknown_property": "该元素没有这个属性（属性名拼写有误或放错了元素）",
    "invalid_approval_mode": "会签/或签/依次审批的设置有误",
    "invalid_benefit": "待遇声明有误",
    "invalid_owner_department": "主管部门不能是财政部门（财政部门负责审核资金发放）",
    "flow_without_condition": "排他网关的出口缺少条件或默认流向",
    "message_without_name": "消息事件缺少消息名称",
    "unknown_decision": "找不到引用的决策表：流程包的决策表（.dmn）和系统默认决策表中都没有这个决策 id",
    "unused_bundle_file": "流程包中的这个文件没有被任何环节使用：请删除，或在环节上引用它",
    "unsupported_decision_result": "决策结果映射（resultVariable / mapDecisionResult）不受支持：决策表的每个输出按其名称写入案件数据，请删除 resultVariable，或让决策表只有一个同名输出并设为 singleEntry",
    "invalid_dmn": "决策表（DMN）有误",
    "invalid_encoding": "文件编码与声明不符：请另存为 UTF-8，或在首行声明实际编码（如 GB18030）",
    "missing_id": "元素缺少 id：请在建模工具中为它填写 id",
    "unknown_reference": "连线的起点或终点不存在：请在建模工具中重新连接",
    "form_field_without_id": "表单字段缺少 id：请填写数据中使用的字段名（如 decision）",
    "unsupported_element": "本系统不执行此类元素：服务任务请改为用户任务、脚本任务或消息事件，调用活动请改为内嵌子流程",
    "unsupported_assignee": "不能指定具体办理人（assignee / candidateUsers）：请删除，改用候选组（candidateGroups）填写角色，如 township_civil_affairs",
    "unsupported_timer": "不支持循环计时（timeCycle）：请改用时长计时（如 P1D）并用连线返回，或设置办理时限",
    "unsupported_script": "脚本不是 Python：本系统只在沙箱中运行 Python 脚本，请改写（scriptFormat 设为 python）",
    "unsupported_expression": '无法转换的 JUEL 表达式（${…}）：请按数据字段名改写为 Python 表达式，如 decision == "approve"',
}

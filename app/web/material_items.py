"""The materials a reviewer may choose from when uploading, until programs declare their own
checklists in the BPMN (issue 19, item 1): checklist key → Chinese label, and sizes in words."""

ITEMS = {
    "hukou": "户口簿",
    "id_card": "身份证",
    "application_form": "申请书（签字）",
    "income_certificate": "收入证明",
    "property_statement": "家庭财产申报",
    "disability_certificate": "残疾证",
    "diagnosis_certificate": "诊断证明",
    "medical_invoice": "医疗费用票据",
    "home_visit_photo": "入户调查照片",
    "home_visit_record": "入户调查记录",
    "other": "其他材料",
}


def label(key: str) -> str:
    return ITEMS.get(key, key)


def size(n: int) -> str:
    if n >= 1024 * 1024:
        return f"{n / (1024 * 1024):.1f} MB"
    return f"{max(1, round(n / 1024))} KB"

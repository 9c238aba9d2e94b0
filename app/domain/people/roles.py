"""Roles and places in the domain's Chinese words: the one table of display names for levels,
departments and roles (``township_civil_affairs`` → 乡镇（街道）民政), used by the API's people,
the web pages, the diagrams' lanes and the admin grant pages. Role keys themselves never change."""

from app.domain.people.divisions import role_department, role_level

# A place's level, as in 濉溪县 is a 县（区）.
LEVELS: dict[str, str] = {
    "province": "省",
    "city": "市",
    "county": "县（区）",
    "township": "乡镇（街道）",
    "village": "村（社区）",
    "school": "学校",
    "kindergarten": "幼儿园",
    "class": "班级",
    "university": "高校",
    "department": "基层工会",
}
# The level part of a role's name (县级民政, 乡镇（街道）民政).
ROLE_LEVELS: dict[str, str] = {
    "province": "省级",
    "city": "市级",
    "county": "县级",
    "township": "乡镇（街道）",
    "village": "村（社区）",
    "school": "学校",
    "kindergarten": "幼儿园",
    "class": "班级",
    "university": "高校",
    "department": "基层",
}
DEPARTMENTS: dict[str, str] = {
    "civil_affairs": "民政",
    "education": "教育",
    "finance": "财政",
    "hr": "人社",
    "health": "卫健",
    "medical_security": "医保",
    "union": "工会",
    "aid_centre": "学生资助中心",
    "aid_office": "资助办",
    "head_teacher": "班主任",
    "head": "园长",
    "panel": "资助评审小组",
}
SPECIAL_ROLES: dict[str, str] = {"admin": "系统管理员", "portal": "对接平台"}


def role_label(key: str) -> str:
    """``county_civil_affairs`` → 县级民政; a key of an unknown department keeps its English part."""
    if key in SPECIAL_ROLES:
        return SPECIAL_ROLES[key]
    level = role_level(key)
    department = role_department(key)
    if level is None or department is None:
        return key
    return ROLE_LEVELS.get(level, level) + DEPARTMENTS.get(department, department)


def department_label(key: str) -> str:
    """The department alone (民政), for grouping people of several levels."""
    department = role_department(key)
    if department is None:
        return SPECIAL_ROLES.get(key, key)
    return DEPARTMENTS.get(department, department)

"""A refusal's free text (a batch sent back, an account change refused): stripped, 1 to 500
characters, no NUL (PostgreSQL refuses it in text). Checked here so the answer is a 422 with a stable
code and not the database's error."""

from app.domain.errors import Invalid

MAX_LENGTH = 500


def clean(reason: str) -> str:
    text = reason.strip()
    if not text or len(text) > MAX_LENGTH or "\x00" in text:
        raise Invalid(
            "invalid_reason",
            f"理由须为 1 至 {MAX_LENGTH} 个字符",
            field="reason",
            max_length=MAX_LENGTH,
        )
    return text

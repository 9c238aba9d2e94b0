"""File names as people gave them, made safe to store, list and send back in a header."""

import re
import unicodedata

MAX_NAME_CHARS = 100
_UNSAFE = re.compile(r'[<>:"/\\|?*;=\'`$%&{}\[\]]')
_SPACES = re.compile(r"\s+")
FALLBACK = "材料"


def sanitise(name: str | None, extension: str) -> str:
    """The last path part, without control characters, reserved punctuation or leading dots,
    at most MAX_NAME_CHARS, ending in the extension of what the content really is (so a program
    renamed ``.pdf`` can never come back as one)."""
    name = unicodedata.normalize("NFC", name or "")
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")  # NUL, controls, bidi marks
    name = _SPACES.sub(" ", _UNSAFE.sub("_", name)).strip(" .")
    stem = name.rsplit(".", 1)[0] if "." in name else name
    stem = stem.strip(" ._")[: MAX_NAME_CHARS - len(extension) - 1].rstrip(" .")
    return f"{stem or FALLBACK}.{extension}"


def ascii_fallback(name: str) -> str:
    """For the plain ``filename=`` of Content-Disposition; ``filename*`` carries the real name."""
    plain = "".join(ch if 32 < ord(ch) < 127 and ch not in '"\\' else "_" for ch in name)
    return plain or "file"

"""A process is a bundle: its BPMN with the forms (JSON Schema) and decision tables (DMN) it uses,
uploaded, versioned and downloaded together. An upload is a single BPMN file (forms and decisions then
come from ``processes/forms`` and ``processes/decisions``) or a zip:

    process.bpmn            (or one other *.bpmn / *.bpmn20.xml)
    forms/<name>.json       the forms the steps name (``form`` property, ``camunda:formKey``)
    decisions/<name>.dmn    the tables business rule tasks call (any *.dmn; found by decision id)

A zip comes from anywhere, so it is read defensively: its size, the number of its entries, each
entry's and the total uncompressed size, and the compression ratio (a zip bomb) are bounded while
it is read, not as its headers claim; names must be plain relative paths (no ``..``, no absolute
paths, no links) and nested archives are refused. Each refusal has its own code; nothing is stored.
"""

import io
import stat
import zipfile
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from app.domain.errors import Invalid, TooLarge

BPMN_SUFFIXES = (".bpmn", ".bpmn20.xml")
MAX_ENTRIES = 200
MAX_ENTRY_BYTES = 2 * 1024 * 1024
MAX_TOTAL_BYTES = 16 * 1024 * 1024
# Above this many times its compressed size an entry is a bomb, not a form (XML and JSON pack ~10×).
MAX_RATIO = 100
# What archivers add beside the files (macOS Finder, Windows Explorer): skipped, not refused.
_JUNK = ("__MACOSX/", ".DS_Store", "Thumbs.db", "desktop.ini")
_ARCHIVE_SUFFIXES = (".zip", ".jar", ".war", ".gz", ".tgz", ".tar", ".7z", ".rar", ".bz2", ".xz")
_ARCHIVE_MAGIC = (b"PK\x03\x04", b"\x1f\x8b", b"7z\xbc\xaf", b"Rar!", b"BZh", b"\xfd7zXZ")


@dataclass(frozen=True)
class Bundle:
    """What an upload holds: the BPMN and the files it brought (path in the bundle → bytes)."""

    bpmn: bytes
    bpmn_name: str = "process.bpmn"
    forms: dict[str, bytes] = field(default_factory=dict)  # "forms/review.json" → bytes
    decisions: dict[str, bytes] = field(default_factory=dict)  # "decisions/amount.dmn" → bytes

    @property
    def form_files(self) -> dict[str, bytes]:
        """Forms by the name steps use (``review.json``)."""
        return {PurePosixPath(path).name: content for path, content in self.forms.items()}


def is_zip_name(filename: str | None) -> bool:
    return (filename or "").lower().endswith(".zip")


def is_bpmn_name(filename: str | None) -> bool:
    return (filename or "").lower().endswith(BPMN_SUFFIXES)


def read_upload(filename: str | None, content: bytes) -> Bundle:
    """A .bpmn / .bpmn20.xml file, or a .zip bundle (by its name or its first bytes)."""
    if is_zip_name(filename) or content.startswith(b"PK\x03\x04"):
        return read_zip(content)
    if not is_bpmn_name(filename):
        raise Invalid("not_bpmn_file", "upload a .bpmn or .bpmn20.xml file, or a .zip bundle")
    return Bundle(content, PurePosixPath(filename or "process.bpmn").name)


def _unsafe(name: str) -> str | None:
    """Why an entry's name is not a plain relative path, or None."""
    if "\\" in name or "\x00" in name:
        return "a backslash or NUL in the name"
    path = PurePosixPath(name)
    if path.is_absolute() or (path.parts and path.parts[0].endswith(":")):
        return "an absolute path"
    if any(part in ("..", ".") for part in name.split("/")):
        return "a '..' or '.' part"
    return None


def _entries(archive: zipfile.ZipFile) -> list[zipfile.ZipInfo]:
    infos = [i for i in archive.infolist() if not i.is_dir() and not any(j in i.filename for j in _JUNK)]
    if len(archive.infolist()) > MAX_ENTRIES:
        raise TooLarge("bundle_too_many_files", f"the bundle holds more than {MAX_ENTRIES} entries")
    declared = 0
    for info in infos:
        reason = _unsafe(info.filename)
        if reason:
            raise Invalid(
                "bundle_unsafe_path", f"entry {info.filename[:200]!r} has {reason}", entry=info.filename[:200]
            )
        if stat.S_ISLNK(info.external_attr >> 16):
            raise Invalid(
                "bundle_unsafe_path", f"entry {info.filename!r} is a symbolic link", entry=info.filename
            )
        if info.flag_bits & 0x1:
            raise Invalid("bundle_encrypted", f"entry {info.filename!r} is encrypted", entry=info.filename)
        if info.filename.lower().endswith(_ARCHIVE_SUFFIXES):
            raise Invalid(
                "bundle_nested_archive", f"entry {info.filename!r} is an archive", entry=info.filename
            )
        declared += info.file_size
        if info.file_size > MAX_ENTRY_BYTES or declared > MAX_TOTAL_BYTES:
            raise TooLarge("bundle_too_large", f"the bundle unpacks to more than {MAX_TOTAL_BYTES} bytes")
        if info.file_size > 64 * 1024 and info.file_size > MAX_RATIO * max(info.compress_size, 1):
            raise TooLarge(
                "bundle_compression_ratio", f"entry {info.filename!r} is compressed beyond {MAX_RATIO}:1"
            )
    return infos


def _read(archive: zipfile.ZipFile, info: zipfile.ZipInfo, budget: int) -> bytes:
    """The entry's bytes, bounded by what is read (headers may lie), not by what they claim."""
    try:
        with archive.open(info) as stream:
            content = stream.read(min(MAX_ENTRY_BYTES, budget) + 1)
    except (zipfile.BadZipFile, NotImplementedError, RuntimeError, OSError, EOFError) as exc:
        raise Invalid(
            "bundle_invalid", f"entry {info.filename!r} cannot be read: {exc}", entry=info.filename
        ) from exc
    if len(content) > min(MAX_ENTRY_BYTES, budget):
        raise TooLarge("bundle_too_large", f"the bundle unpacks to more than {MAX_TOTAL_BYTES} bytes")
    if len(content) > 64 * 1024 and len(content) > MAX_RATIO * max(info.compress_size, 1):
        raise TooLarge(
            "bundle_compression_ratio", f"entry {info.filename!r} is compressed beyond {MAX_RATIO}:1"
        )
    if content.startswith(_ARCHIVE_MAGIC):
        raise Invalid("bundle_nested_archive", f"entry {info.filename!r} is an archive", entry=info.filename)
    return content


def read_zip(content: bytes) -> Bundle:
    try:
        archive = zipfile.ZipFile(io.BytesIO(content))
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as exc:
        raise Invalid("bundle_invalid", f"the upload is not a readable zip file: {exc}") from exc
    with archive:
        infos = _entries(archive)
        # A folder zipped as a whole ("dibao/process.bpmn", …): read from inside the folder.
        tops = {info.filename.split("/", 1)[0] for info in infos}
        strip = len(tops) == 1 and all("/" in info.filename for info in infos)
        files: dict[str, bytes] = {}
        budget = MAX_TOTAL_BYTES
        for info in infos:
            name = info.filename.split("/", 1)[1] if strip else info.filename
            if name.lower() in {n.lower() for n in files}:
                raise Invalid("bundle_duplicate_file", f"the bundle holds {name!r} twice", entry=name)
            files[name] = _read(archive, info, budget)
            budget -= len(files[name])
    return _sort(files)


def _sort(files: dict[str, bytes]) -> Bundle:
    bpmns = [name for name in files if is_bpmn_name(name)]
    if not bpmns:
        raise Invalid("bundle_without_bpmn", "the bundle holds no .bpmn or .bpmn20.xml file")
    if len(bpmns) > 1:
        preferred = [name for name in bpmns if PurePosixPath(name).name.lower().startswith("process.")]
        if len(preferred) != 1:
            raise Invalid(
                "bundle_several_bpmn",
                f"the bundle holds several BPMN files ({', '.join(sorted(bpmns))}): one process per bundle, "
                "named process.bpmn when there are more",
                files=", ".join(sorted(bpmns)),
            )
        bpmns = preferred
    forms, decisions, unknown = {}, {}, []
    for name, content in files.items():
        path = PurePosixPath(name)
        if name == bpmns[0]:
            continue
        if path.suffix.lower() == ".json" and path.parent.as_posix() == "forms":
            forms[name] = content
        elif path.suffix.lower() == ".dmn":
            decisions[name] = content
        else:
            unknown.append(name)
    if unknown:
        raise Invalid(
            "bundle_unknown_file",
            f"the bundle holds files AidFlow does not read ({', '.join(sorted(unknown)[:10])}): a bundle holds "
            "one BPMN, forms/*.json (JSON Schema) and *.dmn",
            files=", ".join(sorted(unknown)[:10]),
        )
    names = [PurePosixPath(name).name for name in forms]
    if len(set(names)) != len(names):
        raise Invalid("bundle_duplicate_file", "two forms have the same file name")
    return Bundle(files[bpmns[0]], PurePosixPath(bpmns[0]).name, forms, decisions)


def to_zip(files: dict[str, bytes]) -> bytes:
    """A bundle as a zip (path → bytes), in a stable order, ready to upload again."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(files, key=lambda n: (n.count("/"), n)):
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, files[name])
    return buffer.getvalue()

"""What an uploaded file really is, decided by its content, and the bytes that may be kept.

Accepted: PDF (parsed, not encrypted, no scripts or launch actions), JPEG, PNG and WebP (decoded
and re-encoded, which drops EXIF with its GPS position and every other metadata chunk), and HEIC/HEIF
photos from phones (decoded by pillow-heif and kept as JPEG, without EXIF either). Everything
else is refused with a problem that says what was recognised. Pure functions: nothing here touches
the database or the store, so a refused upload leaves both as they were.
"""

import io
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError
from pypdf import PdfReader
from pypdf.errors import PyPdfError
from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject, PdfObject

from app.domain.errors import Invalid, TooLarge

try:
    import pillow_heif
except ImportError:  # a pinned dependency; absent only where someone removed it
    pillow_heif = None  # type: ignore[assignment]
from app.domain.materials import names

PDF, JPEG, PNG, WEBP = "application/pdf", "image/jpeg", "image/png", "image/webp"
HEIC = "image/heic"  # accepted on the way in only: kept as JPEG, which every browser shows
# ISO base media brands of HEIF still images (iPhone: heic, mif1; HEVC sequences: hevc, heix…).
_HEIF_BRANDS = (b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1")
EXTENSIONS = {PDF: "pdf", JPEG: "jpg", PNG: "png", WEBP: "webp"}
PREVIEWABLE = frozenset(EXTENSIONS)
_PILLOW_FORMATS = {JPEG: "JPEG", PNG: "PNG", WEBP: "WEBP", HEIC: "HEIF"}

# Recognised only to be named in the refusal: what people most often send by mistake, or on purpose.
_REFUSED_KINDS: tuple[tuple[bytes, str], ...] = (
    (b"MZ", "Windows 可执行程序"),
    (b"\x7fELF", "Linux 可执行程序"),
    (b"\xcf\xfa\xed\xfe", "macOS 可执行程序"),
    (b"#!", "脚本"),
    (b"PK\x03\x04", "ZIP 压缩包（含 Office 文档）"),
    (b"Rar!", "RAR 压缩包"),
    (b"7z\xbc\xaf\x27\x1c", "7z 压缩包"),
    (b"\x1f\x8b", "gzip 压缩包"),
    (b"\xd0\xcf\x11\xe0", "旧版 Office 文档"),
    (b"GIF8", "GIF 图片"),
    (b"<", "网页或 XML 文件"),
)
# A PDF name that runs something when the document is opened or read, or carries a file or form
# program inside it (an attachment annotation's /EF, an XFA form with its scripts).
_ACTIVE_PDF_KEYS = (
    "/JavaScript",
    "/JS",
    "/OpenAction",
    "/AA",
    "/Launch",
    "/EmbeddedFiles",
    "/EF",
    "/RichMedia",
    "/XFA",
)
# Actions that run, send, or open something outside the document (/GoToR to \\host\share hands a
# Windows login to that host); /GoTo, /URI and /Named stay: tables of contents and links use them.
_ACTIVE_ACTIONS = (
    "/JavaScript",
    "/Launch",
    "/ImportData",
    "/SubmitForm",
    "/GoToR",
    "/GoToE",
    "/Rendition",
    "/Movie",
    "/Sound",
    "/RichMediaExecute",
)
# Annotations that play or hold something instead of marking the page.
_ACTIVE_SUBTYPES = ("/FileAttachment", "/RichMedia", "/Movie", "/Sound", "/Screen", "/3D")
# Dictionaries and arrays looked at in one PDF; scans have a few per page, so this is far above any
# real document and below what a crafted one could make the check cost.
_MAX_PDF_NODES = 200_000


@dataclass(frozen=True)
class CleanFile:
    """What may be stored: the bytes after re-encoding, their type, and a safe name."""

    content: bytes
    content_type: str
    file_name: str
    original_size: int


def sniff(data: bytes) -> str | None:
    """The content type by magic bytes, or None."""
    if data.startswith(b"%PDF-"):
        return PDF
    if data.startswith(b"\xff\xd8\xff"):
        return JPEG
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return WEBP
    if data[4:8] == b"ftyp" and data[8:12] in _HEIF_BRANDS:
        return HEIC
    return None


def _refused_kind(data: bytes) -> str:
    head = data[:16].lstrip()
    return next((kind for magic, kind in _REFUSED_KINDS if head.startswith(magic)), "未知格式")


def _heif_decoder() -> None:
    """Teach Pillow HEIF (once), or refuse: an installation without pillow-heif (a slim build) names
    the problem rather than calling a phone photo damaged."""
    if pillow_heif is None:
        raise Invalid("heic_unsupported", "本服务暂不能识别 HEIC 照片，请在手机上以 JPEG 格式分享后上传")
    if "HEIF" not in Image.OPEN:
        pillow_heif.register_heif_opener(thumbnails=False)


def _reencode_image(data: bytes, content_type: str, max_pixels: int) -> bytes:
    if content_type == HEIC:
        _heif_decoder()
    try:
        with Image.open(io.BytesIO(data), formats=[_PILLOW_FORMATS[content_type]]) as image:
            # Checked from the header, before a single pixel is decoded.
            if image.width * image.height > max_pixels:
                raise TooLarge(
                    "image_too_large",
                    f"图片像素过多（{image.width}×{image.height}），请缩小后再上传",
                    max_pixels=max_pixels,
                )
            image.load()
            # The EXIF orientation is applied to the pixels before the EXIF block is dropped.
            upright = ImageOps.exif_transpose(image)
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        raise Invalid("file_unreadable", "图片文件已损坏或无法识别，请重新拍摄或扫描后上传") from None
    if content_type in (JPEG, HEIC) and upright.mode not in ("RGB", "L"):
        upright = upright.convert("RGB")
    out = io.BytesIO()
    # No exif=, icc_profile= or pnginfo= given, and what the decoder kept (a JPEG comment, a PNG's ICC
    # profile or text) cleared, since Pillow writes some of it back by itself: only the pixels remain.
    upright.info.clear()
    if content_type in (JPEG, HEIC):
        upright.save(out, "JPEG", quality=90, optimize=True)
    elif content_type == PNG:
        upright.save(out, "PNG")
    else:
        upright.save(out, "WEBP", quality=90)
    return out.getvalue()


def _scripted(root: PdfObject) -> bool:
    """Whether anything reachable from the catalog runs or launches something: document scripts,
    open and additional actions, link or form actions of JavaScript or Launch, embedded files.
    Walks dictionaries and arrays once each (never stream contents), within a budget."""
    seen: set[tuple[int, int]] = set()
    stack: list[PdfObject | None] = [root]
    budget = _MAX_PDF_NODES
    while stack:
        obj = stack.pop()
        if isinstance(obj, IndirectObject):
            if (obj.idnum, obj.generation) in seen:
                continue
            seen.add((obj.idnum, obj.generation))
            obj = obj.get_object()
        budget -= 1
        if budget < 0:
            raise Invalid("file_unreadable", "PDF 文件结构过于复杂，无法检查，请打印为普通 PDF 后上传")
        if isinstance(obj, DictionaryObject):  # streams too (their dictionaries only)
            if (
                any(key in obj for key in _ACTIVE_PDF_KEYS)
                or dict.get(obj, "/S") in _ACTIVE_ACTIONS
                or dict.get(obj, "/Subtype") in _ACTIVE_SUBTYPES
            ):
                return True
            stack.extend(dict.values(obj))
        elif isinstance(obj, ArrayObject):
            stack.extend(list.__iter__(obj))
    return False


def _check_pdf(data: bytes) -> None:
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            raise Invalid("pdf_encrypted", "PDF 文件已加密，请上传未加密的文件")
        if len(reader.pages) == 0:
            raise Invalid("file_unreadable", "PDF 文件没有页面")
        scripted = _scripted(reader.trailer.raw_get("/Root"))
    # PyPdfError: every error of pypdf, its limits (LimitReachedError) included, which a crafted
    # cross-reference table reaches without being a PdfReadError.
    except (PyPdfError, KeyError, ValueError, TypeError, AttributeError, RecursionError, OverflowError):
        raise Invalid("file_unreadable", "PDF 文件已损坏或无法读取，请重新导出后上传") from None
    if scripted:
        raise Invalid("pdf_active_content", "PDF 文件含有脚本或自动操作，请打印为普通 PDF 后上传")


def clean(data: bytes, file_name: str | None, *, max_bytes: int, max_pixels: int) -> CleanFile:
    """Check an upload and return what may be stored, or raise the problem to show."""
    if not data:
        raise Invalid("empty_file", "文件是空的（0 字节），请重新选择")
    if len(data) > max_bytes:
        raise TooLarge(
            "file_too_large", f"文件超过 {max_bytes // (1024 * 1024)} MB，请压缩后再上传", max_bytes=max_bytes
        )
    content_type = sniff(data)
    if content_type is None:
        raise Invalid(
            "unsupported_type",
            f"不接受此类文件（{_refused_kind(data)}）：只接受 PDF、JPEG、PNG、WebP、HEIC",
            accepted=sorted(EXTENSIONS),
        )
    if content_type == PDF:
        _check_pdf(data)
        content = data
    else:
        content = _reencode_image(data, content_type, max_pixels)
        content_type = JPEG if content_type == HEIC else content_type
    return CleanFile(
        content=content,
        content_type=content_type,
        file_name=names.sanitise(file_name, EXTENSIONS[content_type]),
        original_size=len(data),
    )

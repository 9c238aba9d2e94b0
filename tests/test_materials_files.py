"""What an upload is, decided by its content: real PDFs and photos pass (photos re-encoded without
EXIF or GPS), everything else is refused with its own problem code and a Chinese message."""

import io

import pytest
from PIL import Image
from pypdf import PdfReader

from app.domain.errors import DomainError
from app.domain.materials import files, names
from tests.materials_samples import (
    GPS_TAG,
    heic_with_gps,
    jpeg_with_comment,
    pdf,
    pdf_with_annotation,
    pdf_with_link_action,
    pdf_with_xfa,
    photo_with_gps,
    png,
)

LIMITS = {"max_bytes": 1024 * 1024, "max_pixels": 40_000_000}


def refused(data: bytes, name: str = "x.pdf", **limits) -> DomainError:
    with pytest.raises(DomainError) as caught:
        files.clean(data, name, **{**LIMITS, **limits})
    assert any("\u4e00" <= ch <= "\u9fff" for ch in caught.value.detail), caught.value.detail
    return caught.value


def test_a_pdf_is_kept_as_it_is_and_named_by_what_it_is():
    data = pdf(2)
    clean = files.clean(data, "户口簿.PDF", **LIMITS)
    assert (clean.content, clean.content_type, clean.file_name) == (data, "application/pdf", "户口簿.pdf")
    assert len(PdfReader(io.BytesIO(clean.content)).pages) == 2


@pytest.mark.parametrize(
    "fmt,content_type", [("JPEG", "image/jpeg"), ("PNG", "image/png"), ("WEBP", "image/webp")]
)
def test_photos_are_re_encoded_upright_without_exif_or_gps(fmt, content_type):
    data = photo_with_gps(fmt)
    before = Image.open(io.BytesIO(data))
    assert before.getexif().get_ifd(GPS_TAG), "the sample must carry a GPS position"
    clean = files.clean(data, "入户照片.jpg", **LIMITS)
    assert clean.content_type == content_type
    after = Image.open(io.BytesIO(clean.content))
    assert after.size == (48, 64)  # orientation applied to the pixels
    assert not after.getexif()
    assert "exif" not in after.info and "icc_profile" not in after.info
    assert b"Phone maker" not in clean.content


def test_a_heic_photo_from_a_phone_is_kept_as_jpeg_upright_without_exif_or_gps():
    data = heic_with_gps()
    assert data[4:12] == b"ftypheic"
    before = Image.open(io.BytesIO(files.clean(data, "IMG_0001.HEIC", **LIMITS).content))
    clean = files.clean(data, "IMG_0001.HEIC", **LIMITS)
    assert (clean.content_type, clean.file_name) == ("image/jpeg", "IMG_0001.jpg")
    assert clean.content.startswith(b"\xff\xd8\xff") and before.format == "JPEG"
    assert before.size == (48, 64)  # orientation applied to the pixels
    assert not before.getexif() and "exif" not in before.info
    assert b"Phone maker" not in clean.content


def test_a_damaged_heic_is_unreadable_and_one_without_its_decoder_is_named(monkeypatch):
    data = heic_with_gps()
    assert refused(data[: len(data) // 2], "IMG.HEIC").code == "file_unreadable"
    # An installation without pillow-heif names the format instead of calling the photo damaged.
    monkeypatch.setattr(files, "pillow_heif", None)
    monkeypatch.delitem(Image.OPEN, "HEIF", raising=False)
    assert refused(data, "IMG.HEIC").code == "heic_unsupported"


def test_the_name_never_decides_the_type():
    clean = files.clean(png(), "scan.pdf", **LIMITS)
    assert (clean.content_type, clean.file_name) == ("image/png", "scan.png")


@pytest.mark.parametrize(
    "data,kind",
    [
        (b"MZ\x90\x00" + b"\x00" * 200, "Windows 可执行程序"),
        (b"\x7fELF\x02\x01\x01" + b"\x00" * 200, "Linux 可执行程序"),
        (b"PK\x03\x04" + b"\x00" * 200, "ZIP"),
        (b"<html><script>alert(1)</script></html>", "网页"),
        (b"GIF89a" + b"\x00" * 50, "GIF"),
        (b"just some text", "未知格式"),
    ],
)
def test_other_kinds_are_refused_and_named(data, kind):
    problem = refused(data, "申请书.pdf")
    assert problem.code == "unsupported_type" and problem.status == 422
    assert kind in problem.detail


def test_empty_oversized_and_broken_files_are_refused():
    assert refused(b"").code == "empty_file"
    too_big = refused(pdf(), max_bytes=100)
    assert (too_big.code, too_big.status) == ("file_too_large", 413)
    assert refused(b"%PDF-1.7\n garbage without objects").code == "file_unreadable"
    assert refused(b"\xff\xd8\xff\xe0 not really a jpeg").code == "file_unreadable"
    assert refused(png()[:40]).code == "file_unreadable"


def test_encrypted_pdfs_and_pdfs_with_scripts_are_refused():
    assert refused(pdf(password="secret")).code == "pdf_encrypted"
    assert refused(pdf(javascript="app.alert('hi')")).code == "pdf_active_content"
    # Deeper in the document: a link on a page that runs a script or starts a program.
    assert refused(pdf_with_link_action("/JavaScript")).code == "pdf_active_content"
    assert refused(pdf_with_link_action("/Launch")).code == "pdf_active_content"
    # An ordinary web link is fine.
    assert files.clean(pdf_with_link_action("/URI"), "a.pdf", **LIMITS).content_type == "application/pdf"


def test_pdfs_carrying_programs_or_reaching_other_hosts_are_refused():
    assert refused(pdf_with_link_action("/GoToR")).code == "pdf_active_content"
    assert refused(pdf_with_annotation("/FileAttachment")).code == "pdf_active_content"
    assert refused(pdf_with_annotation("/RichMedia")).code == "pdf_active_content"
    assert refused(pdf_with_xfa()).code == "pdf_active_content"
    # A page with an ordinary highlight is a document like any other.
    assert files.clean(pdf_with_annotation("/Highlight"), "a.pdf", **LIMITS).content_type == "application/pdf"


def test_a_pdf_past_the_readers_limits_is_unreadable_not_an_error():
    """A cross-reference table claiming 99,999,999,996 entries stops pypdf with LimitReachedError."""
    sample = pdf()
    start = sample.index(b"\nxref\n0 ") + len(b"\nxref\n")
    end = sample.index(b"\n", start)
    crafted = sample[:start] + b"0 99999999996" + sample[end:]
    error = refused(crafted)
    assert error.code == "file_unreadable" and error.status == 422


def test_a_jpeg_comment_does_not_survive_re_encoding():
    kept = files.clean(jpeg_with_comment(b"GPS 33.92N 116.75E home of Zhang San"), "p.jpg", **LIMITS)
    assert b"Zhang San" not in kept.content and b"GPS" not in kept.content
    with Image.open(io.BytesIO(kept.content)) as image:
        assert "comment" not in image.info


def test_decompression_bombs_are_refused_from_the_header():
    bomb = png((8000, 8000), mode="1")  # 64 megapixels in a few kilobytes
    assert len(bomb) < 100_000
    problem = refused(bomb, "photo.png")
    assert (problem.code, problem.status) == ("image_too_large", 413)


@pytest.mark.parametrize(
    "given,expected",
    [
        ("../../etc/passwd.pdf", "passwd.pdf"),
        ("C:\\Users\\a\\身份证 正面.pdf", "身份证 正面.pdf"),
        ("bad\x00name\x07\u202e.pdf", "badname.pdf"),
        ("..pdf", "pdf.pdf"),
        ("...", "材料.pdf"),
        ("", "材料.pdf"),
        (None, "材料.pdf"),
        ('a<b>c:"d|e?*.pdf', "a_b_c__d_e.pdf"),
        ("x" * 300 + ".pdf", "x" * 96 + ".pdf"),
        ("report.exe", "report.pdf"),
    ],
)
def test_file_names_are_made_safe(given, expected):
    assert names.sanitise(given, "pdf") == expected

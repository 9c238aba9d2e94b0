"""Reading XML from outside safely: no entities, no DTD, no network; every libxml2 error on its line."""

from __future__ import annotations

from lxml import etree

from app.engine.model import BpmnError


def _safe_xml_parser() -> etree.XMLParser:
    # No entity expansion, no DTD, no network: hostile XML (XXE, billion laughs) goes nowhere.
    return etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False, huge_tree=False
    )


def _parse_xml(xml: bytes) -> etree._Element:
    parser = _safe_xml_parser()
    try:
        return etree.fromstring(xml, parser=parser)
    except etree.XMLSyntaxError as exc:
        # Every error libxml2 met before it gave up, each on its line; an encoding it cannot read
        # is one problem (what follows it is noise).
        seen = [e for e in parser.error_log if e.message]
        unreadable = [e for e in seen if "encoding" in e.message.lower()]
        if unreadable:
            message = (
                f"the file does not read as the encoding it declares ({unreadable[-1].message.strip()}): "
                'save it as UTF-8, or declare the encoding it is saved in (encoding="GB18030")'
            )
            raise BpmnError(
                [
                    {
                        "line": unreadable[0].line,
                        "element_id": None,
                        "code": "invalid_encoding",
                        "message": message,
                    }
                ]
            ) from exc
        raise BpmnError(
            [
                {"line": e.line, "element_id": None, "code": "xml_syntax", "message": e.message.strip()}
                for e in seen
            ]
            or [{"line": exc.lineno, "element_id": None, "code": "xml_syntax", "message": str(exc)}]
        ) from exc

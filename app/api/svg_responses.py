"""How every SVG the service draws is sent (the process diagrams of the API and the web UI).

An SVG is a document that can carry script: opened on its own (the pages link to the diagram "查看大图")
it runs with the service's origin. The diagrams escape every name they draw (``app/diagrams.py``);
these headers are the second wall, should a name ever slip through: no script, no plugin, no request
elsewhere, a sandbox (a unique origin, no script, no forms), and no guessing another type. The one
thing the drawing needs is its own ``<style>`` element, hence ``style-src 'unsafe-inline'``.
"""

from fastapi import Response

SVG_CSP = "default-src 'none'; style-src 'unsafe-inline'; sandbox"
MEDIA_TYPE = "image/svg+xml"


def svg_response(svg: str, *, private: bool = False) -> Response:
    """``private``: the drawing shows a case's progress, so no cache keeps it."""
    headers = {"Content-Security-Policy": SVG_CSP, "X-Content-Type-Options": "nosniff"}
    if private:
        headers["Cache-Control"] = "no-store"
    return Response(svg, media_type=MEDIA_TYPE, headers=headers)

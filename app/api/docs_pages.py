"""/docs (Swagger UI) and /redoc with their browser assets served by the service itself, never from
a CDN: government intranets cannot reach one. The assets are the npm packages' own files with their
licences, refreshed by scripts/vendor_docs_assets.sh (pinned versions, integrity-checked)."""

from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

STATIC = Path(__file__).resolve().parent / "static"
ASSETS = "/docs-assets"
SWAGGER = f"{ASSETS}/swagger-ui-dist-5.35.0"
REDOC = f"{ASSETS}/redoc-2.5.4"


# The pages may load only what the service serves; ReDoc's footer logo points at its makers' CDN
# (refused here: it only decorates), and ReDoc runs its search in a worker made from a blob.
CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; worker-src 'self' blob:; connect-src 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)


def _local_only(page: HTMLResponse) -> HTMLResponse:
    page.headers["Content-Security-Policy"] = CSP
    return page


def _document_url(app: FastAPI) -> str:
    """Where the pages read the OpenAPI document from (the service always serves one)."""
    assert app.openapi_url is not None
    return app.openapi_url


def install(app: FastAPI) -> None:
    """Call with a FastAPI made with ``docs_url=None, redoc_url=None``."""
    app.mount(ASSETS, StaticFiles(directory=STATIC), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return _local_only(
            get_swagger_ui_html(
                openapi_url=_document_url(app),
                title=f"{app.title} — API",
                swagger_js_url=f"{SWAGGER}/swagger-ui-bundle.js",
                swagger_css_url=f"{SWAGGER}/swagger-ui.css",
                swagger_favicon_url=f"{SWAGGER}/favicon-32x32.png",
                oauth2_redirect_url="/docs/oauth2-redirect",
            )
        )

    @app.get("/docs/oauth2-redirect", include_in_schema=False)
    async def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get("/redoc", include_in_schema=False)
    async def redoc() -> HTMLResponse:
        # No Google Fonts either: the page uses the browser's own fonts.
        return _local_only(
            get_redoc_html(
                openapi_url=_document_url(app),
                title=f"{app.title} — API",
                with_google_fonts=False,
                redoc_js_url=f"{REDOC}/redoc.standalone.js",
                redoc_favicon_url=f"{SWAGGER}/favicon-32x32.png",
            )
        )

"""The reviewer web UI under /ui: server-rendered Jinja2 pages over the same domain services as the API."""

from collections.abc import Awaitable, Callable
from pathlib import Path

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.api.problems import log_internal_error
from app.db.engine import is_unavailable
from app.domain.errors import DomainError, Invalid
from app.web import drafts, labels
from app.web.context import LoginRequired, WebContext, login_redirect
from app.web.render import page
from app.web.routes import (
    admin,
    auth,
    bulk,
    case,
    clock,
    inbox,
    materials,
    modeler,
    monthly_reports,
    payment_accounts,
    payments,
    public,
    report_cases,
    reports,
    stuck,
    supervision,
    task,
)

PROBLEM_PAGE = "/ui/problem"  # where a form refused outright is explained
STATIC = Path(__file__).resolve().parent / "static"
log = structlog.get_logger()


async def _answer(
    handler: Callable[[Request, Exception], Response | Awaitable[Response]], request: Request, exc: Exception
) -> Response:
    """The answer of the API's own handler, which Starlette types as possibly synchronous."""
    answer = handler(request, exc)
    return await answer if isinstance(answer, Awaitable) else answer


def install(app: FastAPI) -> None:
    for module in (
        auth,
        inbox,
        task,
        bulk,
        case,
        supervision,
        monthly_reports,  # before reports: /reports/{table}.csv would take monthly.csv
        report_cases,  # before reports, for cases.csv
        reports,
        payment_accounts,  # before payments: its fixed paths are not batch numbers
        payments,
        clock,
        stuck,
        admin,
        modeler,
        materials,
    ):
        app.include_router(module.router, prefix="/ui", include_in_schema=False)
    app.include_router(public.router, prefix="/ui/public", include_in_schema=False)
    app.mount("/ui/static", StaticFiles(directory=STATIC), name="ui-static")

    @app.get("/ui", include_in_schema=False)
    async def _root():
        return RedirectResponse("/ui/", status_code=307)

    @app.exception_handler(LoginRequired)
    async def _login(_: Request, exc: LoginRequired):
        return RedirectResponse(login_redirect(exc), status_code=303)

    # Errors inside /ui become a page in Chinese; everywhere else they stay problem documents.
    api_handler = app.exception_handlers[DomainError]

    @app.exception_handler(DomainError)
    async def _domain(request: Request, exc: DomainError):
        if not request.url.path.startswith("/ui/"):
            return await _answer(api_handler, request, exc)
        if request.method == "POST":  # a form refused outright: the message on a GET page (PRG)
            ctx = WebContext(request, request.app.state.db, request.app.state.settings)
            return await drafts.redirect(
                ctx, PROBLEM_PAGE, {"status": exc.status, "message": labels.problem(exc)}
            )
        return page(request, "error.html", exc.status, message=labels.problem(exc))

    @app.get(PROBLEM_PAGE, include_in_schema=False)
    async def _problem(request: Request):
        ctx = WebContext(request, request.app.state.db, request.app.state.settings)
        async with ctx.begin_anonymous() as conn:
            draft = await drafts.recall(ctx, conn)
        if not draft:
            return page(request, "error.html", 404, message="该提示已过期。")
        return page(request, "error.html", drafts.status(draft), message=str(draft["message"]))

    validation_handler = app.exception_handlers[RequestValidationError]

    @app.exception_handler(RequestValidationError)
    async def _malformed(request: Request, exc: RequestValidationError):
        """A malformed address or query under /ui/ (``/ui/views/abc/delete``): Chinese words, not JSON."""
        if not request.url.path.startswith("/ui/"):
            return await _answer(validation_handler, request, exc)
        return await _domain(request, Invalid("validation_error", "the request is malformed or incomplete"))

    http_handler = app.exception_handlers[StarletteHTTPException]

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        if not request.url.path.startswith("/ui/") or request.url.path.startswith("/ui/static/"):
            return await _answer(http_handler, request, exc)
        message = {404: "页面不存在。", 405: "不支持这种访问方式。"}.get(exc.status_code, "请求无法完成。")
        return page(request, "error.html", exc.status_code, message=message)

    api_internal = app.exception_handlers[Exception]

    @app.exception_handler(Exception)
    async def _internal(request: Request, exc: Exception):
        if not request.url.path.startswith("/ui/"):
            return await _answer(api_internal, request, exc)
        if is_unavailable(exc):  # a failover or restart: nothing to report, just wait a moment
            log.warning("database_unavailable", method=request.method, path=request.url.path, error=repr(exc))
            response = page(
                request, "error.html", 503, message="系统正在切换数据库，请稍候几秒后刷新页面重试。"
            )
            response.headers["Retry-After"] = "1"
            return response
        error_id = log_internal_error(request, exc)
        return page(
            request,
            "error.html",
            500,
            message="系统内部错误，请稍后再试；如需报告，请提供错误编号。",
            error_id=error_id,
        )

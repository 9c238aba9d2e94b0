"""Login and logout (/ui/login, /ui/logout): a server-side session in an HttpOnly cookie."""

from urllib.parse import urlencode, urlsplit

from fastapi import APIRouter
from fastapi.responses import RedirectResponse

from app.api.deps import log_in
from app.db.engine import transaction
from app.domain.errors import DomainError, Unauthorized
from app.domain.people import account_changes, web_sessions
from app.web import drafts, labels
from app.web.context import SESSION_COOKIE, CsrfFailed, WebContext, WebCtx
from app.web.render import flash, page

router = APIRouter()


def _safe_next(value: str | None) -> str:
    """Only paths inside the UI: a login link must not bounce a reviewer to another site."""
    if value and value.startswith("/ui/") and not value.startswith("//") and not urlsplit(value).netloc:
        return value
    return "/ui/"


def _login_page(ctx, *, status: int = 200, error: str = "", username: str = "", next_url: str = "/ui/"):
    expired = ctx.request.query_params.get("expired") == "1" and not error
    response = page(
        ctx.request,
        "login.html",
        status,
        csrf=ctx.anon_csrf(),
        error=error,
        username=username,
        next_url=next_url,
        expired=expired,
    )
    return ctx.set_anon_cookie(response)


@router.get("/login")
async def login_form(ctx: WebCtx, next: str | None = None):
    async with transaction(ctx.db) as conn:
        if ctx.session_token and await web_sessions.resolve(
            conn, ctx.session_token, ctx.settings.ui_idle_seconds
        ):  # already signed in: straight on
            return RedirectResponse(_safe_next(next), status_code=303)
        draft = await drafts.recall(ctx, conn)  # a refused login: why, and the username typed
    return _login_page(
        ctx,
        status=drafts.status(draft),
        error=str(draft.get("error", "")),
        username=str(draft.get("username", "")),
        next_url=_safe_next(next),
    )


async def _refused(ctx: WebContext, status: int, error: str, username: str, next_url: str):
    """Back to the login page (GET) with the message; the password is never kept."""
    body = {"status": status, "error": error, "username": username}
    return await drafts.redirect(ctx, "/ui/login", body, {"next": next_url} if next_url != "/ui/" else None)


@router.post("/login")
async def login(ctx: WebCtx):
    form = await ctx.request.form()
    username, password = str(form.get("username", "")).strip(), str(form.get("password", ""))
    next_url = _safe_next(str(form.get("next", "")))
    try:
        if form.get("csrf_token") != ctx.anon_csrf():
            raise CsrfFailed("csrf_failed", "the login form's CSRF token is missing or wrong")
        if not username or not password:
            return await _refused(ctx, 422, "请输入用户名和密码。", username, next_url)
        await log_in(ctx.db, username, password)
    except DomainError as exc:
        message = "页面已过期，请重新提交。" if exc.code == "csrf_failed" else labels.problem(exc)
        if exc.code == "account_locked":
            message += f"（约{(exc.extra.get('retry_after', 60) + 59) // 60}分钟后可再试）"
        return await _refused(ctx, exc.status, message, username, next_url)
    async with transaction(ctx.db) as conn:
        await web_sessions.purge_expired(conn)
        token = await web_sessions.start(conn, username, ctx.settings.token_ttl_seconds)
    response = RedirectResponse(next_url, status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        httponly=True,
        samesite="lax",
        secure=ctx.secure,
        path="/ui",
        max_age=ctx.settings.token_ttl_seconds,
    )
    return response


@router.post("/logout")
async def logout(ctx: WebCtx):
    await ctx.form()  # a forged logout is harmless but still refused: every form is checked
    async with transaction(ctx.db) as conn:
        await web_sessions.end(conn, ctx.session_token)
    response = RedirectResponse("/ui/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/ui")
    return response


@router.get("/password")
async def password_form(ctx: WebCtx):
    async with ctx.begin() as (conn, me):
        draft = await drafts.recall(ctx, conn)  # a refused change: why (never the passwords)
        status = drafts.status(draft)
        error = str(draft.get("error", ""))
        return page(ctx.request, "account_password.html", status, me=me, csrf=ctx.csrf, error=error)


@router.post("/password")
async def change_password(ctx: WebCtx):
    """The same as POST /api/v1/auth/password: a wrong current password counts like a failed login,
    and the change ends every session of the user, this one included."""
    form = await ctx.form()
    async with ctx.begin() as (_, me):
        pass
    try:
        try:
            await log_in(ctx.db, me.name, str(form.get("current_password", "")))
        except Unauthorized as exc:
            raise DomainError("wrong_password", "the current password is wrong") from exc
        async with transaction(ctx.db) as conn:
            await account_changes.set_password(conn, me.name, str(form.get("new_password", "")), me.name)
    except DomainError as exc:
        status = 403 if exc.code == "wrong_password" else exc.status
        return await drafts.redirect(ctx, "/ui/password", {"status": status, "error": labels.problem(exc)})
    response = RedirectResponse(
        "/ui/login?" + urlencode(flash(ctx.request, "密码已修改，请用新密码重新登录。")), status_code=303
    )
    response.delete_cookie(SESSION_COOKIE, path="/ui")
    return response

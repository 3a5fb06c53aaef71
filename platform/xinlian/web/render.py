"""Template rendering with the message catalogue, the caller's language and local times."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from xinlian.errors import DomainError
from xinlian.evidence import evidence_rows, st_table
from xinlian.i18n import DEFAULT_LANG, LANGS, local_time, t

TEMPLATES = Jinja2Templates(directory=Path(__file__).resolve().parents[1] / "templates")
LANG_COOKIE = "xinlian_lang"


def request_lang(request: Request) -> str:
    lang = request.query_params.get("lang") or request.cookies.get(LANG_COOKIE) or DEFAULT_LANG
    return lang if lang in LANGS else DEFAULT_LANG


def render(request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    lang = request_lang(request)
    context.setdefault("user", getattr(request.state, "principal", None))
    response = TEMPLATES.TemplateResponse(
        request,
        name,
        {
            "lang": lang,
            "t": lambda key: t(key, lang),
            "local_time": local_time,
            "evidence": lambda ev: evidence_rows(ev, lang),
            "st_table": lambda m, q: st_table(m, q, lang),
            **context,
        },
        status_code=status_code,
    )
    if request.query_params.get("lang") in LANGS:
        response.set_cookie(LANG_COOKIE, lang, max_age=365 * 86400, samesite="lax")
    return response


def render_error(request: Request, exc: DomainError) -> HTMLResponse:
    return render(request, "error.html", status_code=exc.status_code, error=exc)

"""Templates: Jinja2 with the Swedish money and date filters, one ``page`` call per answer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from api.ui import format as fmt
from api.ui.access import User

HERE = Path(__file__).resolve().parent
templates = Jinja2Templates(directory=HERE / "templates")
templates.env.filters["kr"] = fmt.kronor
templates.env.filters["num"] = fmt.number
templates.env.filters["iso"] = fmt.iso

# The navigation: (label, path, the role whose members see it).
NAV: tuple[tuple[str, str, str], ...] = (
    ("Översikt", "/ui/", "reader"),
    ("Rapporter", "/ui/rapporter", "reader"),
    ("Perioder", "/ui/perioder", "reader"),
    ("Import", "/ui/import", "poster"),
    ("Revision", "/ui/revision", "auditor"),
)


def page(
    request: Request,
    template: str,
    user: User | None,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    nav = [(label, path) for label, path, role in NAV if user is not None and user.may(role)]
    return templates.TemplateResponse(
        request,
        template,
        {"user": user, "nav": nav, "path": request.url.path, **context},
        status_code=status_code,
    )

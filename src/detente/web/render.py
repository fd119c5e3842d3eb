"""Jinja2 environment and the static files, shared by every page router."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, select_autoescape

HERE = Path(__file__).resolve().parent
templates = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(["html"]))


def page(name: str, status: int = 200, **context: Any) -> HTMLResponse:
    """Render a template into an HTML response (autoescaped)."""
    return HTMLResponse(templates.get_template(name).render(**context), status_code=status)


def static_files() -> StaticFiles:
    """The app's own CSS and JavaScript: nothing is loaded from elsewhere."""
    return StaticFiles(directory=HERE / "static")

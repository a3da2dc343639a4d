"""Templates, the links to the Temporal web UI, and form helpers the console pages share."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from pydantic import ValidationError

from api.console.charts import line_chart
from runtime.settings import Settings

templates = Jinja2Templates(directory=Path(__file__).parent / "templates")
templates.env.globals["line_chart"] = line_chart
#: Characters of one form field the console reads (its inputs say so too).
FIELD_MAX = 4000


@dataclass(frozen=True)
class ConsoleLinks:
    """Where the Temporal web UI shows a workflow."""

    ui_base: str
    namespace: str

    @classmethod
    def from_settings(cls, settings: Settings) -> ConsoleLinks:
        """The UI on the Temporal server's host at the settings' UI port."""
        host = settings.temporal_address.rsplit(":", 1)[0] or "127.0.0.1"
        return cls(f"http://{host}:{settings.ui_port}", settings.temporal_namespace)

    def workflow(self, workflow_id: str) -> str:
        """The UI page of one workflow."""
        return f"{self.ui_base}/namespaces/{quote(self.namespace)}/workflows/{quote(workflow_id)}"


def page(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    """Render ``template`` with the signed-in caller and the UI links."""
    context.setdefault("who", getattr(request.state, "console_who", None))
    context["links"] = request.app.state.console_links
    return templates.TemplateResponse(request, template, context, status_code=status)


def field_errors(err: ValidationError) -> dict[str, str]:
    """One message per top-level field of a pydantic error (the first one)."""
    found: dict[str, str] = {}
    for e in err.errors():
        name = str(e["loc"][0]) if e["loc"] else "form"
        found.setdefault(name, str(e["msg"]).removeprefix("Value error, "))
    return found


def listed(text: str) -> list[str]:
    """A comma- or newline-separated form field as a list of its non-empty items."""
    return [part.strip() for part in text.replace("\n", ",").split(",") if part.strip()]

"""Import (poster): a SIE file from the ERP, previewed as a dry run, then imported on confirm.

The same path as ``POST /v1/imports/sie``: ``prepare`` reads and plans the file with the
server's SIE settings, ``import_sie`` previews it (``dry_run``) or posts it in one transaction.
The confirmation imports exactly the previewed bytes, carried in the preview page's signed
hidden field (``api.ui.staged``): nothing is uploaded twice and nothing is kept on the server.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import File, Form, Request, UploadFile
from fastapi.responses import Response

from api.container import Container
from api.deps import ContainerDep
from api.ui.access import PosterUser, PosterWrite, User, sessions
from api.ui.pages.common import actor_of, ui_router
from api.ui.render import page
from api.ui.rules import Refusal
from api.ui.staged import MAX_FIELD_CHARS, Staged, StagedTooLarge, stage, unstage
from ledger.errors import LedgerError
from ledger.formats.sie.accounts import SpendAccounts
from ledger.formats.sie.importer import ImportOutcome, import_sie, prepare
from ledger.formats.sie.lines import Options
from ledger.service import Replayed

router = ui_router()

SHOWN_SKIPS = 200  # skipped rows listed on the page; the counts cover every one
MAX_FILENAME = 200  # characters of the uploaded file's name kept for the pages

# Why a row is not imported, as a controller says it (reason codes of the SIE import).
SKIP_REASONS = {
    "not-a-cost-account": "Inte ett kostnadskonto",
    "no-cost-object": "Saknar objekt",
    "zero-amount": "Beloppet är noll",
    "unknown-cost-object": "Objektet hör inte till något bidrag",
    "outside-spend-period": "Utanför bidragets förbrukningsperiod",
    "struck-not-recorded": "Struken rad (#BTRANS) som aldrig bokförts",
}
WARNINGS = {
    "malformed-record": "Trasig post som importen inte använder",
    "utf8-declared-pc8": "Teckenkodningen stämmer inte med #FORMAT",
    "replacement-character": "Tecken som inte kunde läsas",
}


def _options(container: Container) -> Options:
    """The server's SIE settings: the same defaults the API's import uses."""
    s = container.settings
    return Options(
        cost_object_dim=s.sie_cost_object_dim,
        activity_dim=s.sie_activity_dim or None,
        spend_accounts=SpendAccounts.parse(s.sie_spend_accounts),
    )


def _carried(options: Options) -> dict[str, object]:
    return {
        "cost_object_dim": options.cost_object_dim,
        "activity_dim": options.activity_dim,
        "spend_accounts": str(options.spend_accounts),
    }


def _read_back(carried: dict[str, Any]) -> Options:
    return Options(
        cost_object_dim=int(carried["cost_object_dim"]),
        activity_dim=None if carried["activity_dim"] is None else int(carried["activity_dim"]),
        spend_accounts=SpendAccounts.parse(str(carried["spend_accounts"])),
    )


def _page(
    request: Request, user: User, container: Container, *, status_code: int = 200, **extra: Any
) -> Response:
    return page(
        request,
        "import.html",
        user,
        status_code=status_code,
        options=_options(container),
        skip_reasons=SKIP_REASONS,
        warnings=WARNINGS,
        shown_skips=SHOWN_SKIPS,
        **extra,
    )


@router.get("/import")
def import_form(request: Request, user: PosterUser, container: ContainerDep) -> Response:
    return _page(request, user, container)


@router.post("/import/forhandsgranska")
def preview(
    request: Request,
    user: PosterWrite,
    container: ContainerDep,
    file: Annotated[UploadFile | None, File()] = None,
) -> Response:
    if file is None or not (raw := file.file.read()):
        refusal = Refusal.invalid("Välj en SIE-fil (SIE 4, transaktioner) att förhandsgranska.")
        return _page(request, user, container, status_code=422, refusal=refusal)
    options = _options(container)
    name = (file.filename or "fil.se")[-MAX_FILENAME:]
    carried = Staged(filename=name, raw=raw, options=_carried(options))
    try:  # first, so a file too large to carry costs no dry run
        field = stage(sessions(request), user.session, carried)
    except StagedTooLarge:
        refusal = Refusal.invalid(
            "Filen är för stor för att förhandsgranskas på webben. Importera den med "
            "`grantledger import sie` eller POST /v1/imports/sie."
        )
        return _page(request, user, container, status_code=413, refusal=refusal)
    try:
        prepared = prepare(raw, options, max_lines=container.settings.sie_max_lines)
        outcome = import_sie(container.service, prepared, actor_of(request, user), dry_run=True)
    except LedgerError as e:
        return _page(request, user, container, status_code=422, refusal=Refusal.of(e))
    assert isinstance(outcome, ImportOutcome)  # a dry run is never a replay
    return _page(request, user, container, outcome=outcome, staged=field, filename=carried.filename)


@router.post("/import/bekrafta")
def confirm(
    request: Request,
    user: PosterWrite,
    container: ContainerDep,
    staged: Annotated[str, Form(max_length=MAX_FIELD_CHARS + 200)] = "",
) -> Response:
    carried = unstage(
        sessions(request), user.session, staged, max_bytes=container.settings.max_body_bytes
    )
    if carried is None:
        refusal = Refusal.invalid(
            "Förhandsgranskningen gäller inte längre (den är äldre än 30 minuter, hör till en "
            "annan inloggning eller har ändrats). Ladda upp filen och förhandsgranska den igen."
        )
        return _page(request, user, container, status_code=422, refusal=refusal)
    try:
        options = _read_back(carried.options)
        prepared = prepare(carried.raw, options, max_lines=container.settings.sie_max_lines)
        outcome = import_sie(container.service, prepared, actor_of(request, user))
    except LedgerError as e:
        return _page(request, user, container, status_code=422, refusal=Refusal.of(e))
    assert not isinstance(outcome, Replayed)  # no idempotency key: never a replay
    return _page(
        request,
        user,
        container,
        outcome=outcome,
        filename=carried.filename,
        message=f"Importen av {carried.filename} är bokförd.",
    )

"""``costroute batch submit|status|results|cancel|list``: provider batch APIs at batch prices.

State lives in the configured ledger's database, so any process (this one later, a cron job)
can collect a batch another submitted.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ._console import emit_json, errors_as_messages, money, stdout

if TYPE_CHECKING:
    from .. import Client
    from ..batches import Batch

__all__ = ["register"]

batch_app = typer.Typer(help="Submit requests to providers' batch APIs (half price, answers within 24 h).",
                        no_args_is_help=True)

_Config = Annotated[Path | None, typer.Option("--config", "-c", exists=True, dir_okay=False,
                                              help="Configuration file (default: $COSTROUTE_CONFIG).")]
_Json = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _client(config: Path | None) -> Client:
    from .. import Client

    return Client(config) if config is not None else Client()


def _as_dict(batch: Batch) -> dict[str, Any]:
    return {"id": batch.id, "status": batch.status, "created_at": batch.created_at.isoformat(),
            "expires_at": batch.expires_at.isoformat(), "policy": batch.policy, "counts": dict(batch.counts),
            "cost_usd": batch.cost_usd, "reserved_usd": batch.reserved_usd, "jobs": list(batch.jobs)}


def _show(batch: Batch, as_json: bool) -> None:
    if as_json:
        emit_json(_as_dict(batch))
        return
    counts = ", ".join(f"{k} {v}" for k, v in batch.counts.items())
    stdout().print(f"{batch.id}  {batch.status}  ({counts})  cost {money(batch.cost_usd)}"
                   f"  still reserved {money(batch.reserved_usd)}")


def _read_requests(path: Path) -> list[dict[str, Any]]:
    from .._errors import RequestValidationError

    out: list[dict[str, Any]] = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            raise RequestValidationError(f"not JSON: {exc.msg}", location=f"{path}:{n}") from None
        if not isinstance(item, dict):
            raise RequestValidationError("must be a JSON object", location=f"{path}:{n}")
        out.append(item)
    return out


@batch_app.command("submit")
def submit(
    requests: Annotated[Path, typer.Argument(exists=True, dir_okay=False,
                                             help="JSONL: one request a line, each with a custom_id.")],
    config: _Config = None,
    policy: Annotated[str, typer.Option("--policy", "-p", help="Policy to route with.")] = "default",
    tag: Annotated[list[str] | None, typer.Option("--tag", help="k=v tag for every item (repeatable).")] = None,
    as_json: _Json = False,
) -> None:
    """Route, reserve and submit a batch; prints its id."""
    from .._errors import RequestValidationError

    with errors_as_messages():
        tags: dict[str, str] = {}
        for t in tag or []:
            key, sep, value = t.partition("=")
            if not sep or not key:
                raise RequestValidationError(f"expected k=v, not {t!r}", location="--tag")
            tags[key] = value
        items = _read_requests(requests)
        with _client(config) as client:
            _show(client.batches.create(requests=items, policy=policy, tags=tags), as_json)


@batch_app.command("status")
def status(batch_id: str, config: _Config = None, as_json: _Json = False) -> None:
    """Poll the batch, book what finished, and show where it stands."""
    with errors_as_messages(), _client(config) as client:
        _show(client.batches.retrieve(batch_id), as_json)


@batch_app.command("results")
def results(
    batch_id: str,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write the answers here (JSONL).")] = None,
    config: _Config = None,
) -> None:
    """The finished items as JSONL: custom_id, answer text, cost, error."""
    with errors_as_messages(), _client(config) as client:
        lines = []
        for item in client.batches.results(batch_id):
            row: dict[str, Any] = {"custom_id": item.custom_id, "error": item.error}
            if item.response is not None:
                row.update(content=item.response.choices[0].message.content, model=item.response.costroute.model,
                           cost_usd=str(item.response.costroute.cost_usd))
            lines.append(json.dumps(row))
        text = "".join(line + "\n" for line in lines)
        if output is None:
            typer.echo(text, nl=False)
        else:
            output.write_text(text, encoding="utf-8")


@batch_app.command("cancel")
def cancel(batch_id: str, config: _Config = None, as_json: _Json = False) -> None:
    """Cancel the batch; items that had not run release their holds."""
    with errors_as_messages(), _client(config) as client:
        _show(client.batches.cancel(batch_id), as_json)


@batch_app.command("list")
def list_batches(config: _Config = None, as_json: _Json = False) -> None:
    """Every batch in the ledger, newest first (as last collected)."""
    with errors_as_messages(), _client(config) as client:
        batches = client.batches.list()
        if as_json:
            emit_json([_as_dict(b) for b in batches])
        for b in batches if not as_json else []:
            _show(b, False)


def register(app: typer.Typer) -> None:
    app.add_typer(batch_app, name="batch")

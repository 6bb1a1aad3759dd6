"""Budgets enforced by the client: reserve before the call, settle after, release on every exit."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest

from costroute import BudgetExceeded, Client, ProviderError, ProviderServerError
from costroute.spend import MemoryBudgetStore
from costroute.testing import FakeOpenAIServer

from .conftest import EASY, HARD


@pytest.fixture()
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as fake:
        yield fake


@pytest.fixture(autouse=True)
def _close_clients(monkeypatch) -> Iterator[None]:
    """Every client a test makes is closed after it, so no HTTP pool outlives the test."""
    made: list[Client] = []
    original = Client.__init__

    def tracking(self, *args, **kwargs):
        original(self, *args, **kwargs)
        made.append(self)

    monkeypatch.setattr(Client, "__init__", tracking)
    yield
    for client in made:
        client.close()


def _config(server: FakeOpenAIServer, *budgets: dict) -> dict:
    return {
        "models": [
            {"name": "openai/cheap", "api_base": server.base_url, "api_key": "sk-loop", "quality": 0.5,
             "price": {"input_per_mtok": 1, "output_per_mtok": 2}},
            {"name": "openai/strong", "api_base": server.base_url, "api_key": "sk-loop", "quality": 0.9,
             "price": {"input_per_mtok": 100, "output_per_mtok": 200}},
        ],
        "policies": {"default": {"max_output_tokens": 100, "retry": {"attempts_per_model": 1}}},
        "budgets": list(budgets),
    }


def _state(client: Client):
    assert client.budgets is not None
    return client.budgets.snapshot()


def test_block_refuses_before_any_call_and_nothing_stays_reserved(server, ledger) -> None:
    # worst case for the strong model: ~60 prompt tokens x $100/M + 100 x $200/M ≈ $0.026
    client = Client(_config(server, {"name": "tiny", "limit_usd": "0.01", "period": "day", "on_exceed": "block"}),
                    ledger=ledger, budget_store=MemoryBudgetStore())
    with pytest.raises(BudgetExceeded) as caught:
        client.chat.completions.create(messages=HARD)
    assert caught.value.budget == "tiny"
    assert server.calls == [] and ledger.records() == []
    assert all(s.reserved == 0 and s.spent == 0 for s in _state(client))


def test_spend_is_settled_to_the_actual_cost(server, ledger) -> None:
    client = Client(_config(server, {"name": "daily", "limit_usd": 1, "period": "day"}),
                    ledger=ledger, budget_store=MemoryBudgetStore())
    info = client.chat.completions.create(messages=EASY).costroute
    [state] = _state(client)
    assert state.reserved == 0
    assert state.spent == info.cost_usd.quantize(Decimal("0.000001"))


def test_downgrade_routes_to_a_cheaper_model_then_blocks(server, ledger) -> None:
    client = Client(_config(server, {"name": "d", "limit_usd": "0.01", "period": "day", "on_exceed": "downgrade"}),
                    ledger=ledger, budget_store=MemoryBudgetStore())
    info = client.chat.completions.create(messages=HARD).costroute
    assert info.model == "openai/cheap" and info.tier == "economy"
    assert server.calls_for("strong") == 0
    pinned_budget = _config(server, {"name": "d", "limit_usd": "0.0000001", "period": "day",
                                     "on_exceed": "downgrade"})
    with pytest.raises(BudgetExceeded):
        Client(pinned_budget, ledger=ledger, budget_store=MemoryBudgetStore()).chat.completions.create(messages=HARD)


def test_per_user_budget_is_scoped_by_tag(server, ledger) -> None:
    store = MemoryBudgetStore()
    client = Client(_config(server, {"name": "per-user", "limit_usd": "0.001", "period": "day",
                                     "scope": "tag:user", "on_exceed": "block"}), ledger=ledger, budget_store=store)
    client.chat.completions.create(messages=EASY, tags={"user": "alice"})
    with pytest.raises(BudgetExceeded):
        for _ in range(50):
            client.chat.completions.create(messages=EASY, tags={"user": "alice"})
    client.chat.completions.create(messages=EASY, tags={"user": "bob"})  # bob has his own budget
    assert all(s.reserved == 0 and s.spent <= s.limit for s in _state(client))


@pytest.mark.parametrize("path", ["provider_error", "stream_closed", "stream_error", "keyboard_interrupt"])
def test_every_exit_path_releases_the_reservation(server, ledger, path: str) -> None:
    client = Client(_config(server, {"name": "b", "limit_usd": 1, "period": "total"}), ledger=ledger,
                    budget_store=MemoryBudgetStore(), sleep=lambda s: None)
    if path == "provider_error":
        server.script("cheap", failures=[500, 500, 500, 500])
        server.script("strong", failures=[500, 500, 500, 500])
        with pytest.raises(ProviderServerError):
            client.chat.completions.create(messages=EASY)
    elif path == "stream_closed":
        server.script("cheap", answer="word " * 200)
        stream = client.chat.completions.create(messages=EASY, stream=True)
        next(stream)
        stream.close()
    elif path == "stream_error":
        server.script("cheap", answer="word " * 200, cut_stream_after=3)
        with pytest.raises(ProviderError):  # the cut stream surfaces as a provider error
            list(client.chat.completions.create(messages=EASY, stream=True))
    else:
        def interrupt(_call):
            raise KeyboardInterrupt
        client._engine.completer.complete = interrupt  # type: ignore[method-assign]
        with pytest.raises(KeyboardInterrupt):
            client.chat.completions.create(messages=EASY)
    [state] = _state(client)
    assert state.reserved == 0
    spent = sum((r.cost_usd for r in ledger.records()), Decimal(0))
    assert state.spent == spent  # what was consumed of a cut stream is counted, nothing else


def test_alerts_fire_once_per_threshold(server, ledger) -> None:
    events = []
    client = Client(_config(server, {"name": "a", "limit_usd": "0.0002", "period": "day", "alerts": [0.5]}),
                    ledger=ledger, budget_store=MemoryBudgetStore(), on_budget_alert=events.append)
    for _ in range(6):
        try:
            client.chat.completions.create(messages=EASY, max_tokens=5)
        except BudgetExceeded:
            break
    assert [e.threshold for e in events].count(0.5) == 1


def test_feedback_turns_traffic_into_training_data(server, tmp_path) -> None:
    from costroute import RequestValidationError
    from costroute.spend import SQLiteLedger

    ledger = SQLiteLedger(tmp_path / "ledger.sqlite3", store_prompts=True)
    client = Client(_config(server), ledger=ledger)
    first = client.chat.completions.create(messages=EASY).costroute
    second = client.chat.completions.create(messages=HARD).costroute
    client.feedback(first.request_id, 1.0)
    client.feedback(second.request_id, 0.2)
    client.feedback(second.request_id, 0.0)  # a later score replaces the earlier one
    with pytest.raises(RequestValidationError, match="score"):
        client.feedback(first.request_id, 1.5)
    rows = {r["prompt"]: r for r in client.spend.outcomes()}
    assert rows[EASY[0]["content"]]["scores"] == {first.model: 1.0}
    assert rows[HARD[0]["content"]]["scores"] == {second.model: 0.0}
    assert ledger.schema_version() == 4
    ledger.close()


def test_feedback_on_one_prompt_from_two_models_makes_one_training_row(server, tmp_path) -> None:
    from costroute.evaluation import auto_pair
    from costroute.evaluation._data import parse_outcome
    from costroute.spend import SQLiteLedger

    ledger = SQLiteLedger(tmp_path / "ledger.sqlite3", store_prompts=True)
    client = Client(_config(server), ledger=ledger)
    models = [m["name"] for m in _config(server)["models"]][:2]
    for model, score in zip(models, (0.0, 1.0), strict=True):
        for _ in range(2):  # two answers from the same model: its mean is kept
            client.feedback(client.chat.completions.create(messages=HARD, model=model).costroute.request_id, score)
    [row] = client.spend.outcomes()
    assert row["scores"] == dict(zip(models, (0.0, 1.0), strict=True))
    outcome = parse_outcome(row, "ledger")
    assert set(auto_pair([outcome, outcome])) == set(models)
    ledger.close()

"""The spend dashboard: rendered from a real ledger, loaded in a real headless Chromium."""

from __future__ import annotations

import html
import os
import re
import shutil
import subprocess
import threading
from collections.abc import Iterator
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from costroute import AsyncClient
from costroute.server._dashboard import DashboardData, dashboard_page, render_dashboard
from costroute.spend import MemoryBudgetStore, MemoryLedger, SummaryRow
from costroute.testing import FakeOpenAIServer

KEY = "sk-dashboard-sentinel-31337"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
EASY = [{"role": "user", "content": "What is the capital of France?"}]


@pytest.fixture()
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as fake:
        yield fake


def _config(server: FakeOpenAIServer) -> dict:
    return {
        "models": [
            {"name": "openai/cheap", "api_base": server.base_url, "api_key": KEY, "quality": 0.6,
             "price": {"input_per_mtok": 10, "output_per_mtok": 20}},
            {"name": "openai/strong", "api_base": server.base_url, "api_key": KEY, "quality": 0.9,
             "price": {"input_per_mtok": 100, "output_per_mtok": 200}},
        ],
        "policies": {"default": {"baseline": "openai/strong"}},
        "budgets": [{"name": "daily", "limit_usd": 50, "period": "day"}],
    }


async def _page(server: FakeOpenAIServer, ledger: MemoryLedger) -> tuple[str, AsyncClient]:
    client = AsyncClient(_config(server), ledger=ledger, budget_store=MemoryBudgetStore())
    try:
        for i, team in enumerate(["search", "ads", "search", "<b>evil</b>"]):
            await client.chat.completions.create(messages=[{"role": "user", "content": f"Question {i}?"}],
                                                 tags={"team": team})
        await client.chat.completions.create(messages=EASY, model="openai/strong", temperature=0)
        await client.chat.completions.create(messages=EASY, model="openai/strong", temperature=0)  # a hit
        page = await dashboard_page(client)
    finally:
        await client.aclose()
    return page, client


def _usd(value: Decimal) -> str:
    return f"${value:,.6f}" if abs(value) < 1 else f"${value:,.2f}"


async def test_the_page_shows_the_ledgers_numbers_and_escapes_them(server) -> None:
    ledger = MemoryLedger()
    page, client = await _page(server, ledger)
    [total] = ledger.summary()
    assert total.requests == 6 and total.cache_hits == 1 and total.cost_usd > 0
    assert f'id="total-spend">{_usd(total.cost_usd)}<' in page
    assert f'id="total-saved">{_usd(total.saved_usd)}<' in page
    for row in ledger.summary(group_by=["model"]):
        assert f'data-group="{row.group["model"]}" data-value="{row.cost_usd}"' in page
        assert f"<td>{html.escape(_usd(row.cost_usd))}</td>" in page
    for row in ledger.summary(group_by=["tag:team"]):
        assert f'data-value="{row.cost_usd}"' in page
    [day] = ledger.summary(group_by=["day"])
    assert f'data-day="{day.group["day"]}" data-value="{day.cost_usd}"' in page
    assert "<b>evil</b>" not in page and "&lt;b&gt;evil&lt;/b&gt;" in page
    assert "16.7% of 6 requests" in page  # 1 hit of 6
    [budget] = client.budgets.snapshot()  # type: ignore[union-attr]
    assert budget.spent == total.cost_usd and f'data-budget="daily" data-value="{budget.spent}"' in page
    assert KEY not in page and "capital of France" not in page
    assert "<script" not in page and not re.search(r'(src|href)\s*=', page)
    assert re.findall(r"https?://[^\"' ]+", page) == ["http://www.w3.org/2000/svg"] * page.count("<svg")


def test_an_empty_ledger_renders_placeholders() -> None:
    page = render_dashboard(DashboardData(by_day=[], by_model=[], by_tag={}, total=SummaryRow()))
    assert page.count("no records yet") == 3 and "0.0% of 0 requests" in page


class _Serve(BaseHTTPRequestHandler):
    page = b""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(self.page)))
        self.end_headers()
        self.wfile.write(self.page)

    def log_message(self, *args: object) -> None:
        pass


def _chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", f"--user-data-dir={tmp_path / 'profile'}", *args],
        capture_output=True, text=True, timeout=180, check=False)


@pytest.mark.skipif(not os.path.exists(CHROMIUM) and not os.environ.get("CI"), reason="chromium is not installed")
async def test_the_page_renders_in_headless_chromium(server, tmp_path) -> None:
    ledger = MemoryLedger()
    page, _ = await _page(server, ledger)
    handler = type("Handler", (_Serve,), {"page": page.encode()})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{httpd.server_address[1]}/dashboard"
    try:
        dom = _chromium(tmp_path, "--dump-dom", url)
        shot = tmp_path / "dashboard.png"
        _chromium(tmp_path, f"--screenshot={shot}", "--window-size=900,1800", url)
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert dom.returncode == 0, dom.stderr[-2000:]
    text = dom.stdout
    for chart in ("chart-over-time", "chart-by-model", "chart-tag-0", "chart-cache", "chart-budgets"):
        assert re.search(rf'<section class="chart" id="{chart}">.*?<svg[^>]*class="{chart}"', text, re.S), chart
    [total] = ledger.summary()
    assert f'id="total-spend">{_usd(total.cost_usd)}<' in text
    assert text.count('class="bar spend"') == 2 + 2 + 3  # models, days (spend), tag values
    from PIL import Image

    assert shot.exists() and shot.stat().st_size > 1000
    with Image.open(shot) as img:
        colours = img.convert("RGB").getcolors(maxcolors=1 << 20) or []
    blue = (0x25, 0x63, 0xEB)
    assert len(colours) > 50 and any(c == blue for _, c in colours)  # not blank: the charts' bars are drawn

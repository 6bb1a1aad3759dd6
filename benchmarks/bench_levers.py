"""The levers besides routing, in dollars: flex (``deferrable=True``), batch (when
``benchmarks/_levers_batch.py`` is present) and provider prompt caching in an agent run.

(a) The shipped demo workload (the recorded MMLU replay, ``costroute.demo``) through the real
    client and the loopback fake: the same requests at the default tier and with ``deferrable=True``,
    once on the two models the sample recorded (neither offers flex: the ratio shows it) and once
    with the recorded token counts replayed on current flex-capable models (gpt-5-mini, gpt-5).
(b) A simulated 20-turn agent run (a ~3k-token system prompt and tool schemas, a context growing
    by a tool output and an answer per turn) over OpenAI and Anthropic models at list prices, the
    fake reporting prompt caching as the providers bill it: total cost with session stickiness and
    ``prompt_cache: auto`` vs plain per-request routing; the answers are checked to be the same.

    python benchmarks/bench_levers.py [--prompts 60] [--turns 20] [--only flex|agent]
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
from collections.abc import Callable
from decimal import Decimal
from itertools import pairwise
from pathlib import Path
from typing import Any

from costroute import Client
from costroute.demo._config import replay_config
from costroute.demo._run import recorded_answer
from costroute.demo._sample import Sample, load_sample
from costroute.pricing import PriceRegistry
from costroute.spend import MemoryLedger
from costroute.testing import FakeOpenAIServer, Reply

KEY = "sk-bench-levers-0000"
#: The recorded models' answers replayed on current models that offer flex (same token counts).
FLEX_MODELS = {"together_ai/mistralai/Mixtral-8x7B-Instruct-v0.1": "openai/gpt-5-mini",
               "openai/gpt-4-1106-preview": "openai/gpt-5"}


def _batch_arm() -> Callable[[int], Decimal] | None:
    """``benchmarks/_levers_batch.py``'s ``batch_total(prompts) -> Decimal`` (the cost of the same
    first ``prompts`` demo requests through ``client.batches``), if the batch helper wrote it."""
    sys.path.insert(0, str(Path(__file__).parent))
    try:
        module = importlib.import_module("_levers_batch")
    except ImportError:
        return None
    return getattr(module, "batch_total", None)


# -- (a) flex on the demo workload ----------------------------------------------------------------

def _flex_run(sample: Sample, prompts: int, rename: dict[str, str]) -> tuple[Decimal, Decimal, int]:
    """(default-tier total, deferrable total, requests answered at flex)."""
    registry = PriceRegistry.default(plugins=False)
    rows = sample.rows[:prompts]
    ledger = MemoryLedger()
    with FakeOpenAIServer() as fake:
        config = replay_config(sample, fake.base_url, registry=registry)
        for spec in config["models"]:
            recorded = next(m for m in sample.models if m.name == spec["name"])
            spec["name"] = rename.get(spec["name"], spec["name"])
            if registry.find(spec["name"]) is not None:
                spec.pop("price", None)
            fake.replay(spec["name"].split("/", 1)[1], {
                r.prompt: Reply(recorded_answer(r, recorded), prompt_tokens=r.prompt_tokens,
                                completion_tokens=r.completion_tokens) for r in rows})
        policy = dict(config["policies"]["default"])
        policy["baseline"] = rename.get(policy["baseline"], policy["baseline"])
        config["policies"] = {"default": policy, "flex": {**policy, "deferrable": True}}
        flex = 0
        with Client(config, ledger=ledger, registry=registry) as client:
            for policy in ("default", "flex"):
                for row in rows:
                    resp = client.chat.completions.create(messages=row.messages, policy=policy)
                    flex += resp.costroute.service_tier == "flex"
    totals = {r.group["policy"]: r.cost_usd for r in ledger.summary(group_by=["policy"])}
    return totals["default"], totals["flex"], flex


def levers(prompts: int) -> None:
    sample = load_sample()
    prompts = min(prompts, len(sample.rows))
    print(f"(a) demo workload: {prompts} recorded MMLU requests, live default tier vs deferrable=True (flex)")
    for label, rename in (("recorded models (no flex offered)", {}),
                          ("replayed on gpt-5-mini / gpt-5 (flex offered)", FLEX_MODELS)):
        live, flex, served = _flex_run(sample, prompts, rename)
        print(f"    {label:48s} live ${live:.6f}  flex ${flex:.6f}  flex/live {flex / live:.3f}  "
              f"({served} of {prompts} served at flex)")
    batch = _batch_arm()
    if batch is None:
        print("    batch: benchmarks/_levers_batch.py not present (the batch arm is measured there)")
    else:
        live, _, _ = _flex_run(sample, prompts, FLEX_MODELS)  # the recorded models have no batch price
        total = batch(prompts)
        print(f"    batch (client.batches, on gpt-5-mini / gpt-5)    live ${live:.6f}  batch ${total:.6f}  "
              f"batch/live {total / live:.3f}")


# -- (b) the agent run ----------------------------------------------------------------------------

RULES = ("Rule {i}: when you change code in this repository, keep modules under 400 lines, run the "
         "linters and the type checker, write a test that fails without the change, and explain every "
         "decision in the commit message with what was measured. ")
SYSTEM = "You are a coding agent working in a Python repository.\n" + "".join(RULES.format(i=i) for i in range(40))
TOOLS = [
    {"type": "function", "function": {
        "name": name, "description": f"{about} Returns its output as text, truncated to 4,000 characters.",
        "parameters": {"type": "object", "properties": {
            "path": {"type": "string", "description": "A path relative to the repository root."},
            "args": {"type": "array", "items": {"type": "string"}, "description": "Extra arguments."}},
            "required": ["path"]}}}
    for name, about in (("read_file", "Read a file."), ("run_tests", "Run pytest on a path."),
                        ("grep", "Search the tree for a pattern."), ("edit_file", "Apply a unified diff."),
                        ("run_linter", "Run ruff and mypy on a path."))
]
TASKS = [
    "List the modules under src/ and say which one handles retries.",
    "Read src/costroute/_retry.py and summarise what it does.",
    "Why does the retry loop sleep twice after a flex refusal? Walk through the control flow step by step, "
    "prove which branch runs, and propose a fix that keeps the attempt bounds.",
    "Run the tests in tests/client.",
    "Two tests fail with a ResourceWarning. Find the socket that is not closed and explain the lifetime of "
    "each HTTP pool, which object owns it, and in which order they are closed on shutdown.",
    "Grep for close( in src/costroute/providers.",
    "Apply the fix to the pool shutdown.",
    "Run the linter on src/costroute/providers.",
    "Rerun the failing tests.",
    "Write a regression test for the unclosed socket.",
    "Analyse whether the fix can deadlock when two threads close the client at once; reason about the lock "
    "order and the garbage collector, and derive the worst case.",
    "Run the whole client test directory again.",
    "Update the CHANGELOG.",
    "Read docs/routing.md and check it still matches the code.",
    "Summarise what changed in this session.",
]


def _turn_text(i: int) -> str:
    return TASKS[i % len(TASKS)]


def _tool_output(i: int) -> str:
    return f"Tool output of step {i}:\n" + "".join(
        f"line {n}: src/costroute/module_{(i * 7 + n) % 23}.py: ok, 0 errors, {n * 3} ms\n" for n in range(25))


#: The agent's policy: premium (Sonnet only, at these qualities) from difficulty 0.87, so the turns
#: of this run alternate between the premium and the standard tier.
THRESHOLDS = {"economy": 0.0, "standard": 0.35, "premium": 0.87}


def agent_pool() -> list[dict[str, Any]]:
    """OpenAI and Anthropic models at their list prices (the registry's); qualities as a user who
    trusts only Sonnet with premium work might set them."""
    return [
        {"name": "openai/gpt-4.1-mini", "quality": 0.62},
        {"name": "openai/gpt-5-mini", "quality": 0.74},
        {"name": "anthropic/claude-haiku-4-5", "quality": 0.72},
        {"name": "openai/gpt-5", "quality": 0.78},
        {"name": "anthropic/claude-sonnet-4-5", "quality": 0.9},
    ]


def _agent_run(turns: int, policy: dict[str, Any]) -> tuple[Decimal, list[str], list[str], dict[str, int]]:
    """(total cost, the model of each turn, the answers, cache token totals)."""
    ledger = MemoryLedger()
    with FakeOpenAIServer(prompt_cache=True) as fake:
        models = []
        for spec in agent_pool():
            base = fake.base_url.removesuffix("/v1") if spec["name"].startswith("anthropic/") else fake.base_url
            models.append({**spec, "api_base": base, "api_key": KEY})
        config = {"models": models, "cache": {"enabled": False},
                  "policies": {"default": {"baseline": "anthropic/claude-sonnet-4-5", "max_output_tokens": 300,
                                           "thresholds": THRESHOLDS, **policy}}}
        messages: list[dict[str, Any]] = [{"role": "system", "content": SYSTEM}]
        chosen, answers = [], []
        with Client(config, ledger=ledger) as client:
            for i in range(turns):
                text = _turn_text(i) if i == 0 else _tool_output(i) + "\n\nNext: " + _turn_text(i)
                messages.append({"role": "user", "content": text})
                resp = client.chat.completions.create(messages=messages, tools=TOOLS, tags={"session": "agent-1"})
                answer = resp.choices[0].message.content
                messages.append({"role": "assistant", "content": answer})
                chosen.append(resp.costroute.model)
                answers.append(answer)
    records = ledger.records()
    tokens = {"input": sum(r.input_tokens for r in records), "cache_read": sum(r.cache_read_tokens for r in records),
              "cache_write": sum(r.cache_write_tokens for r in records)}
    return sum((r.cost_usd for r in records), Decimal(0)), chosen, answers, tokens


def _runs(models: list[str]) -> str:
    out: list[str] = []
    for m in models:
        short = m.split("/", 1)[1]
        if out and out[-1].rsplit(" x", 1)[0] == short:
            head, count = out[-1].rsplit(" x", 1)
            out[-1] = f"{head} x{int(count) + 1}"
        else:
            out.append(f"{short} x1")
    return ", ".join(out)


def agent(turns: int) -> None:
    print(f"\n(b) simulated {turns}-turn agent run (system prompt + 5 tools, growing context), list prices,")
    print("    fake provider reporting prompt caching (OpenAI automatic, Anthropic cache_control)")
    started = time.perf_counter()
    arms = {
        "plain routing": {"session": {"sticky": False}, "prompt_cache": "off"},
        "plain + prompt_cache: auto": {"session": {"sticky": False}, "prompt_cache": "auto"},
        "sticky (tier kept) + auto": {"session": {"sticky": True}, "prompt_cache": "auto"},
        "sticky, tier may drop + auto": {"session": {"sticky": True, "allow_tier_drop": True}, "prompt_cache": "auto"},
    }
    runs = {label: _agent_run(turns, policy) for label, policy in arms.items()}
    plain = runs["plain routing"]
    for label, (cost, chosen, _, tokens) in runs.items():
        print(f"    {label:30s} ${cost:.6f}  x{cost / plain[0]:.3f} of plain  "
              f"switches {sum(a != b for a, b in pairwise(chosen))}  "
              f"tokens in/read/write {tokens['input']}/{tokens['cache_read']}/{tokens['cache_write']}")
        print(f"      models: {_runs(chosen)}")
    same = all(run[2] == plain[2] for run in runs.values())
    print(f"    same answers in every arm: {same}  ({time.perf_counter() - started:.1f} s)")
    if not same:
        raise SystemExit("the two runs answered differently")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--prompts", type=int, default=60, help="demo requests in (a) (228: all of them)")
    parser.add_argument("--turns", type=int, default=20)
    parser.add_argument("--only", choices=("flex", "agent"))
    args = parser.parse_args()
    if args.only != "agent":
        levers(args.prompts)
    if args.only != "flex":
        agent(args.turns)


if __name__ == "__main__":
    main()

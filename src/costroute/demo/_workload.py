"""A realistic mixed chat workload, generated deterministically from templates.

Ten kinds of request, weighted the way product traffic usually is (mostly short and easy, a long
tail of hard work): factual look-ups, greetings, rewording, summaries of pasted text, multi-turn
chats, JSON extraction, code writing, debugging with code blocks, proofs, and multi-part analysis.
Every prompt is assembled here from small pools of phrases; the same ``(n, seed)`` always gives the
same workload. ``answer_words`` is how long a realistic answer to the prompt would be, for a fake
provider to bill output tokens in proportion to the work asked for. Benchmarks route it
(``benchmarks/bench_client.py``); ``costroute demo`` replays recorded outcomes instead.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["KINDS", "WorkloadItem", "build_workload"]


@dataclass(frozen=True, slots=True)
class WorkloadItem:
    """One request of the workload."""

    kind: str
    messages: tuple[Mapping[str, Any], ...]
    answer_words: int
    params: Mapping[str, Any] = field(default_factory=dict)

    @property
    def prompt(self) -> str:
        """The text of the last message (what the fake provider keys its answer on)."""
        return str(self.messages[-1]["content"])


def _pick(pool: tuple[str, ...], i: int, stride: int = 1) -> str:
    return pool[(i * stride) % len(pool)]


def _pair(i: int, a: int, b: int) -> tuple[int, int]:
    """Indexes into pools of sizes ``a`` and ``b``, distinct for the first ``a * b`` values of ``i``
    when ``a + 1`` and ``b`` are coprime."""
    return i % a, (i + i // a) % b


def _user(text: str) -> tuple[Mapping[str, Any], ...]:
    return ({"role": "user", "content": text},)


# -- phrase pools ----------------------------------------------------------------------------------

_COUNTRIES = ("France", "Japan", "Kenya", "Peru", "Canada", "Norway", "Vietnam", "Morocco", "Chile",
              "Portugal", "Egypt", "New Zealand", "Poland", "Thailand", "Ghana", "Iceland", "Mexico")
_INVENTIONS = ("the telephone", "the printing press", "the transistor", "the bicycle", "penicillin",
               "the World Wide Web", "the steam engine", "the microwave oven", "the QR code", "radar")
_BOOKS = ("Pride and Prejudice", "One Hundred Years of Solitude", "The Left Hand of Darkness",
          "Things Fall Apart", "The Name of the Rose", "Beloved", "Dune", "The Master and Margarita")
_UNITS = (("centimetres", "metre"), ("ounces", "pound"), ("seconds", "day"), ("bytes", "kibibyte"),
          ("millilitres", "litre"), ("feet", "mile"), ("minutes", "week"), ("grams", "kilogram"))
_ACRONYMS = ("NASA", "HTTP", "UNESCO", "GDPR", "LASER", "SCUBA", "CPU", "ISBN", "DNA", "OPEC", "SQL")
_FACT_TEMPLATES: tuple[Callable[[int], str], ...] = (
    lambda i: f"What is the capital of {_pick(_COUNTRIES, i)}?",
    lambda i: f"When was {_pick(_INVENTIONS, i)} invented?",
    lambda i: f"Who wrote {_pick(_BOOKS, i)}?",
    lambda i: "How many {} are in a {}?".format(*_UNITS[i % len(_UNITS)]),
    lambda i: f"What does {_pick(_ACRONYMS, i)} stand for?",
    lambda i: f"What currency is used in {_pick(_COUNTRIES, i, 5)}?",
    lambda i: f"What language is mostly spoken in {_pick(_COUNTRIES, i, 3)}?",
)

_GREETINGS = ("Hi!", "Hello there", "Good morning!", "Thanks, that helped a lot.", "Hey, are you there?",
              "Thank you so much!", "Ok great, thanks", "Good evening, hope you're well.", "Cheers!",
              "Hi, quick question coming up", "bye for now", "Nice, that works.")

_SENTENCES = (
    "hey team the meeting got moved to thursday cuz the room was double booked",
    "We was not able to ship the order because the warehouse have closed early",
    "your invoice is late again and honestly we are getting tired of chasing it",
    "The new feature is kinda broken on mobile but works ok on desktop i think",
    "I can't make it to the party tonight, something came up at work sorry",
    "Please be advised that the parking lot will be closed for resurfacing next week",
    "the results was better then expected but the costs also went up a lot",
    "Can u send me the slides from yesterday asap, need them for the client call",
)
_REWORD_ASKS = ("Rewrite this to sound more formal", "Fix the grammar and spelling in this sentence",
                "Make this message friendlier", "Rephrase this more concisely",
                "Rewrite this for a customer-facing email", "Turn this into a polite reminder")

_PASSAGE = (
    "The city council met on Tuesday to discuss the proposed expansion of the light rail network.",
    "Supporters argued that the new line would cut commuting times by up to twenty minutes.",
    "Opponents raised concerns about construction noise and the loss of street parking.",
    "The transport department estimated the cost at 420 million dollars over six years.",
    "Several residents asked whether the stations would be accessible to wheelchair users.",
    "A local business association said footfall had dropped during earlier road works.",
    "The council agreed to commission an independent study before the final vote in March.",
    "Quarterly revenue rose eight percent, driven mostly by subscriptions in Europe.",
    "Hardware sales fell for the third quarter in a row as customers delayed upgrades.",
    "The company expects margins to recover once the new factory reaches full capacity.",
    "Management also announced a share buyback and a modest increase in the dividend.",
    "Analysts noted that customer churn had stabilised after two difficult years.",
    "Researchers tracked sleep patterns of 1,200 adults over eighteen months.",
    "Participants who exercised in the morning reported falling asleep faster on average.",
    "The effect was smaller for people who already slept more than seven hours a night.",
    "The authors caution that the study was observational and cannot prove causation.",
)
_SUMMARY_ASKS = ("Summarize the following in three bullet points", "Give me a two-sentence summary of this",
                 "TL;DR this for a busy executive", "Summarize the key facts and figures in this text",
                 "What are the main points of this passage?")

_TOPICS = (
    ("planning a 4-day trip to Lisbon on a budget", "What should I prioritise on day two?",
     "Could you also suggest where to eat near the old town?"),
    ("a vegetarian dinner for six people", "One guest is allergic to nuts.",
     "Can you turn that into a shopping list grouped by aisle?"),
    ("training for a first half marathon in 12 weeks", "I can only run three days a week.",
     "What should I do if my knee starts hurting?"),
    ("choosing a laptop for photo editing", "My budget is about 1500 euros.",
     "Is it worth paying more for a better screen or more RAM?"),
    ("writing a cover letter for a junior data analyst job", "I have a chemistry degree, no tech job yet.",
     "Can you make the opening paragraph stronger?"),
    ("setting up a small vegetable garden on a balcony", "It gets about four hours of sun.",
     "Which of those can I still plant in late summer?"),
)

_TURN_STYLES = ("", " Keep it short, please.", " Could you explain why?", " A table would be great.",
                " Assume I'm a complete beginner.")

_CODE_TASKS = (
    "parses an ISO 8601 duration string like 'P3DT4H' into a timedelta",
    "merges overlapping intervals in a list of (start, end) tuples",
    "implements an LRU cache with O(1) get and put without using functools",
    "reads a CSV file lazily and yields rows as dictionaries with typed columns",
    "computes the Levenshtein edit distance between two strings using O(min(m, n)) memory",
    "validates an IBAN and returns a descriptive error for each failure mode",
    "implements a token-bucket rate limiter that is safe to use from several threads",
    "finds the shortest path in a weighted grid with Dijkstra's algorithm",
    "serialises a nested dataclass tree to JSON and back, preserving types",
    "retries an HTTP request with exponential backoff and jitter, honouring Retry-After",
)
_LANGS = ("Python", "TypeScript", "Go", "Rust", "Kotlin", "Java")

_BUGS = (
    ("IndexError: list index out of range", "the input list is empty",
     "def last_two(xs):\n    return xs[-1] + xs[-2]\n\nprint(last_two([]))"),
    ("KeyError: 'total'", "a record has no amount field",
     "def total(rows):\n    out = {}\n    for r in rows:\n        out['total'] += r.get('amount', 0)\n    return out"),
    ("a race condition", "two threads update the counter at once",
     "import threading\ncount = 0\n\ndef work():\n    global count\n    for _ in range(100000):\n"
     "        count += 1\n\nts = [threading.Thread(target=work) for _ in range(4)]\n"
     "[t.start() for t in ts]; [t.join() for t in ts]\nprint(count)"),
    ("RecursionError: maximum recursion depth exceeded", "n is large",
     "def fib(n):\n    if n < 2:\n        return n\n    return fib(n - 1) + fib(n - 2) + fib(n - 3) * 0\n\n"
     "print(fib(5000))"),
    ("wrong results", "the default argument is reused between calls",
     "def add_item(item, bucket=[]):\n    bucket.append(item)\n    return bucket\n\n"
     "print(add_item(1)); print(add_item(2))"),
    ("TypeError: 'NoneType' object is not subscriptable", "the regex does not match",
     "import re\n\ndef version(s):\n    m = re.match(r'v(\\d+)\\.(\\d+)', s)\n    return int(m[1]), int(m[2])\n\n"
     "print(version('release-2.1'))"),
    ("a memory leak", "the service runs for a few hours",
     "_cache = {}\n\ndef handle(request):\n    key = (request.user, request.path, request.time)\n"
     "    _cache[key] = render(request)\n    return _cache[key]"),
)

_PROOFS = (
    "there are infinitely many prime numbers",
    "the square root of 2 is irrational",
    "the sum of the first n odd numbers is n^2, by induction",
    "every tree with n vertices has exactly n - 1 edges",
    "a graph is bipartite if and only if it contains no odd cycle",
    "the harmonic series diverges",
    "for every integer n, n^3 - n is divisible by 6",
    "any continuous function on a closed interval [a, b] attains a maximum",
    "the set of real numbers is uncountable, using a diagonal argument",
    "the greedy algorithm for interval scheduling by earliest finish time is optimal",
)

_ANALYSES = (
    ("PostgreSQL", "MongoDB", "an order-management system with strict consistency needs"),
    ("Kafka", "RabbitMQ", "event streaming between twenty microservices at 50k messages per second"),
    ("a monolith", "microservices", "a five-engineer startup expecting rapid growth"),
    ("server-side rendering", "a single-page app", "a content-heavy e-commerce site where SEO matters"),
    ("leasing", "buying", "a fleet of 40 delivery vans over five years with uncertain fuel prices"),
    ("a four-day work week", "flexible hours", "a 300-person customer-support organisation"),
    ("carbon taxes", "cap-and-trade", "reducing emissions in a mid-sized industrial economy"),
)

_TEAMS = ("billing", "mobile", "data platform", "support", "growth", "infrastructure", "legal", "sales")
_PEOPLE = ("Maria Gonzalez", "Liam O'Brien", "Aiko Tanaka", "Samuel Okafor", "Priya Raman", "Jonas Berg")
_MONTHS = ("January", "March", "April", "June", "September", "November")


# -- generators: item ``i`` of each kind ------------------------------------------------------------

def _factual(i: int) -> WorkloadItem:
    template = _FACT_TEMPLATES[i % len(_FACT_TEMPLATES)]
    return WorkloadItem("factual", _user(template(i // len(_FACT_TEMPLATES))), 25)


def _greeting(i: int) -> WorkloadItem:
    text = _pick(_GREETINGS, i)
    if i >= len(_GREETINGS):
        text = f"{text} ({_pick(_PEOPLE, i)} here)"
    return WorkloadItem("greeting", _user(text), 15)


def _reword(i: int) -> WorkloadItem:
    a, b = _pair(i, len(_REWORD_ASKS), len(_SENTENCES))
    ask, sentence = _REWORD_ASKS[a], _SENTENCES[b]
    return WorkloadItem("rewording", _user(f'{ask}: "{sentence}"'), 35)


def _summary(i: int) -> WorkloadItem:
    start, ask = _pair(i, len(_PASSAGE), len(_SUMMARY_ASKS))
    length = 4 + (i * 3) % 5
    text = " ".join(_PASSAGE[(start + k) % len(_PASSAGE)] for k in range(length))
    return WorkloadItem("summary", _user(f"{_SUMMARY_ASKS[ask]}:\n\n{text}"), 40 + 8 * length)


def _multi_turn(i: int) -> WorkloadItem:
    t, m = _pair(i, len(_TOPICS), len(_TURN_STYLES))
    topic, follow, last = _TOPICS[t]
    messages: tuple[Mapping[str, Any], ...] = (
        {"role": "system", "content": "You are a friendly, practical assistant."},
        {"role": "user", "content": f"I need some help with {topic}."},
        {"role": "assistant", "content": f"Happy to help with {topic}. Tell me a bit more about your situation."},
        {"role": "user", "content": follow},
        {"role": "assistant", "content": "Thanks, that helps. Here is a first plan with a few options to consider."},
        {"role": "user", "content": f"{last}{_TURN_STYLES[m]}"},
    )
    return WorkloadItem("multi_turn", messages, 120)


def _json_extract(i: int) -> WorkloadItem:
    who, month = _pick(_PEOPLE, i), _pick(_MONTHS, i, 5)
    amount = 120 + (i * 37) % 900
    email = (f"Hi,\n\nthis is {who} from accounts. Invoice #{4100 + i} for {amount}.00 EUR was due on "
             f"{12 + i % 15} {month} and is still open. Please pay by bank transfer.\n\nBest,\n{who}")
    text = ("Extract invoice_number, customer_name, amount, currency and due_date from this email. "
            f"Reply with JSON only.\n\n{email}")
    return WorkloadItem("json_extraction", _user(text), 30, {"response_format": {"type": "json_object"}})


def _code(i: int) -> WorkloadItem:
    t, lang = _pair(i, len(_CODE_TASKS), len(_LANGS))
    task = _CODE_TASKS[t]
    text = (f"Write a {_LANGS[lang]} function that {task}. Include type annotations, handle edge cases, "
            "and add unit tests. Explain the time complexity of your implementation.")
    return WorkloadItem("code", _user(text), 320)


def _debug(i: int) -> WorkloadItem:
    error, when, code = _BUGS[i % len(_BUGS)]
    text = (f"My code fails with {error} when {when}. Why does this happen, and how should I fix it? "
            f"Please explain the root cause step by step.\n\n```python\n{code}\n```")
    if i >= len(_BUGS):
        text += f"\n\nI'm on Python 3.{9 + i % 4}."
    return WorkloadItem("debugging", _user(text), 220)


def _proof(i: int) -> WorkloadItem:
    statement = _pick(_PROOFS, i)
    extra = ("" if i < len(_PROOFS) else
             " Then explain where the argument would fail if we weakened one of the assumptions.")
    text = f"Prove rigorously that {statement}. Justify each step of the proof and state the lemmas you use.{extra}"
    return WorkloadItem("math_proof", _user(text), 420)


def _analysis(i: int) -> WorkloadItem:
    a, b, use = _ANALYSES[i % len(_ANALYSES)]
    text = (f"Compare {a} and {b} for {use}. (1) Analyse the trade-offs in cost, reliability and "
            "operational complexity. (2) Identify the main risks of each and how to mitigate them. "
            "(3) Estimate the effort to migrate later if we choose wrong. Then recommend one option and "
            "justify the recommendation with a short decision matrix.")
    if i >= len(_ANALYSES):
        text += f" Assume a budget constraint of {50 + 25 * (i % 6)}k per year."
    return WorkloadItem("analysis", _user(text), 520)


#: Each kind of request, its generator, and its share of the traffic (weights sum to 100).
KINDS: dict[str, tuple[Callable[[int], WorkloadItem], int]] = {
    "factual": (_factual, 17),
    "greeting": (_greeting, 8),
    "rewording": (_reword, 11),
    "summary": (_summary, 10),
    "multi_turn": (_multi_turn, 8),
    "json_extraction": (_json_extract, 12),
    "code": (_code, 11),
    "debugging": (_debug, 8),
    "math_proof": (_proof, 6),
    "analysis": (_analysis, 9),
}


def _allocate(n: int) -> dict[str, int]:
    """Split ``n`` requests across kinds by weight (largest remainder, ties by kind order)."""
    total = sum(w for _, w in KINDS.values())
    exact = {k: n * w / total for k, (_, w) in KINDS.items()}
    counts = {k: int(v) for k, v in exact.items()}
    order = sorted(KINDS, key=lambda k: -(exact[k] - counts[k]))
    for k in order[: n - sum(counts.values())]:
        counts[k] += 1
    return counts


def _variant(item: WorkloadItem, k: int) -> WorkloadItem:
    """``item`` asked again in another context, so that no two prompts of a workload are equal."""
    *head, last = item.messages
    content = f"{last['content']}\n\n(Asking for the {_pick(_TEAMS, k)} team, ticket {1000 + k}.)"
    return WorkloadItem(item.kind, (*head, {**last, "content": content}), item.answer_words, item.params)


def build_workload(n: int = 240, *, seed: int = 7) -> list[WorkloadItem]:
    """``n`` distinct requests mixed across :data:`KINDS` by weight, in a deterministic shuffled order."""
    if n < 0:
        raise ValueError("n must be >= 0")
    items: list[WorkloadItem] = []
    seen: set[str] = set()
    for kind, count in _allocate(n).items():
        generate = KINDS[kind][0]
        for i in range(count):
            item = generate(i)
            if repr(item.messages) in seen:
                item = _variant(item, len(items))
            seen.add(repr(item.messages))
            items.append(item)
    random.Random(seed).shuffle(items)
    return items

"""A loopback fake of the OpenAI chat-completions API, for tests, benchmarks and ``costroute demo``.

It listens on 127.0.0.1 only, answers deterministically, and can be scripted per model: a fixed
answer, failures (status codes with ``Retry-After``), latency, and streams cut off mid-way. It can
also replay recorded answers (:meth:`FakeOpenAIServer.replay`): each prompt gets the answer that
model gave it, billed with the recorded token counts. Every request it receives is kept in
``calls``; ``connections`` counts the TCP connections it accepted, ``peak_in_flight`` the most
requests it was answering at once.

    with FakeOpenAIServer() as server:
        server.script("cheap", failures=[429])     # the first call to model "cheap" gets a 429
        server.replay("gpt-4o", {"What is 2+2?": Reply("4", prompt_tokens=14, completion_tokens=1)})
        ... api_base=server.base_url ...

Models are named as they arrive on the wire: litellm sends ``openai/gpt-4o`` as ``gpt-4o``.
"""

from __future__ import annotations

import hashlib
import json
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from ._fake_batches import FakeBatches
from ._fake_cache import PrefixCache, anthropic_answer, anthropic_tokens, last_text

__all__ = ["FakeOpenAIServer", "ModelScript", "Reply"]


@dataclass(frozen=True, slots=True)
class Reply:
    """An answer and the usage to report for it. A token count left ``None`` is estimated from the
    text, as for plain string answers (prompt: ~4 characters a token; answer: one token a word)."""

    content: str
    prompt_tokens: int | None = None
    completion_tokens: int | None = None


Answer = Callable[[list[dict[str, Any]]], str | Reply] | str | Reply | None


@dataclass
class ModelScript:
    """How the fake answers one model. ``failures`` are consumed one per call, before answering.

    ``replies`` (set by :meth:`FakeOpenAIServer.replay`) answers by the last message's text and
    refuses, with a 404, a prompt that has no recorded reply."""

    answer: Answer = None
    failures: deque[int | tuple[int, float]] = field(default_factory=deque)
    latency_s: float = 0.0
    cut_stream_after: int | None = None  # close the connection after this many content chunks
    stream_usage: bool = True
    cached_tokens: int = 0
    replies: Mapping[str, Reply] | None = None
    flex_refusals: int = 0  # refuse this many flex requests (429 resource_unavailable) before serving flex
    chunk_delay_s: float = 0.0  # a stream's pause before each of its events after the first

    def reply(self, messages: list[dict[str, Any]]) -> Reply | None:
        """What to answer, or ``None`` when replaying and this prompt was never recorded."""
        if self.replies is not None:
            last = messages[-1].get("content") if messages else None
            return self.replies.get(last) if isinstance(last, str) else None
        answer = self.answer(messages) if callable(self.answer) else self.answer
        if isinstance(answer, Reply):
            return answer
        return Reply(answer or _default_answer(messages))


_FLEX_REFUSAL: Any = (429, None)  # a marker: refused for flex capacity


def _words(text: str) -> int:
    return max(1, len(text.split()))


def _prompt_tokens(messages: list[dict[str, Any]]) -> int:
    text = " ".join(str(m.get("content", "")) for m in messages)
    return 3 + len(messages) * 4 + (len(text) + 3) // 4


def _default_answer(messages: list[dict[str, Any]]) -> str:
    last = str(messages[-1].get("content", "")) if messages else ""
    digest = hashlib.sha256(last.encode()).hexdigest()[:8]
    length = 8 + len(last) // 40
    return f"Answer {digest}: " + " ".join(["lorem"] * min(length, 120))


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024  # the listen backlog: hundreds of clients may connect at once

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler]) -> None:
        super().__init__(address, handler)
        self.accepted = 0

    def get_request(self) -> Any:
        accepted = super().get_request()
        self.accepted += 1  # only the serving thread accepts: no lock needed
        return accepted

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hangs up mid-answer (an abandoned or cut stream) is expected here, not
        an error worth a traceback; anything else is reported as usual."""
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


class FakeOpenAIServer:
    """A threaded HTTP server on 127.0.0.1 speaking the OpenAI chat-completions wire format."""

    def __init__(self, *, prompt_cache: bool = False) -> None:
        """``prompt_cache``: report prompt caching for repeated prefixes, as providers bill it
        (see :mod:`costroute.testing._fake_cache`); Anthropic Messages requests (``.../messages``)
        are answered in Anthropic's shape either way."""
        self.prefix_cache = PrefixCache() if prompt_cache else None
        self.calls: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self._scripts: dict[str, ModelScript] = {}
        self._lock = threading.Lock()
        self._in_flight = 0
        self.peak_in_flight = 0
        self._server = _Server(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self.batches = FakeBatches(self)  # the Files + Batches endpoints

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/v1"

    def script(self, model: str, *, answer: Answer = None,
               failures: Sequence[int | tuple[int, float]] = (), latency_s: float = 0.0,
               cut_stream_after: int | None = None, stream_usage: bool = True,
               cached_tokens: int = 0, flex_refusals: int = 0, chunk_delay_s: float = 0.0) -> None:
        """How to answer ``model``: ``answer`` is a text, a :class:`Reply`, or a function of the
        messages returning either (default: a deterministic filler answer). A request with
        ``service_tier: "flex"`` is served at flex (the response says so), after ``flex_refusals``
        refusals (OpenAI's 429 ``resource_unavailable``). ``chunk_delay_s`` paces a stream's events
        (a slow upstream)."""
        with self._lock:
            self._scripts[model] = ModelScript(answer, deque(failures), latency_s, cut_stream_after,
                                               stream_usage, cached_tokens, flex_refusals=flex_refusals,
                                               chunk_delay_s=chunk_delay_s)

    def replay(self, model: str, replies: Mapping[str, Reply | str], *, latency_s: float = 0.0) -> None:
        """Answer ``model``'s requests from recordings: the request whose last message is the text
        ``prompt`` gets ``replies[prompt]``, with its recorded token counts as ``usage``; any other
        prompt gets a 404 (a replay that goes off its recording should fail loudly)."""
        table = {prompt: r if isinstance(r, Reply) else Reply(r) for prompt, r in replies.items()}
        with self._lock:
            self._scripts[model] = ModelScript(latency_s=latency_s, replies=table)

    @property
    def connections(self) -> int:
        """How many TCP connections were accepted so far (a client that keeps its connections
        alive opens few)."""
        return self._server.accepted

    def reset_counts(self) -> None:
        """Start counting calls, connections and the in-flight peak afresh."""
        with self._lock:
            self.calls.clear()
            self.headers.clear()
            self.peak_in_flight = self._in_flight
            self._server.accepted = 0

    def calls_for(self, model: str) -> int:
        with self._lock:
            return sum(1 for c in self.calls if c.get("model") == model)

    def answer_body(self, body: dict[str, Any]) -> dict[str, Any]:
        """The chat-completion body the model's script answers ``body`` with (no failures, no
        latency, not counted in ``calls``): what a batch item gets."""
        with self._lock:
            script = self._scripts.setdefault(str(body.get("model")), ModelScript())
        messages = body.get("messages") or []
        reply = script.reply(messages) or Reply("")
        prompt = reply.prompt_tokens if reply.prompt_tokens is not None else _prompt_tokens(messages)
        completion = reply.completion_tokens if reply.completion_tokens is not None else _words(reply.content)
        if body.get("max_tokens"):
            completion = min(completion, int(body["max_tokens"]))
        return {"id": "chatcmpl-fake", "object": "chat.completion", "created": int(time.time()),
                "model": body.get("model"), "service_tier": "batch",
                "choices": [{"index": 0, "finish_reason": "stop",
                             "message": {"role": "assistant", "content": reply.content}}],
                "usage": {"prompt_tokens": prompt, "completion_tokens": completion,
                          "total_tokens": prompt + completion}}

    def anthropic_body(self, params: dict[str, Any], extra_usage: Mapping[str, int] | None = None) -> dict[str, Any]:
        """The Anthropic Messages answer the model's script gives ``params`` (no failures, no latency,
        not counted in ``calls``), its usage plus ``extra_usage`` (cache counts): what an Anthropic
        batch item gets."""
        with self._lock:
            script = self._scripts.setdefault(str(params.get("model")), ModelScript())
        reply = script.reply([{"role": "user", "content": last_text(params)}]) or Reply("")
        usage: dict[str, Any] = {"input_tokens": reply.prompt_tokens if reply.prompt_tokens is not None
                                 else anthropic_tokens(params),
                                 "cache_read_input_tokens": 0, "cache_creation_input_tokens": 0}
        usage.update(extra_usage or {})
        completion = reply.completion_tokens if reply.completion_tokens is not None else _words(reply.content)
        usage["output_tokens"] = min(completion, int(params.get("max_tokens") or completion))
        return anthropic_answer(params, reply.content, usage)

    def start(self) -> FakeOpenAIServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def __enter__(self) -> FakeOpenAIServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- request handling ----------------------------------------------------------------------

    def _take(
        self, body: dict[str, Any], headers: dict[str, str]
    ) -> tuple[ModelScript, int | tuple[int, float] | None]:
        with self._lock:
            self.calls.append(body)
            self.headers.append(headers)
            self._in_flight += 1
            self.peak_in_flight = max(self.peak_in_flight, self._in_flight)
            script = self._scripts.setdefault(str(body.get("model")), ModelScript())
            failure = script.failures.popleft() if script.failures else None
            if failure is None and body.get("service_tier") == "flex" and script.flex_refusals > 0:
                script.flex_refusals -= 1
                failure = _FLEX_REFUSAL
        return script, failure

    def _done(self) -> None:
        with self._lock:
            self._in_flight -= 1

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body go out at once, no delayed-ACK stall

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                return

            def _batches(self, method: str) -> bool:
                if not fake.batches.handles(self.path):
                    return False
                raw = self.rfile.read(int(self.headers.get("content-length") or 0))
                status, data, ctype = fake.batches.handle(method, self.path, dict(self.headers.items()), raw)
                self.send_response(status)
                self.send_header("content-type", ctype)
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                return True

            def do_GET(self) -> None:
                if not self._batches("GET"):
                    self._json(404, {"error": {"message": "unknown path", "type": "fake"}})

            def do_POST(self) -> None:
                if self._batches("POST"):
                    return
                length = int(self.headers.get("content-length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                anthropic = self.path.rstrip("/").endswith("/messages")  # Anthropic's Messages wire
                script, failure = fake._take(body, dict(self.headers.items()))
                try:
                    self._answer(body, script, failure, anthropic=anthropic)
                finally:
                    fake._done()

            def _answer(self, body: dict[str, Any], script: ModelScript, failure: Any, *, anthropic: bool) -> None:
                if script.latency_s:
                    time.sleep(script.latency_s)
                if failure is _FLEX_REFUSAL:
                    self._json(429, {"error": {"message": "Resource Unavailable", "type": "invalid_request_error",
                                               "code": "resource_unavailable", "param": None}})
                    return
                if failure is not None:
                    status, after = failure if isinstance(failure, tuple) else (failure, None)
                    self._json(status, {"error": {"message": f"scripted {status}", "type": "fake"}},
                               {"retry-after": str(after)} if after is not None else {})
                    return
                if anthropic:
                    self._anthropic(body, script)
                    return
                messages = body.get("messages") or []
                reply = script.reply(messages)
                if reply is None:
                    self._json(404, {"error": {"message": f"no recorded answer of {body.get('model')} to this prompt",
                                               "type": "fake"}})
                    return
                answer = reply.content
                prompt = reply.prompt_tokens if reply.prompt_tokens is not None else _prompt_tokens(messages)
                completion = reply.completion_tokens if reply.completion_tokens is not None else _words(answer)
                if body.get("max_tokens"):
                    completion = min(completion, int(body["max_tokens"]))
                answers = int(body.get("n") or 1)  # n answers, each within max_tokens, all billed
                completion *= answers
                usage: dict[str, Any] = {"prompt_tokens": prompt, "completion_tokens": completion,
                         "total_tokens": prompt + completion}
                cached = script.cached_tokens
                if fake.prefix_cache is not None:
                    counted, cached = fake.prefix_cache.openai(str(body.get("model")), body)
                    if reply.prompt_tokens is None:
                        prompt = counted
                        usage.update(prompt_tokens=prompt, total_tokens=prompt + completion)
                if cached:
                    usage["prompt_tokens_details"] = {"cached_tokens": min(cached, prompt)}
                if body.get("stream"):
                    self._stream(body, answer, usage, script)
                else:
                    self._json(200, {
                        "id": "chatcmpl-fake", "object": "chat.completion", "created": int(time.time()),
                        "model": body.get("model"), "service_tier": "flex" if body.get("service_tier") == "flex"
                        else "default",
                        "choices": [{"index": i, "finish_reason": "stop",
                                     "message": {"role": "assistant", "content": answer}} for i in range(answers)],
                        "usage": usage,
                    })

            def _anthropic(self, body: dict[str, Any], script: ModelScript) -> None:
                reply = script.reply([{"role": "user", "content": last_text(body)}])
                if reply is None:
                    self._json(404, {"type": "error", "error": {"type": "not_found_error", "message": "no reply"}})
                    return
                if fake.prefix_cache is not None:
                    usage = fake.prefix_cache.anthropic(str(body.get("model")), body)
                else:  # marks honoured only with prompt_cache
                    usage = {"input_tokens": anthropic_tokens(body), "cache_read_input_tokens": 0,
                             "cache_creation_input_tokens": 0}
                if reply.prompt_tokens is not None:
                    usage["input_tokens"] = reply.prompt_tokens
                completion = reply.completion_tokens if reply.completion_tokens is not None else _words(reply.content)
                usage["output_tokens"] = min(completion, int(body.get("max_tokens") or completion))
                self._json(200, anthropic_answer(body, reply.content, usage), {"connection": "close"})
                self.close_connection = True  # litellm's Anthropic handler may leave a kept-alive socket behind

            def _json(self, status: int, payload: dict[str, Any], extra: dict[str, str] | None = None) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                for key, value in (extra or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)

            def _stream(self, body: dict[str, Any], answer: str, usage: dict[str, Any], script: ModelScript) -> None:
                self.send_response(200)
                self.send_header("content-type", "text/event-stream")
                self.send_header("connection", "close")
                self.end_headers()
                base = {"id": "chatcmpl-fake", "object": "chat.completion.chunk",
                        "created": int(time.time()), "model": body.get("model")}
                words = answer.split(" ")
                pieces = [" ".join(words[i:i + 4]) + " " for i in range(0, len(words), 4)]
                events: list[dict[str, Any]] = [
                    {**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]}]
                events += [{**base, "choices": [{"index": 0, "delta": {"content": p}}]} for p in pieces]
                events.append({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
                wants_usage = (body.get("stream_options") or {}).get("include_usage")
                if wants_usage and script.stream_usage:
                    events.append({**base, "choices": [], "usage": usage})
                for i, event in enumerate(events):
                    if script.cut_stream_after is not None and i > script.cut_stream_after:
                        self.wfile.flush()
                        self.close_connection = True
                        return
                    if i and script.chunk_delay_s:
                        self.wfile.flush()
                        time.sleep(script.chunk_delay_s)
                    self.wfile.write(b"data: " + json.dumps(event).encode() + b"\n\n")
                self.wfile.write(b"data: [DONE]\n\n")
                self.wfile.flush()
                self.close_connection = True

        return Handler

"""The one place costroute calls litellm.

litellm is imported on first use, never by ``import costroute``. Of litellm's global state only
``suppress_debug_info`` is set (litellm would print a help banner to stdout on every failed
attempt); keys, bases, timeouts and HTTP clients are passed per call. litellm's own retries and the
provider SDKs' hidden retries are switched off, so every attempt is costroute's and is recorded.

HTTP goes through pools owned by the completer: one per provider, base URL, key and sync/async,
sized to ``max_connections`` with every connection kept alive, and closed with it. Async calls
use litellm's own aiohttp transport by default (``http="aiohttp"``: what litellm uses when left to
itself, about 1.5x httpx's throughput at 16 to 256 requests in flight); ``http="httpx"`` keeps them
on httpx, visible to httpx-level mocks such as respx, and is what ``http2=True`` needs (the
``http2`` extra). Sync calls always use httpx.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import os
import threading
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol
from urllib.parse import urlsplit

from pydantic import BaseModel, SecretStr

from ._errors import map_provider_error

__all__ = [
    "Completer", "LiteLLMCompleter", "ProviderCall", "chunk_from_dict", "copy_response", "import_litellm",
    "response_from_dict",
]

#: Providers whose litellm handler takes an ``openai`` SDK client.
_OPENAI_SDK = frozenset({"openai"})
#: Providers whose litellm handler takes litellm's own HTTP handler.
_HTTP_HANDLER = frozenset({"anthropic"})
#: Providers that send usage in the last streamed chunk only when asked.
_ASK_STREAM_USAGE = frozenset({"openai", "azure", "groq", "deepseek", "together_ai", "fireworks_ai",
                               "hosted_vllm", "openrouter", "mistral", "xai"})


def import_litellm() -> Any:
    """Import litellm without letting it fetch its remote price map (costroute prices requests
    itself, from its own registry)."""
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    import litellm

    litellm.suppress_debug_info = True  # else every failed attempt prints a help banner to stdout
    return litellm


def response_from_dict(data: Mapping[str, Any]) -> Any:
    """An OpenAI-shaped ``ModelResponse`` from its JSON form (e.g. a cached answer)."""
    return import_litellm().ModelResponse(**data)


_IMMUTABLE = frozenset({str, int, float, bool, type(None)})
_set = object.__setattr__


def copy_response(response: Any) -> Any:
    """A copy of a response object (litellm's pydantic models, lists, dicts) that shares nothing
    mutable with the original: how a cached answer is handed out many times, at a fraction of
    the cost of rebuilding it (no validation runs; the original was validated when built)."""
    kind: Any = type(response)
    if kind in _IMMUTABLE:
        return response
    if kind is list:
        return [copy_response(v) for v in response]
    if kind is dict:
        return _copy_values(response)
    if isinstance(response, BaseModel):  # what pydantic's own __copy__ does, one level deeper
        new = kind.__new__(kind)
        _set(new, "__dict__", _copy_values(response.__dict__))
        extra, private = response.__pydantic_extra__, response.__pydantic_private__
        _set(new, "__pydantic_extra__", None if extra is None else _copy_values(extra))
        _set(new, "__pydantic_fields_set__", set(response.__pydantic_fields_set__))
        _set(new, "__pydantic_private__", None if private is None else _copy_values(private))
        return new
    return copy.deepcopy(response)


def _copy_values(data: dict[str, Any]) -> dict[str, Any]:
    out = data.copy()
    for name, value in data.items():
        if type(value) not in _IMMUTABLE:
            out[name] = copy_response(value)
    return out


def chunk_from_dict(data: Mapping[str, Any]) -> Any:
    """An OpenAI-shaped stream chunk from its JSON form (e.g. a replayed cached answer)."""
    return import_litellm().ModelResponseStream(**data)


@dataclass(frozen=True, slots=True)
class ProviderCall:
    """One attempt at one model. ``params`` are the OpenAI chat parameters to send."""

    model: str
    messages: list[dict[str, Any]]
    params: Mapping[str, Any]
    provider: str = ""
    api_base: str | None = None
    api_key: SecretStr | None = field(default=None, repr=False)
    timeout: float = 60.0

    def secrets(self) -> list[str]:
        """What must never appear in an error: this call's key, and every credential-like value
        in the environment (litellm falls back to ``OPENAI_API_KEY`` and the like when no key is
        configured)."""
        from ..cache._key import is_secret_key

        found = [value for name, value in os.environ.items() if is_secret_key(name) and len(value) >= 8]
        if self.api_base:  # a base URL may carry user:password, which httpx errors quote
            with contextlib.suppress(ValueError):
                password = urlsplit(self.api_base).password
                if password:
                    found.append(password)
        return [self.api_key.get_secret_value(), *found] if self.api_key else found


class Completer(Protocol):
    """What sends a chat completion. ``LiteLLMCompleter`` is the real one; tests may inject fakes."""

    def complete(self, call: ProviderCall) -> Any: ...

    async def acomplete(self, call: ProviderCall) -> Any: ...

    def stream(self, call: ProviderCall) -> Iterator[Any]: ...

    def astream(self, call: ProviderCall) -> AsyncIterator[Any]: ...

    def close(self) -> None: ...

    async def aclose(self) -> None: ...


class LiteLLMCompleter:
    """Calls providers through litellm with per-call credentials and costroute-owned HTTP pools."""

    def __init__(self, *, use_httpx: bool = True, http: Literal["aiohttp", "httpx"] = "aiohttp",
                 max_connections: int = 512, http2: bool = False) -> None:
        if max_connections < 1:
            from .._errors import ConfigError

            raise ConfigError("LiteLLMCompleter(max_connections=...) must be at least 1")
        self._use_httpx = use_httpx
        self._pool = _PoolOptions(http="httpx" if http2 else http, max_connections=max_connections, http2=http2)
        self._clients: dict[tuple[str, str, str, bool], Any] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return (f"LiteLLMCompleter(use_httpx={self._use_httpx}, http={self._pool.http!r}, "
                f"max_connections={self._pool.max_connections}, http2={self._pool.http2}, pools={len(self._clients)})")

    # -- the calls -----------------------------------------------------------------------------

    def complete(self, call: ProviderCall) -> Any:
        litellm = import_litellm()
        try:
            return litellm.completion(**self._kwargs(call, is_async=False))
        except Exception as exc:
            raise map_provider_error(exc, model=call.model, secrets=call.secrets()) from exc

    async def acomplete(self, call: ProviderCall) -> Any:
        litellm = import_litellm()
        try:
            return await litellm.acompletion(**self._kwargs(call, is_async=True))
        except Exception as exc:
            raise map_provider_error(exc, model=call.model, secrets=call.secrets()) from exc

    def stream(self, call: ProviderCall) -> Iterator[Any]:
        litellm = import_litellm()
        try:
            chunks = litellm.completion(**self._kwargs(call, is_async=False, stream=True))
            for chunk in chunks:
                yield _flag_made_up_usage(chunk, chunks)
        except Exception as exc:
            raise map_provider_error(exc, model=call.model, secrets=call.secrets()) from exc

    async def astream(self, call: ProviderCall) -> AsyncIterator[Any]:
        litellm = import_litellm()
        try:
            chunks = await litellm.acompletion(**self._kwargs(call, is_async=True, stream=True))
            async for chunk in chunks:
                yield _flag_made_up_usage(chunk, chunks)
        except Exception as exc:
            raise map_provider_error(exc, model=call.model, secrets=call.secrets()) from exc

    def close(self) -> None:
        """Close the sync HTTP pools (async ones need :meth:`aclose`)."""
        for client in self._take(is_async=False):
            client.close()

    async def aclose(self) -> None:
        """Close every HTTP pool, async ones included."""
        self.close()
        for client in self._take(is_async=True):
            await client.close()

    def _take(self, *, is_async: bool) -> list[Any]:
        with self._lock:
            keys = [k for k in self._clients if k[3] is is_async]
            return [self._clients.pop(k) for k in keys]

    # -- plumbing ------------------------------------------------------------------------------

    def _kwargs(self, call: ProviderCall, *, is_async: bool, stream: bool = False) -> dict[str, Any]:
        kwargs: dict[str, Any] = dict(call.params)
        kwargs.update(
            model=call.model, messages=call.messages, timeout=call.timeout,
            num_retries=0, max_retries=0,
        )
        if call.api_base:
            kwargs["api_base"] = call.api_base
        if call.api_key is not None:
            kwargs["api_key"] = call.api_key.get_secret_value()
        if stream:
            kwargs["stream"] = True
            if call.provider in _ASK_STREAM_USAGE:
                options = dict(kwargs.get("stream_options") or {})
                options["include_usage"] = True
                kwargs["stream_options"] = options
        client = self._client(call, is_async) if self._use_httpx else None
        if client is not None:
            kwargs["client"] = client
        return kwargs

    def _client(self, call: ProviderCall, is_async: bool) -> Any:
        if call.provider not in _OPENAI_SDK and call.provider not in _HTTP_HANDLER:
            return None
        secret = call.api_key.get_secret_value() if call.api_key else ""
        key = (call.provider, call.api_base or "", hashlib.sha256(secret.encode()).hexdigest(), is_async)
        client = self._clients.get(key)
        if client is None:
            with self._lock:
                client = self._clients.get(key) or _new_client(call, is_async, self._pool)
                self._clients[key] = client
        return client


#: Set in a chunk's ``_hidden_params`` when its usage is litellm's own count, not the provider's.
MADE_UP_USAGE = "costroute_made_up_usage"


def _flag_made_up_usage(chunk: Any, wrapper: Any) -> Any:
    """Flag a usage chunk litellm made up itself. When a stream ends without the provider's usage,
    litellm counts the text and sends a usage chunk of its own, shaped like the provider's; the
    provider's own usage, when it came, is among the chunks litellm kept (``wrapper.chunks``)."""
    if getattr(chunk, "usage", None) is None:
        return chunk
    kept = getattr(wrapper, "chunks", None)
    if kept is None or any(getattr(c, "usage", None) is not None for c in kept):
        return chunk  # not litellm's wrapper (nothing to tell), or the provider's count arrived
    hidden = getattr(chunk, "_hidden_params", None)
    chunk._hidden_params = {**(hidden if isinstance(hidden, dict) else {}), MADE_UP_USAGE: True}
    return chunk


@dataclass(frozen=True, slots=True)
class _PoolOptions:
    http: str
    max_connections: int
    http2: bool


def _new_client(call: ProviderCall, is_async: bool, pool: _PoolOptions) -> Any:
    timeout = _timeout(call)
    if call.provider in _OPENAI_SDK:
        import openai

        key = call.api_key.get_secret_value() if call.api_key else os.environ.get("OPENAI_API_KEY")
        options: dict[str, Any] = {"api_key": key or "unset", "max_retries": 0, "timeout": timeout}
        if call.api_base:
            options["base_url"] = call.api_base
        http_client = _async_http(pool, timeout) if is_async else _sync_http(pool, timeout)
        sdk: Any = openai.AsyncOpenAI if is_async else openai.OpenAI
        return sdk(http_client=http_client, **options)
    import_litellm()
    from litellm.llms.custom_httpx.http_handler import AsyncHTTPHandler, HTTPHandler

    if is_async:
        return AsyncHTTPHandler(timeout=timeout, transport=_async_transport(pool))
    return HTTPHandler(timeout=timeout, client=_sync_http(pool, timeout))


def _timeout(call: ProviderCall) -> Any:
    import httpx

    return httpx.Timeout(call.timeout)


def _limits(pool: _PoolOptions) -> Any:
    import httpx

    return httpx.Limits(max_connections=pool.max_connections, max_keepalive_connections=pool.max_connections,
                        keepalive_expiry=30.0)


def _sync_http(pool: _PoolOptions, timeout: Any) -> Any:
    import httpx

    return httpx.Client(timeout=timeout, limits=_limits(pool), http2=_http2(pool))


def _async_http(pool: _PoolOptions, timeout: Any) -> Any:
    import httpx

    return httpx.AsyncClient(timeout=timeout, transport=_async_transport(pool))


def _async_transport(pool: _PoolOptions) -> Any:
    """An httpx transport for async calls: litellm's aiohttp one over a session of our own (its
    connector sized to the pool), or httpx's."""
    import httpx

    if pool.http == "httpx":
        return httpx.AsyncHTTPTransport(limits=_limits(pool), http2=_http2(pool))
    import_litellm()
    import aiohttp
    from litellm.llms.custom_httpx.aiohttp_transport import LiteLLMAiohttpTransport

    def session() -> aiohttp.ClientSession:  # made on first use, on the loop that uses it
        connector = aiohttp.TCPConnector(limit=pool.max_connections, limit_per_host=pool.max_connections,
                                         keepalive_timeout=30.0)
        return aiohttp.ClientSession(connector=connector, cookie_jar=aiohttp.DummyCookieJar())

    return LiteLLMAiohttpTransport(client=session)


def _http2(pool: _PoolOptions) -> bool:
    if not pool.http2:
        return False
    try:
        import h2  # noqa: F401
    except ImportError as exc:
        from .._errors import ConfigError

        raise ConfigError("HTTP/2 needs the h2 package: pip install 'costroute[http2]'") from exc
    return True

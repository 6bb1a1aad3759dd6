"""Upper bounds on what media parts (images, audio, files) add to a prompt, per model.

The offline token counter cannot count a picture or a recording exactly; a reservation must
still be an upper bound, or a budget can be overspent. Each bound below is the most the provider
bills for one part by its published rules, from the part's size when the request carries the data
(a ``data:`` URL) and its ``detail``; without them, the most the rule allows. A bound never
exceeds the model's context window. Pure functions, no I/O.

=====================  ===============================================  ==========================
provider / family      rule (per image)                                 unknown size
=====================  ===============================================  ==========================
OpenAI tiles           base + per-tile × 512-px tiles after fitting     8 tiles
(gpt-4o, gpt-4.1,      2048² then 768 on the short side; ``low``:
gpt-5, o1, o3, …)      base only. gpt-4o-mini: 2833 + 5667 a tile
OpenAI patches         32-px patches (at most 1536) × a multiplier      1536 patches
(gpt-4.1-mini/nano,
o4-mini)
Anthropic              width × height / 750 after fitting 1568 px       1,600
Gemini                 258 at ≤ 384 px, else 258 a 768-px tile          16 tiles (4,128)
any other model        (unknown rule)                                   16,384 (Qwen-VL's largest)
=====================  ===============================================  ==========================

Audio (``input_audio``): 32 tokens a second (Gemini's rate, the highest published; OpenAI bills
10), the duration read from a WAV header, else assumed from at least 8 kbit/s of data. Files
(``file`` parts, PDFs): 4,600 tokens a page (Anthropic's text plus page image), pages counted in
the document; a part whose pages cannot be counted (no data, a ``file_id``, compressed page objects)
is bounded by the context window alone.
"""

from __future__ import annotations

import base64
import binascii
import math
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["MediaPart", "media_parts", "media_upper_bound"]

_UNKNOWN_IMAGE = 16_384
_AUDIO_TOKENS_PER_S = 32
_MIN_AUDIO_BYTES_PER_S = 1_000  # 8 kbit/s
_PDF_PAGE_TOKENS = 4_600
_PEEK = 64 * 1024  # how much of an embedded file is decoded to read its header or count its pages


@dataclass(frozen=True, slots=True)
class MediaPart:
    """One non-text part of a prompt, as far as its size is known."""

    kind: str  # "image" | "audio" | "file"
    detail: str = "auto"
    width: int | None = None
    height: int | None = None
    seconds: float | None = None
    pages: int | None = None


def media_parts(messages: Sequence[Mapping[str, Any]]) -> tuple[MediaPart, ...]:
    """The media parts of a conversation, with what their data tells of their size."""
    found: list[MediaPart] = []
    for message in messages:
        content = message.get("content")
        if not isinstance(content, list):
            continue
        for part in content:
            if isinstance(part, Mapping):
                media = _part(part)
                if media is not None:
                    found.append(media)
    return tuple(found)


def _part(part: Mapping[str, Any]) -> MediaPart | None:
    kind = part.get("type")
    if kind in ("image_url", "image", "input_image"):
        spec = part.get("image_url", part)
        url = spec.get("url") if isinstance(spec, Mapping) else spec
        detail = str(spec.get("detail") or "auto") if isinstance(spec, Mapping) else "auto"
        size = _image_size(_data_of(url)) if isinstance(url, str) else None
        return MediaPart("image", detail, *(size or (None, None)))
    if kind == "input_audio":
        spec = part.get("input_audio")
        data = spec.get("data") if isinstance(spec, Mapping) else None
        return MediaPart("audio", seconds=_audio_seconds(data) if isinstance(data, str) else None)
    if kind == "file":
        spec = part.get("file")
        data = spec.get("file_data") if isinstance(spec, Mapping) else None
        return MediaPart("file", pages=_pdf_pages(data) if isinstance(data, str) else None)
    return None


def media_upper_bound(parts: Sequence[MediaPart], model: str, provider: str,
                      context_window: int | None = None, image_tokens: int | None = None) -> int:
    """The most the media ``parts`` can add to a prompt sent to ``model``. ``image_tokens``, when
    given (a model's configured bound), replaces the rule for images of unknown size."""
    total = 0
    for part in parts:
        if part.kind == "image":
            total += _image_bound(part, model.lower(), provider.lower(), image_tokens)
        elif part.kind == "audio":
            total += math.ceil((part.seconds if part.seconds is not None else 3600.0) * _AUDIO_TOKENS_PER_S)
        elif part.pages is not None:
            total += part.pages * _PDF_PAGE_TOKENS
        else:
            total += context_window or _UNKNOWN_IMAGE * 8
    return min(total, context_window) if context_window else total


# -- images ----------------------------------------------------------------------------------------

#: (base, per tile) of OpenAI's tile-priced models, most specific name first.
_OPENAI_TILES = (("gpt-4o-mini", 2833, 5667), ("gpt-5", 70, 140), ("o1-pro", 75, 150), ("o3-pro", 75, 150),
                 ("", 85, 170))
#: Multipliers of OpenAI's patch-priced models.
_OPENAI_PATCHES = (("gpt-4.1-mini", 1.62), ("gpt-4.1-nano", 2.46), ("o4-mini", 1.72))


def _image_bound(part: MediaPart, model: str, provider: str, configured: int | None) -> int:
    w, h = part.width, part.height
    if provider in ("openai", "azure", "text-completion-openai"):
        for name, multiplier in _OPENAI_PATCHES:
            if name in model:
                patches = 1536 if w is None or h is None else _patches(w, h)
                return math.ceil(patches * multiplier)
        base, per_tile = next((b, t) for name, b, t in _OPENAI_TILES if name in model)
        if part.detail == "low":
            return base
        return base + per_tile * (8 if w is None or h is None else _tiles(w, h))
    if provider.startswith(("anthropic", "bedrock", "vertex_ai-anthropic")) or "claude" in model:
        if w is None or h is None:
            return 1_600
        scale = min(1.0, 1568 / max(w, h), math.sqrt(1_150_000 / (w * h)))
        return math.ceil(w * scale * h * scale / 750)
    if provider.startswith(("gemini", "vertex_ai")) or "gemini" in model:
        if w is None or h is None:
            return 16 * 258
        if w <= 384 and h <= 384:
            return 258
        return math.ceil(w / 768) * math.ceil(h / 768) * 258
    return configured or _UNKNOWN_IMAGE


def _tiles(width: int, height: int) -> int:
    scale = min(1.0, 2048 / max(width, height))
    w, h = width * scale, height * scale
    scale = min(1.0, 768 / min(w, h))
    return math.ceil(w * scale / 512) * math.ceil(h * scale / 512)


def _patches(w: int, h: int) -> int:
    patches = math.ceil(w / 32) * math.ceil(h / 32)
    if patches <= 1536:
        return patches
    scale = math.sqrt(1536 * 32 * 32 / (w * h))
    return min(1536, math.ceil(w * scale / 32) * math.ceil(h * scale / 32))


def _data_of(url: str) -> bytes | None:
    """The first bytes of a ``data:`` URL's payload (enough for a header), else ``None``."""
    if not url.startswith("data:") or "," not in url:
        return None
    header, payload = url.split(",", 1)
    if not header.endswith(";base64"):
        return None
    return _b64_head(payload)


def _b64_head(payload: str) -> bytes | None:
    head = payload[: _PEEK // 3 * 4]
    try:
        return base64.b64decode(head[: len(head) // 4 * 4], validate=False)
    except (binascii.Error, ValueError):
        return None


def _image_size(data: bytes | None) -> tuple[int, int] | None:
    """Width and height from a PNG, GIF, JPEG or WebP header."""
    if not data:
        return None
    try:
        if data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) >= 24:
            w, h = struct.unpack(">II", data[16:24])
            return (w, h) if w and h else None
        if data[:6] in (b"GIF87a", b"GIF89a") and len(data) >= 10:
            w, h = struct.unpack("<HH", data[6:10])
            return (w, h) if w and h else None
        if data.startswith(b"RIFF") and data[8:12] == b"WEBP":
            return _webp_size(data)
        if data.startswith(b"\xff\xd8"):
            return _jpeg_size(data)
    except struct.error:
        return None
    return None


def _webp_size(data: bytes) -> tuple[int, int] | None:
    chunk = data[12:16]
    if chunk == b"VP8X" and len(data) >= 30:
        return 1 + int.from_bytes(data[24:27], "little"), 1 + int.from_bytes(data[27:30], "little")
    if chunk == b"VP8 " and len(data) >= 30:
        w, h = struct.unpack("<HH", data[26:30])
        return w & 0x3FFF, h & 0x3FFF
    if chunk == b"VP8L" and len(data) >= 25:
        bits = int.from_bytes(data[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    return None


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    i = 2
    while i + 9 < len(data):
        if data[i] != 0xFF:
            i += 1
            continue
        marker = data[i + 1]
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            i += 2
            continue
        length = struct.unpack(">H", data[i + 2:i + 4])[0]
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            h, w = struct.unpack(">HH", data[i + 5:i + 9])
            return (w, h) if w and h else None
        i += 2 + length
    return None


# -- audio and files ---------------------------------------------------------------------------------

def _audio_seconds(payload: str) -> float:
    """A WAV's duration from its header; any other data as if it were 8 kbit/s (an upper bound
    for every codec a provider accepts at speech quality)."""
    size = len(payload) * 3 // 4
    head = _b64_head(payload)
    if head and head.startswith(b"RIFF") and head[8:12] == b"WAVE" and len(head) >= 44:
        byte_rate = int(struct.unpack("<I", head[28:32])[0])
        if byte_rate > 0:
            return size / byte_rate
    return size / _MIN_AUDIO_BYTES_PER_S


def _pdf_pages(payload: str) -> int | None:
    """Pages of an embedded PDF (its ``/Type /Page`` objects), or ``None`` if it is not one."""
    if payload.startswith("data:"):
        payload = payload.split(",", 1)[-1]
    try:
        data = base64.b64decode(payload, validate=False)
    except (binascii.Error, ValueError):
        return None
    if not data.startswith(b"%PDF") or b"/ObjStm" in data:
        return None  # not a PDF, or its page objects are compressed where they cannot be counted
    pages = data.count(b"/Type /Page") + data.count(b"/Type/Page")
    pages -= data.count(b"/Type /Pages") + data.count(b"/Type/Pages")
    return pages if pages > 0 else None

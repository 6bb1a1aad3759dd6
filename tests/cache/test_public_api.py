"""The public surface of costroute.cache: complete ``__all__``, light import."""

from __future__ import annotations

import subprocess
import sys

import pytest

import costroute.cache as cache


def test_all_is_complete_and_importable() -> None:
    public = {n for n in vars(cache) if not n.startswith("_") and n != "annotations"}
    assert set(cache.__all__) == public
    assert len(cache.__all__) == len(set(cache.__all__))


def test_import_is_light() -> None:
    code = (
        "import sys, costroute.cache\n"
        "heavy = {'redis', 'litellm', 'tiktoken'} & set(sys.modules)\n"
        "assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_missing_redis_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "redis", None)
    with pytest.raises(ImportError, match=r"costroute\[redis\]"):
        cache.RedisCacheStore("redis://127.0.0.1:1/0")

"""A griffe extension for the API reference: docstrings use Sphinx roles (:class:`~costroute.Client`),
which Markdown would show as written; they become code spans (``Client``) here. Loaded by
mkdocstrings-python (``extensions:`` in ``mkdocs.yml``)."""

from __future__ import annotations

import re
from typing import Any

import griffe

_ROLE = re.compile(r":(?:py:)?(?:class|func|meth|attr|data|mod|exc|obj|const):`(~?)([^`]+)`")


def _code(match: re.Match[str]) -> str:
    target = match.group(2)
    return f"`{target.rsplit('.', 1)[-1] if match.group(1) else target}`"


class SphinxRolesToCode(griffe.Extension):
    """Rewrite ``:role:`target``` as a code span in every docstring."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = _ROLE.sub(_code, obj.docstring.value)

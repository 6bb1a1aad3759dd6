"""Per-token prices read back from recorded costs: for outcome files that give what each answer
cost (``costs_usd``) but no price sheet. Pure Python (no numpy).

A model's cost on a prompt is ``input_tokens * p_in + output_tokens * p_out``; with the tokens
counted (the prompt, and the model's recorded answer) the two prices are the least-squares
solution of that over every prompt. The fit is refused when it does not explain the costs (a
provider that charges per request, or answers that were not recorded whole).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from costroute._errors import ConfigError
from costroute.evaluation._data import Outcome

__all__ = ["infer_prices"]

#: Largest mean relative error of the fitted costs against the recorded ones.
MAX_ERROR = 0.02


def infer_prices(
    outcomes: Sequence[Outcome], models: Sequence[str], count_tokens: Callable[[str], int]
) -> dict[str, tuple[float, float]]:
    """``{model: ($ per million input tokens, $ per million output tokens)}`` fitted to the
    recorded costs; a ``ConfigError`` naming the model when a fit is not good enough."""
    inputs = [count_tokens(o.text) for o in outcomes]
    prices: dict[str, tuple[float, float]] = {}
    for model in models:
        rows = [(n_in, count_tokens(o.responses[model]), o.costs_usd[model])
                for n_in, o in zip(inputs, outcomes, strict=True) if model in o.responses and model in o.costs_usd]
        if len(rows) < 2:
            raise ConfigError(f"cannot infer prices for {model}: it needs a recorded answer and cost on two prompts")
        p_in, p_out = _fit(rows)
        paid = [(a, b, c) for a, b, c in rows if c > 0]
        error = sum(abs(a * p_in + b * p_out - c) / c for a, b, c in paid) / max(1, len(paid))
        if p_in < 0 or p_out < 0 or error > MAX_ERROR:
            raise ConfigError(f"cannot infer prices for {model} from its recorded costs (the best fit is off by "
                              f"{error:.0%} on average); pass --prices FILE")
        prices[model] = (round(p_in * 1e6, 6), round(p_out * 1e6, 6))
    return prices


def _fit(rows: Sequence[tuple[int, int, float]]) -> tuple[float, float]:
    """Least squares for ``cost = a * p_in + b * p_out`` (the 2x2 normal equations)."""
    saa = sum(a * a for a, _, _ in rows)
    sbb = sum(b * b for _, b, _ in rows)
    sab = sum(a * b for a, b, _ in rows)
    sac = sum(a * c for a, _, c in rows)
    sbc = sum(b * c for _, b, c in rows)
    det = saa * sbb - sab * sab
    if det == 0:  # all answers as long relative to their prompts: one price for both
        total = saa + 2 * sab + sbb
        p = (sac + sbc) / total if total else 0.0
        return p, p
    return (sac * sbb - sbc * sab) / det, (saa * sbc - sab * sac) / det

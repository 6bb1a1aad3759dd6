"""What a replay showed, per setting: quality kept against the baseline next to the money saved.

Pure: the per-request answers (which model each setting's router chose) and the ledger's totals
in, a :class:`DemoReport` out. Quality is the mean *recorded* score of the model that answered
each question; money is what the ledger recorded for the run.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from ..pricing import PriceSheet, Usage, cost_of
from ..spend import SummaryRow, from_micros, to_micros

if TYPE_CHECKING:
    from ._config import Setting
    from ._sample import Sample, SampleRow

__all__ = ["Answered", "DemoReport", "ModelLine", "SettingResult", "SingleModel", "summarize"]


@dataclass(frozen=True, slots=True)
class Answered:
    """One replayed request: the question, the setting it was sent under, and what came back."""

    setting: str
    row_id: str
    model: str
    tier: str
    difficulty: float
    score: float  # the recorded score of the model that answered
    request_id: str


@dataclass(frozen=True, slots=True)
class ModelLine:
    """A model of the pool: list price (per Mtok) and recorded accuracy on the questions replayed."""

    name: str
    label: str
    quality: float
    input_per_mtok: Decimal
    output_per_mtok: Decimal
    accuracy: float


@dataclass(frozen=True, slots=True)
class SettingResult:
    """One setting's run. Money comes from the ledger; quality from the recorded scores."""

    name: str
    about: str
    thresholds: Mapping[str, float]
    requests: int
    routed: Mapping[str, int]  # model -> requests it answered
    quality: float  # mean recorded score of the answers given
    baseline_quality: float  # the baseline model's mean recorded score on the same questions
    random_quality: float  # expected quality of sending the same shares to models at random
    spend_usd: Decimal
    baseline_usd: Decimal

    @property
    def quality_kept(self) -> float:
        """Routed quality as a share of the baseline's, in percent."""
        return 100 * self.quality / self.baseline_quality if self.baseline_quality else math.nan

    @property
    def saved_usd(self) -> Decimal:
        return self.baseline_usd - self.spend_usd

    @property
    def savings_pct(self) -> float:
        return float(100 * self.saved_usd / self.baseline_usd) if self.baseline_usd else 0.0

    def share(self, model: str) -> float:
        return self.routed.get(model, 0) / self.requests if self.requests else 0.0


@dataclass(frozen=True, slots=True)
class SingleModel:
    """For comparison, no routing: every question to one model (recorded scores, usage priced
    as the ledger prices it; not sent)."""

    model: str
    quality: float
    quality_kept: float
    cost_usd: Decimal
    savings_pct: float


@dataclass(frozen=True, slots=True)
class DemoReport:
    sample: str
    credit: str
    run_id: str
    questions: int
    baseline: str
    classifier: str
    in_sample: bool | None  # whether the classifier was trained on these questions (None: unknown)
    models: tuple[ModelLine, ...]
    settings: tuple[SettingResult, ...]
    singles: tuple[SingleModel, ...]
    ledger: str = ""
    elapsed_s: float = 0.0
    tags: Mapping[str, str] = field(default_factory=dict)

    def setting(self, name: str) -> SettingResult:
        return next(s for s in self.settings if s.name == name)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form (money as decimal strings, percentages rounded to 0.01)."""
        return {
            "sample": self.sample, "source": self.credit, "run_id": self.run_id, "questions": self.questions,
            "baseline": self.baseline, "classifier": self.classifier, "in_sample": self.in_sample,
            "ledger": self.ledger, "tags": dict(self.tags), "elapsed_s": round(self.elapsed_s, 2),
            "models": [
                {"model": m.name, "label": m.label, "quality": m.quality, "input_per_mtok": str(m.input_per_mtok),
                 "output_per_mtok": str(m.output_per_mtok), "accuracy": round(m.accuracy, 4)}
                for m in self.models
            ],
            "settings": [
                {"setting": s.name, "thresholds": dict(s.thresholds), "requests": s.requests,
                 "routed": dict(s.routed), "quality": round(s.quality, 4),
                 "baseline_quality": round(s.baseline_quality, 4), "quality_kept_pct": round(s.quality_kept, 2),
                 "random_quality": round(s.random_quality, 4), "spend_usd": str(s.spend_usd),
                 "baseline_usd": str(s.baseline_usd), "saved_usd": str(s.saved_usd),
                 "savings_pct": round(s.savings_pct, 2)}
                for s in self.settings
            ],
            "single_models": [
                {"model": m.model, "quality": round(m.quality, 4), "quality_kept_pct": round(m.quality_kept, 2),
                 "cost_usd": str(m.cost_usd), "savings_pct": round(m.savings_pct, 2)}
                for m in self.singles
            ],
        }


def _mean(values: Iterable[float]) -> float:
    xs = list(values)
    return sum(xs) / len(xs) if xs else 0.0


def priced(sheet: PriceSheet, row: SampleRow) -> Decimal:
    """What the ledger records for one answer to ``row`` at ``sheet``'s price (micro-dollars)."""
    usage = Usage(input_tokens=row.prompt_tokens, output_tokens=row.completion_tokens)
    return from_micros(to_micros(cost_of(sheet, usage)))


def summarize(
    answers: Sequence[Answered],
    totals: Mapping[str, SummaryRow],
    *,
    sample: Sample,
    rows: Sequence[SampleRow],
    settings: Sequence[Setting],
    sheets: Mapping[str, PriceSheet],
    run_id: str,
    classifier: str = "",
    in_sample: bool | None = None,
) -> DemoReport:
    """The report of one replay of ``rows``. ``totals`` are the ledger's summary rows for this
    run by policy; ``sheets`` the price each model was billed at."""
    by_id = {r.id: r for r in rows}
    accuracy = {m.name: _mean(r.scores[m.name] for r in rows) for m in sample.models}
    results = []
    for s in settings:
        mine = [a for a in answers if a.setting == s.name]
        routed = Counter(a.model for a in mine)
        n = len(mine)
        row = totals.get(s.name, SummaryRow())
        results.append(SettingResult(
            name=s.name, about=s.about, thresholds=s.thresholds(), requests=n,
            routed=dict(sorted(routed.items(), key=lambda kv: sample.models.index(sample.model(kv[0])))),
            quality=_mean(a.score for a in mine),
            baseline_quality=_mean(by_id[a.row_id].scores[sample.baseline] for a in mine),
            random_quality=sum(k / n * _mean(by_id[a.row_id].scores[m] for a in mine) for m, k in routed.items())
            if n else 0.0,
            spend_usd=row.cost_usd, baseline_usd=row.baseline_cost_usd,
        ))
    base_cost = sum((priced(sheets[sample.baseline], r) for r in rows), Decimal("0.000000"))
    singles = []
    for m in sample.models:
        cost = sum((priced(sheets[m.name], r) for r in rows), Decimal("0.000000"))
        singles.append(SingleModel(
            model=m.name, quality=accuracy[m.name],
            quality_kept=100 * accuracy[m.name] / accuracy[sample.baseline] if accuracy[sample.baseline] else math.nan,
            cost_usd=cost, savings_pct=float(100 * (base_cost - cost) / base_cost) if base_cost else 0.0,
        ))
    models = tuple(
        ModelLine(name=m.name, label=m.label, quality=m.quality, input_per_mtok=sheets[m.name].input_per_mtok,
                  output_per_mtok=sheets[m.name].output_per_mtok, accuracy=accuracy[m.name])
        for m in sample.models
    )
    return DemoReport(
        sample=sample.name, credit=sample.credit(), run_id=run_id, questions=len(rows), baseline=sample.baseline,
        classifier=classifier, in_sample=in_sample, models=models, settings=tuple(results), singles=tuple(singles),
    )

"""Replaying recorded answers through cascades. Pure functions over outcome files with ``responses``.

:func:`replay_cascade` drives the real :class:`~costroute.cascade.CascadeRun` with each prompt's
recorded answers and costs: the same decisions the client makes at request time. Judges and
logprobs were not recorded, so a judge's calls fail (it abstains) and logprob verifiers abstain.

Searching thousands of cascades that way is slow, so :class:`ReplayTable` also evaluates
*agreement* cascades directly (:meth:`ReplayTable.fast`), from each prompt's pairwise answer
similarities computed once with the verifier's own functions (``normalize``, ``similarity``,
``kind_from``). It mirrors the run's rules (steps in order, agreement models asked with the step,
answers reused, the kind fixed at the first verification) and is checked against
:func:`replay_cascade` for every cascade the search reports (:func:`check_fast`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from costroute._errors import ConfigError
from costroute.cascade import Answer, Cascade, Kind, Normalized, Prompt, normalize, similarity
from costroute.cascade._prompt import AnswerTraits, PromptHints, answer_traits, kind_from, prompt_hints
from costroute.evaluation._data import Outcome

__all__ = ["CascadeReplay", "FastCascade", "ReplayTable", "check_fast", "replay_cascade"]


@dataclass(frozen=True, slots=True)
class CascadeReplay:
    """A cascade replayed over some prompts: mean $ and quality, and per prompt which model
    answered and what it cost."""

    cost: float
    quality: float
    n: int
    accepted_by: Mapping[str, int]
    answered_by: Mapping[str, int]
    row_quality: tuple[float, ...]
    row_cost: tuple[float, ...]


@dataclass(frozen=True, slots=True)
class FastCascade:
    """An agreement cascade in the form :meth:`ReplayTable.fast` evaluates: model indices of the
    table. ``similarity`` maps a kind to the least similarity that counts as agreeing."""

    steps: tuple[int, ...]
    final: int
    with_: tuple[int, ...]
    min: int
    similarity: Mapping[Kind, float]
    parallel: bool = True


class ReplayTable:
    """Outcomes prepared for replays: each prompt's parsed form, each model's score, cost and
    answer, normalization memos shared by every replay, and lazily built similarity matrices."""

    def __init__(self, outcomes: Sequence[Outcome], difficulty: Sequence[float] | None = None) -> None:
        if difficulty is not None and len(difficulty) != len(outcomes):
            raise ValueError("need one difficulty per outcome")
        self.outcomes = list(outcomes)
        self.difficulty = list(difficulty) if difficulty is not None else None
        self.models = _replayable_models(self.outcomes)
        self.index = {m: i for i, m in enumerate(self.models)}
        self.quality = [[o.scores[m] for m in self.models] for o in self.outcomes]
        self.cost = [[o.costs_usd[m] for m in self.models] for o in self.outcomes]
        self.prompts = [Prompt.from_messages(o.messages) for o in self.outcomes]
        self.memos: list[dict[tuple[str, str], Normalized | None]] = [{} for _ in self.outcomes]
        self._hints: list[PromptHints] = [prompt_hints(p) for p in self.prompts]
        self._traits: list[list[AnswerTraits | None]] = [
            [answer_traits(o.responses[m]) for m in self.models] for o in self.outcomes]
        self._kinds: dict[tuple[int, int], Kind] = {}
        self._similar: dict[tuple[int, Kind], list[list[float]]] = {}
        self._masks: dict[tuple[int, Kind, float], list[int]] = {}
        self._stable: dict[int, Kind | None] = {}
        self._bits: dict[int, tuple[int, ...]] = {}  # bit set -> the positions of its bits

    def __len__(self) -> int:
        return len(self.outcomes)

    def normalized(self, row: int, kind: Kind, model: int) -> Normalized | None:
        """The model's answer on ``row`` normalized for ``kind`` (memoised as a run would)."""
        text = self.outcomes[row].responses[self.models[model]]
        memo = self.memos[row]
        key = (kind, text)
        if key not in memo:
            memo[key] = normalize(kind, text, self.prompts[row])
        return memo[key]

    def kind(self, row: int, answered: int) -> Kind:
        """The kind a run fixes on ``row`` when the models in the bit set ``answered`` have answered."""
        key = (row, answered)
        kind = self._kinds.get(key)
        if kind is None:
            traits = self._traits[row]
            seen = [t for i, t in enumerate(traits) if answered >> i & 1 and t is not None]
            kind = self._kinds[key] = kind_from(self._hints[row], seen)
        return kind

    def similar(self, row: int, kind: Kind) -> list[list[float]]:
        """``[i][j]``: the similarity of models i's and j's normalized answers on ``row``;
        ``[i][i]`` is 0.0 when model i gives no answer of this kind."""
        key = (row, kind)
        matrix = self._similar.get(key)
        if matrix is None:
            norms = [self.normalized(row, kind, i) for i in range(len(self.models))]
            n = len(norms)
            matrix = [[0.0] * n for _ in range(n)]
            for i in range(n):
                for j in range(i + 1, n):
                    matrix[i][j] = matrix[j][i] = similarity(norms[i], norms[j])
                matrix[i][i] = 1.0 if norms[i] is not None else 0.0
            self._similar[key] = matrix
        return matrix

    def agreeing(self, row: int, kind: Kind, threshold: float) -> list[int]:
        """Per model: the bit set of the other models agreeing with its answer on ``row`` (0 when
        it gives no answer of this kind, so that it is never accepted)."""
        key = (row, kind, threshold)
        masks = self._masks.get(key)
        if masks is None:
            matrix = self.similar(row, kind)
            masks = []
            for i, sims in enumerate(matrix):
                mask = 0
                if sims[i] != 0.0:
                    for j, value in enumerate(sims):
                        if j != i and value >= threshold:
                            mask |= 1 << j
                masks.append(mask)
            self._masks[key] = masks
        return masks

    def stable_kind(self, row: int) -> Kind | None:
        """The kind a run fixes on ``row`` whichever models have answered, or ``None`` when it
        depends on which (then :meth:`kind` decides per answered set)."""
        if row not in self._stable:
            # every answered set gives the same kind when each single answer does (the kind counts
            # answers of each trait against half of them); a set of empty answers counts as none
            hints, traits = self._hints[row], self._traits[row]
            kinds = {kind_from(hints, [t]) for t in traits if t is not None}
            if None in traits:
                kinds.add(kind_from(hints, []))
            self._stable[row] = kinds.pop() if len(kinds) == 1 else None
        return self._stable[row]

    def fast(self, cascade: FastCascade, rows: Sequence[int],
             first_skipped: Sequence[bool] | None = None) -> tuple[list[float], list[float]]:
        """Per row of ``rows``: the quality and cost of ``cascade``. ``first_skipped[i]``: the
        first step is skipped on that row (difficulty skipping of the whole cascade is left to
        the caller, who replaces those rows by the final model's outcome)."""
        qualities: list[float] = []
        costs: list[float] = []
        final, k, parallel, similar = cascade.final, cascade.min, cascade.parallel, cascade.similarity
        with_mask = sum(1 << o for o in cascade.with_)
        others = {s: with_mask & ~(1 << s) for s in cascade.steps}
        enough = {s: others[s].bit_count() >= k for s in cascade.steps}
        later = cascade.steps[1:]
        bits = self._bits
        for i, r in enumerate(rows):
            steps = later if first_skipped is not None and first_skipped[i] else cascade.steps
            kind = self.stable_kind(r)
            masks = self.agreeing(r, kind, similar[kind]) if kind is not None else None
            asked = 0
            winner = final
            for s in steps:
                if masks is None:  # the kind depends on what was asked before the first verification
                    kind = self.kind(r, asked | (1 << s) | (with_mask if parallel else 0))
                    masks = self.agreeing(r, kind, similar[kind])
                asked |= (1 << s) | others[s]
                if enough[s] and (masks[s] & others[s]).bit_count() >= k:
                    winner = s
                    break
            if winner == final:
                asked |= 1 << final
            cost_row = self.cost[r]
            mask_bits = bits.get(asked)
            if mask_bits is None:
                mask_bits = bits[asked] = tuple(j for j in range(asked.bit_length()) if asked >> j & 1)
            costs.append(sum(cost_row[j] for j in mask_bits))
            qualities.append(self.quality[r][winner])
        return qualities, costs


def _replayable_models(outcomes: Sequence[Outcome]) -> list[str]:
    """Models with a score, a cost and an answer on every prompt."""
    if not outcomes:
        raise ConfigError("no outcomes to replay")
    models = set(outcomes[0].scores)
    for o in outcomes:
        models &= o.scores.keys() & o.costs_usd.keys() & o.responses.keys()
    if len(models) < 2:
        raise ConfigError(
            "replaying a cascade needs `responses` (each model's answer text) and `costs_usd` for at least two "
            "models on every prompt")
    return sorted(models)


def replay_cascade(cascade: Cascade, table: ReplayTable, rows: Sequence[int] | None = None) -> CascadeReplay:
    """Drive ``cascade`` with the recorded answers of ``rows`` (default: all), as the client would."""
    rows = range(len(table)) if rows is None else rows
    unknown = [m for m in cascade.models if m not in table.index]
    if unknown:
        raise ConfigError(f"the cascade names {', '.join(unknown)}, which the data does not answer with "
                          f"(known: {', '.join(table.models)})")
    accepted: Counter[str] = Counter()
    answered: Counter[str] = Counter()
    qualities: list[float] = []
    costs: list[float] = []
    for r in rows:
        outcome = table.outcomes[r]
        difficulty = table.difficulty[r] if table.difficulty is not None else None
        run = cascade.start(outcome.messages, difficulty=difficulty, prompt=table.prompts[r], memo=table.memos[r])
        while calls := run.next_calls():
            for call in calls:
                if call.messages is not None:  # a judge's own call: never recorded
                    run.fail(call.key, "not recorded")
                    continue
                run.receive(call.key, Answer(outcome.responses[call.model], None,
                                             Decimal(repr(outcome.costs_usd[call.model]))))
        out = run.outcome
        assert out.model is not None  # recorded answers never fail
        accepted[out.accepted_by] += 1
        answered[out.model] += 1
        qualities.append(outcome.scores[out.model])
        costs.append(float(out.cost_usd))
    n = len(qualities)
    return CascadeReplay(
        cost=sum(costs) / n if n else 0.0, quality=sum(qualities) / n if n else 0.0, n=n,
        accepted_by=dict(accepted), answered_by=dict(answered), row_quality=tuple(qualities), row_cost=tuple(costs),
    )


def check_fast(table: ReplayTable, fast: FastCascade, cascade: Cascade, rows: Sequence[int]) -> CascadeReplay:
    """Replay ``cascade`` for real and check the fast evaluation of the same cascade agrees on every
    row (an internal error if not: the search would have ranked cascades on wrong figures)."""
    exact = replay_cascade(cascade, table, rows)
    skip = cascade.skip_above
    final = table.quality, table.cost
    first = cascade.steps[0].skip_above if len(cascade.steps) > 1 else None
    skipped = None
    if first is not None and table.difficulty is not None:
        skipped = [table.difficulty[r] >= first for r in rows]
    quick_q, quick_c = table.fast(fast, rows, skipped)
    for i, r in enumerate(rows):
        if skip is not None and table.difficulty is not None and table.difficulty[r] >= skip:
            quick_q[i], quick_c[i] = final[0][r][fast.final], final[1][r][fast.final]
        if quick_q[i] != exact.row_quality[i] or abs(quick_c[i] - exact.row_cost[i]) > 1e-9:
            raise AssertionError(f"fast replay differs from CascadeRun on {table.outcomes[r].id!r}: "
                                 f"({quick_q[i]}, {quick_c[i]}) vs ({exact.row_quality[i]}, {exact.row_cost[i]})")
    return exact

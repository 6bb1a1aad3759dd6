"""Choosing a cascade from recorded answers: search, calibrate, and validate with tasks held out.

A candidate is an agreement cascade: ``steps`` (one or two models, cheapest first), the voters
whose answers must agree (``with``, ``min``), how alike code answers must be, and difficulty
thresholds (``skip_above``: straight to the final model; ``first_skip_above``: start at the second
step). The search scores every candidate on the given prompts with :meth:`ReplayTable.fast` and
keeps the cost-quality frontier; :func:`choose` takes the cheapest candidate reaching a quality
target. Judges and logprob thresholds cannot be chosen offline (nothing recorded them).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from itertools import combinations
from typing import Any

from costroute.cascade import DEFAULT_MIN_SIMILARITY, Cascade, CascadeConfig, Kind, VerifierRegistry
from costroute.evaluation._cascade_replay import FastCascade, ReplayTable
from costroute.evaluation._metrics import quantile
from costroute.evaluation._rowsets import RowSums, at_least

__all__ = ["CascadeCandidate", "ScoredCascade", "SearchSpace", "choose", "search_cascades"]


@dataclass(frozen=True, slots=True)
class CascadeCandidate:
    """One agreement cascade, by model names."""

    steps: tuple[str, ...]
    final: str
    with_: tuple[str, ...]
    min: int
    code_similarity: float = 1.0
    skip_above: float | None = None
    first_skip_above: float | None = None

    def section(self) -> dict[str, Any]:
        """The policy's ``cascade:`` section (plain data, ready for YAML)."""
        steps: list[Any] = list(self.steps)
        if self.first_skip_above is not None and len(steps) > 1:
            steps[0] = {"model": steps[0], "skip_above": self.first_skip_above}
        agreement: dict[str, Any] = {"with": list(self.with_), "min": self.min}
        if self.code_similarity != DEFAULT_MIN_SIMILARITY["code"]:
            agreement["min_similarity"] = {"code": self.code_similarity}
        section: dict[str, Any] = {"steps": steps, "final": self.final, "accept": {"agreement": agreement}}
        if self.skip_above is not None:
            section["skip_above"] = self.skip_above
        return section

    def similarity(self) -> dict[Kind, float]:
        """The least similarity that counts as agreeing, per kind."""
        return {**DEFAULT_MIN_SIMILARITY, "code": self.code_similarity}

    def fast(self, table: ReplayTable) -> FastCascade:
        """This cascade in the table's terms, for :meth:`ReplayTable.fast` (thresholds aside)."""
        idx = table.index
        return FastCascade(tuple(idx[m] for m in self.steps), idx[self.final], tuple(idx[m] for m in self.with_),
                           self.min, self.similarity())

    def cascade(self) -> Cascade:
        """The runtime cascade this section configures (built the way a client builds it)."""
        config = CascadeConfig.model_validate(self.section())
        return Cascade.from_config(config, registry=VerifierRegistry.default(plugins=False))

    def describe(self) -> str:
        steps = " -> ".join(self.steps)
        voters = ", ".join(self.with_)
        text = f"{steps} -> {self.final}; accept when {self.min} of [{voters}] agree"
        if self.code_similarity != DEFAULT_MIN_SIMILARITY["code"]:
            text += f" (code similarity >= {self.code_similarity})"
        if self.first_skip_above is not None and len(self.steps) > 1:
            text += f"; start at {self.steps[1]} from difficulty {self.first_skip_above:.4f}"
        if self.skip_above is not None:
            text += f"; straight to {self.final} from difficulty {self.skip_above:.4f}"
        return text


@dataclass(frozen=True, slots=True)
class ScoredCascade:
    """A candidate's mean $ per prompt and mean quality on the prompts it was scored on, and
    ``(cost, quality)`` on each group of them (when the search was given groups)."""

    candidate: CascadeCandidate
    cost: float
    quality: float
    groups: tuple[tuple[float, float], ...] = ()


@dataclass(frozen=True, slots=True)
class SearchSpace:
    """What :func:`search_cascades` tries. ``final``: the model answering what no step accepts
    (default: the best by mean quality). ``voters``: how many models may vote (the best by
    quality among those costing at most ``voter_cost_share`` of the final's cost). Steps are the
    models cheaper than the final; two-step cascades pair the ``pair_from`` best single steps.
    Difficulty thresholds are taken at ``skip_quantiles`` of the prompts' difficulty (none by
    default: with the default classifier they did not carry to held-out tasks, see docs/cascades.md)."""

    final: str | None = None
    voters: int = 5
    voter_cost_share: float = 0.25
    max_with: int = 3
    pair_from: int = 4
    code_similarity: tuple[float, ...] = (1.0, 0.7, 0.5, 0.35)
    skip_quantiles: tuple[float, ...] = ()


def _means(table: ReplayTable, rows: Sequence[int], values: list[list[float]]) -> list[float]:
    n = len(rows)
    return [sum(values[r][i] for r in rows) / n for i in range(len(table.models))]


def _voter_sets(voters: Sequence[int], max_with: int) -> Iterator[tuple[tuple[int, ...], int]]:
    for size in range(1, min(max_with, len(voters)) + 1):
        for group in combinations(voters, size):
            for k in range(1, size + 1):
                yield group, k


def search_cascades(
    table: ReplayTable,
    rows: Sequence[int],
    space: SearchSpace | None = None,
    *,
    groups: Sequence[Sequence[int]] = (),
    progress: Callable[[int, int], None] | None = None,
) -> list[ScoredCascade]:
    """Every candidate of ``space`` scored on ``rows`` (mean cost and quality), also on each of
    ``groups`` (a partition of ``rows``) when given."""
    space = space or SearchSpace()
    if not rows:
        raise ValueError("no prompts to search on")
    quality, cost = _means(table, rows, table.quality), _means(table, rows, table.cost)
    m = len(table.models)
    final = table.index[space.final] if space.final else max(range(m), key=lambda i: (quality[i], -cost[i]))
    cheaper = sorted((i for i in range(m) if i != final and cost[i] < cost[final]), key=lambda i: cost[i])
    voters = sorted((i for i in range(m) if i != final and cost[i] <= space.voter_cost_share * cost[final]),
                    key=lambda i: (-quality[i], cost[i]))[: space.voters]
    code_rows = [r for r in rows if table.kind(r, (1 << m) - 1) == "code"]
    similarities = space.code_similarity if code_rows else (DEFAULT_MIN_SIMILARITY["code"],)
    thresholds = _thresholds(table, rows, space.skip_quantiles)
    scorer = _Scorer(table, rows, final, thresholds, groups)
    voter_sets = list(_voter_sets(voters, space.max_with))
    out: list[ScoredCascade] = []
    total = len(voter_sets) * len(similarities)
    done = 0
    for with_, k in voter_sets:
        for code_similarity in similarities:
            similar: dict[Kind, float] = {**DEFAULT_MIN_SIMILARITY, "code": code_similarity}
            out.extend(scorer.score(cheaper, with_, k, similar, space.pair_from))
            done += 1
            if progress is not None:
                progress(done, total)
    return out


def _thresholds(table: ReplayTable, rows: Sequence[int], quantiles: Sequence[float]) -> list[float]:
    if table.difficulty is None or not quantiles:
        return []
    values = [table.difficulty[r] for r in rows]
    return sorted({quantile(values, q) for q in quantiles})


Prefix = list[dict[int, float]]
"""Per group of rows: row position (in difficulty order) -> the sum over that group's rows before it."""


class _Scorer:
    """Scores step choices on ``rows`` for each voter setting, with every difficulty threshold,
    overall and per group of rows (a partition of ``rows``, e.g. by task).

    Rows are put in difficulty order, so that "the rows below a threshold" are the low bits of a
    row set. Prompts whose task kind does not depend on which models answered (nearly all) are
    scored with row sets (:mod:`._rowsets`); the others one by one with :meth:`ReplayTable.fast`.
    """

    def __init__(self, table: ReplayTable, rows: Sequence[int], final: int, thresholds: Sequence[float],
                 groups: Sequence[Sequence[int]] = ()) -> None:
        self.table, self.final, self.thresholds = table, final, list(thresholds)
        difficulty = table.difficulty
        self.rows = sorted(rows, key=lambda r: difficulty[r]) if difficulty is not None else list(rows)
        levels = [difficulty[r] for r in self.rows] if difficulty is not None else []
        self.n = n = len(self.rows)
        position = {r: p for p, r in enumerate(self.rows)}
        self.groups = [sum(1 << position[r] for r in g) for g in groups] or [(1 << n) - 1]
        self.sizes = [g.bit_count() for g in self.groups]
        self.cuts = [bisect_left(levels, t) for t in self.thresholds]
        self.points = sorted({0, n, *self.cuts})
        self.kinds: dict[Kind, int] = {}
        self.unstable: list[int] = []  # positions
        for p, r in enumerate(self.rows):
            kind = table.stable_kind(r)
            if kind is None:
                self.unstable.append(p)
            else:
                self.kinds[kind] = self.kinds.get(kind, 0) | 1 << p
        self.stable = sum(self.kinds.values())
        m = len(table.models)
        self.q = [RowSums([table.quality[r][i] for r in self.rows]) for i in range(m)]
        self.c = [RowSums([table.cost[r][i] for r in self.rows]) for i in range(m)]
        everything = (1 << n) - 1
        self.final_q = self._prefix(self.q[final], everything)
        self.final_c = self._prefix(self.c[final], everything)
        self._asked = [self._prefix(self.c[i], self.stable) for i in range(m)]
        self._agree: dict[tuple[tuple[Kind, float], ...], list[list[int]]] = {}

    def _prefix(self, sums: RowSums, rows: int) -> Prefix:
        return [dict(zip(self.points, sums.cumulative(rows & g, self.points), strict=True)) for g in self.groups]

    def _zero(self) -> Prefix:
        return [dict.fromkeys(self.points, 0.0) for _ in self.groups]

    def names(self, idx: Sequence[int]) -> tuple[str, ...]:
        return tuple(self.table.models[i] for i in idx)

    def agreement(self, similar: Mapping[Kind, float]) -> list[list[int]]:
        """``[s][o]``: the stable rows where model o's answer agrees with model s's."""
        key = tuple(sorted(similar.items()))
        matrix = self._agree.get(key)
        if matrix is None:
            m = len(self.table.models)
            matrix = [[0] * m for _ in range(m)]
            for kind, rows in self.kinds.items():
                threshold = similar[kind]
                p = 0
                while rows:
                    if rows & 1:
                        for s, agree in enumerate(self.table.agreeing(self.rows[p], kind, threshold)):
                            o = 0
                            while agree:
                                if agree & 1:
                                    matrix[s][o] |= 1 << p
                                agree >>= 1
                                o += 1
                    rows >>= 1
                    p += 1
            self._agree[key] = matrix
        return matrix

    def prefixes(self, fast: FastCascade) -> tuple[Prefix, Prefix]:
        """Quality and cost of ``fast`` summed over the rows below each point, per group."""
        agree = self.agreement(fast.similarity)
        stable, k = self.stable, fast.min
        left = stable
        q, c = self._zero(), self._zero()
        asked = 0
        for s in fast.steps:
            voters = [agree[s][o] for o in fast.with_ if o != s]
            accepted = at_least(voters, k, stable) & left
            self._add(q, self._prefix(self.q[s], accepted))
            if not asked >> s & 1:
                self._add(c, self._prefix(self.c[s], left) if asked else self._asked[s])
            if not asked:  # the voters answer with the first step, on every row
                for o in fast.with_:
                    if o != s:
                        self._add(c, self._asked[o])
                asked |= sum(1 << o for o in fast.with_)
            asked |= 1 << s
            left &= ~accepted
        self._add(q, self._prefix(self.q[self.final], left))
        self._add(c, self._prefix(self.c[self.final], left))
        if self.unstable:
            uq, uc = self.table.fast(fast, [self.rows[p] for p in self.unstable])
            for p, vq, vc in zip(self.unstable, uq, uc, strict=True):
                g = next(i for i, group in enumerate(self.groups) if group >> p & 1)
                for point in self.points:
                    if p < point:
                        q[g][point] += vq
                        c[g][point] += vc
        return q, c

    @staticmethod
    def _add(into: Prefix, more: Prefix) -> None:
        for mine, theirs in zip(into, more, strict=True):
            for point, value in theirs.items():
                mine[point] += value

    def score(self, cheaper: Sequence[int], with_: tuple[int, ...], k: int, similar: Mapping[Kind, float],
              pair_from: int) -> list[ScoredCascade]:
        # a step can only be accepted with k voters other than itself
        cheaper = [s for s in cheaper if len([o for o in with_ if o != s]) >= k]
        singles = {s: self.prefixes(FastCascade((s,), self.final, with_, k, similar)) for s in cheaper}
        out = [sc for s in cheaper for sc in self._variants((s,), with_, k, similar, singles[s], None)]
        ranked = _rank_singles(singles, self.n)
        for s1, s2 in combinations(sorted(ranked[:pair_from], key=lambda s: cheaper.index(s)), 2):
            pair = self.prefixes(FastCascade((s1, s2), self.final, with_, k, similar))
            out.extend(self._variants((s1, s2), with_, k, similar, pair, singles[s2]))
        return out

    def _variants(self, steps: tuple[int, ...], with_: tuple[int, ...], k: int, similar: Mapping[Kind, float],
                  full: tuple[Prefix, Prefix], later: tuple[Prefix, Prefix] | None) -> Iterator[ScoredCascade]:
        """The cascade with each choice of thresholds: none, ``skip_above``, and for two steps
        ``first_skip_above`` (rows from that cut on use the second step's outcome)."""
        n = self.n
        base = CascadeCandidate(self.names(steps), self.table.models[self.final], self.names(with_), k,
                                similar["code"])
        cuts: list[tuple[float | None, int]] = [(None, n), *zip(self.thresholds, self.cuts, strict=True)]
        firsts: list[tuple[float | None, int]] = [(None, n)]
        if later is not None:
            firsts += list(zip(self.thresholds, self.cuts, strict=True))
        for first, a in firsts:
            for skip, b in cuts:
                if first is not None and skip is not None and b <= a:
                    continue  # the whole cascade is skipped before the first step would be
                lo = min(a, b)
                by_group = []
                for g, size in enumerate(self.sizes):
                    q, c = full[0][g][lo], full[1][g][lo]
                    if later is not None and a < b:
                        q += later[0][g][b] - later[0][g][a]
                        c += later[1][g][b] - later[1][g][a]
                    q += self.final_q[g][n] - self.final_q[g][b]
                    c += self.final_c[g][n] - self.final_c[g][b]
                    by_group.append((c, q, size))
                candidate = replace(base, skip_above=skip, first_skip_above=first)
                yield ScoredCascade(candidate, sum(x[0] for x in by_group) / n, sum(x[1] for x in by_group) / n,
                                    tuple((cg / size, qg / size) for cg, qg, size in by_group))


def _rank_singles(singles: Mapping[int, tuple[Prefix, Prefix]], n: int) -> list[int]:
    """Single steps by their cascade's quality (then cost): the order for pairing them."""
    return sorted(singles, key=lambda s: (-sum(g[n] for g in singles[s][0]), sum(g[n] for g in singles[s][1])))


def _prefix(values: Sequence[float]) -> list[float]:
    out = [0.0]
    for v in values:
        out.append(out[-1] + v)
    return out


def choose(scored: Sequence[ScoredCascade], target: float,
           group_targets: Sequence[float] | None = None) -> ScoredCascade | None:
    """The cheapest candidate whose quality reaches ``target`` (and each group's target, when
    given); ties: the higher quality, then the simpler (fewer steps, voters and thresholds)."""
    ok = [s for s in scored if s.quality >= target - 1e-12]
    if group_targets is not None:
        ok = [s for s in ok if all(q >= t - 1e-12 for (_, q), t in zip(s.groups, group_targets, strict=True))]
    if not ok:
        return None

    def key(s: ScoredCascade) -> tuple[float, float, int]:
        c = s.candidate
        simple = len(c.steps) + len(c.with_) + (c.skip_above is not None) + (c.first_skip_above is not None)
        return (round(s.cost, 12), -s.quality, simple)

    return min(ok, key=key)

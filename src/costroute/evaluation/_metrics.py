"""Routing metrics as pure functions over plain sequences (no numpy needed).

Strong/weak pairs follow RouteLLM's evaluation exactly: sort prompts by the router's score, put
thresholds at the 11 quantile edges of the scores (``score >= edge`` goes to the strong model;
the top edge uses ``>`` so that no prompt does), and measure mean quality at each point. Then

* PGR = (quality - weak) / (strong - weak); APGR = the trapezoid area under PGR over the
  strong-call share, divided by the share range (so a random router scores 0.5);
* CPT(x) = the strong-call share at which the (linearly interpolated) curve first recovers
  ``x`` of the gap; C95 = the share at which it first reaches 95 % of the strong quality.

For several priced models a policy is a cost-quality curve over a sweep of its thresholds,
compared with the single models, the "mix single models by cost" frontier (their upper convex
hull, which ignores the prompt) and the cheapest-correct-model oracle.
"""

from __future__ import annotations

import random
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import combinations, pairwise

__all__ = [
    "CostQuality",
    "CurvePoint",
    "PairReport",
    "apgr",
    "area_between",
    "cost_at_quality",
    "cost_mix_frontier",
    "cpt",
    "evaluate_pair",
    "length_scores",
    "model_ladder",
    "oracle_point",
    "oracle_scores",
    "pair_curve",
    "pareto_frontier",
    "pgr",
    "policy_points",
    "price_prompts",
    "quality_at_cost",
    "quantile",
    "random_scores",
    "share_to_reach",
    "single_model_points",
    "utility_policy_points",
]


@dataclass(frozen=True, slots=True)
class CurvePoint:
    """One point of a strong/weak routing curve."""

    share: float
    """Share of prompts sent to the strong model, in [0, 1]."""
    quality: float
    """Mean quality of the routed answers."""


@dataclass(frozen=True, slots=True)
class PairReport:
    """RouteLLM's metrics for one router on one strong/weak pair. Shares are fractions."""

    strong_quality: float
    weak_quality: float
    apgr: float
    cpt50: float | None
    cpt80: float | None
    c95: float | None
    curve: tuple[CurvePoint, ...]


@dataclass(frozen=True, slots=True)
class CostQuality:
    """Mean $ per prompt against mean quality, for a model or a policy setting."""

    cost: float
    quality: float
    label: str = ""
    thresholds: Mapping[str, float] = field(default_factory=dict)


# --- strong / weak pairs -------------------------------------------------------------------


def quantile(values: Sequence[float], q: float) -> float:
    """The ``q`` quantile with linear interpolation (numpy's default method)."""
    if not values:
        raise ValueError("quantile of no values")
    s = sorted(values)
    pos = q * (len(s) - 1)
    lo = int(pos)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


def _mean(xs: Sequence[float]) -> float:
    return sum(xs) / len(xs) if xs else 0.0


def pair_curve(
    scores: Sequence[float], strong: Sequence[float], weak: Sequence[float], *, bins: int = 10
) -> tuple[CurvePoint, ...]:
    """The routing curve at the ``bins + 1`` quantile edges of ``scores``, by share ascending."""
    n = len(scores)
    if n == 0 or len(strong) != n or len(weak) != n:
        raise ValueError("scores, strong and weak must be non-empty and of equal length")
    order = sorted(range(n), key=lambda i: scores[i])
    ordered = [scores[i] for i in order]
    # suffix sums: quality when everything from index k on goes to the strong model
    gain_suffix = [0.0] * (n + 1)
    for k in range(n - 1, -1, -1):
        i = order[k]
        gain_suffix[k] = gain_suffix[k + 1] + strong[i] - weak[i]
    weak_total = sum(weak)
    points: set[CurvePoint] = set()
    for b in range(bins + 1):
        edge = quantile(ordered, b / bins)
        # score >= edge goes to the strong model; at the top edge, score > edge
        k = bisect_left(ordered, edge) if b < bins else bisect_right(ordered, edge)
        points.add(CurvePoint(share=(n - k) / n, quality=(weak_total + gain_suffix[k]) / n))
    return tuple(sorted(points, key=lambda p: (p.share, p.quality)))


def pgr(quality: float, strong_quality: float, weak_quality: float) -> float:
    """Performance gap recovered."""
    gap = strong_quality - weak_quality
    return (quality - weak_quality) / gap if gap else 0.0


def apgr(curve: Sequence[CurvePoint], strong_quality: float, weak_quality: float) -> float:
    """Average PGR: trapezoid area under PGR over share, divided by the share range."""
    pts = sorted(curve, key=lambda p: p.share)
    span = pts[-1].share - pts[0].share
    if span <= 0:
        return pgr(pts[0].quality, strong_quality, weak_quality)
    area = 0.0
    for a, b in pairwise(pts):
        ya = pgr(a.quality, strong_quality, weak_quality)
        yb = pgr(b.quality, strong_quality, weak_quality)
        area += (b.share - a.share) * (ya + yb) / 2
    return area / span


def share_to_reach(curve: Sequence[CurvePoint], target_quality: float) -> float | None:
    """The smallest strong-call share at which the interpolated curve reaches the target."""
    pts = sorted(curve, key=lambda p: p.share)
    if pts[0].quality >= target_quality:
        return pts[0].share
    for a, b in pairwise(pts):
        if b.quality >= target_quality > a.quality:
            return a.share + (b.share - a.share) * (target_quality - a.quality) / (b.quality - a.quality)
    return None


def cpt(curve: Sequence[CurvePoint], strong_quality: float, weak_quality: float, x: float) -> float | None:
    """Call-performance threshold: the share needed to recover ``x`` of the quality gap."""
    return share_to_reach(curve, weak_quality + x * (strong_quality - weak_quality))


def evaluate_pair(scores: Sequence[float], strong: Sequence[float], weak: Sequence[float]) -> PairReport:
    """APGR, CPT(50 %), CPT(80 %) and C95 of a router's ``scores`` (higher = use strong)."""
    curve = pair_curve(scores, strong, weak)
    sq, wq = _mean(strong), _mean(weak)
    return PairReport(
        strong_quality=sq,
        weak_quality=wq,
        apgr=apgr(curve, sq, wq),
        cpt50=cpt(curve, sq, wq, 0.5),
        cpt80=cpt(curve, sq, wq, 0.8),
        c95=share_to_reach(curve, 0.95 * sq),
        curve=curve,
    )


# --- baselines -----------------------------------------------------------------------------


def random_scores(n: int, *, seed: int = 0) -> list[float]:
    """A random router's scores (its expected APGR is 0.5)."""
    rng = random.Random(seed)
    return [rng.random() for _ in range(n)]


def length_scores(texts: Sequence[str]) -> list[float]:
    """The prompt-length baseline: longer = harder."""
    return [float(len(t)) for t in texts]


def oracle_scores(strong: Sequence[float], weak: Sequence[float]) -> list[float]:
    """The hindsight router: route where the strong model does better."""
    return [s - w for s, w in zip(strong, weak, strict=True)]


# --- several priced models -----------------------------------------------------------------


def price_prompts(
    texts: Sequence[str],
    prices: Mapping[str, tuple[float, float]],
    *,
    output_tokens: int = 200,
    count_tokens: Callable[[str], int] = lambda t: max(1, len(t) // 4),
) -> list[dict[str, float]]:
    """$ per prompt per model from ``(input, output)`` $ per million tokens."""
    out: list[dict[str, float]] = []
    for text in texts:
        n_in = count_tokens(text)
        out.append({m: (n_in * pin + output_tokens * pout) / 1e6 for m, (pin, pout) in prices.items()})
    return out


def single_model_points(
    qualities: Sequence[Mapping[str, float]], costs: Sequence[Mapping[str, float]]
) -> dict[str, CostQuality]:
    """Always using one model: its mean cost and mean quality, for models in both tables."""
    models = sorted(set(qualities[0]) & set(costs[0]))
    return {
        m: CostQuality(cost=_mean([c[m] for c in costs]), quality=_mean([q[m] for q in qualities]), label=m)
        for m in models
    }


def pareto_frontier(points: Sequence[CostQuality]) -> list[CostQuality]:
    """Points not beaten by a cheaper-or-equal point of higher-or-equal quality, by cost."""
    best = float("-inf")
    out: list[CostQuality] = []
    for p in sorted(points, key=lambda p: (p.cost, -p.quality)):
        if p.quality > best:
            out.append(p)
            best = p.quality
    return out


def model_ladder(singles: Mapping[str, CostQuality]) -> list[str]:
    """Pareto-efficient single models by increasing cost (and quality): a policy's tiers."""
    return [p.label for p in pareto_frontier(list(singles.values()))]


def cost_mix_frontier(singles: Mapping[str, CostQuality]) -> list[CostQuality]:
    """Upper convex hull of the single models: the best you can do by mixing them at random."""
    hull: list[CostQuality] = []
    for p in pareto_frontier(list(singles.values())):
        while len(hull) >= 2:
            a, b = hull[-2], hull[-1]
            # drop b if it lies on or below the segment a -> p
            if (b.quality - a.quality) * (p.cost - a.cost) <= (p.quality - a.quality) * (b.cost - a.cost):
                hull.pop()
            else:
                break
        hull.append(p)
    return hull


def oracle_point(qualities: Sequence[Mapping[str, float]], costs: Sequence[Mapping[str, float]]) -> CostQuality:
    """Per prompt, the cheapest model among those with the best score (hindsight)."""
    total_q = total_c = 0.0
    for q, c in zip(qualities, costs, strict=True):
        models = [m for m in q if m in c]
        top = max(q[m] for m in models)
        cheapest = min((m for m in models if q[m] == top), key=lambda m: c[m])
        total_q += top
        total_c += c[cheapest]
    n = len(qualities)
    return CostQuality(cost=total_c / n, quality=total_q / n, label="oracle")


def policy_points(
    difficulty: Sequence[float],
    qualities: Sequence[Mapping[str, float]],
    costs: Sequence[Mapping[str, float]],
    ladder: Sequence[str],
    *,
    steps: int = 40,
) -> list[CostQuality]:
    """A difficulty policy over ``ladder`` (cheap to expensive): for each choice of thresholds
    at the ``steps``-quantile grid, a prompt goes to the highest model whose threshold its
    difficulty reaches. Returns every setting's cost and quality (see :func:`pareto_frontier`)."""
    n = len(difficulty)
    order = sorted(range(n), key=lambda i: difficulty[i])
    d = [difficulty[i] for i in order]
    prefix_q = {m: _prefix([qualities[i][m] for i in order]) for m in ladder}
    prefix_c = {m: _prefix([costs[i][m] for i in order]) for m in ladder}
    edges = sorted({quantile(d, s / steps) for s in range(1, steps + 1)} | {float("inf")})
    cuts = sorted({(bisect_left(d, e), e) for e in edges})
    points: list[CostQuality] = []
    k = len(ladder) - 1
    if k == 0:
        m = ladder[0]
        return [CostQuality(prefix_c[m][n] / n, prefix_q[m][n] / n, label="policy")]
    for chosen in combinations(cuts, k):
        bounds = [0, *(c for c, _ in chosen), n]
        q = c = 0.0
        for j, m in enumerate(ladder):
            lo, hi = bounds[j], bounds[j + 1]
            q += prefix_q[m][hi] - prefix_q[m][lo]
            c += prefix_c[m][hi] - prefix_c[m][lo]
        thresholds = {ladder[j + 1]: e for j, (_, e) in enumerate(chosen)}
        points.append(CostQuality(c / n, q / n, label="policy", thresholds=thresholds))
    return points


def utility_policy_points(
    predicted: Sequence[Mapping[str, float]],
    qualities: Sequence[Mapping[str, float]],
    costs: Sequence[Mapping[str, float]],
    *,
    penalties: Sequence[float] | None = None,
) -> list[CostQuality]:
    """A per-model policy, unlike the difficulty policy of :func:`policy_points`: each prompt
    goes to the model maximising ``predicted[m] - penalty * cost[m] / top``, where ``top`` is
    the highest mean cost of a model, for each penalty (by default 0 and 80 values from 1e-3
    to 1e2, log-spaced). ``predicted`` holds one predicted quality per model and prompt."""
    models = [m for m in predicted[0] if m in costs[0]]
    top = max(_mean([c[m] for c in costs]) for m in models)
    if penalties is None:
        penalties = [0.0, *(10 ** (-3 + 5 * i / 79) for i in range(80))]
    points: list[CostQuality] = []
    for lam in penalties:
        q = c = 0.0
        for pred, qual, cost in zip(predicted, qualities, costs, strict=True):
            m = max(models, key=lambda m: (pred[m] - lam * cost[m] / top, -cost[m]))
            q += qual[m]
            c += cost[m]
        n = len(predicted)
        points.append(CostQuality(c / n, q / n, label="utility", thresholds={"penalty": lam}))
    return points


def _prefix(xs: Sequence[float]) -> list[float]:
    out = [0.0]
    for x in xs:
        out.append(out[-1] + x)
    return out


def cost_at_quality(points: Sequence[CostQuality], target: float) -> CostQuality | None:
    """The cheapest point whose quality reaches ``target`` (no interpolation)."""
    ok = [p for p in points if p.quality >= target - 1e-12]
    return min(ok, key=lambda p: p.cost) if ok else None


def quality_at_cost(frontier: Sequence[CostQuality], cost: float) -> float:
    """Quality of a frontier (piecewise linear, flat beyond its ends) at ``cost``."""
    pts = sorted(frontier, key=lambda p: p.cost)
    if cost <= pts[0].cost:
        return pts[0].quality
    for a, b in pairwise(pts):
        if a.cost <= cost <= b.cost:
            if b.cost == a.cost:
                return max(a.quality, b.quality)
            return a.quality + (b.quality - a.quality) * (cost - a.cost) / (b.cost - a.cost)
    return max(p.quality for p in pts)


def area_between(upper: Sequence[CostQuality], lower: Sequence[CostQuality]) -> float:
    """Mean quality advantage of frontier ``upper`` over ``lower`` across their shared cost
    range (area between the curves divided by the range's width)."""
    lo = max(min(p.cost for p in upper), min(p.cost for p in lower))
    hi = min(max(p.cost for p in upper), max(p.cost for p in lower))
    if hi <= lo:
        return 0.0
    xs = sorted({lo, hi} | {p.cost for p in [*upper, *lower] if lo < p.cost < hi})
    area = 0.0
    for a, b in pairwise(xs):
        da = quality_at_cost(upper, a) - quality_at_cost(lower, a)
        db = quality_at_cost(upper, b) - quality_at_cost(lower, b)
        area += (b - a) * (da + db) / 2
    return area / (hi - lo)

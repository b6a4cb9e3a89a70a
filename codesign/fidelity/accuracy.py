"""Top-1 accuracy with its 95 % binomial interval (Wilson score interval, via scipy).

The interval is what every comparison of two accuracies here is read against.
"""
from __future__ import annotations

CONFIDENCE = 0.95


def binomial_interval(hits: int, total: int, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Wilson score interval of `hits` successes in `total` trials (Wilson 1927; scipy.stats.binomtest)."""
    from scipy.stats import binomtest

    ci = binomtest(int(hits), int(total)).proportion_ci(confidence_level=confidence, method="wilson")
    return round(float(ci.low), 6), round(float(ci.high), 6)

"""Q2: two-proportion z-tests of email templates B-E against the control A.

    python -m solutions.ml_qa.ab_test

Each template was sent to 1000 users. For each, test H0: CTR_X = CTR_A against the two-sided
alternative with the pooled two-proportion z statistic, then see what a multiple-comparison
correction (Bonferroni, and Holm's step-down version) changes, since four templates were
compared with the same control.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from scipy.stats import norm

N = 1000
CONTROL = ("A", 0.10)
TEMPLATES = {"B": 0.07, "C": 0.085, "D": 0.12, "E": 0.14}
ALPHA = 0.05


@dataclass
class Comparison:
    template: str
    ctr: float
    z: float  # pooled standard error; positive when the template beats A
    z_unpooled: float
    p: float  # two-sided p-value of the pooled z


def compare(ctr: float, ctr_a: float = CONTROL[1], n: int = N) -> tuple[float, float, float]:
    """(pooled z, unpooled z, two-sided p) for CTR `ctr` against `ctr_a`, n emails each."""
    diff = ctr - ctr_a
    pooled = (ctr + ctr_a) / 2  # equal sample sizes: the pooled proportion is the mean
    se_pooled = math.sqrt(pooled * (1 - pooled) * (2 / n))
    se_unpooled = math.sqrt(ctr * (1 - ctr) / n + ctr_a * (1 - ctr_a) / n)
    z = diff / se_pooled
    return z, diff / se_unpooled, 2 * norm.sf(abs(z))


def comparisons() -> list[Comparison]:
    return [Comparison(name, ctr, *compare(ctr)) for name, ctr in TEMPLATES.items()]


def holm(pvalues: dict[str, float], alpha: float = ALPHA) -> dict[str, bool]:
    """Holm's step-down procedure: which hypotheses are rejected at family-wise level alpha."""
    ordered = sorted(pvalues, key=pvalues.get)
    rejected = {}
    still_rejecting = True
    for rank, name in enumerate(ordered):
        still_rejecting = still_rejecting and pvalues[name] <= alpha / (len(ordered) - rank)
        rejected[name] = still_rejecting
    return rejected


def main() -> None:
    rows = comparisons()
    pvalues = {r.template: r.p for r in rows}
    bonferroni = {name: p <= ALPHA / len(rows) for name, p in pvalues.items()}
    holm_rejects = holm(pvalues)
    print(f"Control A: CTR {CONTROL[1]:.1%}, n = {N} per template, two-sided, alpha = {ALPHA}")
    print(f"{'':3} {'CTR':>6} {'z':>7} {'z*':>7} {'p':>7}  {'95%?':5} {'Bonf.':5} {'Holm':5}")
    for r in rows:
        print(
            f"{r.template:3} {r.ctr:6.1%} {r.z:7.3f} {r.z_unpooled:7.3f} {r.p:7.4f}  "
            f"{str(r.p <= ALPHA):5} {str(bonferroni[r.template]):5} {str(holm_rejects[r.template]):5}"
        )
    print("z: pooled standard error; z*: unpooled. Significant without correction: B (worse), E (better) -> option b.")


if __name__ == "__main__":
    main()

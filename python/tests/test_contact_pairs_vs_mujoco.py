"""Per-pair contact parity with MuJoCo (issue 20), for the pairs that are at parity: at 20 random
overlapping poses each, the same number of contacts as MuJoCo's, and each contact's distance,
normal and point equal to MuJoCo's, its geoms named in MuJoCo's order (analytic pairs to round-off; pairs of a cylinder with a
capsule or a cylinder by both engines' GJK/EPA, converged: the normal to about the square root
of the distance tolerance). `benches/contact_pairs.py` prints every pair, those still apart
included (the box-cylinder contact counts)."""

import pytest

from _contact_pairs import APART, CONVEX, PAIRS, pair_contacts

ANALYTIC = [p for p in PAIRS if p not in CONVEX and p not in APART]


@pytest.mark.parametrize("pair", ANALYTIC, ids=[f"{a}-{b}" for a, b in ANALYTIC])
def test_analytic_pairs_give_mujocos_contacts(pair):
    mismatch, n, worst, order = pair_contacts(*pair)
    print(f"{pair}: {n} contacts, worst dist {worst[0]:.1e} normal {worst[1]:.1e} point {worst[2]:.1e}")
    assert mismatch == 0 and n >= 19 and order == 0
    assert (worst < 1e-12).all()


@pytest.mark.parametrize("pair", CONVEX, ids=[f"{a}-{b}" for a, b in CONVEX])
def test_convex_pairs_give_mujocos_contacts(pair):
    mismatch, n, worst, order = pair_contacts(*pair)
    print(f"{pair}: {n} contacts, worst dist {worst[0]:.1e} normal {worst[1]:.1e} point {worst[2]:.1e}")
    assert mismatch == 0 and n >= 19 and order == 0
    assert worst[0] < 1e-10 and worst[1] < 1e-5 and worst[2] < 1e-6

"""The retainer bank's rules, one table each, with every figure worked by hand beside it.
Minutes throughout; no database."""

import pytest

from billing.retainer import RetainerMonth, retainer_bank, retainer_bank_for_month

BANKS = [
    # (included, cap, previous month's unused, bank): 10 h included, 2 h rollover cap
    (600, 120, None, 600),  # month one: no rollover
    (600, 120, 0, 600),  # the previous month used everything
    (600, 120, 90, 690),  # 90 left over, under the cap
    (600, 120, 120, 720),  # exactly the cap
    (600, 120, 500, 720),  # 500 left over, capped at 120
    (600, 120, -50, 600),  # never negative (overage last month takes nothing away)
    (600, 0, 300, 600),  # no rollover at all
]


@pytest.mark.parametrize(("included", "cap", "unused", "bank"), BANKS)
def test_the_bank_is_included_plus_capped_rollover(included, cap, unused, bank):
    assert retainer_bank(included, cap, unused) == bank


M = RetainerMonth
HISTORIES = [
    # (earlier months oldest first, (bank, rollover) this month); 600 included, cap 120
    ([], (600, 0)),  # month one
    ([M(600, 120, 500)], (700, 100)),  # 600 - 500 = 100 left, under the cap
    ([M(600, 120, 0)], (720, 120)),  # 600 unused, capped at 120
    ([M(600, 120, 700)], (600, 0)),  # went into overage: nothing rolls, nothing is owed
    # Jan 600 unused -> Feb bank 720, uses 600 -> 120 left -> Mar 720
    ([M(600, 120, 0), M(600, 120, 600)], (720, 120)),
    # Jan unused -> Feb bank 720, uses all 720 -> Mar starts with no rollover
    ([M(600, 120, 0), M(600, 120, 720)], (600, 0)),
    # a month off the retainer breaks the chain: like month one again
    ([M(600, 120, 0), None], (600, 0)),
    # the previous month's own size and cap apply to it: 300 incl, 0 used -> 300 capped 120
    ([M(300, 500, 0)], (720, 120)),
]


@pytest.mark.parametrize(("history", "expected"), HISTORIES)
def test_rollover_walks_the_months(history, expected):
    assert retainer_bank_for_month(history, included=600, cap=120) == expected

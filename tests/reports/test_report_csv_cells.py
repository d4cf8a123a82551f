"""A report's CSV file writes every cell as spreadsheet_value says, whether the table is
short (one piece) or streamed in pieces of rows."""

import random
from decimal import Decimal

from reports.tables import (
    INT,
    MINUTES,
    MONEY,
    PERCENT,
    STREAM_ROWS,
    Column,
    Table,
    _spreadsheet_cell,
    csv_response,
    spreadsheet_value,
)

COLUMNS = [
    Column("name", "Client"),
    Column("amount", "Amount", MONEY),
    Column("owed", "Owed", MONEY, currency_key="pay_currency"),
    Column("minutes", "Minutes", MINUTES),
    Column("count", "Count", INT),
    Column("share", "Share", PERCENT),
]


def _row(pick: random.Random) -> dict:
    return {
        "name": pick.choice([None, "", "=SUM(A1)", "-1", "Acme Dental", "@home"]),
        "amount": pick.choice([None, 0, pick.randint(-(10**8), 10**8)]),
        "currency": pick.choice(["USD", "JPY", "KWD", "", None]),
        "owed": pick.choice([None, pick.randint(-(10**6), 10**6)]),
        "pay_currency": pick.choice(["EUR", "BHD", None]),
        "minutes": pick.choice(
            [None, 0, 30, 90, -30, -45, pick.randint(-(10**5), 10**5), 1.5, Decimal("7.5")]
        ),
        "count": pick.choice([None, 0, pick.randint(0, 10**6)]),
        "share": pick.choice([None, Decimal("12.5"), Decimal("-3.0")]),
    }


def test_each_cell_is_what_spreadsheet_value_writes():
    pick = random.Random(7)
    cells = [_spreadsheet_cell(column) for column in COLUMNS]
    for _ in range(5000):
        row = _row(pick)
        assert [cell(row) for cell in cells] == [spreadsheet_value(row, c) for c in COLUMNS]
    # whole minutes as hours, to the hundredth
    assert [_spreadsheet_cell(COLUMNS[3])({"minutes": m}) for m in (3, 9, -3, 1, 59)] == [
        "0.05",
        "0.15",
        "-0.05",
        "0.02",
        "0.98",
    ]


def test_a_streamed_file_equals_the_same_rows_written_at_once():
    pick = random.Random(11)
    rows = [_row(pick) for _ in range(STREAM_ROWS * 2 + 7)]
    streamed = csv_response(Table("t", "T", COLUMNS, rows), filename="t.csv")
    assert streamed.streaming
    pieces = list(streamed.streaming_content)
    assert len(pieces) == 3  # the header and 1,007 rows, 500 lines a piece
    whole = csv_response(Table("t", "T", COLUMNS, rows[:STREAM_ROWS]), filename="t.csv")
    assert not whole.streaming
    text = b"".join(pieces).decode()
    assert text.startswith(whole.content.decode())
    assert len(text.splitlines()) == 1 + len(rows)

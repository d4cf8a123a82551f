"""A report's table: typed columns, rows, and totals per currency.

Pages and CSV files are drawn from the same table, so a figure on screen and in the
spreadsheet is one figure. Money cells are integer minor units of the row's `currency`;
a table never adds up rows of different currencies: its totals are one row per currency.
"""

import csv
import io
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache

from babel.numbers import get_currency_symbol
from django.http import HttpResponse, StreamingHttpResponse
from django.utils.text import slugify

from core.money import minor_digits, to_major
from core.periods import month_end

TEXT, INT, MINUTES, MONEY, PERCENT = "text", "int", "minutes", "money", "percent"

# A page shows this many rows of a table (its totals are of all of them); the CSV has all.
PAGE_ROWS = 100
# Past this many rows a CSV is streamed.
STREAM_ROWS = 500


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    kind: str = TEXT
    # Money columns take their currency from this key of the row (a margin row may hold
    # two currencies: what the client paid and what the assistant is owed).
    currency_key: str = "currency"
    total: bool = True  # added up per currency in the totals

    @property
    def numeric(self) -> bool:
        return self.kind != TEXT


@dataclass
class Table:
    key: str
    title: str
    columns: list[Column]
    rows: list[dict] = field(default_factory=list)
    note: str = ""
    # Rows of totals, one per currency (or a single row when no column is money).
    totals: list[dict] = field(default_factory=list)

    @property
    def cells(self) -> list[list[str]]:
        """The rows as a page shows them: the first PAGE_ROWS (a thousand clients' rows
        are for the CSV, not for a page)."""
        return [[display(row, column) for column in self.columns] for row in self.rows[:PAGE_ROWS]]

    @property
    def rows_not_shown(self) -> int:
        return max(len(self.rows) - PAGE_ROWS, 0)

    @property
    def total_cells(self) -> list[list[str]]:
        return [[display(row, column) for column in self.columns] for row in self.totals]

    def add_totals(self, *, label_key: str, by: str = "currency") -> "Table":
        """Add up the summable columns per `by` (the currency): never across currencies.
        Percent columns are recomputed by `percent_of` where the table defines them."""
        groups: dict[str, dict] = {}
        for row in self.rows:
            group = groups.setdefault(row.get(by, ""), {label_key: "Total", by: row.get(by, "")})
            for column in self.columns:
                if column.total and column.kind in (INT, MINUTES, MONEY):
                    value = row.get(column.key)
                    if value is not None:
                        group[column.key] = group.get(column.key, 0) + value
                if column.kind == MONEY and column.currency_key != by:
                    group.setdefault(column.currency_key, row.get(column.currency_key))
        self.totals = [groups[key] for key in sorted(groups)]
        return self


def percent(part: int | None, whole: int | None) -> Decimal | None:
    """part / whole as a percentage with one decimal, or None when there is no whole."""
    if not whole or part is None:
        return None
    return (Decimal(part) * 100 / Decimal(whole)).quantize(Decimal("0.1"))


def display(row: dict, column: Column) -> str:
    """A cell as a page shows it."""
    value = row.get(column.key)
    if value is None or value == "":
        return "—" if column.numeric else ""
    if column.kind == MONEY:
        currency = row.get(column.currency_key)
        return money_text(value, currency) if currency else "—"
    if column.kind == MINUTES:
        return hours_text(value)
    if column.kind == PERCENT:
        return f"{value}%"
    if column.kind == INT:
        return f"{value:,}"
    return str(value)


@lru_cache(maxsize=64)
def _money_style(currency: str) -> tuple[str, int]:
    return get_currency_symbol(currency, locale="en_US"), minor_digits(currency)


def money_text(minor: int, currency: str) -> str:
    """format_money's "$1,250.00" (en_US: symbol first, minus before it) without asking
    Babel for every cell: a report of a thousand rows has thousands of amounts."""
    symbol, digits = _money_style(currency)
    major = to_major(abs(minor), currency)
    return f"{'-' if minor < 0 else ''}{symbol}{major:,.{digits}f}"


def hours_text(minutes: int) -> str:
    whole, rest = divmod(int(minutes), 60)
    return f"{whole:,}:{rest:02d} h"


@lru_cache(maxsize=64)
def _major_exponent(currency: str) -> int:
    return -minor_digits(currency)


def _major_text(minor, currency: str) -> str:
    """str(to_major(minor, currency)), without asking Babel for the currency each time."""
    return str(Decimal(minor).scaleb(_major_exponent(currency)))


def _hours_decimal(minutes) -> str:
    """Minutes as decimal hours to the hundredth ("1.50"), as Decimal.quantize rounds them
    (half to even), in integers for whole minutes."""
    if not isinstance(minutes, int):
        return str((Decimal(minutes) / 60).quantize(Decimal("0.01")))
    return _whole_minutes_as_hours(minutes)


# A retainer table repeats the same few banks and allowances on thousands of rows.
@lru_cache(maxsize=4096)
def _whole_minutes_as_hours(minutes: int) -> str:
    hundredths, rest = divmod(minutes * 100, 60)
    if rest * 2 > 60 or (rest * 2 == 60 and hundredths % 2):
        hundredths += 1
    sign = "-" if hundredths < 0 else ""
    whole, cents = divmod(abs(hundredths), 100)
    return f"{sign}{whole}.{cents:02d}"


def _spreadsheet_cell(column: Column):
    """spreadsheet_value for one column, its kind decided once rather than per cell."""
    key = column.key
    if column.kind == MONEY:
        currency_key = column.currency_key

        def money(row: dict) -> str:
            value, currency = row.get(key), row.get(currency_key)
            return "" if value is None or not currency else _major_text(value, currency)

        return money
    if column.kind == MINUTES:

        def minutes(row: dict) -> str:
            value = row.get(key)
            return "" if value is None else _hours_decimal(value)

        return minutes
    if column.kind == TEXT:

        def text(row: dict) -> str:
            value = row.get(key)
            return "" if value is None else safe_text(str(value))

        return text

    def other(row: dict) -> str:
        value = row.get(key)
        return "" if value is None else str(value)

    return other


def spreadsheet_value(row: dict, column: Column) -> str:
    """A cell as a CSV file holds it: money in major units ("1250.00"), durations in
    decimal hours ("1.50"), percentages as numbers; the currency has its own column."""
    value = row.get(column.key)
    if value is None:
        return ""
    if column.kind == MONEY:
        currency = row.get(column.currency_key)
        return str(to_major(value, currency)) if currency else ""
    if column.kind == MINUTES:
        return str((Decimal(value) / 60).quantize(Decimal("0.01")))
    return safe_text(str(value)) if column.kind == TEXT else str(value)


def safe_text(text: str) -> str:
    """Keep a spreadsheet from reading a client's or service's name as a formula."""
    return f"'{text}" if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def csv_header(column: Column) -> str:
    if column.kind == MINUTES:
        return f"{column.label} (hours)"
    if column.kind == PERCENT:
        return f"{column.label} (%)"
    return column.label


def range_label(period) -> str:
    """A range as a file name says it: "2026-04" for one whole month, "2026-01-to-2026-12"
    for whole months, the days otherwise ("2026-04-03-to-2026-04-20")."""
    whole_months = period.start.day == 1 and period.end == month_end(period.end)
    if whole_months:
        first, last = f"{period.start:%Y-%m}", f"{period.end:%Y-%m}"
    else:
        first, last = period.start.isoformat(), period.end.isoformat()
    return first if first == last else f"{first}-to-{last}"


def download_name(*parts: str, extension: str = "csv") -> str:
    """A file name of safe characters only (lowercase ASCII letters, digits and hyphens),
    from the words that say what the file holds."""
    # slugify folds accents to ASCII ("João" is "joao") and drops anything else.
    words = [slugify(str(part).replace("_", " ")) for part in parts]
    return "-".join(word for word in words if word)[:180] + f".{extension}"


def csv_response(table: Table, *, filename: str) -> HttpResponse:
    """The table as a CSV download: the header row first, the rows, then the totals per
    currency. A long table is streamed row by row rather than held whole in memory."""
    if len(table.rows) > STREAM_ROWS:
        response = StreamingHttpResponse(
            _csv_chunks(csv_rows(table)), content_type="text/csv; charset=utf-8"
        )
    else:
        buffer = io.StringIO()
        csv.writer(buffer).writerows(csv_rows(table))
        response = HttpResponse(buffer.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _csv_chunks(rows, size: int = STREAM_ROWS):
    """The rows as CSV text, `size` rows a piece: a piece per row would cost more in
    passing pieces along than in writing them."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for number, row in enumerate(rows, start=1):
        writer.writerow(row)
        if number % size == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue()


def csv_rows(table: Table):
    currency_keys = []
    for column in table.columns:
        if column.kind == MONEY and column.currency_key not in currency_keys:
            currency_keys.append(column.currency_key)
    yield [csv_header(c) for c in table.columns] + [
        ("Currency" if key == "currency" else key.replace("_", " ").capitalize())
        for key in currency_keys
    ]
    cells = [_spreadsheet_cell(column) for column in table.columns]
    for row in [*table.rows, *table.totals]:
        yield [cell(row) for cell in cells] + [row.get(key) or "" for key in currency_keys]

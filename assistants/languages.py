"""The languages an assistant may say they work in: ISO 639-1 (two-letter) codes with their
English names, from the CLDR data that babel ships (already used for currencies)."""

from babel import Locale


def _languages() -> dict[str, str]:
    names = Locale("en").languages
    return dict(
        sorted(
            ((code, name) for code, name in names.items() if len(code) == 2 and code.isalpha()),
            key=lambda item: item[1],
        )
    )


LANGUAGE_NAMES: dict[str, str] = _languages()
LANGUAGE_CHOICES: list[tuple[str, str]] = list(LANGUAGE_NAMES.items())

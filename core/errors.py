from contextlib import contextmanager

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import IntegrityError, transaction


class ApplicationError(Exception):
    """A rule of the business was broken by the caller's input.

    `code` is stable (clients branch on it); `message` is for people; `extra` carries
    details such as the offending field. Views turn it into a form error or a 400.
    """

    def __init__(self, message: str, *, code: str, extra: dict | None = None):
        super().__init__(message)
        self.message = message
        self.code = code
        self.extra = extra or {}


def clean_or_error(instance, *, exclude: tuple[str, ...] = ()) -> None:
    """Run a model's field validators and check constraints; the first failure becomes an
    ApplicationError.

    Uniqueness is left to the database (see `unique_or_error`), the only place it holds
    under concurrent writes: excluding the agency skips every tenant unique constraint, as
    each of them includes it.
    """
    exclude = {*exclude, "agency"} if hasattr(instance, "agency_id") else set(exclude)
    try:
        instance.full_clean(exclude=exclude, validate_unique=False, validate_constraints=True)
    except ValidationError as error:
        field, messages = next(iter(error.message_dict.items()))
        raise ApplicationError(
            messages[0],
            code="invalid",
            extra={
                "field": None if field == NON_FIELD_ERRORS else field,
                "fields": error.message_dict,
            },
        ) from None


@contextmanager
def unique_or_error(message: str, *, code: str, field: str):
    """Run the block in a transaction; a unique constraint it trips becomes a clear error."""
    try:
        with transaction.atomic():
            yield
    except IntegrityError:
        raise ApplicationError(message, code=code, extra={"field": field}) from None


def text_within(value: str | None, *, limit: int, field: str, label: str) -> str:
    """The text stripped, or an error that names the limit when it is longer: what people
    write is never cut short without their knowing."""
    text = (value or "").strip()
    if len(text) > limit:
        raise ApplicationError(
            f"{label} can be at most {limit:,} characters; this one has {len(text):,}.",
            code="text_too_long",
            extra={"field": field, "limit": limit, "length": len(text)},
        )
    return text

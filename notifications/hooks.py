"""Hooks the apps above notifications fill when they start.

Replies: an app above may give a notification's e-mail a Reply-To address, so that an
answer by e-mail reaches it (tasks turns replies into comments on the task). Its function
takes (agency=..., notifications=[...]) and returns {notification pk: address} for those it
answers for, in a fixed number of queries however many there are; the first address found
for a notification is used.
"""

from collections.abc import Callable

_reply_to_providers: list[Callable] = []


def provide_reply_to(function: Callable) -> Callable:
    if function not in _reply_to_providers:
        _reply_to_providers.append(function)
    return function


def reply_to_for(*, agency, notifications) -> dict[int, str]:
    """The Reply-To address of each of these notifications that has one."""
    found: dict[int, str] = {}
    for function in _reply_to_providers:
        for pk, address in (function(agency=agency, notifications=notifications) or {}).items():
            found.setdefault(pk, address)
    return found

"""What apps above accounts do when an agency is made or someone joins one.

Accounts sits below the apps that care (the catalogue seeds an agency's service
categories; assistants give a new assistant a profile), so it cannot call them. Each
registers its function here from its AppConfig.ready(); accounts' services call the
hooks inside their own transaction, so a hook that fails undoes the whole change.
"""

from collections.abc import Callable

_agency_created: list[Callable] = []
_member_joined: list[Callable] = []


def on_agency_created(hook: Callable) -> Callable:
    """Register hook(agency=..., actor=...), run in the new agency's scope."""
    if hook not in _agency_created:
        _agency_created.append(hook)
    return hook


def on_member_joined(hook: Callable) -> Callable:
    """Register hook(agency=..., membership=..., actor=...), run when an invitation is
    accepted, in the agency's scope."""
    if hook not in _member_joined:
        _member_joined.append(hook)
    return hook


def agency_created(*, agency, actor) -> None:
    for hook in _agency_created:
        hook(agency=agency, actor=actor)


def member_joined(*, agency, membership, actor) -> None:
    for hook in _member_joined:
        hook(agency=agency, membership=membership, actor=actor)

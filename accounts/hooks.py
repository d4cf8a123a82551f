"""What apps above accounts do when an agency is made or someone joins one.

Accounts sits below the apps that care (the catalogue seeds an agency's service
categories; assistants give a new assistant a profile), so it cannot call them. Each
registers its function from its AppConfig.ready(); accounts' services call the hooks
inside their own transaction, so a hook that fails undoes the whole change.
"""

from core.hooks import Hook

# hook(agency=..., actor=...), run in the new agency's scope.
agency_created = Hook("accounts.agency_created")

# hook(agency=..., membership=..., actor=...), run when an invitation is accepted, in the
# agency's scope.
member_joined = Hook("accounts.member_joined")

# hook(agency=..., membership=..., actor=...), run before a membership is deactivated, in
# its transaction: raises ApplicationError to refuse (a client keeps its last owner).
member_leaving = Hook("accounts.member_leaving")

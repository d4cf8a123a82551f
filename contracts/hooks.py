"""What apps above contracts check before a client's acceptance activates a contract.

Billing sits above contracts and knows whether a client has a card on file: it registers
its check from its AppConfig.ready(), so imports still run one way.
"""

from core.hooks import Hook

# hook(agency=..., contract=...) inside the acceptance's transaction, before the contract
# is activated: raises ApplicationError to refuse (billing: a card-charging contract needs
# a card on file first).
proposal_accept_check = Hook("contracts.proposal_accept_check")

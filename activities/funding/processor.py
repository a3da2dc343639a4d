"""The payment processor behind a linked payment method, as an adapter.

:class:`PaymentProcessor` is the interface a real processor (card network, bank) would
implement; :class:`LedgerBackedProcessor` is the one that runs here: a payment method is a
ledger account with pre-loaded funds, and a charge moves money from it into a funding
source, once per idempotency key.
"""

from __future__ import annotations

from typing import Protocol

from pydantic import BaseModel, ConfigDict

from activities.funding.db import FundingError
from activities.funding.ledger import WORLD, Ledger


class PaymentDeclined(FundingError):
    """The processor declined a charge (no such method, or not enough funds)."""


class Charge(BaseModel):
    """A completed charge."""

    model_config = ConfigDict(frozen=True)

    charge_id: str
    method_id: str
    amount: int


class PaymentProcessor(Protocol):
    """What a payment processor does for the funding system."""

    def link(self, method_id: str, entity_id: str) -> None:
        """Link a payment method to an entity."""
        ...

    def charge(self, key: str, method_id: str, amount: int, into_account: str) -> Charge:
        """Charge ``amount`` to the method, once per ``key``, crediting ``into_account``."""
        ...

    def refund(self, key: str, charge: Charge, from_account: str) -> Charge:
        """Refund a charge, once per ``key``, taking it back from ``from_account``."""
        ...


def method_account(method_id: str) -> str:
    """Ledger account of a payment method."""
    return f"method:{method_id}"


class LedgerBackedProcessor:
    """A processor whose payment methods are ledger accounts (loaded with :meth:`load`)."""

    def __init__(self, ledger: Ledger) -> None:
        """Charge through ``ledger``."""
        self.ledger = ledger

    def link(self, method_id: str, entity_id: str) -> None:
        """Open the method's account."""
        self.ledger.open_account(method_account(method_id), "payment_method", entity_id=entity_id)

    def load(self, key: str, method_id: str, amount: int) -> None:
        """Put funds on the method (what a card's credit line would be)."""
        self.ledger.post(key, [(WORLD, -amount), (method_account(method_id), amount)], kind="load")

    def charge(self, key: str, method_id: str, amount: int, into_account: str) -> Charge:
        """Move ``amount`` from the method to ``into_account``; declined when short."""
        try:
            posting = self.ledger.post(
                f"charge:{key}",
                [(method_account(method_id), -amount), (into_account, amount)],
                kind="charge",
                actor="processor",
            )
        except FundingError as err:
            raise PaymentDeclined(f"payment method {method_id} declined: {err}") from None
        return Charge(charge_id=posting.tx_id, method_id=method_id, amount=amount)

    def refund(self, key: str, charge: Charge, from_account: str) -> Charge:
        """Move a charge back to its method."""
        posting = self.ledger.post(
            f"refund:{key}",
            [(from_account, -charge.amount), (method_account(charge.method_id), charge.amount)],
            kind="refund",
            actor="processor",
        )
        return Charge(charge_id=posting.tx_id, method_id=charge.method_id, amount=charge.amount)

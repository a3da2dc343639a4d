"""Marketplace storage and vetting: Ed25519-signed listings kept as versioned personas.

No new tables: a listing is a persona of kind ``market`` (id ``market-<name>``, entity
``marketplace``), each store version holding the signed listing and its reviews; a
publisher's public key is a content record ``market-publisher-<name>`` written once.
"""

from __future__ import annotations

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from pydantic import ValidationError

from activities.store import Store, UnknownContent, UnknownPersona
from personas.errors import first_error
from personas.fleet.config import DEFAULT_CONFIG
from personas.fleet.marketplace import Listing, Review, SignedListing, Verdict, canonical, judge
from personas.fleet.objective import score
from personas.fleet.persona import FleetPersona
from personas.fleet.simulator import SimParams, simulate

ENTITY = "marketplace"


class MarketError(ValueError):
    """A marketplace refusal (one line)."""


def new_key() -> tuple[str, str]:
    """A new Ed25519 key pair as (private hex, public hex)."""
    k = Ed25519PrivateKey.generate()
    return k.private_bytes_raw().hex(), k.public_key().public_bytes_raw().hex()


def sign(listing: Listing, private_hex: str) -> str:
    """The hex signature of a listing's canonical bytes."""
    key = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(private_hex))
    return key.sign(canonical(listing)).hex()


class Market:
    """Publish, version, search, review and vet personas."""

    def __init__(self, store: Store, params: SimParams | None = None) -> None:
        self.store = store
        self.params = params or SimParams()
        store.upsert_entity(ENTITY, "Persona marketplace", [])

    def register(self, publisher: str, public_hex: str) -> None:
        """Register a publisher's public key (first registration wins)."""
        cid = f"market-publisher-{publisher}"
        self.store.put_content("market-publisher", data={"key": public_hex}, content_id=cid)
        if self.public_key(publisher) != public_hex:
            raise MarketError(f"publisher {publisher} is registered with another key")

    def public_key(self, publisher: str) -> str:
        """The registered key of a publisher."""
        try:
            data = self.store.get_content(f"market-publisher-{publisher}").data or {}
        except UnknownContent:
            raise MarketError(f"unknown publisher {publisher}") from None
        return str(data["key"])

    def verify(self, signed: SignedListing) -> bool:
        """Whether the signature is the registered publisher's over this exact listing."""
        key = Ed25519PublicKey.from_public_bytes(
            bytes.fromhex(self.public_key(signed.listing.publisher))
        )
        try:
            key.verify(bytes.fromhex(signed.signature), canonical(signed.listing))
        except InvalidSignature:
            return False
        return True

    def publish(self, signed: SignedListing) -> int:
        """Store a new listing version (signature checked; versions must increase)."""
        if not self.verify(signed):
            raise MarketError(f"signature of {signed.listing.name} does not verify")
        pid = f"market-{signed.listing.name}"
        body = {"signed": signed.model_dump(mode="json"), "reviews": []}
        try:
            latest = self.store.get_persona(pid)
        except UnknownPersona:
            self.store.create_persona(
                kind="market",
                persona_id=pid,
                entity_id=ENTITY,
                name=pid,
                body=body,
                created_by=signed.listing.publisher,
            )
            return signed.listing.version
        old = SignedListing.model_validate(latest.body["signed"]).listing
        if old.publisher != signed.listing.publisher:
            raise MarketError(f"{signed.listing.name} belongs to {old.publisher}")
        if signed.listing.version <= old.version:
            raise MarketError(f"version {signed.listing.version} is not above {old.version}")
        body["reviews"] = latest.body.get("reviews", [])
        self.store.update_persona(pid, body, signed.listing.publisher)
        return signed.listing.version

    def get(self, name: str) -> tuple[SignedListing, list[Review]]:
        """The latest listing of ``name`` and its reviews."""
        try:
            rec = self.store.get_persona(f"market-{name}")
        except UnknownPersona:
            raise MarketError(f"no listing named {name}") from None
        reviews = [Review.model_validate(r) for r in rec.body.get("reviews", [])]
        return SignedListing.model_validate(rec.body["signed"]), reviews

    def review(self, name: str, review: Review) -> float:
        """Add a review; returns the new average rating."""
        signed, reviews = self.get(name)
        reviews.append(review)
        body = {
            "signed": signed.model_dump(mode="json"),
            "reviews": [r.model_dump() for r in reviews],
        }
        self.store.update_persona(f"market-{name}", body, review.author)
        return sum(r.rating for r in reviews) / len(reviews)

    def search(self, text: str = "", kind: str | None = None) -> list[dict[str, object]]:
        """Listings whose name, description or tags contain ``text``, best rated first."""
        out = []
        for rec in self.store.list_personas(kind="market"):
            listing = SignedListing.model_validate(rec.body["signed"]).listing
            hay = " ".join([listing.name, listing.description, *listing.tags]).lower()
            if text.lower() not in hay or (kind and listing.kind != kind):
                continue
            ratings = [r["rating"] for r in rec.body.get("reviews", [])]
            out.append(
                {
                    "name": listing.name,
                    "version": listing.version,
                    "kind": listing.kind,
                    "publisher": listing.publisher,
                    "tags": listing.tags,
                    "rating": sum(ratings) / len(ratings) if ratings else None,
                    "reviews": len(ratings),
                }
            )
        return sorted(out, key=lambda d: -(d["rating"] or 0))  # type: ignore[operator]

    def vet(self, signed: SignedListing, max_regression: float = 0.02) -> Verdict:
        """Signature, then (fleet personas) a simulator evaluation against regression rules."""
        try:
            if not self.verify(signed):
                return Verdict(accepted=False, reasons=["tampered: signature does not verify"])
        except MarketError as err:
            return Verdict(accepted=False, reasons=[str(err)])
        if signed.listing.kind != "fleet":
            return Verdict(accepted=True, reasons=[])
        try:
            persona = FleetPersona.model_validate(signed.listing.persona)
        except ValidationError as err:
            return Verdict(accepted=False, reasons=[f"malformed persona: {first_error(err)}"])
        ev = signed.listing.evidence
        weights = persona.weights
        objective = score(simulate(persona.optimum, ev.scenario, self.params), weights)
        baseline = score(simulate(DEFAULT_CONFIG, ev.scenario, self.params), weights)
        reasons = judge(objective, baseline, ev.backtest_objective, max_regression)
        return Verdict(
            accepted=not reasons, reasons=reasons, objective=objective, baseline=baseline
        )

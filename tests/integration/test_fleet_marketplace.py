"""The marketplace on a real SQLite store: publish, version, search, review, vet."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from activities.fleet.market import Market, MarketError, new_key, sign
from activities.store import Store
from personas.fleet.config import FleetConfig
from personas.fleet.marketplace import Evidence, Listing, Review, SignedListing
from personas.fleet.objective import Weights, score
from personas.fleet.simulator import Scenario, SimParams, simulate
from tests.workflow.fleet_support import fleet_store, persona_for

GOOD = FleetConfig(cpu_share=1.0, cache="lru", balancer="hash", replicas=4)
POOR = FleetConfig(cpu_share=0.25, cache="none", balancer="round_robin", replicas=1)
SC = Scenario(pattern="surge", rate_rps=150)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = fleet_store(str(tmp_path / "market.db"))
    yield s
    s.dispose()


def listing(config: FleetConfig, version: int = 1, claim: float | None = None) -> Listing:
    objective = score(simulate(config, SC, SimParams()), Weights())
    return Listing(
        name="surge-ready",
        version=version,
        kind="fleet",
        publisher="alice",
        description="a fleet persona for traffic surges",
        tags=["surge", "nginx"],
        persona=persona_for("f1", config).model_dump(mode="json"),
        evidence=Evidence(
            scenario=SC,
            backtest_objective=objective if claim is None else claim,
            baseline_objective=1.0,
        ),
    )


def publish(market: Market, key: str, item: Listing) -> SignedListing:
    signed = SignedListing(listing=item, signature=sign(item, key))
    market.publish(signed)
    return signed


def test_publish_version_search_and_review(store: Store) -> None:
    market = Market(store)
    private, public = new_key()
    market.register("alice", public)
    publish(market, private, listing(GOOD))
    publish(market, private, listing(GOOD, version=2))
    with pytest.raises(MarketError, match="version 2 is not above 2"):
        publish(market, private, listing(GOOD, version=2))
    assert market.review("surge-ready", Review(author="bob", rating=5, evidence="A/B +4%")) == 5
    assert market.review("surge-ready", Review(author="eve", rating=3)) == 4
    found = market.search("surge")
    assert [(f["name"], f["version"], f["rating"], f["reviews"]) for f in found] == [
        ("surge-ready", 2, 4.0, 2)
    ]
    assert market.search("nothing-like-this") == []
    assert len(store.persona_versions("market-surge-ready")) == 4
    signed, reviews = market.get("surge-ready")
    assert signed.listing.version == 2
    assert [r.author for r in reviews] == ["bob", "eve"]


def test_vetting_accepts_a_good_persona(store: Store) -> None:
    market = Market(store)
    private, public = new_key()
    market.register("alice", public)
    signed = publish(market, private, listing(GOOD))
    verdict = market.vet(signed)
    assert verdict.accepted, verdict.reasons
    assert verdict.objective is not None
    assert verdict.baseline is not None
    assert verdict.objective > verdict.baseline


def test_vetting_refuses_tampered_poor_and_false_claims(store: Store) -> None:
    market = Market(store)
    private, public = new_key()
    market.register("alice", public)
    signed = publish(market, private, listing(GOOD))
    body = signed.model_dump(mode="json")
    body["listing"]["persona"]["optimum"]["replicas"] = 1
    tampered = SignedListing.model_validate(body)
    assert market.vet(tampered).reasons == ["tampered: signature does not verify"]
    with pytest.raises(MarketError, match="does not verify"):
        market.publish(tampered)
    poor = listing(POOR)
    verdict = market.vet(SignedListing(listing=poor, signature=sign(poor, private)))
    assert not verdict.accepted
    assert verdict.reasons[0].startswith("regression:")
    liar = listing(GOOD, claim=99.0)
    verdict = market.vet(SignedListing(listing=liar, signature=sign(liar, private)))
    assert any(r.startswith("evidence does not reproduce") for r in verdict.reasons)


def test_signatures_of_another_key_or_publisher_are_refused(store: Store) -> None:
    market = Market(store)
    private, public = new_key()
    mallory, _ = new_key()
    market.register("alice", public)
    with pytest.raises(MarketError, match="registered with another key"):
        market.register("alice", new_key()[1])
    forged = listing(GOOD)
    assert not market.vet(SignedListing(listing=forged, signature=sign(forged, mallory))).accepted
    stranger = listing(GOOD).model_copy(update={"publisher": "zed"})
    verdict = market.vet(SignedListing(listing=stranger, signature=sign(stranger, private)))
    assert verdict.reasons == ["unknown publisher zed"]
    bad = listing(GOOD).model_copy(update={"persona": {"fleet_id": "x", "optimum": {"gpu": 1}}})
    verdict = market.vet(SignedListing(listing=bad, signature=sign(bad, private)))
    assert verdict.reasons[0].startswith("malformed persona")

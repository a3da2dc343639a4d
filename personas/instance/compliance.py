"""Compliance regimes compiled as the standards say, each rule citing its section.

A rule is **mandated** when the standard requires it of every system in scope (it cannot be
dropped, and a request to drop it is refused naming the section), or a **preference** when the
standard leaves the choice to the entity (HIPAA's *addressable* specifications, the controls a
SOC 2 auditor and the entity choose, GDPR's "appropriate" measures and its lawful transfer
mechanisms): those are on by default and the requester may drop or change them.

Sources (the sections named below):

- PCI DSS v4.0 (PCI Security Standards Council, March 2022): Req. 1.3 / 1.4 network security
  controls between trusted and untrusted networks (public-facing components in a DMZ, 1.4.1;
  components that store cardholder data not directly reachable from untrusted networks,
  1.4.4); 3.5.1 stored PAN rendered unreadable; 4.2.1 strong cryptography for PAN over open,
  public networks; 6.4.2 an automated technical solution (a WAF) in front of public-facing web
  applications; 8.4.2 MFA for all access into the cardholder data environment; 10.2 audit logs.
  It does not require dedicated hardware: shared tenancy is in scope of the provider's own
  assessment (PCI SSC "Cloud Computing Guidelines", 2018, section 4).
- HIPAA Security Rule, 45 CFR Part 164 Subpart C: 164.312(b) audit controls (a standard,
  required); 164.308(b)(1) and 164.314(a) business associate contracts (a provider that signs a
  BAA, required); 164.312(a)(2)(iv) encryption at rest and 164.312(e)(2)(ii) encryption in
  transit are *addressable* (164.306(d)(3)): implement them, or document why an equivalent
  measure is reasonable. Nothing in the rule requires dedicated hardware.
- SOC 2 (AICPA Trust Services Criteria, 2017, revised 2022): CC6.1 logical access security
  (encryption of data at rest is a common control), CC6.7 transmission protection, CC7.2
  monitoring of system components; the criteria do not prescribe specific controls.
- GDPR (Regulation (EU) 2016/679): Art. 32(1)(a) encryption "as appropriate"; Art. 44-46
  transfers outside the EEA need an adequacy decision or appropriate safeguards (standard
  contractual clauses), so keeping data in the EU is a choice, not an obligation.
"""

from __future__ import annotations

from collections.abc import Callable

from pydantic import BaseModel, ConfigDict

from personas.instance.profiles import Compliance, InstancePersona

STORES_DATA = ("database", "analytics_engine", "message_queue")
"""Roles whose instances hold the data at rest (PCI DSS 1.4.4 keeps them off the internet)."""
EU_REGIONS = "eu-"
"""Region names of the European Union start with this prefix in the catalogs shipped here."""


class Rule(BaseModel):
    """One rule of a regime: the requirement it compiles into and the section behind it."""

    model_config = ConfigDict(frozen=True)

    regime: Compliance
    key: str
    kind: str
    value: float | bool | str = True
    section: str
    mandated: bool
    what: str

    @property
    def name(self) -> str:
        """``compliance.<regime>.<key>`` when mandated, ``preference.<regime>.<key>`` if not."""
        prefix = "compliance" if self.mandated else "preference"
        return f"{prefix}.{self.regime.value}.{self.key}"


def _public(p: InstancePersona) -> bool:
    return p.security.public_ingress


def _stores_data(p: InstancePersona) -> bool:
    return p.role in STORES_DATA


def _always(p: InstancePersona) -> bool:
    return True


PCI, HIPAA, SOC2, GDPR = Compliance.PCI_DSS, Compliance.HIPAA, Compliance.SOC2, Compliance.GDPR
RULES: tuple[tuple[Rule, Callable[[InstancePersona], bool]], ...] = (
    (Rule(regime=PCI, key="encryption_at_rest", kind="encryption_at_rest",
          section="PCI DSS v4.0 Req. 3.5.1", mandated=True,
          what="stored account data rendered unreadable"), _always),
    (Rule(regime=PCI, key="encryption_in_transit", kind="encryption_in_transit",
          section="PCI DSS v4.0 Req. 4.2.1", mandated=True,
          what="strong cryptography for account data in transit"), _always),
    (Rule(regime=PCI, key="audit_logging", kind="capability", value="audit_logging",
          section="PCI DSS v4.0 Req. 10.2", mandated=True,
          what="audit logs of access to system components and data"), _always),
    (Rule(regime=PCI, key="mfa_admin", kind="capability", value="mfa_admin",
          section="PCI DSS v4.0 Req. 8.4.2", mandated=True,
          what="multi-factor authentication for access into the environment"), _always),
    (Rule(regime=PCI, key="waf", kind="capability", value="waf",
          section="PCI DSS v4.0 Req. 6.4.2 (and 1.4.1, public components in a DMZ)",
          mandated=True, what="a web application firewall in front of public ingress"), _public),
    (Rule(regime=PCI, key="data_store_not_public", kind="restricted_ingress",
          section="PCI DSS v4.0 Req. 1.4.4", mandated=True,
          what="components storing cardholder data not reachable from untrusted networks"),
     _stores_data),
    (Rule(regime=HIPAA, key="audit_logging", kind="capability", value="audit_logging",
          section="HIPAA 45 CFR 164.312(b)", mandated=True,
          what="audit controls recording activity on systems holding ePHI"), _always),
    (Rule(regime=HIPAA, key="baa", kind="capability", value="baa",
          section="HIPAA 45 CFR 164.308(b)(1), 164.314(a)", mandated=True,
          what="a provider that signs a business associate agreement"), _always),
    (Rule(regime=HIPAA, key="encryption_at_rest", kind="encryption_at_rest",
          section="HIPAA 45 CFR 164.312(a)(2)(iv) (addressable)", mandated=False,
          what="ePHI encrypted at rest"), _always),
    (Rule(regime=HIPAA, key="encryption_in_transit", kind="encryption_in_transit",
          section="HIPAA 45 CFR 164.312(e)(2)(ii) (addressable)", mandated=False,
          what="ePHI encrypted in transit (transmission security, 164.312(e)(1))"), _always),
    (Rule(regime=SOC2, key="encryption_at_rest", kind="encryption_at_rest",
          section="SOC 2 TSC CC6.1", mandated=False, what="data encrypted at rest"), _always),
    (Rule(regime=SOC2, key="encryption_in_transit", kind="encryption_in_transit",
          section="SOC 2 TSC CC6.7", mandated=False, what="data encrypted in transit"), _always),
    (Rule(regime=SOC2, key="audit_logging", kind="capability", value="audit_logging",
          section="SOC 2 TSC CC7.2", mandated=False, what="monitoring and audit logs"), _always),
    (Rule(regime=GDPR, key="eu_residency", kind="region_prefix", value=EU_REGIONS,
          section="GDPR Art. 44-46 (transfers need safeguards, not EU residency)",
          mandated=False, what="personal data kept in EU regions"), _always),
    (Rule(regime=GDPR, key="encryption_at_rest", kind="encryption_at_rest",
          section="GDPR Art. 32(1)(a)", mandated=False,
          what="personal data encrypted at rest, as appropriate"), _always),
)  # fmt: skip


def rules_for(persona: InstancePersona) -> list[Rule]:
    """The rules of the persona's regimes that apply to it (in the order above)."""
    regimes = set(persona.security.compliance)
    return [rule for rule, applies in RULES if rule.regime in regimes and applies(persona)]


def mandate(name: str) -> str | None:
    """The section that mandates the requirement called ``name``, or None if none does."""
    return next((r.section for r, _ in RULES if r.mandated and r.name == name), None)

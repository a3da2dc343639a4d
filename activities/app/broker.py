"""The broker's identity check: HS256 JWTs with keys from settings.

Expired, not-yet-valid, forged (bad signature or ``alg``), wrong-issuer and wrong-audience
tokens are refused with one clear line; the verified subject is the user id.
"""

from __future__ import annotations

import logging
import time
from uuid import uuid4

import jwt

from activities.app.settings import AppSettings

DEV_KEY = "dev-only-change-me-0123456789abcdef"
"""The development key: used only with PERSONAS_APP_DEV_MODE and no PERSONAS_APP_JWT_KEYS."""

log = logging.getLogger(__name__)


class IdentityError(Exception):
    """A token was refused; the message says why, in one line."""


class BrokerNotConfigured(ValueError):
    """No JWT keys are configured and development mode is off."""


def broker_keys(settings: AppSettings) -> list[str]:
    """The configured keys; the development key only in development mode (with a warning);
    BrokerNotConfigured otherwise, saying what to set."""
    keys = [k.get_secret_value() for k in settings.jwt_keys]
    if keys:
        return keys
    if not settings.dev_mode:
        raise BrokerNotConfigured(
            "PERSONAS_APP_JWT_KEYS is not set: the app broker will not start without keys"
            " (set PERSONAS_APP_JWT_KEYS, or PERSONAS_APP_DEV_MODE=true to use the development"
            " key, never in production)"
        )
    log.warning(
        "PERSONAS_APP_DEV_MODE: app tokens are signed with the development key in the source;"
        " anyone can forge them"
    )
    return [DEV_KEY]


class Broker:
    """Issues (for tests and admin tooling) and verifies users' tokens."""

    def __init__(self, settings: AppSettings) -> None:
        """Use the settings' keys (first signs, all verify), audience and issuer."""
        self.keys = broker_keys(settings)
        self.audience = settings.jwt_audience
        self.issuer = settings.jwt_issuer

    def issue(self, user_id: str, ttl_s: int = 3600, audience: str | None = None) -> str:
        """A signed token for ``user_id`` valid for ``ttl_s`` seconds."""
        now = int(time.time())
        claims = {
            "sub": user_id,
            "aud": audience or self.audience,
            "iss": self.issuer,
            "iat": now,
            "nbf": now,
            "exp": now + ttl_s,
            "jti": uuid4().hex,
        }
        return jwt.encode(claims, self.keys[0], algorithm="HS256")

    def verify(self, token: str) -> str:
        """The user id of a valid token; IdentityError says why a token is refused."""
        last: Exception | None = None
        for key in self.keys:
            try:
                claims = jwt.decode(
                    token,
                    key,
                    algorithms=["HS256"],
                    audience=self.audience,
                    issuer=self.issuer,
                    options={"require": ["exp", "sub", "aud", "iss"]},
                    leeway=5,
                )
            except jwt.ExpiredSignatureError as exc:
                raise IdentityError("token refused: expired") from exc
            except jwt.InvalidAudienceError as exc:
                raise IdentityError("token refused: wrong audience") from exc
            except jwt.InvalidIssuerError as exc:
                raise IdentityError("token refused: wrong issuer") from exc
            except jwt.InvalidSignatureError as exc:
                last = exc
                continue
            except jwt.InvalidTokenError as exc:
                raise IdentityError(f"token refused: {exc}") from exc
            sub = claims.get("sub")
            if not isinstance(sub, str) or not sub:
                raise IdentityError("token refused: no subject")
            return sub
        raise IdentityError("token refused: bad signature (forged or unknown key)") from last

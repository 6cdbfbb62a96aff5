"""OpenID Connect sign-in: the relying party's side of the authorization code flow (docs/sso.md).

Built on maintained libraries, not hand-written JWT checks: Authlib's OAuth 2 client builds the
authorization request (PKCE S256) and exchanges the code; joserfc (Authlib's JOSE library; Authlib's
own ``authlib.jose`` is deprecated in its favour) verifies the ID token's signature against the
provider's JWKS; Authlib's ``CodeIDToken`` checks the claims (iss, aud, exp, nbf, iat, nonce, azp,
at_hash). What is ours is the policy around them:

* every request to the provider (discovery, token, JWKS, userinfo) goes through
  :func:`portal.outbound.session`: the address policy, pinned connections, no proxies, timeouts;
* ``state``, ``nonce`` and the PKCE verifier live in the Django session, one entry per started
  sign-in, popped when the callback arrives: a replayed or forged ``state`` is refused;
* only asymmetric signature algorithms are accepted (``alg: none`` and HMAC refused), a ``kid``
  missing from the cached JWKS refetches it once (key rotation), then is refused;
* every refusal is a :class:`OidcRefused` with a stable ``code`` the login page translates.

The outcome (subject, username, email, groups) goes to :func:`identity.actions.sign_in_external`.
"""

from __future__ import annotations

import json
import logging
import tempfile
import time
from dataclasses import dataclass, field
from typing import Any, cast
from urllib.parse import urlencode

import requests
from authlib.common.security import generate_token  # type: ignore[import-untyped]
from authlib.integrations.requests_client import OAuth2Session  # type: ignore[import-untyped]
from authlib.oidc.core import CodeIDToken  # type: ignore[import-untyped]
from django.core.cache import cache
from django.http import HttpRequest
from joserfc import jws, jwt
from joserfc.errors import (
    BadSignatureError,
    ClaimError,
    ExpiredTokenError,
    InvalidClaimError,
    JoseError,
    MissingClaimError,
)
from joserfc.jwk import KeySet

from identity.models import IdentityProvider, ProviderKind
from portal import outbound
from portal.addresses import AddressError
from portal.errors import Forbidden, Unavailable

logger = logging.getLogger(__name__)

TIMEOUT = 10  # seconds, per request to the provider
MAX_DOCUMENT_BYTES = 512 * 1024
LEEWAY = 60  # seconds of clock skew accepted on exp / nbf / iat
FLOW_TTL = 600  # seconds a started sign-in may take at the provider
MAX_PENDING_FLOWS = 5
CACHE_TTL = 300
SESSION_KEY = "identity_oidc_flows"
LOGOUT_SESSION_KEY = "identity_oidc_logout"
# Asymmetric algorithms only: "none" is never a signature, and HMAC would make the client secret a
# signing key shared with whoever else holds it.
ALLOWED_ALGS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")
DEFAULT_SCOPES = ["openid", "profile", "email", "groups"]


class OidcRefused(Forbidden):
    """A sign-in the portal refuses; ``code`` says why (``oidc_*``)."""


@dataclass(frozen=True)
class Metadata:
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    userinfo_endpoint: str = ""
    end_session_endpoint: str = ""
    algs: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Outcome:
    """What a verified sign-in tells about the person (no tokens)."""

    subject: str
    username: str
    email: str
    display_name: str
    groups: list[str]
    claims: dict[str, Any]
    id_token: str  # kept only for the logout hint (id_token_hint), never logged or returned


# ---------------------------------------------------------------------------- configuration


def _config(provider: IdentityProvider) -> dict[str, Any]:
    config = dict(provider.config or {})
    config.setdefault("scopes", DEFAULT_SCOPES)
    config.setdefault("username_claim", "preferred_username")
    config.setdefault("groups_claim", "groups")
    return config


def _issuer(provider: IdentityProvider) -> str:
    issuer = str(_config(provider).get("issuer") or "").strip()
    if not issuer:
        raise OidcRefused("The provider has no issuer configured.", code="oidc_not_configured",
                          params={"provider": provider.name})
    return issuer


class _PinnedOAuth2Session(OAuth2Session, outbound.PinnedSession):
    """Authlib's requests client whose every connection goes through the address policy (as
    :func:`portal.outbound.session`): checked, pinned, no proxies from the environment."""

    def __init__(self, **kwargs: Any) -> None:
        OAuth2Session.__init__(self, default_timeout=TIMEOUT, **kwargs)
        self.trust_env = False
        self.max_redirects = outbound.MAX_REDIRECTS
        adapter = outbound.PinnedAdapter(outbound.Pinning())
        self.mount("http://", adapter)
        self.mount("https://", adapter)


class _CaFile:
    """``verify=`` for requests: the provider's CA (``ca_pem``) in a temporary file, or True."""

    def __init__(self, provider: IdentityProvider) -> None:
        self.pem = str(_config(provider).get("ca_pem") or "").strip()
        self._file: Any = None

    def __enter__(self) -> bool | str:
        if not self.pem:
            return True
        self._file = tempfile.NamedTemporaryFile("w", suffix=".pem")
        self._file.write(self.pem + "\n")
        self._file.flush()
        return str(self._file.name)

    def __exit__(self, *exc: object) -> None:
        if self._file is not None:
            self._file.close()


def _unreachable(provider: IdentityProvider, exc: BaseException, url: str) -> Unavailable:
    return Unavailable(outbound.failure_message(exc, url=url, what="the identity provider"),
                       code="oidc_unreachable", params={"provider": provider.name})


def _get_json(provider: IdentityProvider, url: str, *, what: str, headers: dict[str, str] | None = None) -> Any:
    with _CaFile(provider) as verify, outbound.session() as session:
        try:
            response = session.get(url, verify=verify, timeout=TIMEOUT, headers=headers or {},
                                   stream=True, allow_redirects=False)
            with response:
                body = bytearray()
                for chunk in response.iter_content(65536):
                    body += chunk
                    if len(body) > MAX_DOCUMENT_BYTES:
                        raise Unavailable(f"The provider's {what} is larger than {MAX_DOCUMENT_BYTES} bytes.",
                                          code="oidc_bad_response", params={"provider": provider.name})
        except (AddressError, requests.exceptions.RequestException) as exc:
            raise _unreachable(provider, exc, url) from exc
    if response.status_code != 200:
        raise Unavailable(f"The provider's {what} ({url}) answered HTTP {response.status_code}.",
                          code="oidc_bad_response", params={"provider": provider.name, "status": response.status_code})
    try:
        return json.loads(bytes(body))
    except ValueError as exc:
        raise Unavailable(f"The provider's {what} ({url}) is not JSON.", code="oidc_bad_response",
                          params={"provider": provider.name}) from exc


def _cache_key(provider: IdentityProvider, what: str) -> str:
    stamp = provider.updated.timestamp() if provider.updated else 0
    return f"identity:oidc:{provider.pk}:{stamp}:{what}"


# ---------------------------------------------------------------------------- discovery and keys


def discover(provider: IdentityProvider, *, fresh: bool = False) -> Metadata:
    """The provider's metadata from ``{issuer}/.well-known/openid-configuration`` (cached 5 minutes).
    The document's ``issuer`` must be the configured issuer exactly (OIDC Discovery §4.3)."""
    key = _cache_key(provider, "discovery")
    document = None if fresh else cache.get(key)
    issuer = _issuer(provider)
    if document is None:
        url = issuer.rstrip("/") + "/.well-known/openid-configuration"
        document = _get_json(provider, url, what="discovery document")
        if not isinstance(document, dict):
            raise Unavailable("The provider's discovery document is not a JSON object.", code="oidc_bad_response",
                              params={"provider": provider.name})
        cache.set(key, document, CACHE_TTL)
    if document.get("issuer") != issuer:
        raise OidcRefused(
            f"The provider's discovery document names the issuer {str(document.get('issuer'))[:200]!r}, not the "
            f"configured {issuer!r}; fix the provider's issuer setting.",
            code="oidc_issuer_mismatch", params={"provider": provider.name})
    missing = [k for k in ("authorization_endpoint", "token_endpoint", "jwks_uri") if not document.get(k)]
    if missing:
        raise Unavailable(f"The provider's discovery document has no {', '.join(missing)}.", code="oidc_bad_response",
                          params={"provider": provider.name})
    return Metadata(
        issuer=issuer,
        authorization_endpoint=str(document["authorization_endpoint"]),
        token_endpoint=str(document["token_endpoint"]),
        jwks_uri=str(document["jwks_uri"]),
        userinfo_endpoint=str(document.get("userinfo_endpoint") or ""),
        end_session_endpoint=str(document.get("end_session_endpoint") or ""),
        algs=[str(a) for a in document.get("id_token_signing_alg_values_supported") or []],
    )


def _jwks(provider: IdentityProvider, metadata: Metadata, *, fresh: bool = False) -> KeySet:
    key = _cache_key(provider, "jwks")
    document = None if fresh else cache.get(key)
    if document is None:
        document = _get_json(provider, metadata.jwks_uri, what="key set (JWKS)")
        if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
            raise Unavailable("The provider's JWKS has no list of keys.", code="oidc_bad_response",
                              params={"provider": provider.name})
        # only public signature keys; a key the library cannot read is skipped, not fatal
        document = {"keys": [k for k in document["keys"] if isinstance(k, dict) and k.get("use", "sig") == "sig"]}
        cache.set(key, document, CACHE_TTL)
    try:
        return KeySet.import_key_set(cast(Any, document))
    except (JoseError, ValueError, TypeError) as exc:
        raise Unavailable("The provider's JWKS holds a key that cannot be read.", code="oidc_bad_response",
                          params={"provider": provider.name}) from exc


def _has_kid(keys: KeySet, kid: str | None) -> bool:
    if kid is None:
        return len(keys.keys) == 1
    return any(k.kid == kid for k in keys.keys)


# ---------------------------------------------------------------------------- ID token


def _refuse(provider: IdentityProvider, code: str, message: str) -> OidcRefused:
    return OidcRefused(message, code=code, params={"provider": provider.name})


def verify_id_token(provider: IdentityProvider, metadata: Metadata, id_token: str, *, nonce: str,
                    access_token: str = "") -> dict[str, Any]:
    """The ID token's claims once its signature (JWKS, refetched once for an unknown ``kid``), issuer,
    audience, times (with :data:`LEEWAY`), nonce and algorithm are verified; else :class:`OidcRefused`."""
    client_id = str(_config(provider).get("client_id") or "")
    try:
        header = jws.extract_compact(id_token.encode()).protected
    except (JoseError, ValueError, TypeError) as exc:
        raise _refuse(provider, "oidc_token_invalid", "The provider's ID token is not a signed JWT.") from exc
    alg = str(header.get("alg") or "")
    if alg not in ALLOWED_ALGS:
        raise _refuse(provider, "oidc_alg_not_allowed",
                      f"The provider's ID token uses the algorithm {alg[:20]!r}; only {', '.join(ALLOWED_ALGS)} "
                      "are accepted.")
    kid = header.get("kid")
    keys = _jwks(provider, metadata)
    if not _has_kid(keys, kid):
        keys = _jwks(provider, metadata, fresh=True)  # the provider may have rotated its keys
        if not _has_kid(keys, kid):
            raise _refuse(provider, "oidc_unknown_key",
                          f"The provider's ID token is signed with a key ({str(kid)[:60]!r}) its JWKS does not have.")
    try:
        token = jwt.decode(id_token, keys, algorithms=[alg])
    except BadSignatureError as exc:
        raise _refuse(provider, "oidc_bad_signature", "The ID token's signature does not verify.") from exc
    except JoseError as exc:
        raise _refuse(provider, "oidc_token_invalid", f"The provider's ID token could not be read ({exc.error}).") from exc
    claims = CodeIDToken(
        token.claims, token.header,
        options={"iss": {"essential": True, "value": metadata.issuer},
                 "aud": {"essential": True, "value": client_id},
                 "sub": {"essential": True}},
        params={"nonce": nonce, "client_id": client_id, "access_token": access_token},
    )
    try:
        claims.validate(now=int(time.time()), leeway=LEEWAY)
    except ExpiredTokenError as exc:
        raise _refuse(provider, "oidc_token_expired", "The provider's ID token has expired; check the clocks of the "
                      "portal and the provider and try again.") from exc
    except (InvalidClaimError, MissingClaimError) as exc:
        raise _claim_refusal(provider, exc) from exc
    except ClaimError as exc:
        raise _refuse(provider, "oidc_token_invalid", f"The provider's ID token was refused ({exc.error}).") from exc
    if "nonce" not in claims:
        raise _refuse(provider, "oidc_nonce_mismatch", "The ID token does not carry the nonce of this sign-in.")
    return dict(claims)


def _claim_refusal(provider: IdentityProvider, exc: ClaimError) -> OidcRefused:
    claim = str(getattr(exc, "claim", "") or "")
    if claim == "iss":
        return _refuse(provider, "oidc_issuer_mismatch", "The ID token was issued by another issuer than the "
                       "configured one.")
    if claim in ("aud", "azp"):
        return _refuse(provider, "oidc_audience_mismatch", "The ID token was issued for another client than this "
                       "portal.")
    if claim in ("nbf", "iat"):
        return _refuse(provider, "oidc_token_not_yet_valid", "The provider's ID token is not valid yet; check the "
                       "clocks of the portal and the provider.")
    if claim == "nonce":
        return _refuse(provider, "oidc_nonce_mismatch", "The ID token's nonce is not the one of this sign-in.")
    if isinstance(exc, MissingClaimError):
        return _refuse(provider, "oidc_token_invalid", f"The provider's ID token has no {claim!r} claim.")
    return _refuse(provider, "oidc_token_invalid", f"The provider's ID token has an invalid {claim!r} claim.")


# ---------------------------------------------------------------------------- the flow


def begin(provider: IdentityProvider, *, request: HttpRequest, redirect_uri: str, next_path: str) -> str:
    """Start a sign-in: remember state, nonce and PKCE verifier in the session; return the provider's
    authorization URL to redirect the browser to."""
    if provider.kind != ProviderKind.OIDC or not provider.enabled:
        raise _refuse(provider, "provider_disabled", "This sign-in method is not enabled.")
    metadata = discover(provider)
    config = _config(provider)
    state, nonce, verifier = generate_token(32), generate_token(32), generate_token(64)
    now = time.time()
    flows = {s: f for s, f in dict(request.session.get(SESSION_KEY) or {}).items()
             if now - float(f.get("created", 0)) < FLOW_TTL}
    while len(flows) >= MAX_PENDING_FLOWS:
        flows.pop(min(flows, key=lambda s: float(flows[s].get("created", 0))))
    flows[state] = {"provider": provider.name, "nonce": nonce, "verifier": verifier, "redirect_uri": redirect_uri,
                    "next": next_path, "created": now}
    request.session[SESSION_KEY] = flows
    scopes = config["scopes"] if isinstance(config["scopes"], list) else DEFAULT_SCOPES
    with _PinnedOAuth2Session(client_id=str(config.get("client_id") or ""), scope=" ".join(scopes),
                  redirect_uri=redirect_uri, code_challenge_method="S256") as client:
        url, _ = client.create_authorization_url(metadata.authorization_endpoint, state=state,
                                                 code_verifier=verifier, nonce=nonce)
    return str(url)


def take_flow(request: HttpRequest, state: str) -> dict[str, Any] | None:
    """The started sign-in ``state`` names, removed from the session (a state is good once)."""
    flows = dict(request.session.get(SESSION_KEY) or {})
    flow = flows.pop(state, None) if state else None
    request.session[SESSION_KEY] = flows
    if flow is None or time.time() - float(flow.get("created", 0)) >= FLOW_TTL:
        return None
    return dict(flow)


def complete(provider: IdentityProvider, *, flow: dict[str, Any], params: dict[str, str]) -> Outcome:
    """Finish a sign-in from the callback's query ``params``: exchange the code (PKCE verifier and client
    secret), verify the ID token, read userinfo when the ID token lacks the claims we need."""
    if flow.get("provider") != provider.name:
        raise _refuse(provider, "oidc_state_invalid", "This sign-in was started for another provider; start again.")
    if params.get("error"):
        error = params["error"][:100]
        raise OidcRefused(f"The identity provider refused the sign-in ({error}).", code="oidc_provider_error",
                          params={"provider": provider.name, "error": error})
    metadata = discover(provider)
    if params.get("iss") and params["iss"] != metadata.issuer:  # RFC 9207: the response names its issuer
        raise _refuse(provider, "oidc_issuer_mismatch", "The answer came from another issuer than the configured one.")
    code = params.get("code") or ""
    if not code:
        raise _refuse(provider, "oidc_token_invalid", "The provider's answer has no authorization code.")
    config = _config(provider)
    token = _exchange(provider, metadata, config, flow=flow, code=code)
    id_token = str(token.get("id_token") or "")
    if not id_token:
        raise _refuse(provider, "oidc_token_invalid", "The provider's token response has no ID token.")
    access_token = str(token.get("access_token") or "")
    claims = verify_id_token(provider, metadata, id_token, nonce=str(flow["nonce"]), access_token=access_token)
    username_claim = str(config["username_claim"])
    groups_claim = str(config["groups_claim"])
    if (username_claim not in claims or groups_claim not in claims or "email" not in claims) \
            and metadata.userinfo_endpoint and access_token:
        info = _get_json(provider, metadata.userinfo_endpoint, what="userinfo",
                         headers={"Authorization": f"Bearer {access_token}"})
        if not isinstance(info, dict) or info.get("sub") != claims["sub"]:
            raise _refuse(provider, "oidc_token_invalid", "The provider's userinfo is about another subject.")
        claims = {**info, **claims}
    username = str(claims.get(username_claim) or "").strip()
    if not username:
        raise _refuse(provider, "oidc_claims_missing",
                      f"The provider did not tell the username (claim {username_claim!r}); check the provider's "
                      "username claim setting and scopes.")
    raw_groups = claims.get(groups_claim) or []
    groups = [str(g) for g in raw_groups] if isinstance(raw_groups, list) else [str(raw_groups)]
    return Outcome(subject=str(claims["sub"]), username=username, email=str(claims.get("email") or ""),
                   display_name=str(claims.get("name") or ""), groups=groups, claims=claims, id_token=id_token)


def _exchange(provider: IdentityProvider, metadata: Metadata, config: dict[str, Any], *, flow: dict[str, Any],
              code: str) -> dict[str, Any]:
    secret = provider.get_secret()
    with _CaFile(provider) as verify, _PinnedOAuth2Session(
            client_id=str(config.get("client_id") or ""), client_secret=secret or None,
            redirect_uri=str(flow["redirect_uri"]), code_challenge_method="S256") as client:
        try:
            token = client.fetch_token(metadata.token_endpoint, grant_type="authorization_code", code=code,
                                       code_verifier=str(flow["verifier"]), redirect_uri=str(flow["redirect_uri"]),
                                       verify=verify, allow_redirects=False)
        except (AddressError, requests.exceptions.RequestException) as exc:
            raise _unreachable(provider, exc, metadata.token_endpoint) from exc
        except Exception as exc:  # Authlib's OAuthError: the provider's error answer
            error = str(getattr(exc, "error", "") or type(exc).__name__)[:100]
            logger.info("OIDC token exchange with %s refused: %s", provider.name, error)
            raise OidcRefused(f"The identity provider refused the code exchange ({error}).",
                              code="oidc_provider_error", params={"provider": provider.name, "error": error}) from exc
    return dict(token)


# ---------------------------------------------------------------------------- logout and test


def remember_logout(request: HttpRequest, provider: IdentityProvider, outcome: Outcome) -> None:
    """After sign-in (the session was rotated by login): what RP-initiated logout will need."""
    request.session[LOGOUT_SESSION_KEY] = {"provider": provider.name, "id_token_hint": outcome.id_token}


def logout_url(request: HttpRequest, *, post_logout_redirect_uri: str) -> str:
    """The provider's end-session URL for a session that came from OIDC, or "" (OIDC RP-Initiated
    Logout 1.0). Read before the session is ended."""
    info = request.session.get(LOGOUT_SESSION_KEY) or {}
    if not info:
        return ""
    provider = IdentityProvider.objects.filter(name=info.get("provider"), kind=ProviderKind.OIDC).first()
    if provider is None or not provider.enabled:
        return ""
    try:
        metadata = discover(provider)
    except (Forbidden, Unavailable):
        return ""
    if not metadata.end_session_endpoint:
        return ""
    query = {"id_token_hint": str(info.get("id_token_hint") or ""),
             "client_id": str(_config(provider).get("client_id") or ""),
             "post_logout_redirect_uri": post_logout_redirect_uri}
    separator = "&" if "?" in metadata.end_session_endpoint else "?"
    return f"{metadata.end_session_endpoint}{separator}{urlencode(query)}"


def logout_offer(request: HttpRequest) -> str:
    """The end-session URL for :func:`portal.actions.logout_offer` (registered by identity's app
    config): back to the console's login page afterwards (``post_logout_redirect_uri`` in the
    provider's config overrides it; the provider must have it registered for the client)."""
    info = request.session.get(LOGOUT_SESSION_KEY) or {}
    provider = IdentityProvider.objects.filter(name=info.get("provider") or "", kind=ProviderKind.OIDC).first()
    if provider is None:
        return ""
    back = str(_config(provider).get("post_logout_redirect_uri") or request.build_absolute_uri("/login"))
    return logout_url(request, post_logout_redirect_uri=back)


def test_connection(provider: IdentityProvider) -> dict[str, Any]:
    """What the provider publishes: issuer, endpoints, number of signing keys. Raises
    :class:`portal.errors.PortalError` with a clear message when it cannot be used."""
    metadata = discover(provider, fresh=True)
    keys = _jwks(provider, metadata, fresh=True)
    if not keys.keys:
        raise Unavailable("The provider's JWKS has no signing keys.", code="oidc_bad_response",
                          params={"provider": provider.name})
    return {
        "ok": True,
        "message": (f"Found the issuer {metadata.issuer} with {len(keys.keys)} signing key"
                    f"{'' if len(keys.keys) == 1 else 's'}"
                    f"{' and an end-session endpoint' if metadata.end_session_endpoint else ''}."),
        "issuer": metadata.issuer,
        "authorization_endpoint": metadata.authorization_endpoint,
        "token_endpoint": metadata.token_endpoint,
        "userinfo_endpoint": metadata.userinfo_endpoint,
        "end_session_endpoint": metadata.end_session_endpoint,
        "jwks_uri": metadata.jwks_uri,
        "key_count": len(keys.keys),
        "signing_algorithms": metadata.algs,
    }

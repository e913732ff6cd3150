"""The routing table of one endpoint: its keys and tokens, deployments and traffic shares.

Owns ``EndpointRoute`` (key and token auth with a cache of verified tokens, the traffic split
and the mirror share, the pick of a deployment by weight) and ``build_routes``, the tables of
every endpoint of a ``ServingState``. Tables are built whole and swapped, never changed; the
requests that read them are handled in ``lakeworks.serving.app``.
"""

from __future__ import annotations

import base64
import hmac
import random
import time

import orjson

from lakeworks.core.endpoints import AuthMode, ServingState, check_token
from lakeworks.serving.supervisor import Deployment

_TOKEN_CACHE_MAX = 4096


class EndpointRoute:
    """One endpoint's routing table: keys, deployments and shares (replaced, never changed)."""

    __slots__ = ("auth_mode", "deployments", "keys", "mirror", "mirror_share", "name", "secret",
                 "split", "split_total", "tokens")

    def __init__(self, name: str, auth_mode: AuthMode, keys: tuple[bytes, ...], secret: str,
                 deployments: dict[str, Deployment], traffic: dict[str, int],
                 mirror: dict[str, int]) -> None:
        self.name = name
        self.auth_mode = auth_mode
        self.keys = keys
        self.secret = secret
        self.deployments = deployments
        split: list[tuple[int, Deployment]] = []
        total = 0
        for dep_name, share in sorted(traffic.items()):
            if share > 0 and dep_name in deployments:
                total += share
                split.append((total, deployments[dep_name]))
        self.split = tuple(split)
        self.split_total = total
        self.mirror: Deployment | None = None
        self.mirror_share = 0.0
        for dep_name, share in mirror.items():
            if share > 0 and dep_name in deployments:
                self.mirror, self.mirror_share = deployments[dep_name], share / 100
        self.tokens: dict[bytes, float] = {}

    def choose(self) -> Deployment | None:
        """A deployment by the traffic weights (None when no deployment has traffic)."""
        split = self.split
        if not split:
            return None
        if len(split) == 1:
            return split[0][1]
        point = random.random() * self.split_total
        for bound, deployment in split:
            if point < bound:
                return deployment
        return split[-1][1]

    def choose_ready(self) -> Deployment | None:
        """A deployment by the weights of those with traffic that can answer now (the
        split's pick may still be starting)."""
        shares: list[tuple[int, Deployment]] = []
        before = total = 0
        for bound, deployment in self.split:
            if deployment.pool is not None:
                total += bound - before
                shares.append((total, deployment))
            before = bound
        if not shares:
            return None
        point = random.random() * total
        for bound, deployment in shares:
            if point < bound:
                return deployment
        return shares[-1][1]

    def primary(self) -> Deployment | None:
        """The deployment with the largest share, else the first one (for documents)."""
        best: Deployment | None = None
        best_share = before = 0
        for bound, deployment in self.split:
            if bound - before > best_share:
                best, best_share = deployment, bound - before
            before = bound
        return best or next(iter(self.deployments.values()), None)

    def refuse(self, header: bytes | None) -> str | None:
        """None if ``header`` carries a valid key or token, else why not."""
        if header is None:
            return "missing Authorization header; send 'Authorization: Bearer <key or token>'"
        if header[:7].lower() != b"bearer ":
            return "the Authorization header must be 'Bearer <key or token>'"
        secret = header[7:].strip()
        if self.auth_mode == AuthMode.KEY:
            for key in self.keys:
                if hmac.compare_digest(secret, key):
                    return None
            return f"the key is not valid for endpoint '{self.name}'"
        expiry = self.tokens.get(secret)
        now = time.time()
        if expiry is not None and expiry > now:
            return None
        reason = check_token(secret.decode("latin-1"), self.name, self.secret, now=now)
        if reason is None:
            if len(self.tokens) >= _TOKEN_CACHE_MAX:
                self.tokens.clear()
            self.tokens[secret] = _token_expiry(secret.decode("latin-1"))
        return reason


def _token_expiry(token: str) -> float:
    try:
        claims = orjson.loads(base64.urlsafe_b64decode(token.rpartition(".")[0].encode()))
        return float(claims.get("x", 0))
    except (ValueError, orjson.JSONDecodeError):
        return 0.0


def build_routes(state: ServingState,
                 deployments: dict[tuple[str, str], Deployment]) -> dict[str, EndpointRoute]:
    """The routing tables of every endpoint in ``state``."""
    routes: dict[str, EndpointRoute] = {}
    for endpoint in state.endpoints:
        own = {name: d for (e, name), d in deployments.items() if e == endpoint.name}
        keys = (endpoint.keys.primary.encode(), endpoint.keys.secondary.encode())
        routes[endpoint.name] = EndpointRoute(
            endpoint.name, endpoint.auth_mode, keys, endpoint.keys.token_secret, own,
            dict(endpoint.traffic), dict(endpoint.mirror_traffic))
    return routes

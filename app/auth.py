"""Sign-in: Streamlit's built-in OpenID Connect, or an authenticating reverse proxy.

`bala serve` decides, before starting Streamlit, whether the app may listen beyond loopback
(`serve_auth_problem`); the app then requires sign-in whenever OIDC is configured
(`signed_in_user`). Configuration lives in a Streamlit secrets file (`[auth]` section,
docs/app.md); the proxy alternative names the header that carries the proxy's user id.
"""

from __future__ import annotations

import ipaddress
import tomllib
from dataclasses import dataclass
from pathlib import Path

from core.settings import Settings, load_settings

REQUIRED_AUTH_KEYS = ("redirect_uri", "cookie_secret")
REQUIRED_PROVIDER_KEYS = ("client_id", "client_secret", "server_metadata_url")
NOT_PROVIDERS = frozenset({"client_kwargs"})  # tables of [auth] that are not providers


class AuthConfigError(ValueError):
    """A secrets file that cannot configure sign-in; the message names the file and reason."""


@dataclass(frozen=True)
class AuthMode:
    """How the served app authenticates: 'oidc', 'proxy' or 'none'."""

    kind: str
    detail: str = ""  # the secrets file (oidc) or the header name (proxy)


def is_loopback(host: str) -> bool:
    """True for addresses only this machine can reach (127.0.0.0/8, ::1, 'localhost')."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def default_secrets_files(app_root: Path) -> list[Path]:
    """Where Streamlit looks for secrets when none is given: the user's, then the app's."""
    return [Path.home() / ".streamlit" / "secrets.toml", app_root / ".streamlit" / "secrets.toml"]


def oidc_problem(auth: dict) -> str | None:
    """Why an `[auth]` table cannot sign anyone in, or None when it is complete."""
    missing = [k for k in REQUIRED_AUTH_KEYS if not auth.get(k)]
    candidates = [auth] + [
        v for k, v in auth.items() if isinstance(v, dict) and k not in NOT_PROVIDERS
    ]
    if not any(all(p.get(k) for k in REQUIRED_PROVIDER_KEYS) for p in candidates):
        missing.append("a provider with " + ", ".join(REQUIRED_PROVIDER_KEYS))
    if missing:
        return "[auth] lacks " + "; ".join(missing)
    if not str(auth["redirect_uri"]).endswith("/oauth2callback"):
        return "[auth] redirect_uri must end in /oauth2callback"
    return None


def read_oidc_config(path: Path) -> dict | None:
    """The `[auth]` table of a secrets file; None if the file has none; raises
    AuthConfigError when the file is unreadable or the table is incomplete."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise AuthConfigError(f"{path}: cannot read the secrets file ({exc})") from exc
    auth = data.get("auth")
    if auth is None:
        return None
    if not isinstance(auth, dict):
        raise AuthConfigError(f"{path}: [auth] must be a table")
    if problem := oidc_problem(auth):
        raise AuthConfigError(f"{path}: {problem}")
    return auth


def resolve_auth(secrets: list[Path], proxy_header: str | None) -> AuthMode:
    """The sign-in the app will use, from the flags and the secrets files that exist
    (`--no-auth` only lifts the refusal: a configured sign-in is still used)."""
    if proxy_header:
        return AuthMode("proxy", proxy_header)
    for path in secrets:
        if path.is_file() and read_oidc_config(path) is not None:
            return AuthMode("oidc", str(path))
    return AuthMode("none")


def serve_auth_problem(host: str, mode: AuthMode, no_auth: bool) -> str | None:
    """Why `bala serve` must refuse to start, or None."""
    if is_loopback(host) or mode.kind != "none" or no_auth:
        return None
    return (
        f"refusing to serve on {host} without sign-in: anyone who can reach this address "
        "could read the library and type patient details into it. Configure OpenID Connect "
        "in .streamlit/secrets.toml ([auth], see docs/app.md) or pass --secrets FILE; or put "
        "an authenticating reverse proxy in front and pass --auth-proxy-header HEADER; or, "
        "if the network is trusted, pass --no-auth explicitly."
    )


def proxy_header(settings: Settings | None = None) -> str | None:
    """The header the authenticating proxy sets (setting `serve.auth_proxy_header`, which
    `bala serve --auth-proxy-header` passes on to the app)."""
    settings = settings or load_settings()
    return settings.serve.auth_proxy_header or None

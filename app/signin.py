"""The app's sign-in gate: Streamlit's OIDC (`st.login`/`st.user`) or a proxy's user header."""

from __future__ import annotations

import streamlit as st

from app.auth import NOT_PROVIDERS, proxy_header
from app.ui_text import escape_markdown

PRIVACY_NOTICE = (
    "**Do not enter details that identify a patient** (name, record number, date of birth, "
    "address). Ask about the clinical situation only. Questions are not stored; feedback "
    "keeps your question and comment only if you tick \u201cinclude my question\u201d, "
    "and masks record numbers, dates and names even then."
)


def oidc_providers() -> list[str] | None:
    """Provider names of the `[auth]` secrets section; None when OIDC is not configured."""
    try:
        auth = st.secrets.get("auth")
    except Exception:  # noqa: BLE001 - no secrets file at all means no sign-in configured
        return None
    if not auth:
        return None
    named = [
        name for name, value in auth.items() if hasattr(value, "keys") and name not in NOT_PROVIDERS
    ]
    return (["default"] if auth.get("client_id") else []) + named or ["default"]


def _login_screen(providers: list[str]) -> None:
    st.title("bala")
    st.markdown("**Sign-in required.** This library is served to a network; sign in first.")
    st.info(PRIVACY_NOTICE, icon=":material/lock:")
    for name in providers:
        label = "Sign in" if name == "default" else f"Sign in with {name}"
        args = () if name == "default" else (name,)
        st.button(label, key=f"login_{name}", on_click=st.login, args=args, type="primary")


def signed_in_user() -> str | None:
    """The signed-in user's id (e-mail, else the provider's subject), None when sign-in is
    off; stops the page with a sign-in screen when sign-in is on and nobody is signed in."""
    header = proxy_header()
    if header:
        user = (st.context.headers.get(header) or "").strip()
        if not user:
            st.error(
                f"Sign-in required: this app expects the {escape_markdown(header)} header from "
                "the authenticating proxy in front of it, and the request had none."
            )
            st.stop()
        return user
    providers = oidc_providers()
    if providers is None:
        return None
    if not st.user.get("is_logged_in", False):
        _login_screen(providers)
        st.stop()
    user = str(st.user.get("email") or st.user.get("sub") or "signed-in user")
    with st.sidebar:
        st.caption(f"Signed in as {escape_markdown(user)}")
        st.button("Sign out", key="logout", on_click=st.logout)
    return user

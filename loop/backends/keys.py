"""API keys: only from the environment, only to the host they belong to, never stored.

OPENAI_API_KEY goes only to https://api.openai.com and ANTHROPIC_API_KEY only to
https://api.anthropic.com. Any other base URL gets the key in the variable its profile
names in `api_key_env`, or no key at all.
"""

from __future__ import annotations

import os
from urllib.parse import urlsplit

from loop.errors import BackendError

OFFICIAL = {
    "openai": ("api.openai.com", "OPENAI_API_KEY"),
    "anthropic": ("api.anthropic.com", "ANTHROPIC_API_KEY"),
}


def is_official(kind: str, base_url: str) -> bool:
    """True when base_url is the kind's own vendor host over https."""
    parts = urlsplit(base_url)
    host = OFFICIAL.get(kind, ("", ""))[0]
    return parts.scheme == "https" and parts.hostname == host


def key_env_for(kind: str, base_url: str, api_key_env: str | None) -> str | None:
    """The variable whose key may be sent to base_url, or None for no key.

    Raises BackendError if a vendor's variable would go to another host.
    """
    env = api_key_env or (OFFICIAL[kind][1] if is_official(kind, base_url) else None)
    if env is None:
        return None
    for vendor_kind, (host, vendor_env) in OFFICIAL.items():
        if env == vendor_env and not is_official(vendor_kind, base_url):
            raise BackendError(
                f"{env} is only ever sent to https://{host}, not to {base_url}",
                f"put the key for {base_url} in another variable and name it in the "
                "profile's api_key_env",
            )
    return env


def read_key(env: str, base_url: str) -> str:
    """The key in $env; a missing key is an error naming the variable."""
    key = os.environ.get(env, "").strip()
    if not key:
        raise BackendError(
            f"{env} is not set (the key for {base_url})",
            f"export {env}=... in this shell, or pick another backend with --backend",
        )
    return key

"""What counts as a secret on the wire, and how it is removed before anything is kept or written."""

from __future__ import annotations

import re

# Header names (lower case) that can carry a credential or an account identity.
SENSITIVE_HEADERS = re.compile(
    r"^(authorization|proxy-authorization|api-key|x-api-key|cookie|set-cookie|openai-organization|"
    r"openai-project|x-goog-api-key|ocp-apim-subscription-key|x-auth-token|.*-api-key|.*-token)$"
)
REDACTED = "REDACTED"


def is_sensitive(header: str) -> bool:
    return bool(SENSITIVE_HEADERS.match(header.lower()))


def scrub_text(text: str, secrets: list[str]) -> str:
    """The text with every known secret value replaced."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, REDACTED)
    return text


def public_headers(headers: dict[str, str], secrets: list[str]) -> dict[str, str]:
    """Headers without the credential-bearing ones, and without secret values in the rest."""
    return {k: scrub_text(v, secrets) for k, v in headers.items() if not is_sensitive(k)}

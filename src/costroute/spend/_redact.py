"""Keeping secrets out of reprs, logs and errors."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

__all__ = ["redact_url", "scrub"]


def redact_url(url: str) -> str:
    """``redis://user:pw@host/0`` → ``redis://user:***@host/0``; also DSN ``password=`` fields."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable url>"
    if parts.scheme and parts.netloc:
        netloc = parts.netloc
        if "@" in netloc:
            cred, host = netloc.rsplit("@", 1)
            user = cred.split(":", 1)[0]
            netloc = f"{user}:***@{host}" if ":" in cred else f"{user}@{host}"
        query = "&".join(
            "password=***" if q.lower().startswith("password=") else q
            for q in parts.query.split("&")
        ) if parts.query else ""
        return urlunsplit((parts.scheme, netloc, parts.path, query, ""))
    return " ".join(
        "password=***" if w.lower().startswith("password=") else w for w in url.split()
    )


def scrub(text: str, secret: str) -> str:
    """Remove the password of ``secret`` (a URL or DSN) from ``text``, wherever it appears."""
    passwords = set()
    try:
        pw = urlsplit(secret).password
        if pw:
            passwords.add(pw)
    except ValueError:
        pass
    for word in secret.split():
        if word.lower().startswith("password="):
            passwords.add(word.split("=", 1)[1])
    for pw in passwords:
        text = text.replace(pw, "***")
    return text.replace(secret, redact_url(secret))

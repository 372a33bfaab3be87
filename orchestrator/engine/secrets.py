"""SECRET inputs: encrypted at rest, decrypted only to render, masked everywhere shown.

Masking replaces values, never names: a secret whose text is ``greet`` masks the word in
a log line or an output value, but a task ``greet`` keeps its id and an output keyed
``greet`` keeps its key.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import urllib.parse
from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings

# Kestra's mask, for secret() values and SECRET inputs alike.
MASK = "********"
_MARK = "$secret"


@lru_cache(maxsize=4)
def _fernet(key: str) -> Fernet:
    digest = hashlib.sha256(f"choreo-secrets:{key}".encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def seal(value: Any) -> dict[str, str]:
    text = value if isinstance(value, str) else str(value)
    return {_MARK: _fernet(settings.SECRET_KEY).encrypt(text.encode()).decode()}


def is_sealed(value: Any) -> bool:
    return isinstance(value, dict) and set(value) == {_MARK}


def unseal(value: dict[str, str]) -> str:
    try:
        return _fernet(settings.SECRET_KEY).decrypt(value[_MARK].encode()).decode()
    except InvalidToken:
        raise ValueError("a secret input cannot be decrypted: was CHOREO_SECRET_KEY changed?") from None


def seal_inputs(values: dict[str, Any], secret_ids: Iterable[str]) -> dict[str, Any]:
    ids = set(secret_ids)
    return {k: (seal(v) if k in ids and v is not None else v) for k, v in values.items()}


def unseal_inputs(values: dict[str, Any]) -> dict[str, Any]:
    return {k: (unseal(v) if is_sealed(v) else v) for k, v in values.items()}


def mask_inputs(values: dict[str, Any]) -> dict[str, Any]:
    return {k: (MASK if is_sealed(v) else v) for k, v in values.items()}


def secret_values(values: dict[str, Any]) -> list[str]:
    """Plain values of the sealed inputs, longest first (so masking replaces whole values)."""
    plain = [unseal(v) for v in values.values() if is_sealed(v)]
    return sorted((p for p in plain if p), key=len, reverse=True)


def mask_text(text: str, secrets: Iterable[str]) -> str:
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, MASK)
    return text


def mask_values(value: Any, secrets: Sequence[str]) -> Any:
    """``value`` with every text inside it masked; mapping keys are left as they are."""
    if not secrets:
        return value
    if isinstance(value, str):
        return mask_text(value, secrets)
    if isinstance(value, list):
        return [mask_values(v, secrets) for v in value]
    if isinstance(value, dict):
        return {k: mask_values(v, secrets) for k, v in value.items()}
    return value


class SecretNotFound(Exception):
    pass


def lookup_secret(name: str) -> str:
    """``secret('NAME')``: env ``SECRET_NAME`` (base64, as in Kestra's open-source edition)
    or ``SECRET_NAME_FILE``, the path of a file holding the raw value (Docker, Kubernetes).

    The one place secrets are looked up; a secret store can replace it later.
    """
    key = f"SECRET_{name}"
    encoded = os.environ.get(key)
    if encoded is not None:
        try:
            return base64.b64decode(encoded.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            raise SecretNotFound(f"secret {name!r}: {key} is not valid base64-encoded UTF-8") from None
    path = os.environ.get(f"{key}_FILE")
    if path:
        try:
            return open(path, encoding="utf-8").read().rstrip("\n")
        except OSError as exc:
            raise SecretNotFound(f"secret {name!r}: cannot read {key}_FILE={path}: {exc.strerror}") from None
    raise SecretNotFound(f"secret {name!r} not found: set {key} (base64) or {key}_FILE (a file path)")


def mask_forms(secret: str) -> list[str]:
    """Every form a secret may take in output: whole, JSON-escaped, base64 (standard and
    URL-safe, padded or not), URL-encoded, and each of its lines.

    Not masked, because no fixed text can be looked for: a secret reversed, in hex, cut
    in pieces, or spread over lines other than its own. Masking keeps honest output tidy;
    it cannot stop a script that means to print a secret (isolation is what protects the
    server's, see tasks/isolation.py)."""
    data = secret.encode()
    forms = {secret, json.dumps(secret)[1:-1], urllib.parse.quote(secret), urllib.parse.quote(secret, safe=""),
             urllib.parse.quote_plus(secret)}
    for encoded in (base64.b64encode(data).decode(), base64.urlsafe_b64encode(data).decode()):
        forms.update((encoded, encoded.rstrip("=")))
    forms.update(line for line in secret.splitlines() if len(line.strip()) >= 3)
    return sorted((f for f in forms if f), key=len, reverse=True)


def masks(inputs: dict[str, Any], names: Iterable[str] = ()) -> list[str]:
    """The texts to mask for an execution: every form of its SECRET inputs and of the
    secrets its flow names (those that cannot be looked up are left to the task that
    asks for them, which fails)."""
    plain = secret_values(inputs)
    for name in names:
        try:
            plain.append(lookup_secret(name))
        except SecretNotFound:
            continue
    if not plain:
        return []
    return sorted({form for value in plain if value for form in mask_forms(value)}, key=len, reverse=True)

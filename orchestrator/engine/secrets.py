"""SECRET inputs: encrypted at rest, decrypted only to render, masked everywhere shown."""
from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings

MASK = "******"
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

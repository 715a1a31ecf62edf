"""The flags each instruction accepts, and checking a written flag list against them."""

from __future__ import annotations

__all__ = ["BOOL", "MULTI", "STRING", "check_flags"]

STRING, BOOL, MULTI = "string", "bool", "multi"

ALLOWED: dict[str, dict[str, str]] = {
    "ADD": {
        "chown": STRING,
        "chmod": STRING,
        "link": BOOL,
        "keep-git-dir": BOOL,
        "checksum": STRING,
        "exclude": MULTI,
        "unpack": BOOL,
    },
    "COPY": {
        "from": STRING,
        "chown": STRING,
        "chmod": STRING,
        "link": BOOL,
        "parents": BOOL,
        "exclude": MULTI,
    },
    "FROM": {"platform": STRING},
    "RUN": {"mount": MULTI, "network": STRING, "security": STRING},
    "HEALTHCHECK": {
        "interval": STRING,
        "timeout": STRING,
        "start-period": STRING,
        "start-interval": STRING,
        "retries": STRING,
    },
}


def check_flags(keyword: str, flags: tuple[str, ...]) -> None:
    """Raise ValueError (message only) for an unknown, repeated or malformed flag."""
    allowed = ALLOWED.get(keyword, {})
    seen: set[str] = set()
    for flag in flags:
        if not flag.startswith("--"):
            raise ValueError(f"arg should start with -- : {flag}")
        name, has_value, value = flag[2:].partition("=")
        kind = allowed.get(name)
        if kind is None:
            known = ", ".join(f"--{n}" for n in allowed) or "none"
            raise ValueError(f"unknown flag: --{name} (flags of {keyword}: {known})")
        if name in seen and kind != MULTI:
            raise ValueError(f"duplicate flag specified: --{name}")
        seen.add(name)
        if kind == BOOL:
            if has_value and value.lower() not in ("true", "false"):
                raise ValueError(f"expecting boolean value for flag --{name}, not: {value}")
        elif not has_value:
            raise ValueError(f"missing a value on flag: --{name}")

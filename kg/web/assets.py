"""The browser files the server hands out under ``/assets/``: vendored releases (``vendor/``, listed with
versions, licences and hashes in ``vendor/VENDORED.json``, written by ``tools/vendor_web.py``) and kg's own
small scripts and style (``static/``).  Nothing is fetched from anywhere at run time.
"""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from kg.errors import NotFoundError

__all__ = ["VENDOR_DIR", "STATIC_DIR", "vendored", "asset_url", "vendored_mismatches", "asset_endpoint"]

VENDOR_DIR = Path(__file__).with_name("vendor")
STATIC_DIR = Path(__file__).with_name("static")

_MEDIA = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}


@lru_cache(maxsize=1)
def vendored() -> dict[str, Any]:
    """``VENDORED.json``'s libraries: name → npm package, version, integrity, files with their SHA-256."""
    return json.loads((VENDOR_DIR / "VENDORED.json").read_text(encoding="utf-8"))["libraries"]


def asset_url(library: str, suffix: str) -> str:
    """The URL of a vendored library's file ending in ``suffix`` (``.js``, ``.css``)."""
    files = vendored()[library]["files"]
    name = next(f for f in files if f.endswith(suffix))
    return f"/assets/{name}"


def vendored_mismatches() -> list[str]:
    """Vendored files missing or not matching the SHA-256 that VENDORED.json records (empty when all match)."""
    bad = []
    for name, lib in vendored().items():
        for file, info in lib["files"].items():
            path = VENDOR_DIR / file
            if not path.is_file():
                bad.append(f"{file} ({name}): missing")
            elif hashlib.sha256(path.read_bytes()).hexdigest() != info["sha256"]:
                bad.append(f"{file} ({name}): SHA-256 differs from VENDORED.json")
        if not (VENDOR_DIR / lib["license_file"]).is_file():
            bad.append(f"{lib['license_file']} ({name}): licence file missing")
    return bad


@lru_cache(maxsize=1)
def _served() -> dict[str, Path]:
    files = {f: VENDOR_DIR / f for lib in vendored().values() for f in lib["files"]}
    files.update({p.name: p for p in STATIC_DIR.iterdir() if p.suffix in _MEDIA})
    return files


async def asset_endpoint(request: Request) -> Response:
    name = request.path_params["name"]
    path = _served().get(name)
    if path is None:
        raise NotFoundError(f"no asset {name!r} (the server hands out its vendored scripts and styles only)")
    if path.parent == VENDOR_DIR and getattr(request.app.state, "production", False):
        raise NotFoundError(f"no asset {name!r}: the IDEs are off on a production server")
    # vendored names carry their version, so they never change; kg's own files may change with kg
    cache = "public, max-age=31536000, immutable" if path.parent == VENDOR_DIR else "no-cache"
    return Response(path.read_bytes(), media_type=_MEDIA[path.suffix],
                    headers={"Cache-Control": cache, "X-Content-Type-Options": "nosniff"})

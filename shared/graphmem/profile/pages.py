"""memray's HTML pages made offline and small: the libraries every page inlines are shared in reports/assets/.
"""
import hashlib
import os
import re
from pathlib import Path

from graphmem.atomic_files import write_atomically
# --- offline HTML ------------------------------------------------------------------
INLINE_BLOCK = re.compile(r"<(script|style)([^>]*)>(.*?)</\1>", re.S)
SHARED_MINIMUM = 16_000  # characters: libraries, not the data of one run
REMOTE_REFERENCE = re.compile(r"<(?:script|link|img|iframe)\b[^>]*\b(?:src|href)\s*=\s*[\"']?\s*(?:https?:)?//", re.I)


def shared_assets(html, relative):
    """(page, {asset name: text}): memray's inlined libraries (identical in every page) moved out.

    `memray flamegraph --no-web` inlines some 4 MB of JavaScript (plotly, d3, jQuery) in every
    page; shared by content hash as `<relative>/<hash>.js|.css`, each page keeps only its own
    data and still needs no network.
    """
    assets = {}

    def replace(match):
        tag, attributes, body = match.groups()
        if len(body) < SHARED_MINIMUM or body.lstrip().startswith("const packed_data"):
            return match.group(0)
        name = hashlib.sha256(body.encode()).hexdigest()[:16] + (".js" if tag == "script" else ".css")
        assets[name] = body
        if tag == "script":
            return f'<script{attributes} src="{relative}/{name}" charset="utf-8"></script>'
        return f'<link rel="stylesheet" href="{relative}/{name}">'

    return INLINE_BLOCK.sub(replace, html), assets


def share_inline_assets(html_path, assets_dir):
    """Rewrites one page in place with its libraries in assets_dir (see shared_assets)."""
    page, assets = shared_assets(html_path.read_text(encoding="utf-8"), os.path.relpath(assets_dir, html_path.parent))
    for name, body in assets.items():
        if not (assets_dir / name).exists():
            write_atomically(assets_dir / name, body)
    write_atomically(html_path, page)


def remote_references(html_path):
    """Scripts, styles or frames a page would fetch from the network (none for --no-web pages)."""
    return REMOTE_REFERENCE.findall(Path(html_path).read_text(encoding="utf-8"))


def prune_assets(reports_dir):
    """Deletes shared assets no page under reports_dir refers to any more."""
    assets_dir = reports_dir / "assets"
    if not assets_dir.is_dir():
        return
    used = set()
    for page in reports_dir.rglob("*.html"):
        used.update(re.findall(r"assets/([0-9a-f]{16}\.(?:js|css))", page.read_text(encoding="utf-8")))
    for asset in assets_dir.iterdir():
        if asset.name not in used:
            asset.unlink()

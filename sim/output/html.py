"""The page skeleton every opsim report shares: one self-contained HTML file.

Images are embedded as PNG data URIs, so a page can be mailed or archived alone.
A small script records, for automated checks, how many images decoded
(``document.body.dataset.imagesLoaded`` and ``.images``).
"""

from __future__ import annotations

import base64
import html

__all__ = ["figure_html", "page"]

BASE_CSS = """
body { font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; color: #111; }
table { border-collapse: collapse; margin: 1em 0; } th, td { border: 1px solid #bbb; padding: 4px 8px; text-align: left; }
figure { margin: 1.5em 0; } img { max-width: 100%; } figcaption { color: #444; font-size: 0.9em; }
pre { background: #f4f4f4; padding: 1em; overflow-x: auto; font-size: 0.85em; }
"""

_IMAGE_CHECK = """<script>
// For automated checks: how many images decoded.
window.addEventListener("load", () => {
  const imgs = Array.from(document.images);
  document.body.dataset.imagesLoaded = imgs.filter(i => i.complete && i.naturalWidth > 0).length;
  document.body.dataset.images = imgs.length;
});
</script>"""


def figure_html(name: str, png: bytes, caption: str = "") -> str:
    """One embedded figure with an optional caption."""
    data = base64.b64encode(png).decode()
    cap = f"<figcaption>{html.escape(caption)}</figcaption>" if caption else ""
    return f'<figure><img alt="{html.escape(name)}" src="data:image/png;base64,{data}">{cap}</figure>'


def page(title: str, body: str, *, css: str = "") -> str:
    """A complete HTML document: ``title`` (escaped here), ``body`` (HTML, escaped by the caller)."""
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>{BASE_CSS}{css}</style></head>
<body>
{body}
{_IMAGE_CHECK}
</body></html>
"""

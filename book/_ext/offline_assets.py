"""Serve the book's JavaScript from the book itself instead of CDNs.

MathJax 3, RequireJS and the ipywidgets HTML manager are installed with
``npm ci`` (package.json / package-lock.json at the repository root) into
``node_modules/``.  This extension copies the files the pages need into
``<outdir>/_static/npm/`` when the HTML builder starts, so the pages can
reference them through ``mathjax_path`` and ``nb_ipywidgets_js`` (_config.yml).

It also enforces the offline property: a script configured from an http(s)
URL, or a ``<script src="http...">`` in a written page, is reported as a
Sphinx warning (``jupyter-book build -W`` turns it into an error).
See CONTRIBUTING.md.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from sphinx.application import Sphinx
from sphinx.errors import ExtensionError
from sphinx.util import logging

logger = logging.getLogger(__name__)

#: destination under _static/npm/  ->  (npm package folder, paths inside it)
VENDOR_FILES: dict[str, tuple[str, tuple[str, ...]]] = {
    # tex-mml-chtml.js loads fonts (output/chtml/fonts/woff-v2), TeX extensions
    # (input/tex/extensions, via autoload) and menu/a11y parts lazily, relative
    # to its own URL, so those folders travel with it.
    "mathjax": (
        "mathjax/es5",
        ("tex-mml-chtml.js", "input", "output", "ui", "a11y", "sre", "adaptors"),
    ),
    "requirejs": ("requirejs", ("require.js",)),
    # embed-amd.js bundles @jupyter-widgets/base, controls and output; its
    # webpack public path is its own folder, where the icon fonts must be.
    "html-manager": (
        "@jupyter-widgets/html-manager/dist",
        ("embed-amd.js", "*.woff", "*.woff2", "*.ttf", "*.eot", "*.svg"),
    ),
}

#: files of this extension, copied to _static/<key>
OWN_FILES: dict[str, Path] = {
    "offline-assets/widgets-setup.js": Path(__file__).with_name("widgets-setup.js"),
}

_SCRIPT_SRC = re.compile(r"<script\b[^>]*\bsrc=\"((?:https?:)?//[^\"]+)\"", re.IGNORECASE)


def _copy_if_changed(src: Path, dst: Path) -> int:
    """Copy one file unless an identical-looking copy (size, mtime) is there."""
    if dst.exists():
        s, d = src.stat(), dst.stat()
        if s.st_size == d.st_size and int(s.st_mtime) == int(d.st_mtime):
            return 0
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(src, dst)
    return 1


def _copy_tree_or_glob(base: Path, pattern: str, dest: Path) -> int:
    copied = 0
    matches = sorted(base.glob(pattern))
    if not matches:
        raise ExtensionError(
            f"offline_assets: {base / pattern} not found; run `npm ci` in the repository root"
        )
    for item in matches:
        if item.is_dir():
            for f in sorted(item.rglob("*")):
                if f.is_file() and not f.name.endswith(".map"):
                    copied += _copy_if_changed(f, dest / f.relative_to(base))
        else:
            copied += _copy_if_changed(item, dest / item.relative_to(base))
    return copied


def copy_vendor_files(app: Sphinx) -> None:
    if app.builder.format != "html":
        return
    node_modules = Path(app.srcdir, app.config.offline_assets_node_modules)
    if not node_modules.is_dir():
        raise ExtensionError(
            f"offline_assets: {node_modules} is missing; run `npm ci` in the repository "
            "root (scripts/build_book.sh does this) before building the book"
        )
    # not "_static/vendor": pydata-sphinx-theme already uses that folder
    static = Path(app.outdir, "_static", "npm")
    copied = 0
    for dest_name, (package_dir, patterns) in VENDOR_FILES.items():
        base = node_modules / package_dir
        for pattern in patterns:
            copied += _copy_tree_or_glob(base, pattern, static / dest_name)
    for dest_name, src in OWN_FILES.items():
        copied += _copy_if_changed(src, Path(app.outdir, "_static", dest_name))
    # Fallback for the widget icon fonts: when embed-amd.js resolves its module URL before the
    # require.js mapping of widgets-setup.js applies (seen once in a test run), it asks for them
    # relative to the page, <page folder>/@jupyter-widgets/; every chapter lives in book/.
    fonts_base = node_modules / VENDOR_FILES["html-manager"][0]
    for pattern in ("*.woff", "*.woff2", "*.ttf", "*.eot", "*.svg"):
        copied += _copy_tree_or_glob(fonts_base, pattern, Path(app.outdir, "book", "@jupyter-widgets"))
    logger.info(f"offline_assets: {copied} file(s) copied to {static}")

    # Every configured script must be one of the local copies.
    configured = [("mathjax_path", app.config.mathjax_path)]
    configured += [("nb_ipywidgets_js", k) for k in (app.config.nb_ipywidgets_js or {})]
    for key, uri in configured:
        if "//" in uri:
            logger.warning(
                f"offline_assets: {key} loads {uri!r} from the network; point it at a file "
                "under _static/npm/ (see CONTRIBUTING.md)",
                type="offline_assets",
            )
        elif not Path(app.outdir, "_static", uri).is_file():
            raise ExtensionError(
                f"offline_assets: {key}={uri!r} but {Path(app.outdir, '_static', uri)} "
                "does not exist after copying the vendor files"
            )


def _thebe_enabled(app: Sphinx) -> bool:
    launch = (app.config.html_theme_options or {}).get("launch_buttons") or {}
    always = (getattr(app.config, "thebe_config", None) or {}).get("always_load")
    return bool(launch.get("thebe")) or always in (True, "true", "True")


def drop_dormant_thebe_url(app: Sphinx, pagename, templatename, context, doctree) -> None:
    """Remove sphinx-thebe's inline ``const THEBE_JS_URL = "https://unpkg.com/..."``.

    sphinx-thebe (always loaded by Jupyter Book) writes that CDN URL into every
    page; it is only fetched when a thebe launch button is pressed.  With thebe
    switched off (launch_buttons.thebe: false) no such button exists, so the
    script is dropped and no CDN URL is left in the pages.
    """
    if _thebe_enabled(app):
        return
    scripts = context.get("script_files")
    if not scripts:
        return
    scripts[:] = [
        js
        for js in scripts
        if not (
            not getattr(js, "filename", True)
            and "THEBE_JS_URL" in str(getattr(js, "attributes", {}).get("body", ""))
        )
    ]


def check_no_remote_scripts(app: Sphinx, exception: Exception | None) -> None:
    if exception is not None or app.builder.format != "html":
        return
    for page in sorted(Path(app.outdir).rglob("*.html")):
        for url in _SCRIPT_SRC.findall(page.read_text(encoding="utf-8", errors="replace")):
            logger.warning(
                f"offline_assets: {page.relative_to(app.outdir)} loads a script from {url}",
                type="offline_assets",
            )


def setup(app: Sphinx) -> dict:
    # relative to the book's source folder (the repository root here)
    app.add_config_value("offline_assets_node_modules", "node_modules", "env")
    app.connect("builder-inited", copy_vendor_files)
    app.connect("html-page-context", drop_dormant_thebe_url)
    app.connect("build-finished", check_no_remote_scripts)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}

"""The built book renders math and widgets with the network switched off.

Opens the built pages in headless Chromium (selenium) served from 127.0.0.1,
with every other host unreachable, and checks that MathJax typeset the math,
that the embedded ipywidgets render, and that the client-side link between the
"EMA decay" slider and its number works without a kernel.  Screenshots go to
_build/screenshots/.  See CONTRIBUTING.md.

HTML used: $MTLIB_BOOK_HTML if set, else _build/html, (re)built with
scripts/build_book.sh when missing or older than the book's sources.
Skipped when chromium / chromedriver are not installed (scripts/install_system.sh).
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

pytestmark = pytest.mark.book

REPO = Path(__file__).resolve().parents[1]
SCREENSHOTS = REPO / "_build" / "screenshots"
STAMP = ".build_stamp"  # written by scripts/build_book.sh after a successful build
SOURCES = ["_config.yml", "_toc.yml", "package-lock.json", "book", "mtlib", "scripts/build_book.sh"]


def _find(env_var: str, names: list[str]) -> str | None:
    if os.environ.get(env_var):
        return os.environ[env_var]
    for name in names:
        if path := shutil.which(name):
            return path
    return None


CHROMIUM = _find("CHROME_BIN", ["chromium", "chromium-browser", "google-chrome"])
CHROMEDRIVER = _find("CHROMEDRIVER", ["chromedriver"])


def _newest_source_mtime() -> float:
    newest = 0.0
    for name in SOURCES:
        path = REPO / name
        files = [path] if path.is_file() else path.rglob("*") if path.is_dir() else []
        for f in files:
            if f.is_file() and "__pycache__" not in f.parts and ".ipynb_checkpoints" not in f.parts:
                newest = max(newest, f.stat().st_mtime)
    return newest


def _require_browser() -> None:
    if not (CHROMIUM and CHROMEDRIVER):
        pytest.skip(
            "chromium and chromedriver are needed to check the rendered book "
            "(install with scripts/install_system.sh, or set CHROME_BIN / CHROMEDRIVER)"
        )
    pytest.importorskip("selenium", reason="the selenium package is needed to drive chromium")


@pytest.fixture(scope="session")
def book_html() -> Path:
    _require_browser()
    if os.environ.get("MTLIB_BOOK_HTML"):
        html = Path(os.environ["MTLIB_BOOK_HTML"])
        assert (html / "book" / "offline_check.html").is_file(), f"MTLIB_BOOK_HTML={html} holds no built book"
        return html
    html = REPO / "_build" / "html"
    stamp = html / STAMP
    if not stamp.is_file() or stamp.stat().st_mtime < _newest_source_mtime():
        env = dict(os.environ)
        env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
        subprocess.run(["bash", str(REPO / "scripts" / "build_book.sh")], cwd=REPO, env=env, check=True)
    return html


@pytest.fixture(scope="session")
def server(book_html: Path):
    handler = functools.partial(_QuietHandler, directory=str(book_html))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - keep pytest output clean
        pass


@pytest.fixture(scope="session")
def browser():
    _require_browser()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in [
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-extensions",
        "--no-first-run",
        "--window-size=1280,1000",
        # network off: no name resolves, and anything not loopback goes to a dead proxy
        "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
        "--proxy-server=http://127.0.0.1:9",
    ]:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


# console errors that do not affect rendering
HARMLESS_CONSOLE_ERRORS = [
    "favicon.ico",  # the book has no favicon
    "Got invalid theme mode",  # pydata-sphinx-theme, first visit with empty localStorage
]


def _open(browser, url: str) -> None:
    browser.get_log("performance")  # drop what earlier pages logged
    browser.get_log("browser")
    browser.get(url)


def _requested_urls(browser) -> list[str]:
    urls = []
    for entry in browser.get_log("performance"):
        msg = json.loads(entry["message"])["message"]
        if msg["method"] == "Network.requestWillBeSent":
            urls.append(msg["params"]["request"]["url"])
    return urls


def _wait_for_mathjax(browser, min_containers: int) -> int:
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(browser, 30).until(
        lambda d: d.execute_script(
            "return !!(window.MathJax && MathJax.startup && MathJax.startup.document"
            " && document.querySelectorAll('mjx-container').length >= arguments[0]"
            " && !document.querySelector('mjx-merror'))",
            min_containers,
        ),
        message="MathJax did not typeset the page (is _static/npm/mathjax served?)",
    )
    # let the typesetting promise settle before looking at the text
    browser.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "MathJax.startup.promise.then(() => done(true), () => done(false));"
    )
    return browser.execute_script("return document.querySelectorAll('mjx-container').length")


def _assert_no_raw_tex(browser) -> None:
    # visible prose: every text node outside code blocks, scripts and typeset math
    text = browser.execute_script(
        """
        const root = document.querySelector('main') || document.body;
        const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
        const parts = [];
        while (walker.nextNode()) {
          const node = walker.currentNode;
          if (!node.parentElement.closest('pre, code, script, style, mjx-container, input')) {
            parts.push(node.textContent);
          }
        }
        return parts.join(' ');
        """
    )
    for raw in ["$$", "\\(", "\\[", "\\theta", "\\alpha"]:
        assert raw not in text, f"untypeset TeX {raw!r} left on the page"


def _assert_offline(browser, base: str) -> None:
    urls = _requested_urls(browser)
    assert urls, "no network requests were logged"
    remote = [u for u in urls if not u.startswith((base, "data:", "blob:", "about:"))]
    assert not remote, f"the page requested resources outside the book: {remote}"
    errors = [
        e["message"]
        for e in browser.get_log("browser")
        if e["level"] == "SEVERE" and not any(ok in e["message"] for ok in HARMLESS_CONSOLE_ERRORS)
    ]
    assert not errors, f"browser console errors: {errors}"


def _screenshot(browser, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    browser.save_screenshot(str(path))
    return path


def test_intro_math_is_typeset(browser, server):
    _open(browser, f"{server}/book/intro.html")
    n = _wait_for_mathjax(browser, min_containers=2)
    assert n >= 2, "inline math and the EMA display equation should both be typeset"
    assert browser.execute_script("return document.querySelectorAll('mjx-container[display=\"true\"]').length") >= 1
    _assert_no_raw_tex(browser)
    _screenshot(browser, "intro")
    _assert_offline(browser, server)


def _open_slider_page(browser, url, min_math, label):
    """Open a page, check its math, and wait for the embedded slider whose text holds ``label``."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    _open(browser, url)
    _wait_for_mathjax(browser, min_containers=min_math)
    _assert_no_raw_tex(browser)
    wait = WebDriverWait(browser, 30)
    sliders = wait.until(
        lambda d: [s for s in d.find_elements(By.CSS_SELECTOR, ".widget-slider") if label in s.text] or False,
        message=f"the {label!r} slider did not render (require.js / embed-amd.js / widget state?)",
    )
    return wait, sliders[0]


def test_offline_check_widgets_are_linked_client_side(browser, server):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    wait, slider = _open_slider_page(browser, f"{server}/book/offline_check.html", 1, "EMA decay")
    handle = slider.find_element(By.CSS_SELECTOR, ".noUi-handle")
    number = browser.find_element(By.CSS_SELECTOR, ".widget-text input")
    readout = slider.find_element(By.CSS_SELECTOR, ".widget-readout")
    # the FloatText's description r"\(\alpha\) =" is typeset by MathJax 3 (widgets-setup.js)
    wait.until(
        lambda d: d.find_elements(By.CSS_SELECTOR, ".widget-text .widget-label mjx-container"),
        message="the widget label's math was not typeset",
    )
    before = float(number.get_attribute("value"))
    assert before == pytest.approx(0.99)
    assert readout.text == "0.990"
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", slider)
    _screenshot(browser, "offline_check_before")

    handle.send_keys(Keys.ARROW_RIGHT * 5)  # noUiSlider: one step (0.001) per key press
    wait.until(
        lambda d: float(number.get_attribute("value")) != pytest.approx(before),
        message="moving the slider did not change the jslink-ed number",
    )
    after = float(number.get_attribute("value"))
    assert after == pytest.approx(0.995, abs=1e-9)
    assert readout.text == "0.995"
    _screenshot(browser, "offline_check")
    _assert_offline(browser, server)


def _visible_image_sources(browser):
    """The src of every image shown (not hidden) inside an embedded widget."""
    return browser.execute_script(
        "return Array.from(document.querySelectorAll('.jupyter-widgets img, img.widget-image'))"
        ".filter(e => e.offsetParent !== null).map(e => e.src)"
    )


def test_mean_teacher_ema_slider_changes_the_shown_figure(browser, server):
    """The Mean Teacher chapter: typeset math, and the precomputed EMA-decay slider switches figures."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    wait, slider = _open_slider_page(browser, f"{server}/book/mean_teacher.html", 2, "EMA decay")
    browser.execute_script("arguments[0].scrollIntoView({block: 'start'})", slider)
    readout = slider.find_element(By.CSS_SELECTOR, ".widget-readout")
    before_value, before_images = readout.text, _visible_image_sources(browser)
    assert before_images, "no figure is shown under the slider"
    _screenshot(browser, "mean_teacher_before")
    slider.find_element(By.CSS_SELECTOR, ".noUi-handle").send_keys(Keys.ARROW_RIGHT)
    wait.until(lambda d: readout.text != before_value, message="the slider did not move")
    wait.until(lambda d: _visible_image_sources(d) != before_images,
               message="moving the EMA slider did not change the shown figure")
    _screenshot(browser, "mean_teacher_after")
    _assert_offline(browser, server)


def _slider_images(browser, slider):
    """The src of every image shown (not hidden) in the widget box that holds ``slider`` (its figures)."""
    return browser.execute_script(
        "const box = arguments[0].closest('.widget-vbox') || document;"
        "return Array.from(box.querySelectorAll('img')).filter(e => e.offsetParent !== null).map(e => e.src)",
        slider,
    )


def test_mean_teacher_figure2_is_drawn(browser, server):
    """The Mean Teacher chapter shows the paper's Figure 2, drawn by mtlib.book.figure2 (cell tagged figure2)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    _open(browser, f"{server}/book/mean_teacher.html")
    wait = WebDriverWait(browser, 30)
    images = wait.until(
        lambda d: d.find_elements(By.CSS_SELECTOR, ".cell.tag_figure2 .cell_output img") or False,
        message="the Figure 2 cell (tag figure2) shows no image",
    )
    image = images[0]
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", image)
    wait.until(
        lambda d: d.execute_script("return arguments[0].complete && arguments[0].naturalWidth > 0", image),
        message="the Figure 2 image did not load",
    )
    width, height = browser.execute_script("return [arguments[0].naturalWidth, arguments[0].naturalHeight]", image)
    assert width > 300 and height > 200, f"the Figure 2 image is {width}x{height} pixels"
    assert image.get_attribute("src").startswith((server, "data:")), image.get_attribute("src")
    _screenshot(browser, "mean_teacher_figure2")
    _assert_offline(browser, server)


@pytest.mark.parametrize("label", ["EMA decay", "consistency weight"])
def test_mean_teacher_comparison_slider_switches_its_figure(browser, server, label):
    """Each comparison slider (Mean Teacher vs supervised-only at one value) switches its own figure offline."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    wait, slider = _open_slider_page(browser, f"{server}/book/mean_teacher.html", 2, label)
    browser.execute_script("arguments[0].scrollIntoView({block: 'start'})", slider)
    readout = slider.find_element(By.CSS_SELECTOR, ".widget-readout")
    wait.until(lambda d: len(_slider_images(d, slider)) == 1,
               message=f"the {label!r} slider does not show exactly one figure")
    before_value, before_images = readout.text, _slider_images(browser, slider)
    slider.find_element(By.CSS_SELECTOR, ".noUi-handle").send_keys(Keys.ARROW_RIGHT)
    wait.until(lambda d: readout.text != before_value, message=f"the {label!r} slider did not move")
    wait.until(lambda d: _slider_images(d, slider) not in ([], before_images),
               message=f"moving the {label!r} slider did not switch its figure")
    assert len(_slider_images(browser, slider)) == 1
    _screenshot(browser, f"mean_teacher_{label.replace(' ', '_')}")
    _assert_offline(browser, server)


# the pages whose figures carry the book's verdicts: every figure must load, no cell may show an error
FIGURE_PAGES = {"what_makes_mt_win": 4, "results_tables": 3, "confirmation_bias": 1, "ablations": 3}


@pytest.mark.parametrize("page, min_figures", FIGURE_PAGES.items())
def test_figure_pages_show_every_figure_and_no_error(browser, server, page, min_figures):
    """Every image of the page loads (offline), none is a blank placeholder, and no output is a traceback;
    one screenshot per figure goes to _build/screenshots/<page>-<k>.png for a reader's eye."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    _open(browser, f"{server}/book/{page}.html")
    images = browser.find_elements(By.CSS_SELECTOR, "main .cell_output img")
    assert len(images) >= min_figures, f"{page}: {len(images)} figures, expected at least {min_figures}"
    for k, image in enumerate(images):
        browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", image)
        WebDriverWait(browser, 20).until(
            lambda d: d.execute_script("return arguments[0].complete && arguments[0].naturalWidth > 0", image),
            message=f"{page}: figure {k} did not load")
        width, height = browser.execute_script("return [arguments[0].naturalWidth, arguments[0].naturalHeight]", image)
        assert width > 200 and height > 100, f"{page}: figure {k} is {width}x{height} pixels"
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        image.screenshot(str(SCREENSHOTS / f"{page}-{k}.png"))
    text = browser.find_element(By.CSS_SELECTOR, "main").text
    for bad in ("Traceback (most recent call last)", "AssertionError", "NotChosenYet:"):
        assert bad not in text, f"{page} shows {bad!r}"
    _assert_offline(browser, server)

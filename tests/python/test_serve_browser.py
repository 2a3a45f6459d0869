"""The web page in a real browser: Debian's headless Chromium driven by
Selenium loads `/`, speaks a sentence, and checks that audio came and was
played (Web Audio), that the time to first audio and the RTF are shown, and
saves a screenshot (target/test-artifacts/web_page.png)."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from serve_fixture import ROOT, serve

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"


def browser(profile: str) -> webdriver.Chrome:
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    # A closed network: no background connections, no first-run pages.
    for flag in (
        "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
        "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync",
        "--autoplay-policy=no-user-gesture-required",
        f"--user-data-dir={profile}", "--window-size=1000,900",
    ):
        options.add_argument(flag)
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)


def test_page_speaks_and_plays(tmp_path: Path) -> None:
    if not Path(CHROMIUM).exists() or not Path(CHROMEDRIVER).exists():
        pytest.fail("chromium and chromium-driver are missing: run scripts/setup.sh --with-test-deps")
    with serve(tmp_path) as url, tempfile.TemporaryDirectory() as profile:
        driver = browser(profile)
        try:
            driver.set_page_load_timeout(30)
            driver.get(url + "/")
            wait = WebDriverWait(driver, 60)
            # the voice picker is filled from /v1/voices
            wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#voice option"))
            voice = driver.find_element(By.ID, "voice")
            assert voice.get_attribute("value") == "default"
            text = driver.find_element(By.ID, "text")
            text.clear()
            text.send_keys("Hello from the browser test. The audio starts with this sentence.")
            driver.find_element(By.ID, "speak").click()
            result = wait.until(
                lambda d: d.execute_script(
                    "const r = window.ishowttsLast;"
                    " return r && (r.error || (r.done && r.played > 0)) ? r : null;"
                )
            )
            assert not result["error"], result["error"]
            assert result["samples"] > 22050 * 2, result
            assert 0 < result["ttfa_ms"] < 30000 and result["rtf"] > 0, result
            ttfa = driver.find_element(By.ID, "ttfa").text
            rtf = driver.find_element(By.ID, "rtf").text
            assert ttfa.startswith("first audio: ") and ttfa.endswith(" ms"), ttfa
            assert rtf.startswith("RTF: "), rtf
            shots = ROOT / "target" / "test-artifacts"
            shots.mkdir(parents=True, exist_ok=True)
            assert driver.save_screenshot(str(shots / "web_page.png"))
        finally:
            driver.quit()

"""report.html from real runs (scripted model server, real simulator), opened in a real
headless Chromium (Debian's chromium and chromium-driver, driven by selenium): no console
errors, the first clip becomes playable, the charts are drawn, nothing a controller wrote runs
as script. Runs from before recordings and damaged recordings still get a page, with those
videos marked unavailable."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

import pytest

from loop.commands.report import report_command
from tests.test_replay import REFERENCE, fenced, loop_run

CHROMIUM, DRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
HOSTILE_TEXT = "# </pre><script>window.pwned = 1</script><img src=x onerror='window.pwned=2'>\n"
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1100,1500",
    "--autoplay-policy=no-user-gesture-required",
)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("html")
    broken = HOSTILE_TEXT + REFERENCE.replace("self.speed = 0.6", "self.speed = 0.02")
    good = loop_run(base / "good", [fenced(broken), fenced(REFERENCE)], seeds=2)
    old = base / "old"
    shutil.copytree(good, old)
    for npz in old.glob("iter_*/rollouts.npz"):
        npz.unlink()  # as a run made before recordings
    damaged = base / "damaged"
    shutil.copytree(good, damaged)
    npz = damaged / "iter_002" / "rollouts.npz"
    npz.write_bytes(npz.read_bytes()[:500])
    out = base / "report"
    report_command([good, old, damaged], out=out, speedup=10.0)
    return {"good": good, "old": old, "damaged": damaged, "out": out}


def test_the_page_marks_missing_and_damaged_recordings_and_escapes_code(runs) -> None:
    page = (runs["out"] / "report.html").read_text()
    assert (runs["out"] / "report.md").exists()
    clips = sorted(p.name.rsplit("-seed", 1)[0] for p in (runs["out"] / "clips").iterdir())
    # trial 2 (no recordings) has none; the damaged run (3) only its intact first iteration
    assert clips == [
        "openai-reach-1-iter_001",
        "openai-reach-1-iter_002",
        "openai-reach-3-iter_001",
    ]
    assert page.count('<video controls preload="none"') == 3
    assert page.count("video unavailable") == 3
    assert "no recorded rollouts" in page or "has no rollouts.npz" in page
    assert "damaged or truncated" in page and "--record" in page
    assert "<script" not in page and "&lt;script&gt;" in page
    assert "Feedback the model read next" in page and "diff against iteration 1" in page
    assert '<span class="del">-        self.speed = 0.02' in page


def chromium_or_skip() -> None:
    if CHROMIUM.exists() and DRIVER.exists():
        return
    reason = "Debian's chromium and chromium-driver are not installed (.ci/run installs them)"
    if os.environ.get("CI"):
        pytest.fail(reason + "; CI must run this test")
    pytest.skip(reason)


def test_report_html_in_headless_chromium(runs) -> None:
    chromium_or_skip()
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = str(CHROMIUM)
    for flag in FLAGS:
        options.add_argument(flag)
    profile = tempfile.mkdtemp(prefix="armloop-chromium-")
    options.add_argument(f"--user-data-dir={profile}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(str(DRIVER)), options=options)
    try:
        driver.get((runs["out"] / "report.html").as_uri())
        assert driver.title == "armloop report"
        state = driver.execute_script(
            "const v = document.querySelector('video'); v.muted = true; v.load();"
            "v.play().catch(e => { window.playError = String(e); });"
            "return [v.readyState, v.networkState];"
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            state = driver.execute_script(
                "const v = document.querySelector('video');"
                "return [v.readyState, v.error ? v.error.code : null, window.playError || null,"
                " v.videoWidth, v.videoHeight, v.duration];"
            )
            if state[0] >= 2 or state[1] is not None:
                break
            time.sleep(0.1)
        assert state[0] >= 2 and state[1] is None, state  # HAVE_CURRENT_DATA or better
        assert state[3:5] == [640, 480] and state[5] > 3
        charts = driver.execute_script(
            "return [...document.querySelectorAll('svg.chart')].map(s => {"
            " const r = s.getBoundingClientRect();"
            " const d = s.closest('details');"
            " return [r.width, r.height, d ? d.open : true,"
            "  s.querySelectorAll('rect, circle').length]; });"
        )
        assert len(charts) >= 1 + 2 * 3  # the backends, then stages and scores per run
        assert all(w > 100 and h > 50 and shown and n > 0 for w, h, shown, n in charts), charts
        assert driver.execute_script("return document.querySelectorAll('script').length") == 0
        assert driver.execute_script("return window.pwned === undefined")
        driver.save_screenshot(str(runs["out"] / "screenshot.png"))
        errors = [e for e in driver.get_log("browser") if e["level"] in ("SEVERE", "ERROR")]
        assert errors == []
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
    assert (runs["out"] / "screenshot.png").stat().st_size > 10_000

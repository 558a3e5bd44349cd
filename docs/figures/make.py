"""Remake the README's replay figures: a rollout GIF and a screenshot of report.html.

    .venv/bin/python docs/figures/make.py [OUT]     # OUT: a scratch folder (default: a temp one)

The GIF: tasks/reference/push.py recorded by `armloop eval --record`, replayed by
`armloop replay --out ...gif --size 400x300`. The screenshot: a two-iteration `armloop run
--video` against a scripted model server (a slow first controller, then the reference), its
`armloop report`, opened in headless Chromium with the first clip paused at 1.5 s.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from pathlib import Path

from typer.testing import CliRunner

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from loop.cli import app  # noqa: E402
from loop.commands.run import run_command  # noqa: E402
from loop.run.setup import BackendChoice  # noqa: E402
from loop.testing.scripted_server import ScriptedServer  # noqa: E402

FIGURES = ROOT / "docs" / "figures"


def cli(*args: str) -> None:
    result = CliRunner().invoke(app, list(args))
    print(result.output)
    if result.exit_code not in (0, 1):
        raise SystemExit(f"armloop {' '.join(args)} failed")


def gif(work: Path) -> None:
    folder = work / "push"
    folder.mkdir(parents=True, exist_ok=True)
    ref = ROOT / "tasks" / "reference" / "push.py"
    cli(
        "eval",
        "push",
        "--controller",
        str(ref),
        "--seeds",
        "3",
        "--record",
        str(folder / "rollouts.npz"),
    )
    cli(
        "replay",
        str(folder),
        "--seed",
        "2",
        "--size",
        "400x300",
        "--fps",
        "15",
        "--out",
        str(FIGURES / "replay_push.gif"),
    )


def screenshot(work: Path) -> None:
    reference = (ROOT / "tasks" / "reference" / "reach.py").read_text()
    slow = reference.replace("self.speed = 0.6", "self.speed = 0.05")
    replies = [f"```python\n{code}```" for code in (slow, reference)]
    run = work / "run"
    shutil.rmtree(run, ignore_errors=True)
    with ScriptedServer(replies, tokens_per_s=60, first_token_delay=0.4) as server:
        run_command(
            "reach",
            choice=BackendChoice(name="openai", model="scripted", base_url=server.url),
            max_iters=2,
            seeds=3,
            out=run,
            resume=None,
            video=True,
        )
    cli("report", str(run), "--speedup", "15")
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = "/usr/bin/chromium"
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--window-size=1000,1900",
        f"--user-data-dir={tempfile.mkdtemp()}",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    try:
        driver.get((run / "report.html").as_uri())
        driver.execute_script(
            "const v = document.querySelector('video'); v.muted = true; v.load();"
            "v.addEventListener('loadeddata', () => { v.currentTime = 1.5; }, {once: true});"
        )
        time.sleep(3)
        driver.save_screenshot(str(work / "report.png"))
    finally:
        driver.quit()
    from PIL import Image

    Image.open(work / "report.png").convert("RGB").resize((800, 1520)).save(
        FIGURES / "report_html.png", optimize=True
    )


if __name__ == "__main__":
    scratch = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp())
    gif(scratch)
    screenshot(scratch)
    for name in ("replay_push.gif", "report_html.png"):
        print(FIGURES / name, (FIGURES / name).stat().st_size, "bytes")

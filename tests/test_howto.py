"""The README's how-to, done as a reader would: the "Adding a task" spec, copied out of the
README into a file, loads and is solved by the reference reach controller."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def readme_spec() -> str:
    """The indented block under '# tasks/reach_high.toml' in the README, dedented."""
    text = (ROOT / "README.md").read_text()
    block = text.split("    # tasks/reach_high.toml\n", 1)[1].split("\n\n    [", 1)
    body = block[0] + "\n\n    [" + block[1].split("\n\n", 1)[0]
    for _ in range(3):  # the block has three [tables]; take them all
        rest = text.split(body, 1)[1]
        if not rest.startswith("\n\n    ["):
            break
        body += "\n\n" + rest[2:].split("\n\n", 1)[0]
    return "\n".join(line[4:] for line in body.splitlines()) + "\n"


def test_the_readme_task_example_loads_and_is_solvable(tmp_path: Path):
    spec = tmp_path / "reach_high.toml"
    spec.write_text(re.sub(r"\s+# .*", "", readme_spec()))
    result = subprocess.run(
        [sys.executable, "-m", "loop.cli", "eval", str(spec), "--controller",
         str(ROOT / "tasks" / "reference" / "reach.py"), "-n", "3"],
        capture_output=True, text=True, timeout=300, cwd=ROOT,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3/3 seeds succeeded" in result.stdout

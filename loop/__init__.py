"""armloop: time the generate, load, simulate, score, feedback loop of AI-written controllers."""

from pathlib import Path

__version__ = "0.1.0"

#: the project root (holds tasks/, sim_assets/); the Makefile installs the package editable
ROOT = Path(__file__).resolve().parent.parent
TASKS_DIR = ROOT / "tasks"
ASSETS_DIR = ROOT / "sim_assets"

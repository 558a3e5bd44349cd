"""A run: its setup (setup.py), the loop (loop.py), the timed stages it shares with watch mode
(stages.py), the run directory (rundir.py), prompts (prompting.py, prompts/) and extraction."""

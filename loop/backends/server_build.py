"""llama.cpp's own server (`llama-server`), built from the sources llama-cpp-python vendors.

llama-cpp-python's sdist carries the llama.cpp tree it was released with
(`vendor/llama.cpp`), so the embedded model needs no other download: `pip download` fetches
the sdist of the pinned version (from the package registry, like everything else), cmake
builds the `llama-server` target with the same portable CPU flags as the Makefile's
llama-cpp-python build (a native build crashes in ggml's AMX path on some CPUs), and the
binary is kept in the cache under a name that holds the version and the flags:

    <cache>/bin/llama-server-0.3.36-<flags hash>/llama-server

`$ARMLOOP_LLAMA_SERVER` names another llama-server binary to use instead (one a user built
for a GPU, say); nothing is built then. The build takes a few minutes on 2 cores and is done
once, by `make model` (`armloop model server`), or on first use.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

from loop.backends.model_files import cache_dir
from loop.errors import BackendError

LLAMA_CPP_PYTHON = "0.3.36"
CMAKE_FLAGS = (
    "-DCMAKE_BUILD_TYPE=Release",
    "-DGGML_NATIVE=OFF",
    "-DGGML_AVX=ON",
    "-DGGML_AVX2=ON",
    "-DGGML_FMA=ON",
    "-DGGML_F16C=ON",
    "-DBUILD_SHARED_LIBS=OFF",
    "-DLLAMA_CURL=OFF",
    "-DLLAMA_BUILD_TESTS=OFF",
    "-DLLAMA_BUILD_EXAMPLES=OFF",
)
ENV_BINARY = "ARMLOOP_LLAMA_SERVER"
Progress = Callable[[str, float | None], None]


def binary_path() -> Path:
    """Where the built llama-server lives (it may not exist yet)."""
    tag = hashlib.sha256(" ".join(CMAKE_FLAGS).encode()).hexdigest()[:10]
    return cache_dir() / "bin" / f"llama-server-{LLAMA_CPP_PYTHON}-{tag}" / "llama-server"


def find_server() -> Path | None:
    """$ARMLOOP_LLAMA_SERVER if set, else the built binary if present, else None."""
    override = os.environ.get(ENV_BINARY)
    if override:
        path = Path(override).expanduser()
        if not (path.is_file() and os.access(path, os.X_OK)):
            raise BackendError(
                f"${ENV_BINARY} names {path}, which is not an executable file",
                f"point ${ENV_BINARY} at a llama-server binary, or unset it to use armloop's",
            )
        return path
    path = binary_path()
    return path if path.is_file() else None


def ensure_server(progress: Progress | None = None) -> Path:
    """The llama-server binary, built first if needed (one build at a time: a lock)."""
    found = find_server()
    if found is not None:
        return found
    target = binary_path()
    with _locked(target.parent.with_suffix(".lock")):
        if not target.is_file():
            build_server(target, progress or (lambda what, done: None))
    return target


def build_server(target: Path, progress: Progress) -> None:
    """Fetch the sdist, configure and build `llama-server`, install it at `target`."""
    for tool in ("cmake", "c++"):
        if shutil.which(tool) is None:
            raise BackendError(
                f"building llama-server needs `{tool}`, which is not on PATH",
                "install cmake and a C++ compiler (Debian: apt-get install cmake g++)",
            )
    with tempfile.TemporaryDirectory(prefix="armloop-llama-") as tmp:
        work = Path(tmp)
        log = cache_dir() / "logs" / "llama-server-build.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        progress(f"fetching llama-cpp-python {LLAMA_CPP_PYTHON}'s sources", None)
        source = _vendored_llama_cpp(_download_sdist(work, log), work)
        build = work / "build"
        progress("configuring llama.cpp (cmake)", 0.0)
        _run(["cmake", "-S", str(source), "-B", str(build), *CMAKE_FLAGS], log)
        jobs = str(os.cpu_count() or 1)
        command = ["cmake", "--build", str(build), "--target", "llama-server", "-j", jobs]
        _run(command, log, on_line=lambda line: _report_percent(line, progress))
        built = build / "bin" / "llama-server"
        if not built.is_file():
            raise BackendError(
                f"the llama-server build finished without {built}; see {log}",
                "read the log; `armloop model server` builds it again",
            )
        target.parent.mkdir(parents=True, exist_ok=True)
        staged = target.with_suffix(".partial")
        shutil.copy2(built, staged)
        staged.replace(target)
        progress(f"built {target}", 1.0)


def _download_sdist(work: Path, log: Path) -> Path:
    command = [
        sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
        "-d", str(work), f"llama-cpp-python=={LLAMA_CPP_PYTHON}",
    ]  # fmt: skip
    _run(command, log)
    found = sorted(work.glob("llama_cpp_python-*.tar.gz"))
    if not found:
        raise BackendError(
            f"pip download left no llama-cpp-python sdist in {work}; see {log}",
            "check that the package registry is reachable (pip download works)",
        )
    return found[0]


def _vendored_llama_cpp(sdist: Path, work: Path) -> Path:
    prefix = f"llama_cpp_python-{LLAMA_CPP_PYTHON}/vendor/llama.cpp/"
    with tarfile.open(sdist) as tar:
        members = [m for m in tar.getmembers() if m.name.startswith(prefix)]
        tar.extractall(work / "src", members=members, filter="data")
    source = work / "src" / prefix
    if not (source / "tools" / "server").is_dir():
        raise BackendError(
            f"{sdist.name} has no vendor/llama.cpp/tools/server",
            f"armloop expects llama-cpp-python {LLAMA_CPP_PYTHON}'s sdist",
        )
    return source


def _run(command: list[str], log: Path, on_line: Callable[[str], None] | None = None) -> None:
    with log.open("a") as out:
        out.write(f"$ {' '.join(command)}\n")
        out.flush()
        proc = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            stdin=subprocess.DEVNULL,
        )  # fmt: skip
        assert proc.stdout is not None
        for line in proc.stdout:
            out.write(line)
            if on_line is not None:
                on_line(line)
        code = proc.wait()
    if code != 0:
        tail = "\n".join("    " + line for line in log.read_text().splitlines()[-12:])
        raise BackendError(
            f"`{' '.join(command[:3])} ...` failed (exit {code}); last lines of {log}:\n{tail}",
            "read the log; `armloop model server` tries the build again",
        )


_PERCENT = re.compile(r"^\[\s*(\d+)%\]")


def _report_percent(line: str, progress: Progress) -> None:
    match = _PERCENT.match(line)
    if match:
        progress("building llama-server", int(match.group(1)) / 100)


@contextmanager
def _locked(path: Path):
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield

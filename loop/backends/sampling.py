"""Sampling parameters sent in every request body, so that a reply does not depend on a
server's own defaults.

    Sampling(top_p=0.95, repeat_penalty=1.1).sent()   # {"top_p": 0.95, "repeat_penalty": 1.1}

Only the parameters that are set are sent (OpenAI itself refuses names it does not know, such
as top_k). Temperature is not here: it is BackendConfig.temperature (and a request's own).
A profile gives them as a `[backends.NAME.sampling]` table; `sampling_from_table` refuses an
unknown name, saying which names are allowed.

EMBEDDED_SAMPLING is llama-cpp-python's server defaults written out (llama_cpp/server/types.py
of llama-cpp-python 0.3.36: top_p_field default=0.95, top_k_field default=40, min_p_field
default=0.05, repeat_penalty_field default=1.1, presence_penalty_field default=0.0,
frequency_penalty_field default=0.0), the sampling the embedded model was tuned and measured
with. llama.cpp's own server agrees on top_p, top_k and min_p but applies no repeat penalty
(penalty_repeat = 1.00): served that way the embedded model repeated two lines to the token
cap. Sending them explicitly gives the same sampling whichever server runs the model.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from loop.errors import BackendError

# name -> (low, high, integer?)
_RANGES: dict[str, tuple[float, float | None, bool]] = {
    "top_p": (0.0, 1.0, False),
    "top_k": (0, None, True),
    "min_p": (0.0, 1.0, False),
    "repeat_penalty": (0.0, None, False),
    "presence_penalty": (-2.0, 2.0, False),
    "frequency_penalty": (-2.0, 2.0, False),
}


def _check(where: str, name: str, value: object) -> None:
    low, high, integer = _RANGES[name]
    if integer:
        ok = isinstance(value, int) and not isinstance(value, bool)
        want = f"an integer >= {low}"
    else:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        want = f"a number from {low} to {high}" if high is not None else f"a number >= {low}"
    ok = ok and value >= low and (high is None or value <= high)  # type: ignore[operator]
    if not ok:
        raise BackendError(f"{where}: {name} = {value!r} is not {want}", f"make {name} {want}")


@dataclass(frozen=True)
class Sampling:
    """Extra sampling parameters; None: not sent (the server's own default applies)."""

    top_p: float | None = None
    top_k: int | None = None
    min_p: float | None = None
    repeat_penalty: float | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None

    def __post_init__(self) -> None:
        for name, value in self.sent().items():
            _check("Sampling", name, value)

    def sent(self) -> dict[str, float | int]:
        """The parameters that are set, in the order above, as they go in a request body."""
        values = ((f.name, getattr(self, f.name)) for f in fields(self))
        return {name: value for name, value in values if value is not None}


ALLOWED = tuple(f.name for f in fields(Sampling))

EMBEDDED_SAMPLING = Sampling(
    top_p=0.95,
    top_k=40,
    min_p=0.05,
    repeat_penalty=1.1,
    presence_penalty=0.0,
    frequency_penalty=0.0,
)


def sampling_from_table(where: str, table: object) -> Sampling:
    """A profile's sampling table; `where` names it in errors (`FILE [backends.NAME.sampling]`)."""
    if not isinstance(table, dict):
        raise BackendError(
            f"{where} is not a table", f"write it as a table of {', '.join(ALLOWED)}"
        )
    unknown = sorted(set(table) - set(ALLOWED))
    if unknown:
        fix = f"allowed sampling parameters: {', '.join(ALLOWED)}"
        if "temperature" in unknown:
            fix += "; temperature is set on the profile itself (temperature = 0.2)"
        raise BackendError(
            f"{where}: unknown sampling parameter{'s' if len(unknown) > 1 else ''} "
            f"{', '.join(unknown)}",
            fix,
        )
    for name, value in table.items():
        _check(where, name, value)
    return Sampling(**table)

"""What the controller child sends is untrusted input to the trusted sim worker.

The frame decoder and the action validator are fuzzed with hypothesis (the real functions):
any bytes decode to a value or a WireError, any value validates to an Action or an
ActionError, and describing it for the feedback never raises. Then controllers write their
own reply frames on the reply pipe (its fd is in the child's argv), through a bare
ControllerProcess and through a real sim worker: each ends as a failure or a refused action
with a clear message, and the worker that ran it lives on (no "worker replaced").
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from loop.sandbox import wire
from loop.sandbox.host import FAILURE_KINDS, ControllerFailure
from loop.sandbox.text import printable
from loop.sim.evaluator import Evaluator
from loop.task.catalog import load_task
from loop.task.contract import Action, ActionError, validate_action
from loop.task.describe import describe_action
from robots import robot_info
from tests.sandbox_helpers import run

PANDA = robot_info("panda", 1 / 30)
MODES = ("ee_pos", "q", "dq")
BIG = "9" * 400
FUZZ = settings(
    max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)

# -- values: what JSON can carry, plus what an in-process dict could hold -------------------

huge_ints = st.builds(
    lambda digits, sign: sign * 10**digits, st.integers(309, 1200), st.sampled_from([1, -1])
)
scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | huge_ints
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12)
)
json_values = st.recursive(
    scalars,
    lambda kids: (
        st.lists(kids, max_size=8) | st.dictionaries(st.text(max_size=6), kids, max_size=4)
    ),
    max_leaves=24,
)
action_keys = st.sampled_from(["q", "dq", "tau", "ee_pos", "ee_quat", "gripper"]) | st.text(
    max_size=6
)
numberish = st.floats(-2, 2) | st.integers(-3, 3) | huge_ints | st.booleans() | st.text(max_size=3)
near_actions = st.fixed_dictionaries(
    {"ee_pos": st.lists(numberish, min_size=3, max_size=3)},
    optional={
        "gripper": numberish | st.lists(numberish, max_size=2),
        "ee_quat": st.none() | st.lists(numberish, min_size=4, max_size=4),
    },
) | st.fixed_dictionaries({"q": st.lists(numberish, min_size=7, max_size=7)})
odd_keys = st.integers() | st.none() | st.tuples(st.integers()) | st.floats() | action_keys
actions = (
    st.dictionaries(action_keys, json_values, max_size=4)
    | near_actions
    | st.dictionaries(odd_keys, json_values, max_size=3)
    | json_values
)


def check_action(action: object) -> Action | None:
    """validate_action and the feedback's description are total: an Action (finite, the
    right shape) or an ActionError with a message, never anything else."""
    describe_action(action)
    try:
        result = validate_action(action, PANDA, MODES)
    except ActionError as exc:
        assert str(exc)
        return None
    assert isinstance(result, Action)
    assert result.values.dtype == np.float64 and np.all(np.isfinite(result.values))
    if result.gripper is not None:
        assert isinstance(result.gripper, float) and math.isfinite(result.gripper)
    return result


@FUZZ
@given(actions)
def test_validate_action_is_total(action: object) -> None:
    check_action(action)


@pytest.mark.parametrize(
    "action, needle",
    [
        ({"ee_pos": [10**400, 0.0, 0.3]}, "too large for a float"),
        ({"ee_pos": [0.4, 0.0, 0.3], "gripper": 10**400}, "too large for a float"),
        ({"ee_pos": [0.4, 0.0, 0.3], "gripper": [-(10**400)]}, "too large for a float"),
        ({"ee_pos": [0.4, 0.0, 0.3], "ee_quat": [0, 0, 0, 10**400]}, "too large for a float"),
        ({"q": [0.0] * 6 + [10**5000]}, "too large for a float"),
        ({"ee_pos": [True, False, True]}, "bool"),
        ({"ee_pos": [0.4, 0.0, 0.3], "gripper": True}, "bool"),
        ({"ee_pos": ["0.4", "0", "0.3"]}, "str"),
        ({"ee_pos": [0.4, 0.0, 0.3], "gripper": "0.04"}, "str"),
        ({"ee_pos": {"x": 0.4}}, "dict"),
        ({"ee_pos": [[[[0.4]]], 0.0, 0.3]}, "ee_pos"),
        ({"ee_pos": [0.4, None, 0.3]}, "None"),
        ({1: [0.0] * 7, "q": [0.0] * 7}, "keys must be strings"),
        ({("q",): [0.0] * 7}, "keys must be strings"),
    ],
)
def test_values_no_float_holds_are_bad_actions(action: dict, needle: str) -> None:
    with pytest.raises(ActionError) as info:
        validate_action(action, PANDA, MODES)
    assert needle in str(info.value)
    assert len(describe_action(action)) < 1000


def nested(depth: int) -> list:
    value: list = [0.0]
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize("depth", [2, 40, 500])
def test_deeply_nested_values_are_bad_actions(depth: int) -> None:
    action = json.loads(json.dumps({"ee_pos": nested(depth)}))
    with pytest.raises(ActionError):
        validate_action(action, PANDA, MODES)
    describe_action(action)


def test_valid_actions_still_pass() -> None:
    action = validate_action({"ee_pos": np.array([0.4, 0.0, 0.3]), "gripper": [0.04]}, PANDA, MODES)
    assert action.values.tolist() == [0.4, 0.0, 0.3] and action.gripper == 0.04
    action = validate_action({"q": [0, 1, 2, 3, 4, 5, np.float32(6)]}, PANDA, MODES)
    assert action.values.tolist() == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0]


# -- frames ---------------------------------------------------------------------------------


@FUZZ
@given(st.binary(max_size=400))
def test_decode_is_total(body: bytes) -> None:
    try:
        wire.decode(body)
    except wire.WireError:
        pass


def _frame(body: bytes) -> bytes:
    return wire.HEADER.pack(len(body)) + body


json_bodies = json_values.map(lambda v: json.dumps(v).encode())
chunks = (
    st.binary(max_size=64)
    | json_bodies.map(_frame)
    | st.builds(lambda n, body: wire.HEADER.pack(n) + body, st.integers(0, 2**32 - 1), st.binary())
    | st.binary(max_size=40).map(_frame)
)


@FUZZ
@given(st.lists(chunks, max_size=8))
def test_frame_buffer_is_total(stream: list[bytes]) -> None:
    """Any byte stream, cut anywhere: whole frames, 'not yet', or a WireError."""
    buf = wire.FrameBuffer()
    for chunk in stream:
        for i in range(0, len(chunk), 7):
            buf.feed(chunk[i : i + 7])
            while True:
                try:
                    done, _ = buf.pop()
                except wire.WireError:
                    return
                if not done:
                    break


@pytest.mark.parametrize(
    "body",
    [
        '{"ok": true}'.encode("utf-16"),
        '{"ok": true}'.encode("utf-32-be"),
        b'\xef\xbb\xbf{"ok": true}',  # a byte order mark
        b'{"ok": true, "value": "\xed\xa0\x80"}',  # a UTF-8-encoded surrogate
        b'{"ok": true, "value": "\xff"}',
        b"[" * 100_000 + b"]" * 100_000,
        b"1" * 5000,
        b"",
    ],
    ids=["utf16", "utf32", "bom", "surrogate", "not_utf8", "deep", "digits", "empty"],
)
def test_frames_that_are_not_utf8_json_are_wire_errors(body: bytes) -> None:
    with pytest.raises(wire.WireError):
        wire.decode(body)


# -- controllers that write their own reply frames ------------------------------------------

WRITER = """
import os
import struct
import sys

FD = int(sys.argv[3])  # python -c BOOTSTRAP REPO FD_IN FD_OUT CONFIG


def frame(body):
    return struct.pack(">I", len(body)) + body


class Controller:
    def __init__(self, robot):
        pass

    def step(self, obs):
        os.write(FD, {data})
        {after}
"""


def reply(obj: object) -> str:
    return f"frame({json.dumps(obj, separators=(',', ':')).encode()!r})"


def raw(text: str) -> str:
    return f"frame({text.encode()!r})"


HOLD = 'return {"q": [0.0] * 7}'
EXIT = "os._exit(3)"
# id, the bytes the controller writes (an expression), then, episode kind, words in the message
FRAMES = [
    ("huge_ee_pos", raw(f'{{"ok":true,"value":{{"ee_pos":[{BIG},0,0.3]}}}}'), HOLD,
     "bad_action", "too large for a float"),
    ("huge_gripper", raw(f'{{"ok":true,"value":{{"ee_pos":[0.4,0,0.3],"gripper":{BIG}}}}}'),
     HOLD, "bad_action", "too large for a float"),
    ("huge_quat", raw(f'{{"ok":true,"value":{{"ee_pos":[0.4,0,0.3],"ee_quat":[0,0,0,-{BIG}]}}}}'),
     HOLD, "bad_action", "too large for a float"),
    ("bools", reply({"ok": True, "value": {"ee_pos": [True, False, True], "gripper": True}}),
     HOLD, "bad_action", "bool"),
    ("strings", reply({"ok": True, "value": {"ee_pos": ["0.4", "0", "0.3"]}}), HOLD,
     "bad_action", "str"),
    ("dict_value", reply({"ok": True, "value": {"ee_pos": {"x": 0.4}, "gripper": {}}}), HOLD,
     "bad_action", "dict"),
    ("nested_value", reply({"ok": True, "value": {"ee_pos": [[[[0.4]]], 0, 0.3]}}), HOLD,
     "bad_action", "ee_pos"),
    ("deep_value", reply({"ok": True, "value": {"ee_pos": nested(400)}}), HOLD,
     "bad_action", "ee_pos"),
    ("nan_literal", raw('{"ok":true,"value":{"ee_pos":[NaN,Infinity,-Infinity]}}'), HOLD,
     "bad_action", "NaN or inf"),
    ("value_not_a_dict", reply({"ok": True, "value": [1, 2, 3]}), HOLD, "bad_action",
     "not a dict"),
    ("value_missing", reply({"ok": True}), HOLD, "bad_action", "not a dict"),
    ("reply_not_a_dict", reply([1, 2, 3]), HOLD, "crash", "malformed reply"),
    ("failure_wrong_types", reply({"ok": False, "kind": ["x"], "message": {"m": 1},
                                   "traceback": 7}), HOLD, "crash", "unknown failure kind"),
    ("failure_claims_kind", reply({"ok": False, "kind": "success", "message": "all good"}),
     HOLD, "crash", "unknown failure kind"),
    ("failure_with_escapes", reply({"ok": False, "kind": "exception",
                                    "message": "\x1b[2J\ud800 boom\r", "traceback": "\x07"}),
     HOLD, "exception", "boom"),
    ("deep_frame", raw('{"ok":true,"value":' + "[" * 100_000 + "]" * 100_000 + "}"), HOLD,
     "crash", "protocol error"),
    ("too_many_digits", raw(f'{{"ok":true,"value":{{"gripper":{"9" * 5000}}}}}'), HOLD,
     "crash", "protocol error"),
    ("invalid_utf8", 'frame(b\'{"ok":true,"value":"\\xff\\xfe"}\')', HOLD, "crash",
     "protocol error"),
    ("utf16", f"frame({json.dumps({'ok': True, 'value': {'q': [0] * 7}}).encode('utf-16')!r})",
     HOLD, "crash", "protocol error"),
    ("empty_frame", "frame(b'')", HOLD, "crash", "protocol error"),
    ("oversized_length", "struct.pack('>I', 0xFFFFFFFF) + b'{}'", HOLD, "crash",
     "protocol error"),
    ("truncated", "struct.pack('>I', 1000) + b'{\"ok\":true'", EXIT, "crash", "exited"),
]  # fmt: skip
IDS = [f[0] for f in FRAMES]


def writer(data: str, after: str) -> str:
    return WRITER.format(data=data, after=after)


@pytest.mark.parametrize("name, data, after, kind, needle", FRAMES, ids=IDS)
def test_host_turns_raw_frames_into_failures_or_values(
    name: str, data: str, after: str, kind: str, needle: str
) -> None:
    """A bare ControllerProcess: a value (for the validator to refuse) or a ControllerFailure
    of a known kind with a printable message, nothing else."""
    out = run(writer(data, after), steps=1)
    if kind == "bad_action":
        assert out.kind == "action", out.text()
        with pytest.raises(ActionError) as info:
            validate_action(out.action, PANDA, MODES)
        assert needle in str(info.value)
    else:
        assert out.kind == kind, out.text()
        assert needle in out.failure.message, out.text()
    if out.failure:
        assert out.failure.kind in FAILURE_KINDS
        for text in (out.failure.message, out.failure.traceback):
            assert text == printable(text)


@pytest.fixture(scope="module")
def evaluator():
    with Evaluator(load_task("reach"), workers=1) as ev:
        yield ev


def worker_pid(ev: Evaluator) -> int:
    return ev.pool.workers[0].proc.pid


@pytest.mark.parametrize("name, data, after, kind, needle", FRAMES, ids=IDS)
def test_raw_frames_end_the_episode_and_the_worker_survives(
    evaluator: Evaluator, name: str, data: str, after: str, kind: str, needle: str
) -> None:
    pid = worker_pid(evaluator)
    assert evaluator.load(writer(data, after), f"{name}.py").ok
    (record,) = evaluator.simulate([0])
    failure = record.failure or {}
    assert failure.get("kind") == kind, failure
    assert needle in failure["message"], failure
    assert "worker" not in failure["message"], failure
    assert worker_pid(evaluator) == pid, "the sim worker was replaced"
    for text in (failure["message"], failure["traceback"], record.output):
        assert text == printable(text)


@pytest.mark.parametrize(
    "stem, needle",
    [
        ("huge_int_ee_pos", "action key 'ee_pos' holds an int too large for a float"),
        ("huge_int_gripper", "action key 'gripper' is an int too large for a float"),
        ("raw_reply_frame", "too large for a float"),
    ],
)
def test_hostile_huge_ints_are_bad_actions_in_a_live_worker(
    evaluator: Evaluator, stem: str, needle: str
) -> None:
    from tests.test_sandbox_hostile import HOSTILE

    pid = worker_pid(evaluator)
    assert evaluator.load((HOSTILE / f"{stem}.py").read_text(), f"{stem}.py").ok
    records = evaluator.simulate([0, 1])
    assert needle in records[0].failure["message"], records[0].failure
    for record in records:  # raw_reply_frame's seed 1 reads its own stale replies: any action
        assert record.failure["kind"] == "bad_action", record.failure
        assert "worker replaced" not in record.failure["message"]
    assert worker_pid(evaluator) == pid, "the sim worker was replaced"


def test_the_worker_still_runs_honest_code(evaluator: Evaluator) -> None:
    from tests.simhelpers import REFERENCE

    assert evaluator.load((REFERENCE / "reach.py").read_text()).ok
    (record,) = evaluator.simulate([0])
    assert record.failure is None


def test_host_failures_are_controller_failures_only() -> None:
    """Sanity for the fixtures above: the failure kinds are the documented ones."""
    assert set(FAILURE_KINDS) == {"load", "exception", "timeout", "crash", "bad_action", "output"}
    assert ControllerFailure("crash", "x").to_dict()["kind"] in FAILURE_KINDS

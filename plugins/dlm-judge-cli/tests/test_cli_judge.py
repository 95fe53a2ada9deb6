"""The ``cli`` judge against real judge programs: the contract and every way it can fail."""

from __future__ import annotations

import contextlib
import importlib.metadata
import os
import re
import shlex
import shutil
import signal
import stat
import subprocess
import sys
import threading
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import pytest

from dlm_core.errors import JudgeError
from dlm_core.plugins import PluginHost
from dlm_core.protocols import Judge

PROMPT = "How should release notes read?"
CANDIDATES = [
    "Short.",
    "Short, factual, and low-drama.",
    "Release notes should be long and thorough.",
]

Script = Callable[[str, str], str]


def alive(pid: int) -> bool:
    """Whether ``pid`` is a running process (a zombie waiting for its reaper is not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    except OSError:  # no /proc here: ask the kernel
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True
    return state not in ("Z", "X")


def all_gone(pids: list[int], within: float = 3.0) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if not any(alive(pid) for pid in pids):
            return True
        time.sleep(0.05)
    return False


def finished_in(folder: Path) -> list[str]:
    """Markers that processes write when they reach the end of their long sleep.

    A test that expects a process to be stopped (not waited for) checks that
    none was written: no wall-clock bound is needed to tell the two apart.
    """
    return sorted(p.name for p in folder.glob("*.finished"))


# Appended to a judge (or its child): sleep long, then say so, which a stopped process never does.
SLEEP_THEN_MARK = "time.sleep(60); open({folder!r} + '/%d.finished' % os.getpid(), 'w').close()"


def pids_in(folder: Path) -> list[int]:
    return [int(text) for p in sorted(folder.glob("*.pid")) if (text := p.read_text().strip())]


def failure(host: PluginHost, selector: str, context, candidates: list[str] = CANDIDATES) -> str:  # type: ignore[no-untyped-def]
    judge = host.judge(selector, context)
    with pytest.raises(JudgeError) as caught:
        judge.score(PROMPT, candidates)
    message = str(caught.value)
    assert "\n" not in message, message
    assert message.startswith(f"judge command {selector[4:]!r} failed on candidate ")
    return message


# -- the contract -----------------------------------------------------------------


def test_a_good_judge_scores_each_candidate_in_order(
    host: PluginHost, terse_judge: str, make_context
) -> None:  # type: ignore[no-untyped-def]
    judge = host.judge(terse_judge, make_context())
    assert isinstance(judge, Judge)
    assert judge.score(PROMPT, CANDIDATES) == [-float(len(c)) for c in CANDIDATES]
    assert judge.last_reasonings == [f"{len(c)} characters" for c in CANDIDATES]  # type: ignore[attr-defined]
    assert judge.score(PROMPT, []) == []


def test_name_and_default_threshold(host: PluginHost, terse_judge: str, make_context) -> None:  # type: ignore[no-untyped-def]
    judge = host.judge(terse_judge, make_context())
    assert judge.name == terse_judge
    assert judge.default_threshold == 0.0


def test_the_command_gets_prompt_and_candidate_as_json_on_stdin(
    host: PluginHost, judge_script: Script, make_context, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    seen = tmp_path / "seen"
    seen.mkdir()
    selector = judge_script(
        "echo",
        f"""
        import json, sys, uuid
        raw = sys.stdin.read()
        open({str(seen)!r} + "/" + uuid.uuid4().hex, "w").write(raw)
        print('{{"score": 1}}')
    """,
    )
    candidates = ["plain", 'ünïcode ✓ and "quotes"\n\n### A\nmore', "x" * 300_000]
    assert host.judge(selector, make_context()).score(PROMPT, candidates) == [1.0, 1.0, 1.0]
    import json

    received = [(f.read_text(), json.loads(f.read_text())) for f in seen.iterdir()]
    assert sorted(r["candidate"] for _raw, r in received) == sorted(candidates)
    assert all(r == {"prompt": PROMPT, "candidate": r["candidate"]} for _raw, r in received)
    assert all(
        raw.isascii() and raw.endswith("}\n") and raw.count("\n") == 1 for raw, _r in received
    )


def test_integer_scores_other_keys_and_a_missing_reasoning_are_fine(
    host: PluginHost, judge_script: Script, make_context
) -> None:  # type: ignore[no-untyped-def]
    selector = judge_script(
        "sparse",
        """
        import json, sys
        n = len(json.load(sys.stdin)["candidate"])
        print(json.dumps({"score": n, "model": "gpt-x"}) if n % 2 else json.dumps({"score": n / 2, "reasoning": None}))
    """,
    )
    judge = host.judge(selector, make_context())
    assert judge.score(PROMPT, ["abc", "abcd"]) == [3.0, 2.0]
    assert judge.last_reasonings == [None, None]  # type: ignore[attr-defined]


def test_a_judge_that_ignores_stdin_still_counts(
    host: PluginHost, judge_script: Script, make_context
) -> None:  # type: ignore[no-untyped-def]
    selector = judge_script("deaf", "print('{\"score\": 0.5}')")
    assert host.judge(selector, make_context()).score(PROMPT, ["a", "b" * 1_000_000]) == [0.5, 0.5]


def test_candidates_run_concurrently(host: PluginHost, judge_script: Script, make_context) -> None:  # type: ignore[no-untyped-def]
    selector = judge_script(
        "slow",
        """
        import json, sys, time
        json.load(sys.stdin)
        time.sleep(1)
        print('{"score": 1}')
    """,
    )
    judge = host.judge(selector, make_context())
    candidates = [f"candidate {i}" for i in range(8)]
    start = time.monotonic()
    assert judge.score(PROMPT, candidates[:1]) == [1.0]
    one = time.monotonic() - start
    start = time.monotonic()
    assert judge.score(PROMPT, candidates) == [1.0] * 8
    eight = time.monotonic() - start
    assert eight / one < 4.0, (one, eight)  # one at a time: 8 times as long


def test_scores_keep_candidate_order_whatever_order_they_finish_in(
    host: PluginHost, judge_script: Script, make_context
) -> None:  # type: ignore[no-untyped-def]
    selector = judge_script(
        "backwards",
        """
        import json, sys, time
        n = int(json.load(sys.stdin)["candidate"])
        time.sleep((6 - n) * 0.15)  # the last candidate finishes first
        print(json.dumps({"score": n, "reasoning": str(n)}))
    """,
    )
    judge = host.judge(selector, make_context())
    assert judge.score(PROMPT, [str(n) for n in range(6)]) == [float(n) for n in range(6)]
    assert judge.last_reasonings == [str(n) for n in range(6)]  # type: ignore[attr-defined]


def test_more_candidates_than_workers_all_get_scored(
    host: PluginHost, terse_judge: str, make_context
) -> None:  # type: ignore[no-untyped-def]
    candidates = ["x" * n for n in range(1, 20)]
    assert host.judge(terse_judge, make_context()).score(PROMPT, candidates) == [
        -float(n) for n in range(1, 20)
    ]


def test_a_child_left_behind_after_answering_does_not_stall_the_judge(
    host: PluginHost, judge_script: Script, make_context, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    selector = judge_script(
        "leaves-a-child",
        f"""
        import subprocess, sys
        sleeper = "import os, time; " + {SLEEP_THEN_MARK.format(folder=str(tmp_path))!r}
        child = subprocess.Popen([sys.executable, "-c", sleeper])  # inherits stdout
        open({str(tmp_path)!r} + "/child-%d.pid" % child.pid, "w").write(str(child.pid))
        print('{{"score": 2}}', flush=True)
    """,
    )
    assert host.judge(selector, make_context()).score(PROMPT, ["a"]) == [2.0]
    assert all_gone(pids_in(tmp_path))
    assert finished_in(tmp_path) == []  # stopped, not waited for


@pytest.mark.skipif(shutil.which("setsid") is None, reason="needs the setsid program")
@pytest.mark.parametrize("ending", ["answers", "times-out", "fails"])
def test_a_child_that_starts_its_own_session_does_not_outlive_the_judge(
    host: PluginHost, judge_script: Script, make_context, tmp_path: Path, ending: str
) -> None:  # type: ignore[no-untyped-def]
    # `setsid` takes the child out of the judge's session and process group, out of
    # reach of a group kill; it must still end with the judge's run.
    selector = judge_script(
        "escapes",
        f"""
        import os, subprocess, sys, time
        folder = {str(tmp_path)!r}
        sleeper = "import os, sys, time; open(sys.argv[1] + '/escaped-%d.pid' % os.getpid(), 'w').write(str(os.getpid())); time.sleep(60)"
        subprocess.Popen(["setsid", sys.executable, "-c", sleeper, folder], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        while not [n for n in os.listdir(folder) if n.startswith("escaped-")]:
            time.sleep(0.01)
        if {ending!r} == "answers":
            print('{{"score": 1}}', flush=True)
        elif {ending!r} == "fails":
            sys.exit("no verdict")
        else:
            time.sleep(60)
    """,
    )
    judge = host.judge(selector, make_context(judge_timeout=5.0))
    try:
        if ending == "answers":
            assert judge.score(PROMPT, ["a"]) == [1.0]
        else:
            with pytest.raises(JudgeError):
                judge.score(PROMPT, ["a"])
        pids = pids_in(tmp_path)
        assert len(pids) == 1
        assert all_gone(pids)
    finally:
        for pid in pids_in(tmp_path):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


# -- failures ---------------------------------------------------------------------


def test_malformed_json_fails_with_what_was_printed(
    host: PluginHost, judge_script: Script, make_context
) -> None:  # type: ignore[no-untyped-def]
    selector = judge_script("prose", 'print("score: 5, looks good")')
    message = failure(host, selector, make_context())
    assert "malformed JSON" in message and "score: 5, looks good" in message


@pytest.mark.parametrize(
    ("printed", "expected"),
    [
        ('{"score": "high"}', "non-numeric score 'high'"),
        ('{"score": true}', "non-numeric score True"),
        ('{"score": null}', "non-numeric score None"),
        ('{"score": NaN}', "non-finite score"),
        ('{"score": Infinity}', "non-finite score"),
        ('{"score": 1e999}', "non-finite score"),
        ('{"verdict": 1}', 'without a "score"'),
        ("[1, 2]", "expected an object"),
        ('{"score": 1, "reasoning": ["a"]}', '"reasoning" that is not a string'),
        ("", "printed nothing on stdout"),
        ('{"score": 1}{"score": 2}', "malformed JSON"),
    ],
)
def test_anything_but_a_finite_numeric_score_fails(
    host: PluginHost, judge_script: Script, make_context, printed: str, expected: str
) -> None:  # type: ignore[no-untyped-def]
    selector = judge_script("bad-verdict", f"import sys; sys.stdout.write({printed!r})")
    assert expected in failure(host, selector, make_context())


def test_output_that_is_not_utf8_fails(
    host: PluginHost, judge_script: Script, make_context
) -> None:  # type: ignore[no-untyped-def]
    selector = judge_script(
        "latin1",
        r"import sys; sys.stdout.buffer.write(b'{\"score\": 1, \"reasoning\": \"caf\xe9\"}')",
    )
    assert "not UTF-8" in failure(host, selector, make_context())


def test_a_non_zero_exit_fails_with_the_status_and_its_stderr(
    host: PluginHost, judge_script: Script, make_context
) -> None:  # type: ignore[no-untyped-def]
    selector = judge_script(
        "quota",
        """
        import sys
        print("calling the scoring API...", file=sys.stderr)
        print("error: quota exceeded for model judge-large", file=sys.stderr)
        print('{"score": 1}')
        sys.exit(3)
    """,
    )
    message = failure(host, selector, make_context())
    assert "exited with status 3" in message
    assert message.endswith(
        "stderr: calling the scoring API... | error: quota exceeded for model judge-large"
    )


def test_only_the_tail_of_a_long_stderr_is_quoted(
    host: PluginHost, judge_script: Script, make_context
) -> None:  # type: ignore[no-untyped-def]
    selector = judge_script(
        "chatty",
        """
        import sys
        for i in range(200_000):
            sys.stderr.write(f"log line {i}\\n")
        sys.stderr.write("the real problem\\n")
        sys.exit(1)
    """,
    )
    message = failure(host, selector, make_context())
    assert (
        message.endswith("the real problem") and "log line 199999" in message and len(message) < 800
    )


def test_a_judge_killed_by_a_signal_fails(
    host: PluginHost, judge_script: Script, make_context
) -> None:  # type: ignore[no-untyped-def]
    selector = judge_script("crash", "import os, signal; os.kill(os.getpid(), signal.SIGKILL)")
    assert "was killed by signal 9" in failure(host, selector, make_context())


def test_a_hanging_judge_times_out_and_its_whole_process_group_is_killed(
    host: PluginHost, judge_script: Script, make_context, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    selector = judge_script(
        "hang",
        f"""
        import os, subprocess, sys, time
        sleeper = "import os, time; " + {SLEEP_THEN_MARK.format(folder=str(tmp_path))!r}
        child = subprocess.Popen([sys.executable, "-c", sleeper])
        folder = {str(tmp_path)!r}
        open(f"{{folder}}/judge-{{os.getpid()}}.pid", "w").write(str(os.getpid()))
        open(f"{{folder}}/child-{{child.pid}}.pid", "w").write(str(child.pid))
        print("thinking hard", file=sys.stderr, flush=True)
        {SLEEP_THEN_MARK.format(folder=str(tmp_path))}
    """,
    )
    message = failure(host, selector, make_context(judge_timeout=1.0), candidates=["a", "b"])
    assert "timed out after 1 s" in message and message.endswith("stderr: thinking hard")
    pids = pids_in(tmp_path)
    assert len(pids) >= 2  # the judge of at least one candidate and its child
    assert all_gone(pids)
    assert finished_in(tmp_path) == []


def test_one_failure_stops_the_other_candidates_at_once(
    host: PluginHost, judge_script: Script, make_context, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    selector = judge_script(
        "one-bad",
        f"""
        import json, os, sys, time
        candidate = json.load(sys.stdin)["candidate"]
        if candidate == "bad":
            time.sleep(1.5)  # the others are all running by then
            sys.exit("cannot score this one")
        open({str(tmp_path)!r} + "/%d.pid" % os.getpid(), "w").write(str(os.getpid()))
        {SLEEP_THEN_MARK.format(folder=str(tmp_path))}
    """,
    )
    message = failure(
        host, selector, make_context(judge_timeout=90.0), candidates=["ok 1", "bad", "ok 2", "ok 3"]
    )
    assert finished_in(tmp_path) == []  # the others were stopped, not waited for
    assert (
        "candidate 2 of 4: exited with status 1" in message and "cannot score this one" in message
    )
    pids = pids_in(tmp_path)
    assert len(pids) == 3 and all_gone(pids)


def test_ctrl_c_while_judging_kills_every_running_judge(
    host: PluginHost, judge_script: Script, make_context, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    # The mining loop keeps the pairs judged so far on Ctrl-C, so the interrupt must
    # come through promptly and leave no judge running (they are in their own
    # sessions, out of reach of the terminal's SIGINT).
    selector = judge_script(
        "sleepy",
        f"""
        import os, time
        open({str(tmp_path)!r} + "/%d.pid" % os.getpid(), "w").write(str(os.getpid()))
        {SLEEP_THEN_MARK.format(folder=str(tmp_path))}
    """,
    )
    judge = host.judge(selector, make_context(judge_timeout=90.0))
    # Python's Ctrl-C handler, also when the suite was started with SIGINT ignored
    # (in the background of a non-interactive shell).
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    timer = threading.Timer(1.0, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            judge.score(PROMPT, CANDIDATES)
    finally:
        timer.cancel()
        signal.signal(signal.SIGINT, previous)
    assert finished_in(tmp_path) == []  # interrupted, not waited for
    pids = pids_in(tmp_path)
    assert len(pids) == len(CANDIDATES) and all_gone(pids)


def test_huge_output_fails_fast_with_bounded_memory(
    host: PluginHost, judge_script: Script, make_context, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    selector = judge_script(
        "firehose",
        f"""
        import os, sys
        block = b"x" * (1 << 20)
        for _ in range(100):  # 100 MB
            sys.stdout.buffer.write(block)
        open({str(tmp_path)!r} + "/%d.finished" % os.getpid(), "w").close()
    """,
    )
    tracemalloc.start()
    try:
        message = failure(host, selector, make_context(judge_timeout=90.0))
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert finished_in(tmp_path) == []  # stopped at the limit, not read to the end
    assert "output too large: more than 1 MiB on stdout" in message
    assert peak < 16 * (1 << 20)


# -- commands that cannot run -----------------------------------------------------


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("/nonexistent/bin/judge --fast", "/nonexistent/bin/judge does not exist"),
        ("no-such-judge-program-dlm --x", "'no-such-judge-program-dlm' is not found on PATH"),
        ("/", "/ is a folder"),
    ],
)
def test_a_missing_program_fails_before_anything_runs(
    host: PluginHost, make_context, command: str, expected: str
) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(JudgeError) as caught:
        host.judge(f"cli:{command}", make_context())
    assert str(caught.value) == f"cannot start judge command {command!r}: {expected}"


def test_a_script_that_is_not_executable_is_refused_with_a_hint(
    host: PluginHost, make_context, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    script = tmp_path / "judge.sh"
    script.write_text("#!/bin/sh\necho '{\"score\": 1}'\n")
    script.chmod(stat.S_IRUSR | stat.S_IWUSR)
    with pytest.raises(
        JudgeError, match=r"is not executable; chmod \+x it, or run it through its interpreter"
    ):
        host.judge(f"cli:{script}", make_context())
    script.chmod(stat.S_IRWXU)
    assert host.judge(f"cli:{script}", make_context()).score(PROMPT, ["a"]) == [1.0]


def test_a_program_that_vanishes_after_selection_fails_to_start(
    host: PluginHost, make_context, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    script = tmp_path / "judge.sh"
    script.write_text("#!/bin/sh\necho '{\"score\": 1}'\n")
    script.chmod(stat.S_IRWXU)
    judge = host.judge(f"cli:{script}", make_context())
    script.unlink()
    with pytest.raises(
        JudgeError, match=r"failed on candidate \d of 3: cannot start it: No such file or directory"
    ):
        judge.score(PROMPT, CANDIDATES)


@pytest.mark.parametrize("selector", ["cli", "cli:", "cli:   "])
def test_a_missing_command_says_how_to_give_one(
    host: PluginHost, make_context, selector: str
) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(
        JudgeError, match=r"judge 'cli' needs a command: use --judge 'cli:<command>'"
    ):
        host.judge(selector, make_context())


def test_an_unbalanced_quote_is_a_clear_error(host: PluginHost, make_context) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(
        JudgeError,
        match=re.escape("cannot read judge command 'python3 \"judge.py': No closing quotation"),
    ):
        host.judge('cli:python3 "judge.py', make_context())


@pytest.mark.parametrize("timeout", [0, -1, float("nan"), "10", True])
def test_a_bad_timeout_is_refused(
    host: PluginHost, terse_judge: str, make_context, timeout: object
) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(JudgeError, match="judge_timeout must be a positive number of seconds"):
        host.judge(terse_judge, make_context(judge_timeout=timeout))


def test_the_command_is_not_run_through_a_shell(
    host: PluginHost, make_context, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    marker = tmp_path / "pwned"
    code = "import sys; sys.stdin.read(); print('{\"score\": 1}')"
    judge = host.judge(
        f"cli:{shlex.join([sys.executable, '-c', code])} ; touch {marker}", make_context()
    )
    assert judge.score(PROMPT, ["a"]) == [1.0]  # "; touch ..." arrive as plain arguments
    assert not marker.exists()


# -- packaging --------------------------------------------------------------------


def test_importing_the_plugin_imports_no_torch() -> None:
    code = "import sys, dlm_judge_cli, dlm_judge_cli.judge; dlm_judge_cli.dlm_judges(); print(sorted(m for m in ('torch', 'transformers') if m in sys.modules))"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


def test_the_distribution_registers_the_cli_entry_point() -> None:
    (entry,) = [
        ep
        for ep in importlib.metadata.distribution("dlm-judge-cli").entry_points
        if ep.group == "dlm"
    ]
    assert (entry.name, entry.value) == ("judge-cli", "dlm_judge_cli")

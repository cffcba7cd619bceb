"""Every command in the README's ``sh`` blocks runs on the sample, in the README's order, in a scratch folder
that links to the checkout's ``samples/``, ``queries/`` and ``benchmarks/``, and exits 0 without a traceback.

A few cannot run as written here; :data:`NOT_AS_WRITTEN` says what runs instead and why, and each of them must
still match a README command (so the list cannot outlive the README).  Ports are replaced by free ones.
Servers (``kg serve``, ``oxigraph serve ... &``) are started, asked a question, and stopped.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
from test_server import free_port

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"

#: README command (its first words) → what runs instead (None: nothing), and why
NOT_AS_WRITTEN: dict[tuple[str, ...], tuple[list[str] | None, str]] = {
    ("python", "-m", "pip", "install"): (None, "installs into the environment; the suite runs in an installed checkout"),
    ("pip", "install", "oxigraph"): (None, "oxigraph is a test dependency (pyproject's test extra)"),
    ("python", "-m", "pytest"): (None, "it is this suite"),
    ("python", "benchmarks/run.py"): (["python", "benchmarks/run.py", "--help"],
                                      "10-20 minutes, and not part of the suite (it starts and shows its options)"),
    ("kg", "train"): (["kg", "train", "samples/gold.json", "--out", "tagger"],
                      "the default retrains the shipped tagger from tests/gold for minutes and rewrites "
                      "kg/extract/model/; the same command on the sample gold into a scratch folder"),
}


@dataclass
class Command:
    words: list[str]
    background: bool
    block: int
    line: str


def readme_commands(text: str) -> list[Command]:
    """The commands of the ``sh`` blocks: one per ``&&``-separated part of a line, comments dropped."""
    out = []
    for b, block in enumerate(re.findall(r"```sh\n(.*?)```", text, re.S)):
        for line in block.splitlines():
            words = shlex.split(line, comments=True)
            background = bool(words) and words[-1] == "&"
            if background:
                words = words[:-1]
            part: list[str] = []
            for w in [*words, "&&"]:
                if w == "&&":
                    if part:
                        out.append(Command(part, background, b, line.strip()))
                    part = []
                else:
                    part.append(w)
    return out


def _executable(words: list[str]) -> list[str]:
    if words[0] == "kg":
        return [sys.executable, "-m", "kg.cli", *words[1:]]
    if words[0] == "python":
        return [sys.executable, *words[1:]]
    found = shutil.which(words[0])
    assert found, f"{words[0]} is not installed (the README's commands need it)"
    return [found, *words[1:]]


def _wait_for(url: str, proc: subprocess.Popen, seconds: float = 60) -> httpx.Response:
    deadline = time.monotonic() + seconds
    while True:
        try:
            r = httpx.get(url, timeout=5)
            if r.status_code < 500:
                return r
        except httpx.HTTPError:
            pass
        assert proc.poll() is None, f"the server stopped: {proc.communicate()[1][-2000:]}"
        assert time.monotonic() < deadline, f"no answer from {url}"
        time.sleep(0.2)


def _clean(result_text: str, cmd: str, rc: int) -> None:
    assert rc == 0, f"{cmd!r} exited {rc}:\n{result_text[-3000:]}"
    assert "Traceback" not in result_text, f"{cmd!r} printed a traceback:\n{result_text[-3000:]}"


def test_every_readme_command_runs_on_the_sample(tmp_path):
    commands = readme_commands(README.read_text(encoding="utf-8"))
    assert len(commands) >= 20, "the README's sh blocks hold fewer commands than expected: did the parser break?"
    work = tmp_path / "readme"
    work.mkdir()
    for name in ("samples", "queries", "benchmarks"):
        (work / name).symlink_to(REPO / name)
    env = {k: v for k, v in os.environ.items() if k != "KG_STORE"}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])])
    ports: dict[str, str] = {}

    def with_free_ports(words: list[str]) -> list[str]:
        def swap(m: re.Match) -> str:
            return ports.setdefault(m.group(0), str(free_port()))
        out = []
        for i, w in enumerate(words):
            if i > 0 and words[i - 1] == "--port":
                w = ports.setdefault(w, str(free_port()))
            out.append(re.sub(r"(?<=127\.0\.0\.1:)\d+", swap, w))
        return out

    used_rules: set[tuple[str, ...]] = set()
    ran, background = [], []
    try:
        for c in commands:
            words = c.words
            rule = next((k for k in NOT_AS_WRITTEN if tuple(words[:len(k)]) == k), None)
            if rule is not None:
                used_rules.add(rule)
                words = NOT_AS_WRITTEN[rule][0]
                if words is None:
                    continue
            words = with_free_ports(words)
            argv = _executable(words)
            shown = " ".join(words)
            if c.background:  # a server the next lines use: started here, stopped when the test ends
                proc = subprocess.Popen(argv, cwd=work, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                        text=True)
                background.append(proc)
                url = next(f"http://{w}" for w in words if re.fullmatch(r"127\.0\.0\.1:\d+", w))
                _wait_for(url + "/", proc)
                ran.append(shown)
                continue
            if words[:2] == ["kg", "serve"]:
                proc = subprocess.Popen(argv, cwd=work, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                        text=True)
                try:
                    port = words[words.index("--port") + 1]
                    assert _wait_for(f"http://127.0.0.1:{port}/healthz", proc).json()["status"] == "ok"
                    front = httpx.get(f"http://127.0.0.1:{port}/", timeout=30)
                    assert front.status_code == 200 and "What the store holds" in front.text
                finally:
                    proc.send_signal(signal.SIGINT)  # Ctrl-C
                    out, err = proc.communicate(timeout=60)
                _clean(out + err, shown, proc.returncode)
                ran.append(shown)
                continue
            done = subprocess.run(argv, cwd=work, env=env, capture_output=True, text=True, timeout=600)
            _clean(done.stdout + done.stderr, shown, done.returncode)
            ran.append(shown)
    finally:
        for proc in background:
            proc.terminate()
            try:
                proc.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.communicate()
    assert set(NOT_AS_WRITTEN) == used_rules, f"rules for commands no longer in the README: " \
                                              f"{set(NOT_AS_WRITTEN) - used_rules}"
    # what the commands were for: the store answers, the exports and the sample's eval are there
    assert (work / "kg.ttl").stat().st_size > 10_000 and (work / "view.html").stat().st_size > 10_000
    assert (work / "people.graphml").read_text(encoding="utf-8").startswith("<?xml")
    assert (work / "tagger" / "tagger.json").is_file()
    assert any(r.startswith("kg build samples --store http://127.0.0.1:") for r in ran)
    assert len(ran) >= 18, ran

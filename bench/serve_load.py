"""The load for bench_serve.py: the fake Messages API in a process of its own, timing every
request it serves, and the clients (threads spread over processes) that hold conversations
against `claudechat serve`, straight against the fake through the SDK (the floor), or against
the chat session in this process.

Every client's message carries the run's tag, so one fake can serve several runs (rounds) and
still time each request of each run apart.
"""

from __future__ import annotations

import multiprocessing
import os
import random
import threading
import time
from pathlib import Path
from typing import Any

from claudechat.server import DEFAULT_PUSH_QUIET_SECONDS

API_KEY = "sk-ant-bench"
DELTAS = 20
DELTA_DELAY = float(os.environ.get("BENCH_DELTA_MS", "10")) / 1000  # set by --delta-ms


# -- the fake Messages API, in its own process, timing what it serves ------------------------


def _fake_process(conn: Any) -> None:
    from fakes import anthropic_api
    from fakes.anthropic_api import FakeAnthropic, Reply

    served: dict[str, float] = {}

    def slow_echo(self: FakeAnthropic, body: dict[str, Any]) -> Reply:
        last = body["messages"][-1]["content"]
        text = last if isinstance(last, str) else last[0]["text"]
        return Reply(chunks=[f"{text} {i} " for i in range(DELTAS)], delay=DELTA_DELAY)

    original = anthropic_api._Handler._messages

    def timed(self: Any, path: str, headers: dict[str, str], body: Any) -> None:
        started = time.perf_counter()
        original(self, path, headers, body)
        last = body["messages"][-1]["content"]
        served[last if isinstance(last, str) else last[0]["text"]] = time.perf_counter() - started

    FakeAnthropic._next_reply = slow_echo  # type: ignore[method-assign]
    anthropic_api._Handler._messages = timed  # type: ignore[method-assign]
    with FakeAnthropic(api_key=API_KEY) as fake:
        conn.send(fake.base_url)
        conn.recv()  # any message: report and stop
        conn.send(dict(served))


class FakeProcess:
    def __enter__(self) -> FakeProcess:
        context = multiprocessing.get_context("spawn")
        self.conn, child = context.Pipe()
        self.process = context.Process(target=_fake_process, args=(child,), daemon=True)
        self.process.start()
        self.base_url: str = self.conn.recv()
        return self

    def served(self) -> dict[str, float]:
        self.conn.send("report")
        result: dict[str, float] = self.conn.recv()
        return result

    def __exit__(self, *exc: object) -> None:
        self.process.kill()
        self.process.join()


# -- clients ------------------------------------------------------------------------------


def run_clients(indices: list[int], one_client: Any) -> tuple[list[Any], float]:
    """The clients numbered `indices`, as threads of this process."""
    results: list[Any] = [None] * len(indices)
    barrier = threading.Barrier(len(indices))

    def work(position: int, index: int) -> None:
        barrier.wait()
        # Clients start spread over one reply's duration, as independent users would; all at
        # once would keep them in lockstep, every turn ending at the same instant.
        time.sleep(random.Random(index).uniform(0, DELTAS * DELTA_DELAY))
        results[position] = one_client(index)

    threads = [threading.Thread(target=work, args=pair) for pair in enumerate(indices)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results, time.perf_counter() - started


def _client_process(kind: str, indices: list[int], setup: dict[str, Any], conn: Any) -> None:
    """One process's share of the clients, as threads; started by `run_client_processes`."""
    global DELTA_DELAY
    DELTA_DELAY = setup["delta_delay"]
    # Each client's HTTP client is made before the start, as a warm client's would be: making
    # one costs 20 to 30 ms of CPU (an SSL context, even for http://), and 50 of them in the
    # first second took a core from the service under test, which runs on the same 2 CPUs.
    http = {index: _http_client(kind, setup, index) for index in indices}

    def one(index: int) -> Any:
        if kind == "sdk":
            return sdk_client(http[index], setup["turns"], index, setup["tag"])
        return serve_client(http[index], setup["turns"], index, setup["tag"])

    conn.send("ready")
    conn.recv()  # the start signal
    results, _wall = run_clients(indices, one)
    for client in http.values():
        client.close()
    conn.send(results)


def _http_client(kind: str, setup: dict[str, Any], index: int) -> Any:
    if kind == "sdk":
        import anthropic

        return anthropic.Anthropic(api_key=API_KEY, base_url=setup["base_url"])
    import httpx

    headers = {"Authorization": f"Bearer {setup['tokens'][index]}"}
    return httpx.Client(base_url=setup["base_url"], headers=headers, timeout=60, trust_env=False)


def run_client_processes(
    kind: str, clients: int, processes: int, setup: dict[str, Any]
) -> tuple[list[Any], float]:
    """The clients spread over `processes` processes: 50 client threads in one Python process
    would queue on its GIL, and that wait would be counted as the service's."""
    context = multiprocessing.get_context("spawn")
    setup = {**setup, "delta_delay": DELTA_DELAY}
    shares = [list(range(clients))[i::processes] for i in range(processes)]
    pipes, children = [], []
    for share in shares:
        parent, child = context.Pipe()
        process = context.Process(target=_client_process, args=(kind, share, setup, child))
        process.start()
        pipes.append(parent)
        children.append(process)
    for pipe in pipes:
        pipe.recv()  # every process imported and ready
    started = time.perf_counter()
    for pipe in pipes:
        pipe.send("go")
    results = [result for pipe in pipes for result in pipe.recv()]
    wall = time.perf_counter() - started
    for process in children:
        process.join()
    return results, wall


def serve_client(http: Any, turns: int, index: int, tag: str) -> dict[str, Any]:
    """One user's conversation over `http` (an httpx.Client holding its token)."""
    timings: dict[str, float] = {}
    errors: list[str] = []
    conversation = http.post("/new_chat", json={}).json()["conversation_id"]
    for turn in range(turns):
        text = f"{tag} client {index} turn {turn}"
        started = time.perf_counter()
        answer = http.post("/chat", json={"user_input": text})
        timings[text] = time.perf_counter() - started
        if answer.status_code != 200 or answer.json()["conversation_id"] != conversation:
            errors.append(f"{answer.status_code} {answer.text[:200]}")
    document = http.get("/get_conversation", params={"conversation_id": conversation}).json()
    complete = [m for m in document["messages"] if m["status"] == "complete"]
    return {"timings": timings, "errors": errors, "kept": len(complete), "expected": 2 * turns}


def sdk_client(client: Any, turns: int, index: int, tag: str) -> dict[str, Any]:
    """The same conversation straight to the fake through `client` (an anthropic.Anthropic)."""
    messages: list[dict[str, str]] = []
    timings: dict[str, float] = {}
    for turn in range(turns):
        text = f"{tag} sdk {index} turn {turn}"
        messages.append({"role": "user", "content": text})
        started = time.perf_counter()
        # The raw events, as claudechat's adapter reads them (messages.stream() costs about
        # twice as much per event: it rebuilds the whole message at each one).
        pieces = []
        with client.messages.create(
            model="claude-sonnet-4-6", max_tokens=1000, messages=messages, stream=True
        ) as events:
            for event in events:
                if event.type == "content_block_delta" and event.delta.type == "text_delta":
                    pieces.append(event.delta.text)
        reply = "".join(pieces)
        timings[text] = time.perf_counter() - started
        messages.append({"role": "assistant", "content": reply})
    return {"timings": timings, "errors": [], "kept": 2 * turns, "expected": 2 * turns}


def session_client(
    service: Any, turns: int, index: int, tag: str, json_turns: bool = False
) -> dict[str, Any]:
    """The REPL's path, no HTTP: the same Service calls a /chat makes, in this process. With
    json_turns, as serve's JSON turns: timed to the answer, their one push after it."""
    from claudechat.server.service import ChatRequest, Notices

    user, timings = f"inproc{index}", {}
    service.new_chat(user)
    for turn in range(turns):
        text = f"{tag} inproc {index} turn {turn}"
        started = time.perf_counter()
        session = service.open_session(user, ChatRequest(text), Notices())
        session.answer_first = json_turns and service.may_answer_first()
        session.send(text, lambda _text: None)
        timings[text] = time.perf_counter() - started
        service.after_answer(session)  # as serve's Turn does: the push put off, if any
    return {"timings": timings, "errors": [], "kept": 2 * turns, "expected": 2 * turns}


def in_process_service(
    env: dict[str, str], home: Path, push_after: float = DEFAULT_PUSH_QUIET_SECONDS
) -> Any:
    """The Service a serve worker runs (`push_after`: serve's --push-after)."""
    from claudechat.server.service import Service
    from claudechat.settings import load_settings

    os.environ.update({**env, "CLAUDECHAT_HOME": str(home)})
    service = Service.from_settings(load_settings(), push_after)
    service.connect()
    return service

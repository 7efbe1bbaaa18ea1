"""In a real Jupyter kernel: a tqdm bar shows, and interrupting the kernel stops the batch cleanly.

The kernel is started and interrupted through jupyter_client, the way a notebook front end does
(the interrupt is a SIGINT to the kernel's process group).
"""

from __future__ import annotations

import queue
import re
import time

import pytest
from conftest import DEADLINE_S, DRAINING, GatedBatch, wait_until

import isobatch

manager = pytest.importorskip("jupyter_client.manager")
pytest.importorskip("ipykernel")


def _stream_text(client, texts: list[str]) -> None:
    """Collects whatever the kernel printed so far."""
    while True:
        try:
            msg = client.get_iopub_msg(timeout=0.05)
        except queue.Empty:
            return
        if msg["msg_type"] == "stream":
            texts.append(msg["content"]["text"])


def test_kernel_interrupt_drains_the_batch_and_raises_keyboard_interrupt(tmp_path):
    gated = GatedBatch(tmp_path)
    km, kc = manager.start_new_kernel(kernel_name="python3", startup_timeout=DEADLINE_S)
    try:
        msg_id = kc.execute(gated.code("auto"))
        wait_until(gated.running, "a running task in `isobatch status`")
        km.interrupt_kernel()
        texts: list[str] = []

        def drained() -> bool:
            _stream_text(kc, texts)
            return DRAINING in "".join(texts)

        wait_until(drained, f"isobatch to say {DRAINING!r} in the notebook")
        gated.gate.touch()
        end = time.monotonic() + DEADLINE_S
        while True:
            reply = kc.get_shell_msg(timeout=max(0.1, end - time.monotonic()))
            if reply["parent_header"].get("msg_id") == msg_id:
                break
        _stream_text(kc, texts)
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)

    assert reply["content"]["status"] == "error"
    assert reply["content"]["ename"] == "KeyboardInterrupt"
    shown = "".join(texts)
    assert re.search(r"isobatch:\s+\d+%\|", shown), shown  # the tqdm bar, not plain lines
    assert "[1/4]" not in shown
    verdicts = list(isobatch.open(gated.out).summary["verdict"])
    assert verdicts.count("done") == 1 and verdicts.count("cancelled") == 3, verdicts
    gated.resume()

"""Zygote replies are typed at the host's edge (sandbox/replies.py): wrong types are a broken zygote."""

from __future__ import annotations

import pytest

from sandbox.protocol import ProtocolError
from sandbox.replies import Reply, RunReply, parse_reply


def test_a_run_reply_as_the_zygote_writes_it():
    header = {"exit_code": 0, "signal": None, "timed_out": False, "cpu_s": 0, "duration_s": 0.012,
              "truncated": False, "memory_error": False, "out_len": 3, "retire": None, "future_field": [1]}
    reply = parse_reply(header, RunReply)
    assert reply == RunReply(exit_code=0, cpu_s=0.0, duration_s=0.012, out_len=3)
    assert isinstance(reply.cpu_s, float) and reply.error is None and not reply.ok


def test_acks_and_errors():
    assert parse_reply({"ok": True}, Reply).ok
    r = parse_reply({"error": "zygote: boom", "retire": "zygote: boom"}, RunReply)
    assert (r.error, r.retire, r.exit_code) == ("zygote: boom", "zygote: boom", None)


@pytest.mark.parametrize("header, cls", [
    ({"exit_code": "0"}, RunReply),
    ({"exit_code": True}, RunReply),  # JSON true is not an exit code
    ({"timed_out": 1}, RunReply),
    ({"out_len": 2.5}, RunReply),
    ({"ok": "yes"}, Reply),
    ({"error": 7}, Reply),
    (["not", "an", "object"], Reply),
])
def test_wrong_types_are_a_protocol_error(header, cls):
    with pytest.raises(ProtocolError):
        parse_reply(header, cls)

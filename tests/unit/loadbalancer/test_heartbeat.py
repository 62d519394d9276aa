"""Heartbeat wire format, replay guard, and real UDP between sender and receiver."""

from __future__ import annotations

import hashlib
import json
import socket
import threading
import time
import zlib
from typing import Any

import pytest

from tricircle_lb.loadbalancer.health import heartbeat as hbmod
from tricircle_lb.loadbalancer.health.heartbeat import (
    Heartbeat,
    HeartbeatReceiver,
    HeartbeatSender,
    InvalidHeartbeat,
    ListenerStats,
    ListenerStatus,
    PoolStatus,
    ReplayGuard,
    decode,
    encode,
)

KEY = "insecure-test-heartbeat-key"


def sample(seq: int = 1, amphora_id: str = "amp-1") -> Heartbeat:
    return Heartbeat(
        amphora_id=amphora_id,
        seq=seq,
        listeners={
            "lst-1": ListenerStatus(
                "OPEN", ListenerStats(conns=2, totconns=10, rx=100, tx=200, ereq=1), ("pool-1",)
            )
        },
        pools={
            "pool-1": PoolStatus(
                "UP",
                {"m-1": "UP", "m-2": "DOWN", "m-3": "MAINT", "m-4": "DRAIN", "m-5": "no check"},
            )
        },
    )


def signed(body: bytes, key: str = KEY) -> bytes:
    """A correctly signed envelope around arbitrary (possibly broken) payload bytes."""
    return body + hbmod._mac(body, key)


def test_round_trip_typed_and_dict() -> None:
    hb = sample()
    out = decode(encode(hb, KEY), KEY, recv_time=123.0)
    assert out == Heartbeat(**{**hb.__dict__, "recv_time": 123.0})
    # A plain dict in Octavia's field names encodes the same.
    assert decode(encode(hb.to_dict(), KEY), KEY) == hb
    # bytes keys and str keys are the same key.
    assert decode(encode(hb, KEY.encode()), KEY) == hb


def test_wire_format_is_octavia_envelope() -> None:
    data = encode(sample(), KEY)
    payload, mac = data[:-64], data[-64:]
    body = json.loads(zlib.decompress(payload))
    assert body["id"] == "amp-1" and body["seq"] == 1 and body["ver"] == 1
    assert body["listeners"]["lst-1"]["stats"]["totconns"] == 10
    assert "recv_time" not in body
    assert all(c in b"0123456789abcdef" for c in mac)


def test_recv_time_from_the_wire_is_ignored() -> None:
    body = {**sample().to_dict(), "recv_time": 1.0}
    assert decode(signed(zlib.compress(json.dumps(body).encode())), KEY).recv_time is None


@pytest.mark.parametrize("index", [0, 5, -70, -1])
def test_tampered_byte_rejected(index: int) -> None:
    data = bytearray(encode(sample(), KEY))
    data[index] ^= 0x01
    with pytest.raises(InvalidHeartbeat, match="HMAC"):
        decode(bytes(data), KEY)


def test_wrong_key_rejected() -> None:
    with pytest.raises(InvalidHeartbeat, match="HMAC"):
        decode(encode(sample(), KEY), "another-key")


def test_a_key_per_amphora_is_the_key_of_the_amphora_named() -> None:
    """Decision 076: with a key lookup, a heartbeat naming amp-a verifies only under
    amp-a's key; one naming an amphora the lookup does not know is refused."""
    keys = {"amp-a": "key-a", "amp-b": b"key-b"}
    asked: list[str] = []

    def lookup(amphora_id: str) -> str | bytes | None:
        asked.append(amphora_id)
        return keys.get(amphora_id)

    assert decode(encode(sample(amphora_id="amp-a"), "key-a"), lookup).amphora_id == "amp-a"
    assert decode(encode(sample(amphora_id="amp-b"), "key-b"), lookup).amphora_id == "amp-b"
    with pytest.raises(InvalidHeartbeat, match="bad HMAC"):
        decode(encode(sample(amphora_id="amp-a"), "key-b"), lookup)
    with pytest.raises(InvalidHeartbeat, match="unknown amphora"):
        decode(encode(sample(amphora_id="amp-c"), "key-a"), lookup)
    for body in (b'{"seq": 1}', b'[1]', b'{"id": 7}'):
        with pytest.raises(InvalidHeartbeat, match="id"):
            decode(signed(zlib.compress(body), "key-a"), lookup)
    with pytest.raises(InvalidHeartbeat, match="zlib"):
        decode(signed(b"not zlib", "key-a"), lookup)
    assert asked == ["amp-a", "amp-b", "amp-a", "amp-c"]


@pytest.mark.parametrize(
    "data",
    [b"", b"x", b"\x00" * 64, b"garbage" * 20, bytes(range(256)) * 3],
)
def test_garbage_rejected(data: bytes) -> None:
    with pytest.raises(InvalidHeartbeat):
        decode(data, KEY)


def test_signed_but_bad_zlib_json_or_fields() -> None:
    with pytest.raises(InvalidHeartbeat, match="zlib"):
        decode(signed(b"not zlib at all"), KEY)
    with pytest.raises(InvalidHeartbeat, match="zlib"):
        decode(signed(zlib.compress(b"{}")[:-3]), KEY)
    with pytest.raises(InvalidHeartbeat, match="JSON"):
        decode(signed(zlib.compress(b"{not json")), KEY)
    with pytest.raises(InvalidHeartbeat, match="JSON"):
        decode(signed(zlib.compress(b"\xff\xfe")), KEY)
    with pytest.raises(InvalidHeartbeat, match="body"):
        decode(signed(zlib.compress(b"[1, 2]")), KEY)
    good = sample().to_dict()
    broken: list[dict[str, Any]] = [
        {k: v for k, v in good.items() if k != "id"},
        {k: v for k, v in good.items() if k != "seq"},
        {k: v for k, v in good.items() if k != "ver"},
        {**good, "seq": "1"},
        {**good, "seq": True},
        {**good, "seq": -1},
        {**good, "pools": {"p": {"status": "UP", "members": {"m": "WEIRD"}}}},
        {**good, "pools": {"p": {"members": {}}}},
        {**good, "listeners": {"l": {"status": "OPEN", "stats": {"rx": "a lot"}}}},
        {**good, "listeners": []},
    ]
    for body in broken:
        with pytest.raises(InvalidHeartbeat):
            decode(signed(zlib.compress(json.dumps(body).encode())), KEY)
        with pytest.raises(InvalidHeartbeat):
            encode(body, KEY)


def test_oversize_rejected() -> None:
    with pytest.raises(InvalidHeartbeat, match="too large"):
        decode(b"a" * (64 * 1024 + 1), KEY)
    # Incompressible content that would not fit in a datagram cannot be encoded.
    members = {hashlib.sha256(str(i).encode()).hexdigest(): "UP" for i in range(4000)}
    big = Heartbeat("amp-1", 1, pools={"p": PoolStatus("UP", members)})
    with pytest.raises(InvalidHeartbeat, match="too large"):
        encode(big, KEY)
    # A small zlib bomb (> 1 MiB once inflated) is refused without inflating it all.
    bomb = zlib.compress(b'{"id": "' + b"a" * (2 * 1024 * 1024) + b'"}', 9)
    assert len(bomb) < 64 * 1024
    with pytest.raises(InvalidHeartbeat, match="too large"):
        decode(signed(bomb), KEY)


def test_replay_guard() -> None:
    guard = ReplayGuard(restart_gap=10.0)
    assert guard.accept("a", 5, now=100.0)
    assert not guard.accept("a", 5, now=101.0)
    assert not guard.accept("a", 3, now=101.0)
    assert guard.accept("a", 6, now=102.0)
    assert guard.accept("b", 1, now=102.0)  # independent per amphora
    # seq 0/1 within the gap: a replay of an old packet, dropped.
    assert not guard.accept("a", 0, now=105.0)
    # After a silence longer than the gap, 0/1 means the agent restarted.
    assert guard.accept("a", 0, now=120.0)
    assert guard.accept("a", 1, now=121.0)
    assert not guard.accept("a", 1, now=121.5)
    guard.forget("a")
    assert guard.accept("a", 0, now=300.0)


def test_replay_guard_old_seq_after_gap_dropped() -> None:
    guard = ReplayGuard(restart_gap=10.0)
    assert guard.accept("a", 50, now=0.0)
    assert not guard.accept("a", 7, now=100.0)
    assert guard.accept("a", 1, now=100.0)


class Collector:
    def __init__(self) -> None:
        self.got: list[tuple[Heartbeat, str]] = []
        self.event = threading.Event()

    def __call__(self, hb: Heartbeat, sender: str) -> None:
        self.got.append((hb, sender))
        self.event.set()

    def wait_for(self, n: int, timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while len(self.got) < n and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(self.got) >= n, self.got


def wait_until(cond: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_udp_sender_to_receiver() -> None:
    collector = Collector()
    receiver = HeartbeatReceiver("127.0.0.1", 0, KEY, collector, poll_interval=0.05)
    receiver.start()
    try:
        host, port = receiver.address
        assert host == "127.0.0.1" and port > 0
        with HeartbeatSender("127.0.0.1", port, KEY) as sender, socket.socket(
            socket.AF_INET, socket.SOCK_DGRAM
        ) as raw:
            sender.send(sample(seq=1))
            collector.wait_for(1)
            # Garbage, a wrong key, a tampered packet and a replay: counted, not fatal.
            raw.sendto(b"\x00garbage", ("127.0.0.1", port))
            raw.sendto(b"", ("127.0.0.1", port))
            raw.sendto(encode(sample(seq=2), "wrong-key"), ("127.0.0.1", port))
            tampered = bytearray(encode(sample(seq=3), KEY))
            tampered[10] ^= 0xFF
            raw.sendto(bytes(tampered), ("127.0.0.1", port))
            raw.sendto(encode(sample(seq=1), KEY), ("127.0.0.1", port))  # replay
            sender.send(sample(seq=2).to_dict())
            collector.wait_for(2)
            wait_until(lambda: receiver.counters.received == 7)
        c = receiver.counters
        assert (c.accepted, c.invalid, c.replayed) == (2, 4, 1)
        (first, sender1), (second, _) = collector.got
        assert sender1 == "127.0.0.1"
        assert first.seq == 1 and second.seq == 2
        assert first.pools["pool-1"].members["m-5"] == "no check"
        assert first.recv_time is not None and abs(first.recv_time - time.time()) < 5
    finally:
        receiver.stop()
    with pytest.raises(RuntimeError):
        _ = receiver.address


def test_callback_error_does_not_stop_receiver() -> None:
    calls: list[int] = []

    def flaky(hb: Heartbeat, sender: str) -> None:
        calls.append(hb.seq)
        if hb.seq == 1:
            raise RuntimeError("boom")

    with HeartbeatReceiver("127.0.0.1", 0, KEY, flaky, poll_interval=0.05) as receiver:
        with HeartbeatSender(*receiver.address, KEY) as sender:
            sender.send(sample(seq=1))
            wait_until(lambda: receiver.counters.callback_errors == 1)
            sender.send(sample(seq=2))
            wait_until(lambda: calls == [1, 2])
        assert receiver.counters.accepted == 2

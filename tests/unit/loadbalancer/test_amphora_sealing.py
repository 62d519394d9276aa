"""Certificate files cross the management network sealed for one amphora (decision 085):
the real client, a recording relay, the real agent and a real HAProxy on 127.0.0.1."""

from __future__ import annotations

import contextlib
import dataclasses
import shutil
import socket
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tls_testing import make_ca
from tricircle_lb.loadbalancer.amphora import codec, sealing
from tricircle_lb.loadbalancer.amphora.agent import (
    AmphoraAgentConfig,
    AmphoraApi,
    HAProxy,
    make_server,
)
from tricircle_lb.loadbalancer.amphora.agent.server import Refused
from tricircle_lb.loadbalancer.amphora.model import (
    Listener,
    ListenerTls,
    LoadBalancerConfig,
    PemFile,
)
from tricircle_lb.loadbalancer.drivers.amphora import AmphoraClient

HAPROXY = shutil.which("haproxy")
KEY = b"amphora-1-own-key"


def test_seal_round_trip_and_refusals() -> None:
    sealed = sealing.seal(KEY, "crt-a", "-----BEGIN PRIVATE KEY-----\nabc\n")
    assert sealed.startswith("sealed:v1:") and "PRIVATE" not in sealed
    assert sealing.unseal(KEY, "crt-a", sealed) == "-----BEGIN PRIVATE KEY-----\nabc\n"
    for key, name, text in ((b"another amphora", "crt-a", sealed), (KEY, "crt-b", sealed),
                            (KEY, "crt-a", sealed[:-8] + "AAAAAAA="),
                            (KEY, "crt-a", "-----BEGIN PRIVATE KEY-----")):
        with pytest.raises(sealing.SealError) as refused:
            sealing.unseal(key, name, text)
        assert "PRIVATE" not in str(refused.value) and "abc" not in str(refused.value)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def _relay(target: int, seen: bytearray) -> Iterator[int]:
    """A TCP relay to 127.0.0.1:``target`` that records what clients send."""
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def pump(src: socket.socket, dst: socket.socket, record: bool) -> None:
        with contextlib.suppress(OSError):
            while chunk := src.recv(65536):
                if record:
                    seen.extend(chunk)
                dst.sendall(chunk)
        with contextlib.suppress(OSError):
            dst.shutdown(socket.SHUT_WR)

    def serve() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            upstream = socket.create_connection(("127.0.0.1", target))
            threading.Thread(target=pump, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=pump, args=(upstream, client, False), daemon=True).start()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield int(listener.getsockname()[1])
    finally:
        stop.set()
        thread.join()
        listener.close()


@pytest.mark.skipif(HAPROXY is None, reason="haproxy is not installed")
def test_private_keys_never_cross_the_wire_in_clear(tmp_path: Path) -> None:
    assert HAPROXY is not None
    ca = make_ca("Front CA")
    www = ca.issue("www.example.com", ("www.example.com",))
    port = _free_port()
    config = LoadBalancerConfig(
        id="lb-1", vip_address="127.0.0.1", certificates=(PemFile("crt-www", www.pem),),
        listeners=(Listener("l-tls", "TERMINATED_HTTPS", port,
                            tls=ListenerTls(default_certificate="crt-www")),))
    agent_config = AmphoraAgentConfig(amphora_id="amp-1", heartbeat_key=KEY.decode(),
                                      agent_port=0, bind_address="127.0.0.1",
                                      haproxy_binary=HAPROXY)
    haproxy = HAProxy(HAPROXY, tmp_path, agent_config.open_files_limit)
    api = AmphoraApi(agent_config, haproxy)
    server = make_server(api, "127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    seen = bytearray()
    try:
        with _relay(server.port, seen) as relay:
            assert AmphoraClient("", KEY, port=relay).put_config("127.0.0.1", config) == [
                "l-tls"]
        assert b"PRIVATE KEY" not in seen and b"BEGIN CERTIFICATE" not in seen
        assert b"crt-www" in seen  # the request did pass through the relay
        # HAProxy serves the certificate the agent unsealed.
        context = ssl.create_default_context(cadata=ca.certificate)
        with socket.create_connection(("127.0.0.1", port), timeout=5) as raw, \
                context.wrap_socket(raw, server_hostname="www.example.com") as tls:
            assert tls.version() in ("TLSv1.2", "TLSv1.3")
        assert (tmp_path / "certs" / "crt-www.pem").read_text() == www.pem
        # Sealed for another amphora: refused, naming the file only.
        other = codec.to_dict(sealing.seal_config(b"another amphora's key", config))
        with pytest.raises(Refused, match=r"certificates\[crt-www\]: not sealed with"):
            api.put_config(other)
        clear = codec.to_dict(dataclasses.replace(config))
        with pytest.raises(Refused, match="not sealed"):
            api.put_config(clear)
    finally:
        server.shutdown()
        server.server_close()
        haproxy.stop()
    assert not (tmp_path / "certs").exists()

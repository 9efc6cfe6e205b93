#!/usr/bin/python3
"""A minimal Kubernetes CRI client for tests/engines/cri.sh: one unary call per run.

    cri_client.py SOCKET METHOD [REQUEST_JSON]
    cri_client.py SOCKET Exec+stream|Attach+stream REQUEST_JSON

METHOD is an rpc of runtime.v1 RuntimeService or ImageService (Version, RunPodSandbox, ...);
REQUEST_JSON is the request in protobuf's JSON mapping (proto field names or lowerCamelCase).
Prints the response as JSON with the proto field names and default values included (int64
fields are strings, as in the JSON mapping; ExecSync's stdout and stderr are decoded to text).
Exits 1 with the gRPC status on stderr when the call fails.

`Exec+stream` (`Attach+stream`) calls Exec (Attach) and then follows the session at the
streaming server's URL over a WebSocket (v4.channel.k8s.io, the protocol of kubelet's streaming
server), sending $CRI_STDIN on stdin when set (v4 cannot close stdin: the command must stop
reading by itself), and prints
{"stdout": ..., "stderr": ..., "status": the v4 error channel's Status object}.

The message classes come from api_pb2.py, which cri.sh generates with `protoc --python_out`
from tests/engines/cri/api.proto into the directory named by $CRI_PY (no grpc_tools plugin is
needed: the calls go through grpc's generic unary_unary).
"""

import base64
import json
import os
import socket
import struct
import sys
import urllib.parse

sys.path.insert(0, os.environ.get("CRI_PY", os.path.dirname(os.path.abspath(__file__))))

import grpc  # noqa: E402
from google.protobuf import json_format  # noqa: E402

import api_pb2  # noqa: E402


def recv_exact(conn, n):
    data = b""
    while len(data) < n:
        chunk = conn.recv(n - len(data))
        if not chunk:
            raise EOFError("connection closed")
        data += chunk
    return data


def stream_session(url, timeout, stdin):
    """Follows an exec or attach session of kubelet's streaming server over a WebSocket."""
    u = urllib.parse.urlsplit(url)
    conn = socket.create_connection((u.hostname, u.port or 80), timeout=timeout)
    key = base64.b64encode(os.urandom(16)).decode()
    path = u.path + (("?" + u.query) if u.query else "")
    conn.sendall(
        (
            f"GET {path} HTTP/1.1\r\nHost: {u.netloc}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: v4.channel.k8s.io\r\n"
            "Origin: http://localhost\r\n\r\n"
        ).encode()
    )
    head = b""
    while b"\r\n\r\n" not in head:
        head += recv_exact(conn, 1)
    if b" 101 " not in head.split(b"\r\n", 1)[0]:
        raise RuntimeError(f"no websocket upgrade: {head.decode(errors='replace')}")
    if stdin:
        # one masked binary frame on channel 0
        payload = b"\0" + stdin
        mask = os.urandom(4)
        n = len(payload)
        head = bytes([0x82]) + (
            bytes([0x80 | n]) if n < 126 else bytes([0x80 | 126]) + struct.pack(">H", n)
        )
        conn.sendall(head + mask + bytes(c ^ mask[i % 4] for i, c in enumerate(payload)))
    out = {1: b"", 2: b"", 3: b""}
    message = b""
    while True:
        try:
            b0, b1 = recv_exact(conn, 2)
        except EOFError:
            break
        n = b1 & 0x7F
        if n == 126:
            n = struct.unpack(">H", recv_exact(conn, 2))[0]
        elif n == 127:
            n = struct.unpack(">Q", recv_exact(conn, 8))[0]
        mask = recv_exact(conn, 4) if b1 & 0x80 else None
        payload = recv_exact(conn, n)
        if mask:
            payload = bytes(c ^ mask[i % 4] for i, c in enumerate(payload))
        opcode = b0 & 0x0F
        if opcode == 8:  # close
            break
        if opcode in (0, 1, 2):
            message += payload
            if b0 & 0x80:  # the last fragment
                if message and message[0] in out:
                    out[message[0]] += message[1:]
                message = b""
    conn.close()
    status = json.loads(out[3]) if out[3].strip() else {}
    return {
        "stdout": out[1].decode(errors="replace"),
        "stderr": out[2].decode(errors="replace"),
        "status": status,
    }


def main():
    if len(sys.argv) not in (3, 4):
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    sock, method = sys.argv[1], sys.argv[2]
    stream = method.endswith("+stream")
    if stream:
        method = method[: -len("+stream")]
    body = sys.argv[3] if len(sys.argv) == 4 else "{}"
    found = None
    for service in api_pb2.DESCRIPTOR.services_by_name.values():
        if method in service.methods_by_name:
            found = (service, service.methods_by_name[method])
            break
    if found is None:
        print(f"cri_client: no method {method}", file=sys.stderr)
        return 2
    service, desc = found
    if desc.server_streaming or desc.client_streaming:
        print(f"cri_client: {method} is a stream", file=sys.stderr)
        return 2
    req_cls = getattr(api_pb2, desc.input_type.name)
    resp_cls = getattr(api_pb2, desc.output_type.name)
    request = json_format.Parse(body, req_cls())
    timeout = float(os.environ.get("CRI_TIMEOUT", "60"))
    with grpc.insecure_channel(f"unix://{sock}") as channel:
        call = channel.unary_unary(
            f"/{service.full_name}/{method}",
            request_serializer=req_cls.SerializeToString,
            response_deserializer=resp_cls.FromString,
        )
        try:
            response = call(request, timeout=timeout)
        except grpc.RpcError as err:
            print(f"cri_client: {method}: {err.code().name}: {err.details()}", file=sys.stderr)
            return 1
    out = json_format.MessageToDict(
        response, preserving_proto_field_name=True, including_default_value_fields=True
    )
    if stream:
        try:
            stdin = os.environ.get("CRI_STDIN", "").encode()
            out = stream_session(response.url, timeout, stdin)
        except (OSError, EOFError, RuntimeError, ValueError) as err:
            print(f"cri_client: {method} stream {response.url}: {err}", file=sys.stderr)
            return 1
    if method == "ExecSync":
        out["stdout"] = response.stdout.decode(errors="replace")
        out["stderr"] = response.stderr.decode(errors="replace")
    json.dump(out, sys.stdout)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())

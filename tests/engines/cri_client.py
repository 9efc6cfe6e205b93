#!/usr/bin/python3
"""A minimal Kubernetes CRI client for tests/engines/cri.sh: one unary call per run.

    cri_client.py SOCKET METHOD [REQUEST_JSON]

METHOD is an rpc of runtime.v1 RuntimeService or ImageService (Version, RunPodSandbox, ...);
REQUEST_JSON is the request in protobuf's JSON mapping (proto field names or lowerCamelCase).
Prints the response as JSON with the proto field names and default values included (int64
fields are strings, as in the JSON mapping; ExecSync's stdout and stderr are decoded to text).
Exits 1 with the gRPC status on stderr when the call fails.

The message classes come from api_pb2.py, which cri.sh generates with `protoc --python_out`
from tests/engines/cri/api.proto into the directory named by $CRI_PY (no grpc_tools plugin is
needed: the calls go through grpc's generic unary_unary).
"""

import json
import os
import sys

sys.path.insert(0, os.environ.get("CRI_PY", os.path.dirname(os.path.abspath(__file__))))

import grpc  # noqa: E402
from google.protobuf import json_format  # noqa: E402

import api_pb2  # noqa: E402


def main():
    if len(sys.argv) not in (3, 4):
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    sock, method = sys.argv[1], sys.argv[2]
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
    if method == "ExecSync":
        out["stdout"] = response.stdout.decode(errors="replace")
        out["stderr"] = response.stderr.decode(errors="replace")
    json.dump(out, sys.stdout)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())

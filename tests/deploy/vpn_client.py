"""The client side of test_vpn_netns.py, run inside the other network
namespace (`ip netns exec NS python vpn_client.py '<json>'`). Prints one
JSON object with what it saw."""

from __future__ import annotations

import json
import socket
import sys
import time
from typing import Any

import httpx


def probe(addr: str, port: int) -> dict[str, Any]:
    try:
        socket.create_connection((addr, port), timeout=5).close()
    except ConnectionRefusedError:
        return {"connect": "refused"}
    except OSError as err:
        return {"connect": f"error: {err}"}
    return {"connect": "accepted"}


def session(base: str, token: str) -> dict[str, Any]:
    auth = {"Authorization": f"Bearer {token}"}
    seen: dict[str, Any] = {}
    with httpx.Client(base_url=base, timeout=10) as client:
        seen["healthz"] = client.get("/healthz").status_code
        seen["sessions"] = client.get("/api/sessions", headers=auth).status_code
        seen["foreign_host"] = client.get("/api/sessions", headers={**auth, "Host": "evil.example"}).status_code
        seen["echo"] = type_and_see(client, base, auth)
    return seen


def type_and_see(client: httpx.Client, base: str, auth: dict[str, str]) -> bool:
    deadline = time.monotonic() + 10
    with client.stream("GET", "/events", params={"session": "main"}, headers=auth) as r:
        lines = r.iter_lines()
        info = next(json.loads(line[6:]) for line in lines if line.startswith("data: "))
        typed = client.post(
            "/commands",
            params={"session": "main"},
            json={"type": "input", "pane": "%0", "text": "echo vpn-$((6*7))\r"},
            headers={**auth, "X-Session-Token": info["session_token"], "Origin": base},
        )
        if typed.status_code != 200:
            return False
        shown = ""
        for line in lines:
            if line.startswith("data: "):
                data = json.loads(line[6:])
                if data.get("pane") == "%0" and isinstance(data.get("data"), str):
                    shown += data["data"]
            if "vpn-42\r\n" in shown:
                return True
            if time.monotonic() > deadline:
                return False
    return False


def main() -> None:
    spec = json.loads(sys.argv[1])
    if spec["mode"] == "probe":
        result = probe(spec["addr"], spec["port"])
    else:
        result = session(spec["base"], spec["token"])
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()

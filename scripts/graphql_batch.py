#!/usr/bin/env python3
"""Sends one batch of the same GraphQL query on one keep-alive connection, with a bearer token
or a session cookie: the load between `callgrind_control -z` and `-d` when counting a server's
instructions per request (BENCHMARKS.md).

    python3 scripts/graphql_batch.py ADDR token|session CREDENTIAL COUNT QUERY"""
import http.client, json, sys
addr, kind, cred, n, query = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]
host, port = addr.split(":")
c = http.client.HTTPConnection(host, int(port), timeout=120)
headers = {"content-type": "application/json"}
if kind == "token":
    headers["authorization"] = "Bearer " + cred
else:
    headers.update({"cookie": "__Host-efa-session=" + cred, "origin": "http://" + addr})
for _ in range(n):
    c.request("POST", "/graphql", json.dumps({"query": query}), headers)
    answer = json.loads(c.getresponse().read())
    assert "errors" not in answer, answer

#!/usr/bin/env python3
"""Latency of `progress` from outside, two servers side by side on copies of one store.

    python3 scripts/progress_latency.py OLD_ADDR OLD_TOKEN NEW_ADDR NEW_TOKEN

Requests alternate between the two servers (one keep-alive connection each) so the machine's
load falls on both alike: 20 warm-up rounds, then 300 measured per query. BENCHMARKS.md says
how the two servers and their store were made."""
import http.client, json, sys, time, statistics
def client(addr):
    host, port = addr.split(":")
    return http.client.HTTPConnection(host, int(port), timeout=30)
def ask(conn, token, query):
    body = json.dumps({"query": query})
    t = time.perf_counter()
    conn.request("POST", "/graphql", body, {"content-type": "application/json", "authorization": "Bearer " + token})
    r = conn.getresponse(); data = r.read()
    dt = time.perf_counter() - t
    j = json.loads(data)
    assert "errors" not in j, j
    return dt
old_addr, old_tok, new_addr, new_tok = sys.argv[1:5]
queries = {
  "progress(SERVICE)": "{ progress(groupBy: SERVICE) { key rollouts inOperation } }",
  "progress(AUTHORITY)": "{ progress(groupBy: AUTHORITY) { key rollouts inOperation } }",
  "__typename": "{ __typename }",
}
o, n = client(old_addr), client(new_addr)
for name, q in queries.items():
    for _ in range(20): ask(o, old_tok, q); ask(n, new_tok, q)
    a, b = [], []
    for _ in range(300):
        a.append(ask(o, old_tok, q)); b.append(ask(n, new_tok, q))
    med = lambda xs: statistics.median(xs) * 1000
    p90 = lambda xs: sorted(xs)[int(len(xs) * 0.9)] * 1000
    print(f"{name:22s} old median {med(a):7.3f} ms p90 {p90(a):7.3f} | new median {med(b):7.3f} ms p90 {p90(b):7.3f} | new/old {med(b)/med(a):5.2f}")

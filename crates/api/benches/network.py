# The OZG network queries against a demo server (`rollout serve --demo --listen 127.0.0.1:8792`),
# beside `{ __typename }` in the same run: python3 crates/api/benches/network.py DATA_DIR/admin.token
# Sequential requests from a separate process over loopback: median and p99 per query.
import json, statistics, sys, time, http.client
token = open(sys.argv[1]).read().strip()
conn = http.client.HTTPConnection("127.0.0.1", 8792)
def q(query, who=token):
    body = json.dumps({"query": query})
    conn.request("POST", "/graphql", body, {"Content-Type": "application/json", "Authorization": "Bearer " + who})
    r = conn.getresponse(); data = json.loads(r.read())
    assert "errors" not in data, data
    return data
staff = q('mutation { issueToken(input: { name: "bench", role: "authority-staff", authorities: ["120540000000"], reason: "Messung" }) { token } }')["data"]["issueToken"]["token"]
for label, query in [
    ("{ __typename } (baseline)", "{ __typename }"),
    ("peers(serviceKey: wohngeld)", '{ peers(serviceKey: "wohngeld") { authority { ars } phase contacts { name } } }'),
    ("peers(serviceKey: wohngeld, stepId: interesse)", '{ peers(serviceKey: "wohngeld", stepId: "interesse") { authority { ars } completedAt contacts { name } } }'),
    ("solutions(query: \"Zertifikate\")", '{ solutions(query: "Zertifikate") { nodes { solution } } }'),
    ("tasks(first: 50), staff", '{ tasks(first: 50) { totalCount edges { node { id } } } }'),
]:
    times = []
    for _ in range(300):
        t = time.perf_counter(); q(query, staff); times.append(time.perf_counter() - t)
    times.sort()
    print(f"{label:48s} median {statistics.median(times)*1000:7.2f} ms  p99 {times[int(len(times)*0.99)]*1000:7.2f} ms")

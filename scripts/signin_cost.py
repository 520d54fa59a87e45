#!/usr/bin/env python3
"""Sign-in from outside: how long a whole sign-in takes, and a signed-in request beside a token
request on the same server, alternating.

    python3 scripts/signin_cost.py SERVER_ADDR ADMIN_TOKEN ISSUER_ID LOGIN

SERVER_ADDR runs with --auth-config naming ISSUER_ID (the provider of tests/oidc/op.mjs, whose
development login form takes LOGIN with any password). BENCHMARKS.md says how both are started.
A sign-in is measured from GET /auth/login to the callback's answer, every redirect and the
provider's login form included (a fresh client each time: no single sign-on). Then 20 warm-up
rounds and 300 measured per query, token and cookie alternating on one keep-alive connection
each."""
import http.client, json, statistics, sys, time, urllib.parse

def conn(addr):
    host, port = addr.split(":")
    return http.client.HTTPConnection(host, int(port), timeout=30)

class Client:
    """Keeps cookies per host (ports ignored, as browsers do) and follows redirects by hand."""
    def __init__(self):
        self.cookies = {}
    def request(self, method, url, body=None, headers=None):
        u = urllib.parse.urlsplit(url)
        c = conn(u.netloc)
        h = dict(headers or {})
        if self.cookies:
            h["cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        path = u.path + ("?" + u.query if u.query else "")
        c.request(method, path, body, h)
        r = c.getresponse()
        data = r.read().decode("utf-8", "replace")
        for k, v in r.getheaders():
            if k.lower() == "set-cookie":
                name, _, rest = v.split(";")[0].partition("=")
                if "max-age=0" in v.lower() or not rest:
                    self.cookies.pop(name.strip(), None)
                else:
                    self.cookies[name.strip()] = rest.strip()
        c.close()
        return r.status, dict((k.lower(), v) for k, v in r.getheaders()), data, url
    def follow(self, url, method="GET", body=None, headers=None):
        status, h, data, url = self.request(method, url, body, headers)
        while 300 <= status < 400:
            url = urllib.parse.urljoin(url, h["location"])
            status, h, data, url = self.request("GET", url)
        return status, data, url

def sign_in(addr, issuer, login):
    c = Client()
    t = time.perf_counter()
    status, page, url = c.follow(f"http://{addr}/auth/login?issuer={issuer}")
    assert status == 200 and 'name="login"' in page, page[:300]
    c.follow(url, "POST", f"prompt=login&login={login}&password=x", {"content-type": "application/x-www-form-urlencoded"})
    dt = time.perf_counter() - t
    assert "__Host-efa-session" in c.cookies, c.cookies
    return dt, c.cookies["__Host-efa-session"]

def ask(connection, headers, query):
    body = json.dumps({"query": query})
    t = time.perf_counter()
    connection.request("POST", "/graphql", body, dict({"content-type": "application/json"}, **headers))
    r = connection.getresponse(); data = r.read()
    dt = time.perf_counter() - t
    j = json.loads(data)
    assert "errors" not in j, j
    return dt

addr, token, issuer, login = sys.argv[1:5]
med = lambda xs: statistics.median(xs) * 1000
p90 = lambda xs: sorted(xs)[int(len(xs) * 0.9)] * 1000
times = []
for _ in range(21):
    dt, secret = sign_in(addr, issuer, login)
    times.append(dt)
times = times[1:]  # the first one also fetches the provider's discovery document and keys
print(f"sign-in (20, redirects and the login form included) median {med(times):7.1f} ms p90 {p90(times):7.1f} ms max {max(times)*1000:7.1f} ms")
by_token = {"authorization": "Bearer " + token}
by_cookie = {"cookie": f"__Host-efa-session={secret}", "origin": f"http://{addr}"}
queries = {
    "{ me { role } }": "{ me { role } }",
    "rollout(id) steps": '{ rollout(id: "wohngeld:120540000000") { id status phase steps { id status } } }',
}
a_conn, b_conn = conn(addr), conn(addr)
for name, q in queries.items():
    for _ in range(20):
        ask(a_conn, by_token, q); ask(b_conn, by_cookie, q)
    a, b = [], []
    for _ in range(300):
        a.append(ask(a_conn, by_token, q)); b.append(ask(b_conn, by_cookie, q))
    print(f"{name:22s} token median {med(a):7.3f} ms p90 {p90(a):7.3f} | session median {med(b):7.3f} ms p90 {p90(b):7.3f} | session/token {med(b)/med(a):5.2f}")

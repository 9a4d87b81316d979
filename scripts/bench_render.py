"""Server render time of portal pages: p50/p90/p99 over N sequential requests on loopback.

Usage: bench_render.py BASE_URL ADMIN_EMAIL ADMIN_PASSWORD [N]
Creates a tenant with an owner, signs in as the owner, and times full page responses
(server-side render with its queries, plus loopback: an upper bound on render time).
"""
import http.client, json, statistics, sys, time, urllib.parse

base, admin_email, admin_password = sys.argv[1:4]
n = int(sys.argv[4]) if len(sys.argv) > 4 else 500
host = urllib.parse.urlparse(base).netloc


class Session:
    def __init__(self):
        self.conn = http.client.HTTPConnection(host)
        self.cookie = None

    def request(self, method, path, form=None):
        headers = {"accept": "application/json"} if form is not None else {"accept": "text/html"}
        body = None
        if form is not None:
            body = urllib.parse.urlencode(form)
            headers["content-type"] = "application/x-www-form-urlencoded"
        if self.cookie:
            headers["cookie"] = self.cookie
        self.conn.request(method, path, body=body, headers=headers)
        res = self.conn.getresponse()
        data = res.read()
        for k, v in res.getheaders():
            if k.lower() == "set-cookie" and v.startswith("__Host-stratus="):
                self.cookie = v.split(";")[0]
        return res.status, data

    def rpc(self, name, **form):
        status, data = self.request("POST", f"/rpc/{name}", form)
        if status >= 400:
            sys.exit(f"{name} failed: {status} {data[:200]!r}")
        return json.loads(data or b"null")


admin = Session()
admin.rpc("sign_in", email=admin_email, password=admin_password)
slug = f"bench-{int(time.time())}"
created = admin.rpc("admin_create_tenant", slug=slug, display_name="Bench", owner_email=f"owner@{slug}.test")
owner = Session()
token = created["invitation"]["link_path"].rsplit("/", 1)[1]
owner.rpc("accept_invitation", token=token, display_name="Bench Owner", password="bench owner passphrase")
for i in range(10):
    owner.rpc("invite_member", email=f"m{i}@{slug}.test", role="member")

anonymous = Session()
pages = [("sign-in", anonymous, "/login"), ("dashboard", owner, "/"), ("members", owner, "/members")]
print(f"{'page':<10} {'n':>5} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8}")
for name, session, path in pages:
    for _ in range(20):  # warm-up
        session.request("GET", path)
    times = []
    for _ in range(n):
        start = time.perf_counter()
        status, _ = session.request("GET", path)
        times.append((time.perf_counter() - start) * 1000)
        assert status == 200, f"{path}: {status}"
    times.sort()
    q = lambda p: times[min(len(times) - 1, int(p * len(times)))]
    print(f"{name:<10} {n:>5} {statistics.median(times):>8.2f} {q(0.90):>8.2f} {q(0.99):>8.2f}")

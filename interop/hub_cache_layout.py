"""Cache tree that the real huggingface_hub builds from a loopback server speaking the Hub's /resolve/ protocol.

Writes interop/fixtures/hub/cache_tree.txt: one line per path under the cache (relative), symlinks as
"path -> target", refs with their content. HfHubCacheLayoutTest rebuilds the same tree with peft4j's HfHub
against the same server behaviour and compares. Rerun: interop/.venv/bin/python interop/hub_cache_layout.py
"""
import hashlib, http.server, os, sys, tempfile, threading

COMMIT = "0123456789abcdef0123456789abcdef01234567"
REPO = "org-a/tiny-model"
FILES = {"config.json": b'{"model_type":"llama"}', "model.safetensors": bytes((i * 31 + 7) % 256 for i in range(5000))}


class H(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def _serve(self, body_wanted):
        prefix = "/" + REPO + "/resolve/"
        if self.path.startswith(prefix):
            rev, f = self.path[len(prefix):].split("/", 1)
            self.send_response(404 if f not in FILES else 302)
            self.send_header("X-Repo-Commit", COMMIT)
            if f not in FILES:
                self.send_header("X-Error-Code", "EntryNotFound")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            b = FILES[f]
            self.send_header("X-Linked-Etag", '"%s"' % hashlib.sha256(b).hexdigest())
            self.send_header("X-Linked-Size", str(len(b)))
            self.send_header("ETag", 'W/"not-the-blob-name"')
            self.send_header("Location", "http://localhost:%d/cdn/%s" % (self.server.server_port, f))
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        b = FILES[self.path[len("/cdn/"):]]
        self.send_response(200)
        self.send_header("Content-Length", str(len(b)))
        self.end_headers()
        if body_wanted:
            self.wfile.write(b)

    def do_HEAD(self):
        self._serve(False)

    def do_GET(self):
        self._serve(True)


def main():
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    home = tempfile.mkdtemp()
    os.environ.update(HF_HOME=home, HF_ENDPOINT="http://127.0.0.1:%d" % srv.server_port, HF_HUB_DISABLE_TELEMETRY="1")
    from huggingface_hub import hf_hub_download, try_to_load_from_cache
    from huggingface_hub.errors import EntryNotFoundError
    for f in FILES:
        hf_hub_download(REPO, f)
    try:
        hf_hub_download(REPO, "generation_config.json")
    except EntryNotFoundError:
        pass
    cache = os.path.join(home, "hub")
    lines = []
    for root, dirs, files in os.walk(cache):
        for name in sorted(dirs + files):
            p = os.path.join(root, name)
            rel = os.path.relpath(p, cache)
            if rel.startswith(".locks") or name.startswith("."):
                if not rel.startswith(os.path.join("models--org-a--tiny-model", ".no_exist")):
                    continue
            if os.path.islink(p):
                lines.append("%s -> %s" % (rel, os.readlink(p)))
            elif os.path.isfile(p) and os.sep + "refs" + os.sep in p:
                lines.append("%s = %s" % (rel, open(p).read()))
            elif os.path.isfile(p):
                lines.append(rel)
    out = os.path.join(os.path.dirname(__file__), "fixtures", "hub", "cache_tree.txt")
    with open(out, "w") as fh:
        fh.write("\n".join(sorted(lines)) + "\n")
    print(open(out).read())


if __name__ == "__main__":
    main()

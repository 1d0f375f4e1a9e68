#!/usr/bin/python3
"""Self-test of server.py: starts it on a free port with the committed model and checks it over HTTP; then with a
model repository of the committed versions 1.0.0 and 2.0.0 beside it, and with a repository alone.

    /usr/bin/python3 deploy/model-server/test_server.py

Only the standard library and torch (for the reference answers). Exits 0 when every check passes.
"""

import gzip
import hashlib
import json
import os
import queue
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
MODEL = os.path.join(ROOT, "notebooks", "model", "next_event_mlp.pt")
METADATA = os.path.join(ROOT, "notebooks", "model", "next_event_mlp.json")
MODEL_V2 = os.path.join(ROOT, "notebooks", "model", "next_event_mlp_v2.pt")
METADATA_V2 = os.path.join(ROOT, "notebooks", "model", "next_event_mlp_v2.json")
PYTHON = "/usr/bin/python3"
READY_TIMEOUT_S = 120

with open(METADATA, encoding="utf-8") as f:
    META = json.load(f)
NAME = META["name"]
VERSION = META["version"]
F = META["featureCount"]
C = len(META["labels"])
with open(METADATA_V2, encoding="utf-8") as f:
    META_V2 = json.load(f)
F2 = META_V2["featureCount"]
SCAN_WAIT_S = 30  # the server scans its repository every second; a loaded 2-core machine may take longer


def sha256_of(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def _die_with_parent():
    try:
        import ctypes
        import signal

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Answer:
    def __init__(self, status, headers, raw):
        self.status = status
        self.headers = headers
        self.raw = raw
        self.body = gzip.decompress(raw) if headers.get("Content-Encoding") == "gzip" else raw

    def json(self):
        return json.loads(self.body)


def call(base, method, path, body=None, headers=None, timeout=30):
    """One HTTP call; error statuses are answers too, not exceptions."""
    if isinstance(body, (dict, list)):
        body = json.dumps(body).encode()
    req = urllib.request.Request(base + path, data=body, method=method, headers=dict(headers or {}))
    if body is not None and "Content-Type" not in req.headers:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return Answer(r.status, r.headers, r.read())
    except urllib.error.HTTPError as e:
        with e:
            return Answer(e.code, e.headers, e.read())


def infer_request(rows, request_id=None, nested=False):
    flat = [v for row in rows for v in row]
    body = {"inputs": [{"name": "features", "shape": [len(rows), len(rows[0]) if rows else F], "datatype": "FP32",
                        "data": [list(r) for r in rows] if nested else flat}],
            "outputs": [{"name": "probabilities"}]}
    if request_id is not None:
        body["id"] = request_id
    return body


class ServerProcess:
    def __init__(self, *args):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.args = list(args) or ["--model", MODEL]
        self.lines = []
        self.proc = None

    def start(self, ready_path=f"/v2/models/{NAME}"):
        self.proc = subprocess.Popen(
            [PYTHON, os.path.join(HERE, "server.py"), *self.args, "--host", "127.0.0.1", "--port", str(self.port)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1,
            preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None)
        ready = queue.Queue()

        def read():
            for line in self.proc.stdout:
                self.lines.append(line.rstrip("\n"))
                if "model-server ready on " in line:
                    ready.put(line.strip())
            ready.put(None)

        threading.Thread(target=read, daemon=True).start()
        t0 = time.monotonic()
        try:
            line = ready.get(timeout=READY_TIMEOUT_S)
        except queue.Empty:
            line = None
        if line is None:
            raise RuntimeError("the server did not say it is ready; its output:\n" + "\n".join(self.lines))
        expected = f"model-server ready on {self.base}{ready_path}"
        assert line == expected, f"ready line {line!r}, expected {expected!r}"
        return time.monotonic() - t0

    def await_line(self, text, timeout=SCAN_WAIT_S):
        """Waits until the server printed a line containing text."""
        deadline = time.monotonic() + timeout
        while not any(text in line for line in list(self.lines)):
            assert time.monotonic() < deadline, f"the server did not print {text!r} within {timeout} s"
            time.sleep(0.05)

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


def publish(repository, version, model, metadata, name=NAME):
    """Adds a version to a repository in the publish order: model.pt, then metadata.json (renamed into place)."""
    d = os.path.join(repository, name, version)
    os.makedirs(d, exist_ok=True)
    shutil.copyfile(model, os.path.join(d, "model.pt"))
    with open(metadata, encoding="utf-8") as f:
        meta = json.load(f)
    meta["version"] = version
    with open(os.path.join(d, ".metadata.json.tmp"), "w", encoding="utf-8") as f:
        json.dump(meta, f)
    os.replace(os.path.join(d, ".metadata.json.tmp"), os.path.join(d, "metadata.json"))
    return d


def run_checks(checks, results):
    for check in checks:
        try:
            check()
            results.append((check.__name__, None))
        except Exception as e:  # noqa: BLE001 - every failure is reported, then the next check runs
            results.append((check.__name__, e))
            print(f"FAIL {check.__name__}: {type(e).__name__}: {e}", file=sys.stderr)
            traceback.print_exc()


def check_server_log(server, results, what):
    if server.proc.poll() is not None:
        results.append((f"{what}_alive", RuntimeError(f"the server exited with {server.proc.returncode}")))
    errors = [line for line in server.lines if "Traceback" in line or "ERROR" in line]
    if errors:
        results.append((f"{what}_log", RuntimeError("the server logged errors:\n" + "\n".join(server.lines))))


def repository_checks(results):
    """The versions of a repository beside --model (as the local stack runs it), then a repository alone."""
    import torch

    references = {path: torch.jit.load(path, map_location="cpu").eval() for path in (MODEL, MODEL_V2)}

    def reference(path, rows):
        with torch.inference_mode():
            return references[path](torch.tensor(rows, dtype=torch.float32)).tolist()

    repository = tempfile.mkdtemp(prefix="model-repository-")
    publish(repository, "1.0.0", MODEL, METADATA)
    publish(repository, "2.0.0", MODEL_V2, METADATA_V2)
    # A version being published: its model.pt is there, its metadata.json not yet.
    os.makedirs(os.path.join(repository, NAME, "2.1.0"))
    shutil.copyfile(MODEL_V2, os.path.join(repository, NAME, "2.1.0", "model.pt"))
    rows = [[((r * 7 + i * 13) % 17) / 8.0 - 1.0 for i in range(F2)] for r in range(5)]
    model_path = f"/v2/models/{NAME}"

    def answer_of(base, version, rows_sent):
        a = call(base, "POST", f"{model_path}/versions/{version}/infer", infer_request(rows_sent))
        assert a.status == 200, (version, a.status, a.body[:300])
        body = a.json()
        assert body["model_name"] == NAME and body["model_version"] == version, body
        out = body["outputs"][0]
        assert out["shape"] == [len(rows_sent), C], out
        return [out["data"][r * C:(r + 1) * C] for r in range(len(rows_sent))]

    def assert_close(got, want, what):
        for r, (g, w) in enumerate(zip(got, want)):
            assert all(abs(x - y) <= 1e-5 for x, y in zip(g, w)), f"{what} row {r}: {g} vs reference {w}"

    def assert_status(a, status, what):
        assert a.status == status, f"{what}: HTTP {a.status} {a.body[:300]!r}, expected {status}"
        return a.json()

    def metadata(base, path):
        m = assert_status(call(base, "GET", path), 200, f"metadata of {path}")
        return m, m["parameters"]

    server = ServerProcess("--model", MODEL, "--repository", repository)
    try:
        server.start()
        base = server.base

        def check_repository_versions():
            for version, pt, meta in (("1.0.0", MODEL, META), ("2.0.0", MODEL_V2, META_V2)):
                path = f"{model_path}/versions/{version}"
                m, p = metadata(base, path)
                assert m["name"] == NAME and m["versions"] == [version], m
                assert m["inputs"] == [{"name": "features", "datatype": "FP32", "shape": [-1, meta["featureCount"]]}], m
                assert p["version"] == version and p["labels"] == meta["labels"], p
                assert p["sha256"] == sha256_of(pt), (version, p["sha256"])
                assert assert_status(call(base, "GET", f"{path}/ready"), 200, f"{path}/ready")["ready"] is True
            # Unversioned: the --model, whatever the repository holds.
            m, p = metadata(base, model_path)
            assert p["version"] == VERSION and p["sha256"] == sha256_of(MODEL), p
            assert sha256_of(MODEL) != sha256_of(MODEL_V2)

        def check_repository_infer():
            v1 = answer_of(base, "1.0.0", [r[:F] for r in rows])
            v2 = answer_of(base, "2.0.0", rows)
            assert_close(v1, reference(MODEL, [r[:F] for r in rows]), "1.0.0")
            assert_close(v2, reference(MODEL_V2, rows), "2.0.0")
            assert any(abs(x - y) > 1e-3 for a, b in zip(v1, v2) for x, y in zip(a, b)), "1.0.0 and 2.0.0 agree"
            a = call(base, "POST", f"{model_path}/infer", infer_request([r[:F] for r in rows]))
            assert a.status == 200 and a.json()["model_version"] == VERSION, (a.status, a.body[:300])
            a = call(base, "POST", f"{model_path}/versions/2.0.0/infer", infer_request([r[:F] for r in rows]))
            assert_status(a, 400, "32 features for 2.0.0, which takes 38")

        def check_repository_unknown():
            for version in ("9.9.9", "2.1.0", "..", ".metadata.json.tmp"):  # 2.1.0 has no metadata.json yet
                path = f"{model_path}/versions/{version}"
                for method, suffix, body in (("GET", "", None), ("GET", "/ready", None),
                                             ("POST", "/infer", infer_request(rows))):
                    e = assert_status(call(base, method, path + suffix, body), 404, f"{method} {path}{suffix}")
                    assert "unknown version" in e["error"], e
            assert_status(call(base, "GET", "/v2/models/no-such-model/versions/1.0.0"), 404, "an unknown model")

        def check_version_added_at_runtime():
            publish(repository, "3.0.0", MODEL_V2, METADATA_V2)
            # Named by a request before any scan saw it: loaded at once.
            a = call(base, "GET", f"{model_path}/versions/3.0.0/ready")
            assert a.status == 200 and a.json()["ready"] is True, (a.status, a.body)
            assert metadata(base, f"{model_path}/versions/3.0.0")[1]["sha256"] == sha256_of(MODEL_V2)
            assert_close(answer_of(base, "3.0.0", rows), reference(MODEL_V2, rows), "3.0.0")
            # Named by no request: the scan finds it.
            publish(repository, "2.1.0", MODEL_V2, METADATA_V2)  # its metadata.json completes it
            server.await_line(f"loaded {NAME} 2.1.0 ")
            assert call(base, "GET", f"{model_path}/versions/2.1.0/ready").status == 200

        def check_broken_version():
            d = os.path.join(repository, NAME, "4.0.0")
            os.makedirs(d)
            with open(os.path.join(d, "model.pt"), "wb") as f:
                f.write(os.urandom(4096))
            shutil.copyfile(METADATA_V2, os.path.join(d, "metadata.json"))
            for method, suffix, body in (("GET", "", None), ("GET", "/ready", None),
                                         ("POST", "/infer", infer_request(rows))):
                e = assert_status(call(base, method, f"{model_path}/versions/4.0.0{suffix}", body), 503,
                                  f"{method} of a version that does not load")
                assert "does not load" in e["error"], e
            assert call(base, "GET", "/v2/health/ready").status == 200, "a broken version makes the server unready"
            # Its files fixed: the next readiness request loads them again, without waiting for a scan.
            os.remove(os.path.join(d, "metadata.json"))
            publish(repository, "4.0.0", MODEL_V2, METADATA_V2)
            assert call(base, "GET", f"{model_path}/versions/4.0.0/ready").status == 200
            assert_close(answer_of(base, "4.0.0", rows), reference(MODEL_V2, rows), "4.0.0 once fixed")

        def check_version_replaced():
            # 2.1.0's files replaced by version 1's: its metadata names the new file at once.
            os.remove(os.path.join(repository, NAME, "2.1.0", "metadata.json"))
            publish(repository, "2.1.0", MODEL, METADATA)
            m, p = metadata(base, f"{model_path}/versions/2.1.0")
            assert p["sha256"] == sha256_of(MODEL) and m["inputs"][0]["shape"] == [-1, F], m
            assert_close(answer_of(base, "2.1.0", [r[:F] for r in rows]), reference(MODEL, [r[:F] for r in rows]),
                         "2.1.0 replaced")

        def check_version_removed():
            shutil.rmtree(os.path.join(repository, NAME, "3.0.0"))
            server.await_line(f"{NAME} 3.0.0 removed")
            assert_status(call(base, "GET", f"{model_path}/versions/3.0.0/ready"), 404, "a removed version")
            assert call(base, "GET", f"{model_path}/versions/2.0.0/ready").status == 200

        run_checks([check_repository_versions, check_repository_infer, check_repository_unknown,
                    check_version_added_at_runtime, check_broken_version, check_version_replaced,
                    check_version_removed], results)
        check_server_log(server, results, "repository_server")
    except Exception as e:  # noqa: BLE001
        traceback.print_exc()
        results.append(("repository_startup", e))
    finally:
        server.stop()

    alone = ServerProcess("--repository", repository)
    try:
        alone.start(f"/v2/models (repository {os.path.abspath(repository)})")
        base = alone.base

        def check_repository_alone_serves_the_newest():
            m, p = metadata(base, model_path)
            assert p["version"] == "4.0.0" and m["versions"] == ["4.0.0"], m
            publish(repository, "10.0.0", MODEL, METADATA)  # 10 > 4: numbers, not text
            assert call(base, "GET", f"{model_path}/versions/10.0.0/ready").status == 200
            m, p = metadata(base, model_path)
            assert p["version"] == "10.0.0" and p["sha256"] == sha256_of(MODEL), p
            a = call(base, "POST", f"{model_path}/infer", infer_request([r[:F] for r in rows]))
            assert a.status == 200 and a.json()["model_version"] == "10.0.0", (a.status, a.body[:300])
            assert_status(call(base, "GET", "/v2/models/no-such-model"), 404, "an unknown model")

        run_checks([check_repository_alone_serves_the_newest], results)
        check_server_log(alone, results, "repository_alone_server")
    except Exception as e:  # noqa: BLE001
        traceback.print_exc()
        results.append(("repository_alone_startup", e))
    finally:
        alone.stop()
        shutil.rmtree(repository, ignore_errors=True)

    def check_arguments():
        r = subprocess.run([PYTHON, os.path.join(HERE, "server.py")], capture_output=True, text=True, timeout=60)
        assert r.returncode == 2 and "--model or --repository" in r.stderr, (r.returncode, r.stderr)
        r = subprocess.run([PYTHON, os.path.join(HERE, "server.py"), "--repository", os.path.join(repository, "gone")],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 2 and "is not a directory" in r.stderr, (r.returncode, r.stderr)

    run_checks([check_arguments], results)


def main():
    import torch

    torch.set_num_threads(1)
    torch.set_num_interop_threads(1)
    reference_model = torch.jit.load(MODEL, map_location="cpu").eval()

    def reference(rows):
        with torch.inference_mode():
            return reference_model(torch.tensor(rows, dtype=torch.float32)).tolist()

    server = ServerProcess()
    results = []
    timing = {}
    try:
        startup_s = server.start()
        base = server.base
        model_path = f"/v2/models/{NAME}"
        version_path = f"{model_path}/versions/{VERSION}"
        rows3 = [[0.0] * F, [1.0] * F, [i / F for i in range(F)]]

        def assert_error(a, status, what):
            assert a.status == status, f"{what}: HTTP {a.status} {a.body[:300]!r}, expected {status}"
            body = a.json()
            assert isinstance(body.get("error"), str) and body["error"], f"{what}: no error message in {body}"
            return body["error"]

        def assert_answer(a, rows, request_id=None):
            assert a.status == 200, f"HTTP {a.status}: {a.body[:300]!r}"
            assert a.headers.get("Content-Type", "").startswith("application/json"), a.headers.get("Content-Type")
            body = a.json()
            assert body["model_name"] == NAME, body
            assert body["model_version"] == VERSION, body
            if request_id is None:
                assert "id" not in body, body
            else:
                assert body["id"] == request_id, body
            assert len(body["outputs"]) == 1, body
            out = body["outputs"][0]
            assert out["name"] == "probabilities" and out["datatype"] == "FP32", out
            assert out["shape"] == [len(rows), C], out["shape"]
            data = out["data"]
            assert len(data) == len(rows) * C, len(data)
            want = reference(rows)
            for r in range(len(rows)):
                got = data[r * C:(r + 1) * C]
                assert abs(sum(got) - 1.0) < 1e-4, f"row {r} sums to {sum(got)}"
                for c in range(C):
                    assert abs(got[c] - want[r][c]) <= 1e-5, f"row {r} class {c}: {got[c]} vs reference {want[r][c]}"
            return data

        def check_health():
            assert call(base, "GET", "/v2/health/live").status == 200
            a = call(base, "GET", "/v2/health/ready")
            assert a.status == 200 and a.json().get("ready") is True, (a.status, a.body)
            s = call(base, "GET", "/v2").json()
            assert isinstance(s["name"], str) and isinstance(s["version"], str) and s["extensions"] == [], s
            for path in (f"{model_path}/ready", f"{version_path}/ready"):
                a = call(base, "GET", path)
                assert a.status == 200 and a.json()["ready"] is True, (path, a.status, a.body)

        def check_metadata():
            for path in (model_path, version_path):
                a = call(base, "GET", path)
                assert a.status == 200, (path, a.status, a.body)
                m = a.json()
                assert m["name"] == NAME and m["versions"] == [VERSION], m
                assert m["platform"] == "pytorch_torchscript", m
                assert m["inputs"] == [{"name": "features", "datatype": "FP32", "shape": [-1, F]}], m["inputs"]
                assert m["outputs"] == [{"name": "probabilities", "datatype": "FP32", "shape": [-1, C]}], m["outputs"]
                p = m["parameters"]
                assert p["labels"] == META["labels"], p
                assert p["class_priors"] == META["classPriors"], p
                assert p["version"] == VERSION, p
                assert p["sha256"] == sha256_of(MODEL), p

        def check_infer():
            assert_answer(call(base, "POST", f"{model_path}/infer", infer_request(rows3)), rows3)
            assert_answer(call(base, "POST", f"{version_path}/infer", infer_request(rows3, "req-1")), rows3, "req-1")
            # nested data, no "outputs", one row
            assert_answer(call(base, "POST", f"{model_path}/infer", infer_request(rows3, nested=True)), rows3)
            one = {"inputs": [{"name": "features", "shape": [1, F], "datatype": "FP32", "data": rows3[2]}]}
            assert_answer(call(base, "POST", f"{model_path}/infer", one), rows3[2:])
            empty = {"inputs": [{"name": "features", "shape": [0, F], "datatype": "FP32", "data": []}]}
            a = call(base, "POST", f"{model_path}/infer", empty)
            assert a.status == 200 and a.json()["outputs"][0]["shape"] == [0, C], (a.status, a.body)

        def check_gzip():
            body = gzip.compress(json.dumps(infer_request(rows3, "gz")).encode())
            a = call(base, "POST", f"{model_path}/infer", body, {"Content-Encoding": "gzip"})
            assert a.headers.get("Content-Encoding") is None, "a small answer should not be gzipped"
            assert_answer(a, rows3, "gz")
            rows64 = [[((r * 7 + i * 13) % 17) / 8.0 - 1.0 for i in range(F)] for r in range(64)]
            body = gzip.compress(json.dumps(infer_request(rows64)).encode())
            a = call(base, "POST", f"{model_path}/infer", body,
                     {"Content-Encoding": "gzip", "Accept-Encoding": "gzip"})
            assert a.headers.get("Content-Encoding") == "gzip", dict(a.headers)
            assert len(a.raw) < len(a.body), (len(a.raw), len(a.body))
            assert_answer(a, rows64)
            a = call(base, "POST", f"{model_path}/infer", b"\x1f\x8b\x08 not gzip", {"Content-Encoding": "gzip"})
            assert_error(a, 400, "a broken gzip body")

        def check_not_found():
            assert_error(call(base, "GET", "/v2/models/no-such-model"), 404, "metadata of an unknown model")
            assert_error(call(base, "GET", "/v2/models/no-such-model/ready"), 404, "readiness of an unknown model")
            assert_error(call(base, "POST", "/v2/models/no-such-model/infer", infer_request(rows3)), 404,
                         "infer on an unknown model")
            assert_error(call(base, "GET", f"{model_path}/versions/9.9.9"), 404, "metadata of an unknown version")
            assert_error(call(base, "POST", f"{model_path}/versions/9.9.9/infer", infer_request(rows3)), 404,
                         "infer on an unknown version")
            assert_error(call(base, "GET", "/no/such/path"), 404, "an unknown path")

        def check_bad_requests():
            url = f"{model_path}/infer"
            short = [r[:F - 1] for r in rows3]
            assert_error(call(base, "POST", url, infer_request(short)), 400, "31 features")
            assert_error(call(base, "POST", url, b"this is not json"), 400, "a body that is not JSON")
            assert_error(call(base, "POST", url, b"\xff\xfe\x00garbage"), 400, "a body that is not UTF-8")
            assert_error(call(base, "POST", url, b""), 400, "an empty body")
            r = infer_request(rows3)
            r["inputs"][0]["data"] = r["inputs"][0]["data"][:-1]
            assert_error(call(base, "POST", url, r), 400, "95 values for [3, 32]")
            r = infer_request(rows3)
            r["inputs"][0]["shape"] = [4, F]
            assert_error(call(base, "POST", url, r), 400, "96 values for [4, 32]")
            assert_error(call(base, "POST", url, {"inputs": []}), 400, "no inputs")
            assert_error(call(base, "POST", url, {"id": "x"}), 400, "no inputs at all")
            assert_error(call(base, "POST", url, [1, 2, 3]), 400, "a JSON array")
            r = infer_request(rows3)
            r["inputs"][0]["datatype"] = "INT64"
            assert_error(call(base, "POST", url, r), 400, "datatype INT64")
            r = infer_request(rows3)
            r["inputs"][0]["name"] = "pixels"
            assert_error(call(base, "POST", url, r), 400, "an unknown input name")
            r = infer_request(rows3)
            r["outputs"] = [{"name": "logits"}]
            assert_error(call(base, "POST", url, r), 400, "an unknown output name")
            for bad in ("a", None, {"x": 1}, [1.0], True):
                r = infer_request(rows3)
                r["inputs"][0]["data"][5] = bad
                assert_error(call(base, "POST", url, r), 400, f"a value {bad!r}")
            r = infer_request(rows3)
            r["inputs"][0]["data"][5] = 1e300  # finite in JSON, not in FP32
            assert_error(call(base, "POST", url, r), 400, "a value beyond FP32")
            body = json.dumps(infer_request(rows3)).replace("0.5", "NaN", 1).encode()
            assert b"NaN" in body
            assert_error(call(base, "POST", url, body), 400, "NaN")
            r = infer_request(rows3)
            r["inputs"][0]["shape"] = [3, F, 1]
            assert_error(call(base, "POST", url, r), 400, "a 3-d shape")
            r = infer_request(rows3)
            r["inputs"][0]["shape"] = "3x32"
            assert_error(call(base, "POST", url, r), 400, "a shape that is a string")
            r = infer_request(rows3, nested=True)
            r["inputs"][0]["data"][1] = r["inputs"][0]["data"][1][:-1]
            assert_error(call(base, "POST", url, r), 400, "ragged nested data")
            r = infer_request(rows3, nested=True)
            r["inputs"][0]["data"][2][3] = False
            assert_error(call(base, "POST", url, r), 400, "a boolean in nested data")
            r = infer_request(rows3, nested=True)
            r["inputs"][0]["data"] = [r["inputs"][0]["data"]]
            assert_error(call(base, "POST", url, r), 400, "data nested three deep")
            r = infer_request(rows3)
            r["id"] = 17
            assert_error(call(base, "POST", url, r), 400, "a numeric id")
            a = call(base, "POST", url, b"{}", {"Content-Encoding": "br"})
            assert_error(a, 415, "Content-Encoding br")
            assert_error(call(base, "GET", url), 405, "GET on infer")
            # the server still answers after all that
            assert_answer(call(base, "POST", url, infer_request(rows3)), rows3)

        def check_fail_injection():
            a = call(base, "POST", "/admin/fail?status=503&count=2")
            assert a.status == 200 and a.json() == {"status": 503, "count": 2}, (a.status, a.body)
            url = f"{model_path}/infer"
            assert_error(call(base, "POST", url, infer_request(rows3)), 503, "the first injected failure")
            assert_error(call(base, "POST", url, infer_request(rows3)), 503, "the second injected failure")
            assert_answer(call(base, "POST", url, infer_request(rows3)), rows3)
            a = call(base, "POST", "/admin/fail?status=429")
            assert a.json() == {"status": 429, "count": 1}, a.body
            assert_error(call(base, "POST", url, infer_request(rows3)), 429, "an injected 429")
            assert_answer(call(base, "POST", url, infer_request(rows3)), rows3)
            assert_error(call(base, "POST", "/admin/fail?status=200&count=1"), 400, "an injected 200")
            assert_error(call(base, "POST", "/admin/fail?count=many"), 400, "a count that is not a number")

        def check_delay():
            url = f"{model_path}/infer"
            a = call(base, "POST", "/admin/delay?ms=200")
            assert a.status == 200 and a.json() == {"delay_ms": 200}, (a.status, a.body)
            t0 = time.monotonic()
            assert_answer(call(base, "POST", url, infer_request(rows3)), rows3)
            slow = time.monotonic() - t0
            assert slow >= 0.2, f"an infer with a 200 ms delay took {slow:.3f} s"
            # the delay does not block the event loop: other endpoints answer meanwhile
            done = []
            t = threading.Thread(target=lambda: done.append(call(base, "POST", url, infer_request(rows3))))
            t.start()
            time.sleep(0.02)
            t1 = time.monotonic()
            assert call(base, "GET", "/v2/health/ready").status == 200
            assert time.monotonic() - t1 < 0.15, "health waited for a delayed infer"
            t.join()
            assert done and done[0].status == 200
            a = call(base, "POST", "/admin/delay?ms=0")
            assert a.status == 200 and a.json() == {"delay_ms": 0}, (a.status, a.body)
            t0 = time.monotonic()
            assert_answer(call(base, "POST", url, infer_request(rows3)), rows3)
            fast = time.monotonic() - t0
            assert fast < 0.15, f"an infer without delay took {fast:.3f} s"
            assert_error(call(base, "POST", "/admin/delay?ms=-5"), 400, "a negative delay")
            assert_error(call(base, "POST", "/admin/delay"), 400, "no delay")

        def check_priority_slots():
            url = f"{model_path}/infer"
            assert call(base, "POST", "/admin/slots?n=1").json() == {"slots": 1}
            assert call(base, "POST", "/admin/delay?ms=200").status == 200
            finished = []

            def send(tag, priority):
                body = infer_request(rows3)
                if priority is not None:
                    body["parameters"] = {"priority": priority}
                a = call(base, "POST", url, body)
                assert a.status == 200, (tag, a.status, a.body)
                finished.append(tag)

            try:
                threads = []
                for tag, priority in (("first", None), ("normal-1", None), ("normal-2", 0), ("urgent", 1)):
                    threads.append(threading.Thread(target=send, args=(tag, priority)))
                    threads[-1].start()
                    time.sleep(0.05)  # arrive in this order while "first" holds the only slot
                for t in threads:
                    t.join()
                assert finished == ["first", "urgent", "normal-1", "normal-2"], \
                    f"one slot: the priority request waits only for the one computing, not for those before it: {finished}"
                bad = infer_request(rows3)
                bad["parameters"] = {"priority": "high"}
                assert_error(call(base, "POST", url, bad), 400, "a priority that is not a level")
            finally:
                assert call(base, "POST", "/admin/delay?ms=0").status == 200
                assert call(base, "POST", "/admin/slots?n=0").json() == {"slots": 0}

        def check_not_ready():
            assert call(base, "POST", "/admin/ready?ready=false").json() == {"ready": False}
            try:
                assert_error(call(base, "GET", "/v2/health/ready"), 503, "server readiness when not ready")
                assert_error(call(base, "GET", f"{model_path}/ready"), 503, "model readiness when not ready")
                assert_error(call(base, "POST", f"{model_path}/infer", infer_request(rows3)), 503,
                             "infer when not ready")
                assert call(base, "GET", "/v2/health/live").status == 200
            finally:
                assert call(base, "POST", "/admin/ready?ready=true").json() == {"ready": True}
            assert call(base, "GET", f"{model_path}/ready").status == 200

        def check_timing():
            rows64 = [[((r * 7 + i * 13) % 17) / 8.0 - 1.0 for i in range(F)] for r in range(64)]
            body = json.dumps(infer_request(rows64)).encode()
            url = f"{model_path}/infer"
            for _ in range(30):
                assert call(base, "POST", url, body).status == 200
            times = []
            for _ in range(200):
                t0 = time.perf_counter()
                a = call(base, "POST", url, body)
                times.append(time.perf_counter() - t0)
                assert a.status == 200
            assert_answer(a, rows64)
            times.sort()
            timing["median_ms"] = statistics.median(times) * 1000
            timing["p90_ms"] = times[int(len(times) * 0.9)] * 1000
            timing["bytes"] = len(body)

        checks = [check_health, check_metadata, check_infer, check_gzip, check_not_found, check_bad_requests,
                  check_priority_slots,
                  check_fail_injection, check_delay, check_not_ready, check_timing]
        run_checks(checks, results)
        check_server_log(server, results, "server")
    except Exception as e:  # noqa: BLE001
        traceback.print_exc()
        results.append(("startup", e))
    finally:
        server.stop()
    repository_checks(results)

    failed = [name for name, e in results if e is not None]
    passed = len(results) - len(failed)
    timing_text = (f"; infer of 64 rows: median {timing['median_ms']:.2f} ms, p90 {timing['p90_ms']:.2f} ms "
                   f"over 200 calls ({timing['bytes']} B request)") if timing else ""
    startup_text = f"; ready in {startup_s:.1f} s" if "startup_s" in locals() else ""
    if failed:
        print(f"model-server test: FAILED {len(failed)} of {len(results)} checks ({', '.join(failed)})"
              f"{startup_text}{timing_text}")
        return 1
    print(f"model-server test: all {passed} checks passed{startup_text}{timing_text}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

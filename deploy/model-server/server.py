#!/usr/bin/python3
"""An Open Inference Protocol (KServe v2 REST) model server for the project's TorchScript classifier.

One process, one event loop: requests are parsed and the model is run on the event loop itself (a small MLP takes
well under a millisecond), so the server uses one core at most. It serves one model (--model), the versions of a model
repository (--repository DIR: DIR/<name>/<version>/model.pt and metadata.json, versions added while it runs
included), or both. Run it with Debian's Python, which has torch, FastAPI and uvicorn:

    /usr/bin/python3 deploy/model-server/server.py --model notebooks/model/next_event_mlp.pt

See README.md beside this file for the endpoints and the fault-injection admin endpoints.
"""

import argparse
import asyncio
import hashlib
import heapq
import io
import itertools
import json
import math
import os
import re
import sys
import zlib
from concurrent.futures import ThreadPoolExecutor

try:  # orjson parses faster; Debian 12 has no package of it, so this is usually the stdlib json
    import orjson

    _loads = orjson.loads
except ImportError:  # pragma: no cover - depends on the machine
    _loads = json.loads

SERVER_NAME = "flinkai-model-server"
SERVER_VERSION = "1.0.0"
INPUT_NAME = "features"
OUTPUT_NAME = "probabilities"
PLATFORM = "pytorch_torchscript"
MAX_BODY_BYTES = 64 * 1024 * 1024  # request bodies, before and after gzip
GZIP_MIN_BYTES = 1024
GZIP_LEVEL = 1  # responses of a few KB: level 1 costs far less CPU than the default 9 and compresses floats nearly as well
KEEP_ALIVE_S = 330  # longer than OkHttp's 5-minute pool, so clients close idle connections before the server does
MODEL_FILE = "model.pt"  # a repository version's files; metadata.json is written last, and makes the version visible
METADATA_FILE = "metadata.json"

_dumps = json.JSONEncoder(separators=(",", ":"), allow_nan=False, ensure_ascii=True).encode


class BadRequest(Exception):
    """A request the server refuses, with the HTTP status and the message of its {"error": ...} body."""

    def __init__(self, message, status=400):
        super().__init__(message)
        self.message = message
        self.status = status


class ModelError(Exception):
    """A model file and metadata that do not make a servable model."""


class Model:
    """The TorchScript model and what its metadata says of it."""

    def __init__(self, model_path, metadata_path, name=None, version=None):
        import torch

        with open(metadata_path, encoding="utf-8") as f:
            meta = json.load(f)
        with open(model_path, "rb") as f:
            data = f.read()  # read once: the checksum is that of the bytes loaded, even if the file changes meanwhile
        self.torch = torch
        self.sha256 = hashlib.sha256(data).hexdigest()
        self.name = name or meta["name"]
        self.version = version or str(meta["version"])
        self.labels = [str(label) for label in meta["labels"]]
        self.feature_count = int(meta["featureCount"])
        self.class_priors = [float(p) for p in meta.get("classPriors", [])]
        self.module = torch.jit.load(io.BytesIO(data), map_location="cpu")
        self.module.eval()
        # A few calls let TorchScript's profiling executor settle before the first real request.
        for rows in (1, 8, 64, 1, 8, 64):
            out = self.predict(torch.zeros(rows, self.feature_count))
            if tuple(out.shape) != (rows, len(self.labels)):
                raise ModelError(f"model {model_path} returns {list(out.shape)} for [{rows}, {self.feature_count}] "
                                 f"rows, the metadata names {len(self.labels)} labels")
        self.metadata_body = _dumps({
            "name": self.name,
            "versions": [self.version],
            "platform": PLATFORM,
            "inputs": [{"name": INPUT_NAME, "datatype": "FP32", "shape": [-1, self.feature_count]}],
            "outputs": [{"name": OUTPUT_NAME, "datatype": "FP32", "shape": [-1, len(self.labels)]}],
            "parameters": {"labels": self.labels, "class_priors": self.class_priors, "version": self.version,
                           "sha256": self.sha256},
        }).encode()
        self.ready_body = _dumps({"name": self.name, "ready": True}).encode()
        self.answer_head = ('{"model_name":' + _dumps(self.name) + ',"model_version":' + _dumps(self.version)).encode()
        self.output_head = ('"outputs":[{"name":"' + OUTPUT_NAME + '","datatype":"FP32","shape":[').encode()

    def predict(self, x):
        with self.torch.inference_mode():
            return self.module(x)

    def tensor(self, request):
        """The [n, features] float32 tensor of an infer request (a parsed JSON object), or BadRequest."""
        if not isinstance(request, dict):
            raise BadRequest("the request body is not a JSON object")
        inputs = request.get("inputs")
        if not isinstance(inputs, list) or not inputs:
            raise BadRequest("the request has no 'inputs'")
        if len(inputs) != 1:
            raise BadRequest(f"the request has {len(inputs)} inputs; the model takes one, '{INPUT_NAME}'")
        tensor = inputs[0]
        if not isinstance(tensor, dict):
            raise BadRequest("inputs[0] is not an object")
        name = tensor.get("name")
        if name != INPUT_NAME:
            raise BadRequest(f"unknown input {_dumps(name)}; the model takes '{INPUT_NAME}'")
        datatype = tensor.get("datatype")
        if datatype != "FP32":
            raise BadRequest(f"input '{INPUT_NAME}' has datatype {_dumps(datatype)}, expected FP32")
        shape = tensor.get("shape")
        f = self.feature_count
        if (not isinstance(shape, list) or len(shape) != 2
                or not all(isinstance(d, int) and not isinstance(d, bool) for d in shape)
                or shape[0] < 0 or shape[1] != f):
            raise BadRequest(f"input '{INPUT_NAME}' has shape {_dumps(shape)}, expected [n, {f}]")
        n = shape[0]
        data = tensor.get("data")
        if not isinstance(data, list):
            raise BadRequest(f"input '{INPUT_NAME}' has no 'data' array")
        check_numbers(data)
        torch = self.torch
        try:
            x = torch.tensor(data, dtype=torch.float32)
        except (TypeError, ValueError, RuntimeError, OverflowError) as e:
            raise BadRequest(f"input '{INPUT_NAME}' data is not an array of numbers: {e}") from None
        if x.numel() != n * f:
            raise BadRequest(f"input '{INPUT_NAME}' has {x.numel()} values, its shape [{n}, {f}] needs {n * f}")
        if x.dim() != 1 and tuple(x.shape) != (n, f):
            raise BadRequest(f"input '{INPUT_NAME}' data is nested as {list(x.shape)}, "
                             f"expected a flat array or [{n}, {f}]")
        if n and not bool(torch.isfinite(x).all()):
            raise BadRequest(f"input '{INPUT_NAME}' has values that are not finite FP32 numbers")
        outputs = request.get("outputs")
        if outputs is not None:
            if not isinstance(outputs, list) or not all(isinstance(o, dict) for o in outputs):
                raise BadRequest("'outputs' is not an array of objects")
            for o in outputs:
                if o.get("name") != OUTPUT_NAME:
                    raise BadRequest(f"unknown output {_dumps(o.get('name'))}; the model returns '{OUTPUT_NAME}'")
        return x.reshape(n, f)

    def answer(self, request_id, y):
        """The infer response body for the [n, classes] output y."""
        n, c = y.shape
        parts = [self.answer_head]
        if request_id is not None:
            parts.append(b',"id":' + _dumps(request_id).encode())
        parts.append(b",")
        parts.append(self.output_head)
        parts.append(b"%d,%d]," % (n, c))
        parts.append(b'"data":' + _dumps(y.flatten().tolist()).encode())
        parts.append(b"}]}")
        return b"".join(parts)


_NUMBERS = {float, int}


def check_numbers(data):
    """BadRequest unless data is a list of numbers or a list of lists of numbers (JSON true/false are not numbers)."""
    types = set(map(type, data))
    if types <= _NUMBERS:
        return
    if types == {list}:
        for row in data:
            row_types = set(map(type, row))
            if not row_types <= _NUMBERS:
                break
        else:
            return
        types = row_types
    bad = sorted(t.__name__ for t in types - _NUMBERS)
    names = {"str": "strings", "NoneType": "nulls", "bool": "booleans", "dict": "objects", "list": "nested arrays"}
    raise BadRequest(f"input '{INPUT_NAME}' data has {', '.join(names.get(b, b) for b in bad)}, "
                     f"not only numbers")


class Version:
    """A repository version: the files it was loaded from, and the model or why there is none."""

    def __init__(self, files, model, error):
        self.files = files
        self.model = model
        self.error = error


class Repository:
    """The model versions under ROOT/<name>/<version>/: model.pt, then metadata.json, which makes the version visible.

    The directory names are the model's name and version in URLs and answers. A version is loaded in a worker thread
    (the event loop keeps answering meanwhile) when a request names it or the periodic scan finds it, and loaded again
    when its files change (seen by the scan, or by a readiness or metadata request for it); a version whose files do
    not load answers 503 with the reason until they change. A version whose directory is removed is no longer served.
    Directories whose name starts with '.' are ignored.
    """

    def __init__(self, root, scan_interval_s):
        self.root = root
        self.scan_interval_s = scan_interval_s
        self.versions = {}  # (name, version) -> Version
        self.loading = {}  # (name, version) -> the future of the load under way
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="model-loader")

    def files(self, name, version):
        """(mtime_ns, size) of the version's metadata.json and model.pt; None while it has no metadata.json."""
        d = os.path.join(self.root, name, version)
        try:
            meta = os.stat(os.path.join(d, METADATA_FILE))
        except OSError:
            return None
        try:
            pt = os.stat(os.path.join(d, MODEL_FILE))
            pt = (pt.st_mtime_ns, pt.st_size)
        except OSError:
            pt = None
        return (meta.st_mtime_ns, meta.st_size), pt

    def listed(self):
        """The files of every visible version, by (name, version); OSError when the root cannot be listed."""
        found = {}
        for name in _subdirs(self.root):
            try:
                versions = _subdirs(os.path.join(self.root, name))
            except OSError:
                continue  # removed while being listed
            for version in versions:
                files = self.files(name, version)
                if files is not None:
                    found[(name, version)] = files
        return found

    def load_now(self, key, files):
        """Loads a version (in the worker thread, or at start); its failure is a Version with the reason."""
        name, version = key
        d = os.path.join(self.root, name, version)
        try:
            model = Model(os.path.join(d, MODEL_FILE), os.path.join(d, METADATA_FILE), name, version)
        except Exception as e:  # noqa: BLE001 - whatever the files are, the server goes on and says why
            first_line = (str(e).strip().splitlines() or [""])[0][:300]
            reason = f"version '{version}' of model '{name}' does not load: {type(e).__name__}: {first_line}"
            print(f"repository: {reason}", flush=True)
            return Version(files, None, reason)
        print(f"repository: loaded {name} {version} from {d} (sha256 {model.sha256})", flush=True)
        return Version(files, model, None)

    def load(self, key, files):
        """The future of loading the version: one load of a version at a time, kept when its requester goes away."""
        future = self.loading.get(key)
        if future is None:
            future = asyncio.get_running_loop().run_in_executor(self.executor, self.load_now, key, files)
            self.loading[key] = future

            def loaded(f):
                del self.loading[key]
                if not f.cancelled() and f.exception() is None:
                    self.versions[key] = f.result()

            future.add_done_callback(loaded)
        return future

    def scan_now(self):
        """Loads every visible version, before the server starts."""
        for key, files in sorted(self.listed().items()):
            self.versions[key] = self.load_now(key, files)

    async def scan(self):
        """Loads versions added or changed since the last scan, forgets removed ones."""
        found = self.listed()
        for key in [k for k in self.versions if k not in found]:
            del self.versions[key]
            print(f"repository: {key[0]} {key[1]} removed", flush=True)
        for key, files in sorted(found.items()):
            known = self.versions.get(key)
            if known is None or known.files != files:
                await asyncio.shield(self.load(key, files))

    async def watch(self):
        while True:
            await asyncio.sleep(self.scan_interval_s)
            try:
                await self.scan()
            except OSError as e:
                print(f"repository: cannot list {self.root}: {e}", flush=True)

    async def find(self, name, version, fresh=False):
        """The version, loaded first if its directory has just become visible (fresh: or its files changed since it
        was loaded); None if there is no such version."""
        known = self.versions.get((name, version))
        if known is not None and not fresh:
            return known
        if not _plain_name(name) or not _plain_name(version):
            return None
        files = self.files(name, version)
        if files is None:
            return None
        if known is not None and known.files == files:
            return known
        return await asyncio.shield(self.load((name, version), files))

    def version_names(self, name):
        return sorted((v for (n, v) in self.versions if n == name), key=version_order)

    def newest(self, name):
        """The loaded version of the model with the highest version number, or None."""
        loaded = [v.model for (n, _), v in self.versions.items() if n == name and v.model is not None]
        return max(loaded, key=lambda m: version_order(m.version)) if loaded else None


def _plain_name(segment):
    return bool(segment) and not segment.startswith(".") and "/" not in segment and "\\" not in segment \
        and "\0" not in segment


def _subdirs(path):
    with os.scandir(path) as entries:
        return [e.name for e in entries if _plain_name(e.name) and e.is_dir()]


def version_order(version):
    """Sorts 1.10.0 after 1.9.0: numeric parts as numbers, before text parts."""
    return [(0, int(part), "") if part.isdigit() else (1, 0, part) for part in re.split(r"[.+-]", version)]


class ComputeSlots:
    """At most n infer requests compute (delay + model) at once, as on a server whose capacity is bounded; waiting
    requests get a slot by priority, as Triton orders them: a request's `parameters.priority` 1 is the highest level,
    then 2, ..., and 0 (none given) last; first come first served within a level."""

    def __init__(self, n):
        self.n = n
        self.free = n
        self.waiting = []
        self.arrivals = itertools.count()

    async def acquire(self, priority):
        if self.free > 0 and not self.waiting:
            self.free -= 1
            return
        turn = asyncio.get_running_loop().create_future()
        heapq.heappush(self.waiting, (priority if priority > 0 else math.inf, next(self.arrivals), turn))
        try:
            await turn
        except asyncio.CancelledError:
            if turn.done() and not turn.cancelled():
                self.release()  # the slot was handed over just as the request went away
            raise

    def release(self):
        while self.waiting:
            turn = heapq.heappop(self.waiting)[2]
            if not turn.done():
                turn.set_result(None)
                return
        self.free += 1


class State:
    def __init__(self, model, delay_ms, repository=None, slots=0):
        self.model = model
        self.repository = repository
        self.delay_ms = delay_ms
        self.slots = ComputeSlots(slots) if slots > 0 else None
        self.fail_status = 503
        self.fail_count = 0
        self.ready = True


def create_app(state):
    from fastapi import FastAPI, Request
    from fastapi.exceptions import RequestValidationError
    from starlette.exceptions import HTTPException as StarletteHTTPException
    from starlette.middleware.gzip import GZipMiddleware
    from starlette.responses import Response

    def json_response(body, status=200):
        if not isinstance(body, bytes):
            body = _dumps(body).encode()
        return Response(content=body, status_code=status, media_type="application/json")

    def error(message, status):
        return json_response({"error": message}, status)

    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    app.add_middleware(GZipMiddleware, minimum_size=GZIP_MIN_BYTES, compresslevel=GZIP_LEVEL)

    async def http_error(request, exc):
        return error(str(exc.detail), exc.status_code)

    async def validation_error(request, exc):
        return error(str(exc), 400)

    async def bad_request(request, exc):
        return error(exc.message, exc.status)

    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(BadRequest, bad_request)

    if state.repository is not None:
        watching = []

        @app.on_event("startup")
        async def watch_repository():
            watching.append(asyncio.create_task(state.repository.watch()))

        @app.on_event("shutdown")
        async def stop_watching():
            for task in watching:
                task.cancel()

    async def model_for(name, version=None, fresh=False):
        """The --model for its name unversioned, else the repository's newest version; a version: the repository's,
        else the --model's if it is that version. Fresh (readiness and metadata, what a client asks before it uses a
        version): a repository version whose files changed since it was loaded is loaded again first."""
        model = state.model if state.model is not None and name == state.model.name else None
        repository = state.repository
        if version is None:
            if model is None and repository is not None:
                model = repository.newest(name)
                if model is None and repository.version_names(name):
                    raise BadRequest(f"no version of model '{name}' loads", 503)
            if model is None:
                raise BadRequest(f"unknown model '{name}'", 404)
            return model
        if repository is not None:
            found = await repository.find(name, version, fresh)
            if found is not None:
                if found.model is None:
                    raise BadRequest(found.error, 503)
                return found.model
        if model is not None and version == model.version:
            return model
        versions = sorted({*(repository.version_names(name) if repository is not None else []),
                           *([model.version] if model is not None else [])}, key=version_order)
        if not versions:
            raise BadRequest(f"unknown model '{name}'", 404)
        raise BadRequest(f"unknown version '{version}' of model '{name}' (it has {', '.join(versions)})", 404)

    # --- server --------------------------------------------------------------------------------------------------

    @app.get("/v2")
    async def server_metadata():
        return json_response({"name": SERVER_NAME, "version": SERVER_VERSION, "extensions": []})

    @app.get("/v2/health/live")
    async def live():
        return json_response({"live": True})

    @app.get("/v2/health/ready")
    async def ready():
        if not state.ready:
            return json_response({"ready": False, "error": "the model is not loaded"}, 503)
        return json_response({"ready": True})

    # --- model ---------------------------------------------------------------------------------------------------

    async def model_ready(name, version):
        model = await model_for(name, version, fresh=True)
        if not state.ready:
            return json_response({"name": model.name, "ready": False, "error": "the model is not ready"}, 503)
        return json_response(model.ready_body)

    @app.get("/v2/models/{name}")
    async def model_metadata(name: str):
        return json_response((await model_for(name)).metadata_body)

    @app.get("/v2/models/{name}/versions/{version}")
    async def model_version_metadata(name: str, version: str):
        return json_response((await model_for(name, version, fresh=True)).metadata_body)

    @app.get("/v2/models/{name}/ready")
    async def ready_model(name: str):
        return await model_ready(name, None)

    @app.get("/v2/models/{name}/versions/{version}/ready")
    async def ready_model_version(name: str, version: str):
        return await model_ready(name, version)

    async def infer(request, name, version):
        model = await model_for(name, version)
        if not state.ready:
            return error("the model is not ready", 503)
        if state.fail_count > 0:
            state.fail_count -= 1
            return error(f"injected failure ({state.fail_count} more to come)", state.fail_status)
        length = request.headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > MAX_BODY_BYTES:
            return error(f"the request body is larger than {MAX_BODY_BYTES} bytes", 413)
        body = await request.body()
        encoding = request.headers.get("content-encoding", "identity").strip().lower()
        if encoding in ("gzip", "x-gzip"):
            body = gunzip(body)
        elif encoding not in ("identity", ""):
            return error(f"unsupported Content-Encoding '{encoding}' (gzip and identity are)", 415)
        try:
            parsed = _loads(body)
        except ValueError as e:  # json.JSONDecodeError, UnicodeDecodeError and orjson.JSONDecodeError are ValueErrors
            return error(f"the request body is not JSON: {e}", 400)
        x = model.tensor(parsed)
        request_id = parsed.get("id")
        if request_id is not None and not isinstance(request_id, str):
            return error("'id' is not a string", 400)
        parameters = parsed.get("parameters") or {}
        priority = parameters.get("priority", 0) if isinstance(parameters, dict) else None
        if not isinstance(priority, int) or isinstance(priority, bool) or priority < 0:
            return error("'parameters.priority' is not a level (an integer >= 0; 1 is the highest)", 400)
        slots = state.slots
        if slots is not None:
            await slots.acquire(priority)
        try:
            delay = state.delay_ms
            if delay > 0:
                await asyncio.sleep(delay / 1000.0)
            y = model.predict(x)
        finally:
            if slots is not None:
                slots.release()
        return json_response(model.answer(request_id, y))

    @app.post("/v2/models/{name}/infer")
    async def infer_model(name: str, request: Request):
        return await infer(request, name, None)

    @app.post("/v2/models/{name}/versions/{version}/infer")
    async def infer_model_version(name: str, version: str, request: Request):
        return await infer(request, name, version)

    # --- fault injection -----------------------------------------------------------------------------------------

    def query_number(request, key, default, kind, low, high):
        raw = request.query_params.get(key)
        if raw is None:
            if default is None:
                raise BadRequest(f"query parameter '{key}' is missing")
            return default
        try:
            value = kind(raw)
        except ValueError:
            raise BadRequest(f"query parameter '{key}' is not a number: '{raw}'") from None
        if not (low <= value <= high) or (isinstance(value, float) and math.isnan(value)):
            raise BadRequest(f"query parameter '{key}' must be between {low} and {high}, not {raw}")
        return value

    @app.post("/admin/delay")
    async def admin_delay(request: Request):
        ms = query_number(request, "ms", None, float, 0, 3_600_000)
        state.delay_ms = int(ms) if ms == int(ms) else ms
        return json_response({"delay_ms": state.delay_ms})

    @app.post("/admin/slots")
    async def admin_slots(request: Request):
        n = query_number(request, "n", None, int, 0, 100_000)
        state.slots = ComputeSlots(n) if n > 0 else None
        return json_response({"slots": n})

    @app.post("/admin/fail")
    async def admin_fail(request: Request):
        status = query_number(request, "status", 503, int, 400, 599)
        count = query_number(request, "count", 1, int, 0, 1_000_000_000)
        state.fail_status, state.fail_count = status, count
        return json_response({"status": status, "count": count})

    @app.post("/admin/ready")
    async def admin_ready(request: Request):
        raw = request.query_params.get("ready", "true").lower()
        if raw not in ("true", "false"):
            raise BadRequest(f"query parameter 'ready' must be true or false, not '{raw}'")
        state.ready = raw == "true"
        return json_response({"ready": state.ready})

    return app


def gunzip(body):
    """The decompressed body of a gzip request, at most MAX_BODY_BYTES, or BadRequest."""
    try:
        d = zlib.decompressobj(16 + zlib.MAX_WBITS)
        out = d.decompress(body, MAX_BODY_BYTES)
        if d.unconsumed_tail:
            raise BadRequest(f"the decompressed request body is larger than {MAX_BODY_BYTES} bytes", 413)
        out += d.flush()
        if not d.eof:
            raise BadRequest("the gzip request body is truncated")
        return out
    except zlib.error as e:
        raise BadRequest(f"the request body is not valid gzip: {e}") from None


def main(argv=None):
    p = argparse.ArgumentParser(description="Open Inference Protocol (KServe v2 REST) server for TorchScript models")
    p.add_argument("--model", help="the TorchScript file (.pt); --model, --repository or both")
    p.add_argument("--metadata", help="the model's metadata JSON (default: the .json beside the .pt)")
    p.add_argument("--repository", help="a directory of versions, DIR/<name>/<version>/model.pt and metadata.json")
    p.add_argument("--scan-interval-s", type=float, default=1.0,
                   help="how often the repository is scanned for versions added, changed or removed")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000, help="0 picks a free port")
    p.add_argument("--delay-ms", type=float, default=0.0, help="sleep this long in every infer request")
    p.add_argument("--slots", type=int, default=0,
                   help="infer requests computing (delay + model) at once; the others wait, highest priority first "
                        "(parameters.priority 1, 2, ..., then none); 0: no limit")
    p.add_argument("--name", help="the model's name in URLs (default: the metadata's name)")
    p.add_argument("--label", help="ignored: lets the scripts that start the server recognise its process")
    args = p.parse_args(argv)
    if args.delay_ms < 0:
        p.error("--delay-ms must not be negative")
    if args.slots < 0:
        p.error("--slots must not be negative")
    if args.model is None and args.repository is None:
        p.error("--model or --repository (or both) is required")
    if args.model is None and (args.metadata is not None or args.name is not None):
        p.error("--metadata and --name go with --model")
    if not args.scan_interval_s > 0:
        p.error("--scan-interval-s must be positive")
    if args.model is not None:
        metadata = args.metadata or os.path.splitext(args.model)[0] + ".json"
        for path, what in ((args.model, "model"), (metadata, "metadata")):
            if not os.path.isfile(path):
                p.error(f"the {what} file {path} does not exist")
    if args.repository is not None and not os.path.isdir(args.repository):
        p.error(f"the repository {args.repository} is not a directory")

    import torch

    # A 2-core machine: one thread for the model, no inter-op pool (set before any parallel work).
    torch.set_num_threads(1)
    torch.set_num_interop_threads(1)
    import uvicorn

    try:
        model = Model(args.model, metadata, args.name) if args.model is not None else None
    except ModelError as e:
        raise SystemExit(str(e)) from None
    repository = None
    if args.repository is not None:
        repository = Repository(os.path.abspath(args.repository), args.scan_interval_s)
        repository.scan_now()
        print(f"repository {repository.root}: {len(repository.versions)} version(s)", flush=True)
    delay = int(args.delay_ms) if args.delay_ms == int(args.delay_ms) else args.delay_ms
    state = State(model, delay, repository, args.slots)
    app = create_app(state)

    class Server(uvicorn.Server):
        async def startup(self, sockets=None):
            await super().startup(sockets)
            if self.started and not self.should_exit:
                host, port = args.host, args.port
                try:
                    port = self.servers[0].sockets[0].getsockname()[1]
                except (AttributeError, IndexError, TypeError):
                    pass
                shown = f"[{host}]" if ":" in host else host
                where = f"/v2/models/{model.name}" if model is not None else f"/v2/models (repository {repository.root})"
                print(f"model-server ready on http://{shown}:{port}{where}", flush=True)

    # What uvicorn.run(app, ...) does, with a hook that says when the socket is listening.
    config = uvicorn.Config(app, host=args.host, port=args.port, log_level="warning", access_log=False,
                            timeout_keep_alive=KEEP_ALIVE_S)
    server = Server(config=config)
    server.run()
    if not server.started:
        sys.exit(3)


if __name__ == "__main__":
    main()

"""A minimal AWS Lambda custom runtime for Python: the Runtime API loop.

awslambdaric (the official one) is on PyPI only, which this project cannot
reach, so the benchmark runs the original Python functions through this
loop under the Runtime Interface Emulator, like Lambda's own runtime would.
"""
import importlib
import json
import os
import sys
import traceback
import urllib.request

API = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2018-06-01/runtime"


def post(path, body):
    req = urllib.request.Request(API + path, data=json.dumps(body).encode(), method="POST")
    req.add_header("Content-Type", "application/json")
    urllib.request.urlopen(req).read()


def main():
    sys.path.insert(0, os.environ.get("LAMBDA_TASK_ROOT", os.path.dirname(__file__)))
    module_name, function_name = os.environ["_HANDLER"].rsplit(".", 1)
    try:
        handler = getattr(importlib.import_module(module_name), function_name)
    except Exception as exc:  # an init error, reported as Lambda does
        post("/init/error", {"errorMessage": str(exc), "errorType": type(exc).__name__})
        raise
    while True:
        with urllib.request.urlopen(API + "/invocation/next") as resp:
            request_id = resp.headers["Lambda-Runtime-Aws-Request-Id"]
            event = json.loads(resp.read() or b"{}")
        try:
            result = handler(event, None)
            post("/invocation/" + request_id + "/response", result)
        except Exception as exc:
            traceback.print_exc()
            post("/invocation/" + request_id + "/error",
                 {"errorMessage": str(exc), "errorType": type(exc).__name__})


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""A tiny Lambda runtime-interface loop in the standard library (what the managed
Python runtime does, minus its extras): import the handler (init: boto3 import and
client construction), then poll /invocation/next, call the handler, post the answer."""

import http.client
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

host, port = os.environ["AWS_LAMBDA_RUNTIME_API"].split(":")
conn = http.client.HTTPConnection(host, int(port))

try:
    import handler
except Exception as e:  # reported as an init error, as the managed runtime does
    conn.request("POST", "/2018-06-01/runtime/init/error", json.dumps({"errorMessage": str(e)}))
    conn.getresponse().read()
    raise

while True:
    conn.request("GET", "/2018-06-01/runtime/invocation/next")
    response = conn.getresponse()
    event = json.loads(response.read())
    request_id = response.getheader("Lambda-Runtime-Aws-Request-Id")
    try:
        result = handler.handler(event, None)
        path, body = "response", json.dumps(result)
    except Exception as e:
        path, body = "error", json.dumps({"errorMessage": str(e), "errorType": type(e).__name__})
    conn.request("POST", f"/2018-06-01/runtime/invocation/{request_id}/{path}", body)
    conn.getresponse().read()

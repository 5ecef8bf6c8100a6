#!/usr/bin/env python3
"""Validates the OpenAPI document of the API.

Usage: python infra/check_openapi.py shared/http/openapi.json

Needs `openapi-spec-validator` (pip install openapi-spec-validator). Checks the document
against the OpenAPI 3.0/3.1 specification (structure, schemas, parameters, every `$ref`),
then a few rules of this project the specification does not enforce:

- every operation has a unique `operationId` and at least one response;
- error responses (4xx/5xx) are `application/problem+json` with the shared `Problem` schema;
- every path parameter in a path template is declared, and every declared one is used.

Prints every error and exits with status 1 when there is any, 0 when the document is valid.
"""

import json
import re
import sys
from pathlib import Path

METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")


def load(path):
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as e:
        sys.exit(f"{path}: cannot read: {e}")
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        sys.exit(f"{path}: not JSON: {e}")


def spec_errors(document):
    """Errors reported by openapi-spec-validator (all of them, not just the first)."""
    try:
        from openapi_spec_validator import validate
        from openapi_spec_validator.validation.exceptions import OpenAPIValidationError
    except ImportError:
        sys.exit("openapi-spec-validator is not installed: pip install openapi-spec-validator")
    try:
        from openapi_spec_validator import OpenAPIV30SpecValidator, OpenAPIV31SpecValidator
    except ImportError:  # older versions: the first error only
        OpenAPIV30SpecValidator = OpenAPIV31SpecValidator = None
    if OpenAPIV30SpecValidator is not None:
        version = str(document.get("openapi", ""))
        cls = OpenAPIV31SpecValidator if version.startswith("3.1") else OpenAPIV30SpecValidator
        try:
            return [format_error(e) for e in cls(document).iter_errors()]
        except Exception as e:  # a broken $ref surfaces as an exception while iterating
            return [format_error(e)]
    try:
        validate(document)
    except OpenAPIValidationError as e:
        return [format_error(e)]
    return []


def format_error(error):
    where = "/".join(str(p) for p in getattr(error, "absolute_path", []) or [])
    message = getattr(error, "message", None) or str(error)
    if len(message) > 400:  # some messages quote the whole document
        message = message[:400] + " ..."
    return f"{where or '<document>'}: {message}"


def resolve(document, node):
    """Follows local `$ref`s (the spec validator already checked they resolve)."""
    seen = 0
    while isinstance(node, dict) and "$ref" in node and seen < 32:
        pointer = node["$ref"]
        if not pointer.startswith("#/"):
            return node
        node = document
        for part in pointer[2:].split("/"):
            part = part.replace("~1", "/").replace("~0", "~")
            node = node.get(part, {}) if isinstance(node, dict) else {}
        seen += 1
    return node


def project_errors(document):
    errors = []
    operation_ids = {}
    for path, item in (document.get("paths") or {}).items():
        if not isinstance(item, dict):
            continue
        template_params = set(re.findall(r"{([^}]+)}", path))
        shared = [resolve(document, p) for p in item.get("parameters", [])]
        for method in METHODS:
            operation = item.get(method)
            if not isinstance(operation, dict):
                continue
            where = f"{method.upper()} {path}"
            op_id = operation.get("operationId")
            if not op_id:
                errors.append(f"{where}: no operationId")
            elif op_id in operation_ids:
                errors.append(f"{where}: operationId {op_id!r} also used by {operation_ids[op_id]}")
            else:
                operation_ids[op_id] = where
            responses = operation.get("responses") or {}
            if not responses:
                errors.append(f"{where}: no responses")
            for code, response in responses.items():
                if not str(code)[:1] in ("4", "5"):
                    continue
                content = (resolve(document, response).get("content") or {})
                media = content.get("application/problem+json")
                if media is None:
                    errors.append(f"{where}: response {code} is not application/problem+json")
                elif (media.get("schema") or {}).get("$ref") != "#/components/schemas/Problem":
                    errors.append(f"{where}: response {code} does not use the Problem schema")
            params = shared + [resolve(document, p) for p in operation.get("parameters", [])]
            declared = {p.get("name") for p in params if p.get("in") == "path"}
            for missing in sorted(template_params - declared):
                errors.append(f"{where}: path parameter {{{missing}}} is not declared")
            for extra in sorted(declared - template_params):
                errors.append(f"{where}: path parameter {extra!r} is not in the path")
    return errors


def main(argv):
    if len(argv) != 2:
        sys.exit(f"usage: python {argv[0]} shared/http/openapi.json")
    path = argv[1]
    document = load(path)
    errors = spec_errors(document)
    if not errors:
        errors = project_errors(document)
    for error in errors:
        print(f"{path}: {error}", file=sys.stderr)
    if errors:
        print(f"{path}: INVALID ({len(errors)} error(s))", file=sys.stderr)
        return 1
    operations = sum(
        1 for item in document.get("paths", {}).values() for m in METHODS if isinstance(item, dict) and m in item
    )
    print(f"{path}: valid OpenAPI {document.get('openapi')} ({len(document.get('paths', {}))} paths, {operations} operations)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

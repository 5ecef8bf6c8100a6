#!/usr/bin/env python3
"""Translate template.yaml (SAM) into plain CloudFormation offline and check it.

cfn-lint 1.x validates the SAM template against SAM's schema but no longer runs the
SAM transform, so a template can lint clean and still fail when CloudFormation
expands it. This runs the same translator SAM uses (aws-sam-translator), with a
dummy region and account and no AWS credentials, then checks the few properties of
the result the rest of the project relies on: which routes skip the JWT
authorizer, how the dispatcher reads the stream, that no role grants a wildcard it
should not, and that every AWS operation the Rust code calls is granted to some
role (so a new SDK call fails here rather than as an AccessDenied in production).

Usage: translate.py [--template PATH] [--output PATH]
Exits non-zero on any translation error or failed check.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

import boto3
from samtranslator.model.exceptions import InvalidDocumentException
from samtranslator.parser.parser import Parser
from samtranslator.translator.translator import Translator
from samtranslator.yaml_helper import yaml_parse

REGION = "eu-west-1"
ACCOUNT_ID = "123456789012"

# Values for the parameters that have no default; only their shape matters here.
SAMPLE_PARAMETERS = {
    "JwtIssuer": "https://issuer.example.com/",
    "JwtAudience": "followups-api",
    "SesFromAddress": "followups@example.com",
    "SesIdentity": "example.com",
    "VoiceApiUrl": "https://voice.example.com/v1/calls",
}

# Routes whose authorization is part of the product contract (README, "The API").
EXPECTED_ROUTES = {
    "ANY /v1/{proxy+}": "JWT",
    "GET /v1/openapi.json": "NONE",
    "POST /v1/webhooks/{account_id}/call-completed": "NONE",
    "GET /v1/inbound/{account_id}/whatsapp": "NONE",
    "POST /v1/inbound/{account_id}/whatsapp": "NONE",
    "GET /v1/unsubscribe/{token}": "NONE",
    "POST /v1/unsubscribe/{token}": "NONE",
    "POST /v1/webhooks/{account_id}/vapi": "NONE",
    "POST /v1/webhooks/{account_id}/retell": "NONE",
    "POST /v1/webhooks/{account_id}/bland": "NONE",
    "POST /v1/webhooks/{account_id}/elevenlabs": "NONE",
    # The OAuth redirect of a connecting mailbox: the signed state names the account.
    "GET /v1/mailboxes/{provider}/callback": "NONE",
}

# The only actions that may be granted on Resource "*": they have no resource ARN.
WILDCARD_RESOURCE_ACTIONS = {
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
    "sns:Publish",
    "sns:CheckIfPhoneNumberIsOptedOut",
}


def as_packaged(sam_template: dict[str, Any]) -> dict[str, Any]:
    """Point local CodeUri values at S3, as `sam build && sam package` would."""
    for name, resource in sam_template.get("Resources", {}).items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        code_uri = resource.get("Properties", {}).get("CodeUri")
        if isinstance(code_uri, str) and not code_uri.startswith("s3://"):
            resource["Properties"]["CodeUri"] = f"s3://offline-artifacts/{name}.zip"
    return sam_template


def translate(template_path: Path) -> dict[str, Any]:
    sam_template = as_packaged(yaml_parse(template_path.read_text()))
    session = boto3.session.Session(
        region_name=REGION,
        aws_access_key_id="offline",
        aws_secret_access_key="offline",
    )
    parameters = dict(SAMPLE_PARAMETERS)
    parameters["AWS::AccountId"] = ACCOUNT_ID
    translator = Translator(managed_policy_map=None, sam_parser=Parser(), boto_session=session)
    # No managed policy is referenced by name, so the map that would come from IAM
    # stays empty and nothing leaves the machine.
    return translator.translate(
        sam_template,
        parameter_values=parameters,
        get_managed_policy_map=lambda: {},
    )


def resources_of(template: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    return {
        name: resource
        for name, resource in template["Resources"].items()
        if resource["Type"] == resource_type
    }


def route_auth(security: list[dict[str, Any]] | None) -> str:
    # SAM writes a route's `Authorizer: NONE` as the requirement {"NONE": []},
    # which API Gateway imports as "no authorization".
    names = {name for requirement in security or [] for name in requirement}
    if names <= {"NONE"}:
        return "NONE"
    return "JWT" if names == {"OperatorJwt"} else "+".join(sorted(names))


def check_routes(template: dict[str, Any]) -> list[str]:
    problems = []
    routes = {}
    for api in resources_of(template, "AWS::ApiGatewayV2::Api").values():
        paths = api["Properties"].get("Body", {}).get("paths", {})
        default_security = api["Properties"]["Body"].get("security")
        for path, methods in paths.items():
            for method, operation in methods.items():
                key = f"{method.upper().replace('X-AMAZON-APIGATEWAY-ANY-METHOD', 'ANY')} {path}"
                routes[key] = route_auth(operation.get("security", default_security))
    for route, auth in EXPECTED_ROUTES.items():
        if route not in routes:
            problems.append(f"route {route} is missing")
        elif routes[route] != auth:
            problems.append(f"route {route} has auth {routes[route]}, expected {auth}")
    for route, auth in routes.items():
        if route not in EXPECTED_ROUTES and auth != "JWT":
            problems.append(f"route {route} is not behind the JWT authorizer")
    return problems


def check_stream_mapping(template: dict[str, Any]) -> list[str]:
    mappings = resources_of(template, "AWS::Lambda::EventSourceMapping")
    streams = [m for m in mappings.values() if "StartingPosition" in m["Properties"]]
    queues = [m for m in mappings.values() if "StartingPosition" not in m["Properties"]]
    if len(streams) != 1 or len(queues) != 1:
        return [
            "expected two event source mappings (the dispatcher's: the table stream and the "
            f"executors' failure queue), found {len(streams)} stream and {len(queues)} queue mappings"
        ]
    problems = []
    if "ReportBatchItemFailures" not in queues[0]["Properties"].get("FunctionResponseTypes", []):
        problems.append("failure-queue mapping does not keep the messages it could not settle")
    properties = streams[0]["Properties"]
    patterns = [json.loads(f["Pattern"]) for f in properties.get("FilterCriteria", {}).get("Filters", [])]
    # Every pattern (they are OR-ed) must keep to follow-up items.
    if not patterns or any(p.get("dynamodb", {}).get("Keys") != {"sk": {"S": ["FU"]}} for p in patterns):
        problems.append(f"stream filter is {patterns}, expected follow-up items only (sk = FU) in every pattern")
    if properties.get("BisectBatchOnFunctionError") is not True:
        problems.append("stream mapping does not bisect failing batches")
    if "ReportBatchItemFailures" not in properties.get("FunctionResponseTypes", []):
        problems.append("stream mapping does not accept partial batch failures")
    if not properties.get("MaximumRetryAttempts"):
        problems.append("stream mapping retries without bound")
    if not properties.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination"):
        problems.append("stream mapping has no on-failure destination")
    return problems


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def statements_of(role: dict[str, Any]) -> list[dict[str, Any]]:
    statements = []
    for policy in role["Properties"].get("Policies", []):
        for statement in policy["PolicyDocument"]["Statement"]:
            # Conditional statements are {"Fn::If": [cond, statement, NoValue]}.
            if "Fn::If" in statement:
                statement = statement["Fn::If"][1]
            statements.append(statement)
    return statements


def check_roles(template: dict[str, Any]) -> list[str]:
    problems = []
    for name, role in resources_of(template, "AWS::IAM::Role").items():
        if role["Properties"].get("ManagedPolicyArns"):
            problems.append(f"{name} has managed policies; every grant must be written out")
        for statement in statements_of(role):
            if statement["Effect"] != "Allow":
                continue
            actions = as_list(statement["Action"])
            for action in actions:
                if "*" in action:
                    problems.append(f"{name} grants a wildcard action {action}")
            if "*" in as_list(statement.get("Resource")):
                extra = set(actions) - WILDCARD_RESOURCE_ACTIONS
                if extra:
                    problems.append(f"{name} grants {sorted(extra)} on every resource")
    return problems


# AWS SDK calls in the Rust code and the IAM action each needs, per SDK crate. A
# call counts only in a file that uses that crate, so a domain method that happens
# to share a name (a policy `send_email`, an HTTP `query`) is not mistaken for one.
SDK_ACTIONS = {
    "aws_sdk_dynamodb": {
        r"\.get_item\(\)": "dynamodb:GetItem",
        r"\.put_item\(\)": "dynamodb:PutItem",
        r"\.delete_item\(\)": "dynamodb:DeleteItem",
        r"\.update_item\(\)": "dynamodb:UpdateItem",
        r"\.query\(\)": "dynamodb:Query",
        r"\.scan\(\)": "dynamodb:Scan",
        r"\.batch_get_item\(\)": "dynamodb:BatchGetItem",
        r"\.batch_write_item\(\)": "dynamodb:BatchWriteItem",
        r"\.transact_get_items\(\)": "dynamodb:GetItem",
        # Items of a TransactWriteItems are authorized one by one.
        r"\bPut::builder\(\)": "dynamodb:PutItem",
        r"\bDelete::builder\(\)": "dynamodb:DeleteItem",
        r"\bUpdate::builder\(\)": "dynamodb:UpdateItem",
        r"\bConditionCheck::builder\(\)": "dynamodb:ConditionCheckItem",
    },
    "aws_sdk_scheduler": {
        r"\.create_schedule\(\)": "scheduler:CreateSchedule",
        r"\.update_schedule\(\)": "scheduler:UpdateSchedule",
        r"\.delete_schedule\(\)": "scheduler:DeleteSchedule",
        r"\.get_schedule\(\)": "scheduler:GetSchedule",
        r"\.list_schedules\(\)": "scheduler:ListSchedules",
    },
    "aws_sdk_sns": {
        r"\.publish\(\)": "sns:Publish",
        r"\.check_if_phone_number_is_opted_out\(\)": "sns:CheckIfPhoneNumberIsOptedOut",
    },
    "aws_sdk_sesv2": {
        r"\.send_email\(\)": "ses:SendEmail",
        r"\.send_bulk_email\(\)": "ses:SendBulkEmail",
    },
    "aws_sdk_ssm": {
        r"\.get_parameter\(\)": "ssm:GetParameter",
        r"\.get_parameters\(\)": "ssm:GetParameters",
    },
    "aws_sdk_kms": {
        r"\.generate_data_key\(\)": "kms:GenerateDataKey",
        r"\.decrypt\(\)": "kms:Decrypt",
        r"\.encrypt\(\)": "kms:Encrypt",
    },
    "aws_sdk_lambda": {
        r"\.invoke\(\)": "lambda:InvokeFunction",
    },
}

# Code that never runs in Lambda: test helpers, integration tests, benches, examples
# (the local runtime lives in infra/, outside CODE_DIRS).
CODE_DIRS = ("functions", "shared")
NOT_DEPLOYED_CRATES = ("shared/testkit",)
NOT_DEPLOYED_DIRS = {"tests", "benches", "examples"}


def check_code_grants(template: dict[str, Any], root: Path) -> list[str]:
    granted = set()
    for role in resources_of(template, "AWS::IAM::Role").values():
        for statement in statements_of(role):
            if statement["Effect"] == "Allow":
                granted.update(as_list(statement["Action"]))
    problems = []
    for directory in CODE_DIRS:
        for source in sorted((root / directory).rglob("*.rs")):
            relative = source.relative_to(root).as_posix()
            parts = set(source.relative_to(root).parts[:-1])
            if relative.startswith(NOT_DEPLOYED_CRATES) or parts & NOT_DEPLOYED_DIRS:
                continue
            text = source.read_text()
            for crate, calls in SDK_ACTIONS.items():
                if crate not in text:
                    continue
                for pattern, action in calls.items():
                    if re.search(pattern, text) and action not in granted:
                        problems.append(f"{relative} calls {action}, which no role grants")
    return problems


def check_index_reads(template: dict[str, Any]) -> list[str]:
    """The indexes project keys only, so a role that queries them must read the items."""
    problems = []
    for name, role in resources_of(template, "AWS::IAM::Role").items():
        actions = set()
        for statement in statements_of(role):
            if statement["Effect"] == "Allow":
                actions.update(as_list(statement["Action"]))
        queries_index = any(
            "dynamodb:Query" in as_list(s["Action"]) and "/index/" in json.dumps(s.get("Resource"))
            for s in statements_of(role)
        )
        if queries_index and "dynamodb:BatchGetItem" not in actions:
            problems.append(f"{name} queries the keys-only indexes but cannot BatchGetItem their items")
    if template.get("Parameters", {}).get("IndexProjection", {}).get("Default") != "KEYS_ONLY":
        problems.append("the indexes do not project keys only by default (F4)")
    for table in resources_of(template, "AWS::DynamoDB::Table").values():
        for index in table["Properties"].get("GlobalSecondaryIndexes", []):
            if index.get("Projection", {}).get("ProjectionType") != {"Ref": "IndexProjection"}:
                problems.append(f"index {index.get('IndexName')} does not follow the IndexProjection parameter")
    return problems


def check_functions(template: dict[str, Any]) -> list[str]:
    problems = []
    for name, function in resources_of(template, "AWS::Lambda::Function").items():
        properties = function["Properties"]
        if properties.get("Runtime") != "provided.al2023":
            problems.append(f"{name} runtime is {properties.get('Runtime')}")
        if properties.get("Architectures") != ["arm64"]:
            problems.append(f"{name} is not arm64")
        build = function.get("Metadata", {})
        if build.get("BuildMethod") != "rust-cargolambda" or not build.get("BuildProperties", {}).get("Binary"):
            problems.append(f"{name} does not name its binary in Metadata.BuildProperties.Binary")
        logging = properties.get("LoggingConfig", {})
        if logging.get("LogFormat") != "JSON" or "LogGroup" not in logging:
            problems.append(f"{name} does not log JSON to its own log group")
    return problems


def main() -> int:
    root = Path(__file__).resolve().parents[2]
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--template", type=Path, default=root / "template.yaml")
    parser.add_argument("--output", type=Path, help="write the CloudFormation JSON here")
    args = parser.parse_args()

    try:
        template = translate(args.template)
    except InvalidDocumentException as error:
        for cause in error.causes:
            print(f"translate.py: {cause.message}", file=sys.stderr)
        return 1

    if args.output:
        args.output.write_text(json.dumps(template, indent=2, sort_keys=True) + "\n")

    problems = (
        check_routes(template)
        + check_stream_mapping(template)
        + check_index_reads(template)
        + check_roles(template)
        + check_functions(template)
        + check_code_grants(template, root)
    )
    for problem in problems:
        print(f"translate.py: {problem}", file=sys.stderr)
    if problems:
        return 1

    counts: dict[str, int] = {}
    for resource in template["Resources"].values():
        counts[resource["Type"]] = counts.get(resource["Type"], 0) + 1
    summary = ", ".join(f"{count} {kind}" for kind, count in sorted(counts.items()))
    print(f"translate.py: {args.template.name} translates to {len(template['Resources'])} resources ({summary})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

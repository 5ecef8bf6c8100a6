"""The environment each function gets in Lambda (as template.yaml and the Lambda
service set it), with dummy credentials, for the benchmarks. No variable of the
caller's environment leaks in (no HOME, no AWS profile), like in Lambda."""

import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RELEASE_DIR = os.environ.get("BENCH_RELEASE_DIR", "/work/target-release/release")
ARN = "arn:aws:lambda:us-east-1:123456789012:function:followups-executor-{}"


def base(function_name: str) -> dict:
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "TZ": ":UTC",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE",
        "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "AWS_SESSION_TOKEN": "bench-session-token",
        "AWS_LAMBDA_FUNCTION_NAME": function_name,
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/followups/{function_name}",
        "AWS_LAMBDA_LOG_STREAM_NAME": "2030/01/01/[$LATEST]0123456789abcdef",
        "AWS_LAMBDA_LOG_FORMAT": "JSON",
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "AWS_EXECUTION_ENV": "AWS_Lambda_provided.al2023",
        "_HANDLER": "bootstrap",
        "LAMBDA_TASK_ROOT": "/var/task",
        "LAMBDA_RUNTIME_DIR": "/var/runtime",
        "TABLE_NAME": "followups-bench",
        "RUST_LOG": "info",
        "SETTINGS_CACHE_SECONDS": "30",
    }


def function_env(name: str, table: str = "followups-bench", endpoint: str | None = None) -> dict:
    """`name` is api, call-completed, dispatcher or executor-<channel>."""
    env = base(f"followups-{name}")
    env["TABLE_NAME"] = table
    if endpoint:
        env["AWS_ENDPOINT_URL"] = endpoint
    if name == "api":
        env["ACCOUNT_CLAIM"] = "account_id"
    elif name == "call-completed":
        env["WEBHOOK_MAX_BODY_BYTES"] = "262144"
    elif name == "dispatcher":
        for channel in ("sms", "email", "whatsapp", "call"):
            env[f"EXECUTOR_{channel.upper()}_ARN"] = ARN.format(channel)
        env["SCHEDULER_ROLE_ARN"] = "arn:aws:iam::123456789012:role/followups-scheduler"
        env["SCHEDULE_GROUP"] = "default"
        env["SCHEDULER_DLQ_ARN"] = "arn:aws:sqs:us-east-1:123456789012:followups-scheduler-dlq"
    elif name.startswith("executor-"):
        channel = name.removeprefix("executor-")
        if channel == "email":
            env["SES_FROM_ADDRESS"] = "followups@acme.example.com"
        elif channel == "whatsapp":
            env["WHATSAPP_API_BASE"] = "https://graph.facebook.com"
            env["WHATSAPP_API_VERSION"] = "v21.0"
            env["WHATSAPP_PHONE_NUMBER_ID"] = "123456789012345"
            env["WHATSAPP_TOKEN_PARAMETER"] = "/followups/whatsapp-token"
        elif channel == "call":
            env["VOICE_API_URL"] = "https://voice.example.com/v1/calls"
            env["VOICE_API_SECRET_PARAMETER"] = "/followups/voice-secret"
    return env


def binary(name: str) -> str:
    return os.path.join(RELEASE_DIR, name)

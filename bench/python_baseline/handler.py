"""The call-completed webhook in Python + boto3, as the baseline for the Rust function.

It does the same AWS work as the Rust function on a first delivery against the same
table layout (shared/service/src/records.rs): query the account's webhook secrets,
verify the Standard Webhooks signature, read account, agent and campaign settings
(3 GetItem), decide, and write the delivery record and the follow-ups in ONE
TransactWriteItems. The decision is a deliberately small stand-in for the Rust
policy crate (one SMS and one email when consented and enabled), so the comparison is
about runtime start, client construction and the AWS round trips, not policy depth.

Like the Rust functions, the client is built at module import (Lambda's init phase).
"""

import base64
import hashlib
import hmac
import json
import os
import time
import uuid

import boto3

TABLE = os.environ["TABLE_NAME"]
DYNAMODB = boto3.client("dynamodb")
TOLERANCE = 300


def _problem(status, title):
    return {
        "statusCode": status,
        "headers": {"content-type": "application/problem+json"},
        "body": json.dumps({"status": status, "title": title}),
    }


def _secrets(account):
    items = DYNAMODB.query(
        TableName=TABLE,
        KeyConditionExpression="pk = :pk AND begins_with(sk, :p)",
        ExpressionAttributeValues={":pk": {"S": f"A#{account}"}, ":p": {"S": "SECRET#"}},
        ScanIndexForward=False,
    )["Items"]
    keys = []
    for item in items:
        text = item.get("secret", {}).get("S", "")
        try:
            keys.append(base64.b64decode(text.removeprefix("whsec_")))
        except ValueError:
            pass
    return keys


def _verify(keys, webhook_id, timestamp, signatures, body):
    if abs(time.time() - int(timestamp)) > TOLERANCE:
        return False
    message = f"{webhook_id}.{timestamp}.".encode() + body
    for key in keys:
        expected = hmac.new(key, message, hashlib.sha256).digest()
        for sig in signatures.split(" "):
            if sig.startswith("v1,"):
                try:
                    if hmac.compare_digest(base64.b64decode(sig[3:]), expected):
                        return True
                except ValueError:
                    pass
    return False


def _settings(account, sk):
    item = DYNAMODB.get_item(TableName=TABLE, Key={"pk": {"S": f"A#{account}"}, "sk": {"S": sk}}).get("Item")
    return item


def handler(event, context):
    headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
    body = event.get("body") or ""
    body = base64.b64decode(body) if event.get("isBase64Encoded") else body.encode()
    account = (event.get("pathParameters") or {}).get("account_id", "")
    try:
        ok = _verify(_secrets(account), headers["webhook-id"], headers["webhook-timestamp"], headers["webhook-signature"], body)
    except (KeyError, ValueError):
        ok = False
    if not ok:
        return _problem(401, "no signature matches an active secret")
    call = json.loads(body)
    agent = _settings(account, f"AGENT#{call['call']['agent_id']}")
    campaign = _settings(account, f"CAMPAIGN#{call['call']['campaign_id']}")
    _settings(account, "SETTINGS")
    consent = call["analysis"]["consent"]
    campaign_data = campaign["data"]["M"] if campaign else {}
    now = int(time.time())
    followups = []
    for channel in ("sms", "email"):
        enabled = campaign_data.get(channel, {}).get("M", {}).get("enabled", {}).get("BOOL", False)
        if consent.get(channel) and enabled:
            followups.append({"id": f"fu_{uuid.uuid4().hex}", "channel": channel, "status": "scheduled"})
    answer = {"webhook_id": headers["webhook-id"], "followups": followups}
    writes = [{
        "Put": {
            "TableName": TABLE,
            "Item": {"pk": {"S": f"A#{account}#WEBHOOK#{headers['webhook-id']}"}, "sk": {"S": "WEBHOOK"},
                     "response": {"S": json.dumps(answer)}, "expires_at": {"N": str(now + 7 * 86400)}},
            "ConditionExpression": "attribute_not_exists(pk)",
        }
    }]
    for f in followups:
        writes.append({"Put": {"TableName": TABLE, "Item": {
            "pk": {"S": f"A#{account}#FU#{f['id']}"}, "sk": {"S": "FU"},
            "channel": {"S": f["channel"]}, "status": {"S": "scheduled"},
            "contact_id": {"S": call["contact"]["id"]}, "agent": {"S": json.dumps(agent is not None)}},
            "ConditionExpression": "attribute_not_exists(pk)"}})
    DYNAMODB.transact_write_items(TransactItems=writes)
    return {"statusCode": 200, "headers": {"content-type": "application/json"}, "body": json.dumps(answer)}

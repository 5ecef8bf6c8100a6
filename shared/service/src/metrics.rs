//! Business metrics in CloudWatch's embedded metric format: one JSON line on stdout
//! per event, which CloudWatch Logs turns into metrics without any API call (no
//! latency, no extra IAM). Namespace `FollowUps`; metrics `decided`, `suppressed`,
//! `needs_review`, `scheduled`, `dispatched`, `sent`, `failed`, `unknown`; dimensions
//! `channel` and `channel`+`reason`. Outside Lambda the same events go to the debug log.

use std::io::Write;

use serde_json::json;

pub const NAMESPACE: &str = "FollowUps";

/// Records one occurrence of `metric` for a follow-up of `channel`, for `reason`.
pub fn count(metric: &str, channel: &str, reason: &str) {
    if std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_none() {
        tracing::debug!(metric, channel, reason, "metric");
        return;
    }
    let line = emf_line(
        metric,
        channel,
        reason,
        chrono::Utc::now().timestamp_millis(),
    );
    // One write per line so concurrent invocations never interleave within a line.
    let _ = writeln!(std::io::stdout().lock(), "{line}");
}

fn emf_line(metric: &str, channel: &str, reason: &str, timestamp_ms: i64) -> String {
    json!({
        "_aws": {
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": [["channel"], ["channel", "reason"]],
                "Metrics": [{"Name": metric, "Unit": "Count"}],
            }],
        },
        "channel": channel,
        "reason": reason,
        metric: 1,
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_metric_line_follows_the_embedded_metric_format() {
        let line: serde_json::Value = serde_json::from_str(&emf_line(
            "sent",
            "sms",
            "provider_accepted",
            1_700_000_000_000,
        ))
        .unwrap();
        assert_eq!(
            line["_aws"]["CloudWatchMetrics"][0]["Namespace"],
            "FollowUps"
        );
        assert_eq!(
            line["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Name"],
            "sent"
        );
        assert_eq!(line["_aws"]["Timestamp"], 1_700_000_000_000i64);
        assert_eq!(
            (
                line["channel"].as_str(),
                line["reason"].as_str(),
                line["sent"].as_i64()
            ),
            (Some("sms"), Some("provider_accepted"), Some(1))
        );
    }
}

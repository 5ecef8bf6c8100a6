//! The fuzz targets `signature_headers` and `local_clock_body` (fuzz/, cargo-fuzz on
//! nightly for long runs) on a bounded number of generated inputs, so the test command
//! runs them on stable: arbitrary bytes, and inputs shaped like the real thing (near and
//! extreme timestamps, many `v1,` candidates, durations with every unit and huge
//! numbers).

#[path = "../../../fuzz/fuzz_targets/hardening.rs"]
mod hardening;

use base64::Engine as _;
use proptest::prelude::*;

/// Cases per property: enough to reach every branch in a few seconds on the CI machine;
/// `FUZZ_INPUT_CASES=100000` for a longer run on stable.
fn cases() -> u32 {
    std::env::var("FUZZ_INPUT_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(500)
}

fn timestamp() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<i64>().prop_map(|t| t.to_string()),
        (-400i64..400).prop_map(|d| (1_800_000_000 + d).to_string()),
        Just(i64::MIN.to_string()),
        Just(i64::MAX.to_string()),
        "[-+]?[0-9]{0,25}",
        ".{0,12}",
    ]
}

fn signatures() -> impl Strategy<Value = String> {
    let candidate = prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..40)
            .prop_map(|b| format!("v1,{}", base64::engine::general_purpose::STANDARD.encode(b))),
        "v[0-9],[A-Za-z0-9+/=]{0,48}",
        ".{0,10}",
    ];
    proptest::collection::vec(candidate, 0..40).prop_map(|v| v.join(" "))
}

fn advance() -> impl Strategy<Value = String> {
    prop_oneof![
        ("[0-9]{1,30}", "[smhd]?").prop_map(|(n, u)| format!("{n}{u}")),
        (any::<u64>(), "[smhdy]?").prop_map(|(n, u)| format!("{n}{u}")),
        ".{0,12}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    #[test]
    fn signature_headers_on_arbitrary_bytes(data in proptest::collection::vec(any::<u8>(), 0..300)) {
        hardening::signature_headers(&data);
    }

    #[test]
    fn signature_headers_on_shaped_inputs(
        id in "[ -~]{0,40}",
        timestamp in timestamp(),
        signatures in signatures(),
        body in proptest::collection::vec(any::<u8>(), 0..200),
    ) {
        let mut data = format!("{id}\n{timestamp}\n{signatures}\n").into_bytes();
        data.extend_from_slice(&body);
        hardening::signature_headers(&data);
    }

    #[test]
    fn local_clock_body_on_arbitrary_bytes(data in proptest::collection::vec(any::<u8>(), 0..80)) {
        hardening::local_clock_body(&data);
    }

    #[test]
    fn local_clock_body_on_shaped_inputs(advance in advance(), extra in ".{0,8}") {
        let body = serde_json::json!({ "advance": advance, "x": extra }).to_string();
        hardening::local_clock_body(body.as_bytes());
    }
}

#[test]
fn the_extremes_of_the_issue_go_through_both_targets() {
    hardening::signature_headers(b"msg_1\n-9223372036854775808\nv1,AAAA\n{}");
    hardening::signature_headers(b"msg_1\n9223372036854775807\nv1,AAAA\n{}");
    hardening::local_clock_body(br#"{"advance":"100000000d"}"#);
    hardening::local_clock_body(br#"{"advance":"99999999999999h"}"#);
}

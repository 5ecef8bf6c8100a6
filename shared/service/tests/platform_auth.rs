//! Each platform's webhook authentication. The expected signatures are either fixed
//! vectors computed outside this code (Python's `hmac`, noted per test) or computed
//! here with the `hmac` crate directly (`testkit::platforms::hex_hmac`), never through
//! the code under test.

use chrono::{DateTime, TimeZone, Utc};
use policy::platform::{HmacAlgorithm, HmacPlan, Platform, SignatureEncoding, VapiAuth};
use service::platforms::verify::{
    AuthError, ELEVENLABS_TOLERANCE_SECONDS, Keys, RequestHeaders, TOLERANCE_SECONDS, verify,
};
use testkit::platforms::hex_hmac;

const BODY: &[u8] = br#"{"event":"call_analyzed","call":{"call_id":"abc"}}"#;
const T: i64 = 1_767_294_000;

fn now() -> DateTime<Utc> {
    Utc.timestamp_opt(T, 0).unwrap()
}

fn headers(pairs: &[(&str, &str)]) -> RequestHeaders {
    RequestHeaders::new(pairs.iter().map(|(n, v)| (*n, v.to_string())))
}

fn api_key(key: &str) -> Keys<'_> {
    Keys {
        api_key: Some(key),
        webhook_secret: None,
    }
}

fn secret(secret: &str) -> Keys<'_> {
    Keys {
        api_key: None,
        webhook_secret: Some(secret),
    }
}

#[test]
fn retell_signature_is_keyed_by_the_api_key_over_body_and_millis() {
    // python: hmac.new(b"key_retell_test", body + b"1767294000000", sha256).hexdigest()
    let sig = "v=1767294000000,d=0c812a0b337ce08fa94aa2063b5e8eea5a82bffa6a6eba25f5ca7f46883f809d";
    let h = headers(&[("X-Retell-Signature", sig)]);
    let keys = api_key("key_retell_test");
    assert_eq!(
        verify(Platform::Retell, None, &keys, &h, BODY, now()),
        Ok(())
    );
    assert_eq!(
        verify(Platform::Retell, None, &api_key("other"), &h, BODY, now()),
        Err(AuthError::NoMatch)
    );
    assert_eq!(
        verify(Platform::Retell, None, &keys, &h, b"{}", now()),
        Err(AuthError::NoMatch)
    );
}

#[test]
fn retell_refuses_timestamps_beyond_five_minutes_either_way() {
    let keys = api_key("key_retell_test");
    let tolerance_ms = (TOLERANCE_SECONDS * 1000) as i64;
    let now_ms = T * 1000;
    for (sent, ok) in [
        (now_ms - tolerance_ms, true),
        (now_ms + tolerance_ms, true),
        (now_ms - tolerance_ms - 1, false),
        (now_ms + tolerance_ms + 1, false),
        (i64::MIN, false),
        (i64::MAX, false),
    ] {
        let ms = sent.to_string();
        let sig = format!(
            "v={ms},d={}",
            hex_hmac(b"key_retell_test", &[BODY, ms.as_bytes()])
        );
        let result = verify(
            Platform::Retell,
            None,
            &keys,
            &headers(&[("x-retell-signature", &sig)]),
            BODY,
            now(),
        );
        assert_eq!(result.is_ok(), ok, "{sent}: {result:?}");
        if !ok {
            assert_eq!(result, Err(AuthError::Stale));
        }
    }
}

#[test]
fn retell_rejects_malformed_and_missing_signatures() {
    let keys = api_key("key_retell_test");
    for sig in [
        "",
        "v=,d=",
        "d=00",
        "v=abc,d=00",
        "v=1767294000000",
        "v=1767294000000,d=zz",
    ] {
        let h = headers(&[("x-retell-signature", sig)]);
        assert!(
            verify(Platform::Retell, None, &keys, &h, BODY, now()).is_err(),
            "{sig:?}"
        );
    }
    assert_eq!(
        verify(Platform::Retell, None, &keys, &headers(&[]), BODY, now()),
        Err(AuthError::MissingHeader("x-retell-signature".into()))
    );
    // A short digest never matches even if it is a prefix of the right one.
    let full = hex_hmac(b"key_retell_test", &[BODY, b"1767294000000"]);
    let sig = format!("v=1767294000000,d={}", &full[..32]);
    assert_eq!(
        verify(
            Platform::Retell,
            None,
            &keys,
            &headers(&[("x-retell-signature", &sig)]),
            BODY,
            now()
        ),
        Err(AuthError::NoMatch)
    );
}

#[test]
fn bland_signature_is_the_hex_hmac_of_the_body() {
    // python: hmac.new(b"bland_secret_test", body, sha256).hexdigest()
    let sig = "b0493fc6725d23c80b9fc8f8f4a0a66e09f8370798da7c93aef2efcffa2163a4";
    let keys = secret("bland_secret_test");
    let h = headers(&[("X-Webhook-Signature", sig)]);
    assert_eq!(
        verify(Platform::Bland, None, &keys, &h, BODY, now()),
        Ok(())
    );
    let upper = sig.to_uppercase();
    assert_eq!(
        verify(
            Platform::Bland,
            None,
            &keys,
            &headers(&[("x-webhook-signature", &upper)]),
            BODY,
            now()
        ),
        Ok(())
    );
    assert_eq!(
        verify(Platform::Bland, None, &keys, &h, br#"{"changed":1}"#, now()),
        Err(AuthError::NoMatch)
    );
    for bad in ["", "00", "not-hex", &sig[..63]] {
        let h = headers(&[("x-webhook-signature", bad)]);
        assert!(
            verify(Platform::Bland, None, &keys, &h, BODY, now()).is_err(),
            "{bad:?}"
        );
    }
}

#[test]
fn elevenlabs_signature_covers_timestamp_and_body_within_its_tolerance() {
    // python: hmac.new(b"wsec_eleven_test", b"1767294000." + body, sha256).hexdigest()
    let sig = "t=1767294000,v0=f140601654427b15060f286c7d440da4a5dd7e3b76f9e5a4401d0d8f9d005ecf";
    let keys = secret("wsec_eleven_test");
    let h = headers(&[("ElevenLabs-Signature", sig)]);
    assert_eq!(
        verify(Platform::ElevenLabs, None, &keys, &h, BODY, now()),
        Ok(())
    );
    let late = Utc
        .timestamp_opt(T + ELEVENLABS_TOLERANCE_SECONDS as i64 + 1, 0)
        .unwrap();
    assert_eq!(
        verify(Platform::ElevenLabs, None, &keys, &h, BODY, late),
        Err(AuthError::Stale)
    );
    let edge = Utc
        .timestamp_opt(T + ELEVENLABS_TOLERANCE_SECONDS as i64, 0)
        .unwrap();
    assert_eq!(
        verify(Platform::ElevenLabs, None, &keys, &h, BODY, edge),
        Ok(())
    );
    for bad in ["t=1767294000", "v0=00", "t=x,v0=00", "t=1767294000,v0="] {
        let h = headers(&[("elevenlabs-signature", bad)]);
        assert!(
            verify(Platform::ElevenLabs, None, &keys, &h, BODY, now()).is_err(),
            "{bad:?}"
        );
    }
}

#[test]
fn vapi_bearer_credential_is_compared_whole() {
    let keys = secret("vapi-server-secret");
    let default = VapiAuth::default();
    let ok = headers(&[("Authorization", "Bearer vapi-server-secret")]);
    assert_eq!(
        verify(Platform::Vapi, Some(&default), &keys, &ok, BODY, now()),
        Ok(())
    );
    for bad in [
        "Bearer vapi-server-secre",
        "Bearer vapi-server-secretX",
        "vapi-server-secret",
        "Basic vapi-server-secret",
    ] {
        let h = headers(&[("authorization", bad)]);
        assert!(
            verify(Platform::Vapi, Some(&default), &keys, &h, BODY, now()).is_err(),
            "{bad:?}"
        );
    }
    let legacy = VapiAuth::Bearer {
        header: "x-vapi-secret".into(),
        bearer_prefix: false,
    };
    let h = headers(&[("X-Vapi-Secret", "vapi-server-secret")]);
    assert_eq!(
        verify(Platform::Vapi, Some(&legacy), &keys, &h, BODY, now()),
        Ok(())
    );
    assert_eq!(
        verify(Platform::Vapi, Some(&legacy), &keys, &ok, BODY, now()),
        Err(AuthError::MissingHeader("x-vapi-secret".into()))
    );
}

fn plan() -> HmacPlan {
    HmacPlan {
        algorithm: HmacAlgorithm::Sha256,
        signature_header: "x-signature".into(),
        timestamp_header: "x-timestamp".into(),
        signature_prefix: String::new(),
        payload_format: "{timestamp}.{body}".into(),
        include_timestamp: true,
        message_id_header: None,
        encoding: SignatureEncoding::Hex,
        secret_is_base64: false,
    }
}

#[test]
fn vapi_hmac_plan_defaults_sign_timestamp_dot_body_in_hex() {
    // python: hmac.new(b"vapi_hmac_secret", b"1767294000." + body, sha256).hexdigest()
    let sig = "e4bed7252d9253606000181871f367bb527b880243e7f9faee6ef5fcbe99f7b5";
    let auth = VapiAuth::Hmac(plan());
    let keys = secret("vapi_hmac_secret");
    let h = headers(&[("x-signature", sig), ("x-timestamp", "1767294000")]);
    assert_eq!(
        verify(Platform::Vapi, Some(&auth), &keys, &h, BODY, now()),
        Ok(())
    );
    // Milliseconds are read as such.
    let ms = (T * 1000).to_string();
    let sig_ms = hex_hmac(b"vapi_hmac_secret", &[ms.as_bytes(), b".", BODY]);
    let h = headers(&[("x-signature", &sig_ms), ("x-timestamp", &ms)]);
    assert_eq!(
        verify(Platform::Vapi, Some(&auth), &keys, &h, BODY, now()),
        Ok(())
    );
    let old = (T - TOLERANCE_SECONDS as i64 - 1).to_string();
    let sig_old = hex_hmac(b"vapi_hmac_secret", &[old.as_bytes(), b".", BODY]);
    let h = headers(&[("x-signature", &sig_old), ("x-timestamp", &old)]);
    assert_eq!(
        verify(Platform::Vapi, Some(&auth), &keys, &h, BODY, now()),
        Err(AuthError::Stale)
    );
}

#[test]
fn vapi_hmac_plan_configured_like_standard_webhooks_verifies() {
    // python: base64(hmac.new(b"vapi_hmac_secret", b"msg_1.1767294000." + body, sha512).digest())
    let sig =
        "ZkbAp5nlCyLuEwHu9gyiOIaANBEPIZ2KCFHsQWE10Hw2J7U1feHhN4DeR8aFvnCaK4J1XPvZW4qfmhvXj8zVFA==";
    let auth = VapiAuth::Hmac(HmacPlan {
        algorithm: HmacAlgorithm::Sha512,
        signature_header: "webhook-signature".into(),
        timestamp_header: "webhook-timestamp".into(),
        signature_prefix: "v1,".into(),
        payload_format: "{svix-id}.{timestamp}.{body}".into(),
        include_timestamp: true,
        message_id_header: Some("webhook-id".into()),
        encoding: SignatureEncoding::Base64,
        secret_is_base64: false,
    });
    let keys = secret("vapi_hmac_secret");
    let signed = format!("v1,{sig}");
    let h = headers(&[
        ("webhook-signature", signed.as_str()),
        ("webhook-timestamp", "1767294000"),
        ("webhook-id", "msg_1"),
    ]);
    assert_eq!(
        verify(Platform::Vapi, Some(&auth), &keys, &h, BODY, now()),
        Ok(())
    );
    let h = headers(&[
        ("webhook-signature", signed.as_str()),
        ("webhook-timestamp", "1767294000"),
        ("webhook-id", "msg_2"),
    ]);
    assert_eq!(
        verify(Platform::Vapi, Some(&auth), &keys, &h, BODY, now()),
        Err(AuthError::NoMatch)
    );
    let h = headers(&[
        ("webhook-signature", sig),
        ("webhook-timestamp", "1767294000"),
        ("webhook-id", "msg_1"),
    ]);
    assert_eq!(
        verify(Platform::Vapi, Some(&auth), &keys, &h, BODY, now()),
        Err(AuthError::NoMatch),
        "the configured prefix is required"
    );
}

#[test]
fn nothing_verifies_without_the_key_the_platform_signs_with() {
    let h = headers(&[("x-webhook-signature", "00")]);
    let none = Keys {
        api_key: None,
        webhook_secret: None,
    };
    for platform in Platform::ALL {
        assert_eq!(
            verify(platform, None, &none, &h, BODY, now()),
            Err(AuthError::NotConnected(platform))
        );
    }
    // Retell signs with the API key, not a webhook secret.
    assert_eq!(
        verify(Platform::Retell, None, &secret("s"), &h, BODY, now()),
        Err(AuthError::NotConnected(Platform::Retell))
    );
}

#[test]
fn huge_or_hostile_headers_never_panic() {
    let long = "9".repeat(5000);
    let keys = Keys {
        api_key: Some("k"),
        webhook_secret: Some("s"),
    };
    let cases = [
        ("x-retell-signature", format!("v={long},d=00")),
        (
            "x-retell-signature",
            "v=-9223372036854775808,d=00".to_owned(),
        ),
        (
            "elevenlabs-signature",
            "t=-9223372036854775808,v0=00".to_owned(),
        ),
        (
            "elevenlabs-signature",
            "t=9223372036854775807,v0=00".to_owned(),
        ),
        ("x-webhook-signature", "é".repeat(30)),
        ("x-timestamp", "-9223372036854775808".to_owned()),
    ];
    for (name, value) in cases {
        let h = headers(&[(name, value.as_str()), ("x-signature", "00")]);
        for platform in Platform::ALL {
            let auth = VapiAuth::Hmac(plan());
            assert!(verify(platform, Some(&auth), &keys, &h, BODY, now()).is_err());
        }
    }
}

//! The AWS senders against moto: what each one hands to SNS, SESv2 and SSM, read back
//! from what moto recorded.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use base64::Engine;
use channels::{
    EmailContent, EmailIdentity, Outbound, RetryPolicy, SecretSource, SendError, Sender, SesEmail,
    SmsIdentity, SnsSms, SsmSecrets,
};
use policy::values::{EmailAddress, PhoneNumber};
use testkit::{Moto, unique, unique_phone};

fn phone(raw: &str) -> PhoneNumber {
    PhoneNumber::parse("to", raw).expect("a test number is valid")
}

fn address(raw: &str) -> EmailAddress {
    EmailAddress::parse("to", raw).expect("a test address is valid")
}

fn fast_retry() -> RetryPolicy {
    RetryPolicy {
        attempts: 3,
        first_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(20),
    }
}

fn sms(to: &str, text: &str) -> Outbound {
    Outbound::Sms {
        to: phone(to),
        sender: SmsIdentity {
            sender_id: Some("AcmeCo".into()),
            origination_number: Some("+12025550100".into()),
        },
        text: text.into(),
    }
}

async fn moto_sms_to(moto: &Moto, phone: &str) -> Vec<serde_json::Value> {
    let data = moto.data().await;
    data["sns"]["SMS"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|m| m["phone_number"] == phone)
        .cloned()
        .collect()
}

/// The bodies of the requests moto's recorder captured (recording is started by the
/// tests that need it; other tests' requests are in there too).
async fn recorded_bodies(moto: &Moto) -> Vec<String> {
    let url = format!("{}/moto-api/recorder/download-recording", moto.endpoint());
    let log = reqwest::get(&url).await.unwrap().text().await.unwrap();
    log.lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter_map(|entry| {
            let body = entry["body"].as_str()?.to_owned();
            if entry["body_encoded"] == true {
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(body)
                    .ok()?;
                String::from_utf8(bytes).ok()
            } else {
                Some(body)
            }
        })
        .collect()
}

/// Starts moto's recorder, emptied once per test process (its log is a file in the
/// working directory, which would otherwise grow run after run).
async fn start_recording(moto: &Moto) {
    static STARTED: tokio::sync::OnceCell<()> = tokio::sync::OnceCell::const_new();
    STARTED
        .get_or_init(|| async {
            let http = reqwest::Client::new();
            for action in ["reset-recording", "start-recording"] {
                let url = format!("{}/moto-api/recorder/{action}", moto.endpoint());
                http.post(&url)
                    .send()
                    .await
                    .unwrap()
                    .error_for_status()
                    .unwrap();
            }
        })
        .await;
}

/// The form fields of the recorded SNS `Publish` requests to `phone`.
async fn recorded_publishes_to(moto: &Moto, phone: &str) -> Vec<HashMap<String, String>> {
    recorded_bodies(moto)
        .await
        .into_iter()
        .filter_map(|body| {
            let fields: HashMap<String, String> = url::form_urlencoded::parse(body.as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect();
            (fields.get("Action").map(String::as_str) == Some("Publish")
                && fields.get("PhoneNumber").map(String::as_str) == Some(phone))
            .then_some(fields)
        })
        .collect()
}

fn attribute<'a>(fields: &'a HashMap<String, String>, name: &str) -> Option<&'a str> {
    let (key, _) = fields.iter().find(|(k, v)| {
        k.starts_with("MessageAttributes.entry.") && k.ends_with(".Name") && *v == name
    })?;
    let prefix = key.strip_suffix(".Name")?;
    fields
        .get(&format!("{prefix}.Value.StringValue"))
        .map(String::as_str)
}

#[tokio::test]
async fn sms_is_published_to_the_number_as_a_transactional_message_with_its_sender() {
    let moto = Moto::shared();
    start_recording(moto).await;
    let sender = SnsSms::new(&aws_sdk_sns::Client::new(&moto.sdk_config()));
    let phone = unique_phone();

    let sent = sender
        .send(&sms(
            &phone,
            "Hi Ana, thanks for the call. Reply STOP to opt out.",
        ))
        .await
        .unwrap();

    let recorded = moto_sms_to(moto, &phone).await;
    assert_eq!(recorded.len(), 1, "{recorded:?}");
    assert_eq!(recorded[0]["message_id"], sent.provider_id.as_str());
    assert_eq!(
        recorded[0]["message"],
        "Hi Ana, thanks for the call. Reply STOP to opt out."
    );
    let publishes = recorded_publishes_to(moto, &phone).await;
    assert_eq!(publishes.len(), 1, "{publishes:?}");
    let publish = &publishes[0];
    assert_eq!(
        attribute(publish, "AWS.SNS.SMS.SMSType"),
        Some("Transactional")
    );
    assert_eq!(attribute(publish, "AWS.SNS.SMS.SenderID"), Some("AcmeCo"));
    assert_eq!(
        attribute(publish, "AWS.MM.SMS.OriginationNumber"),
        Some("+12025550100")
    );
}

#[tokio::test]
async fn sms_without_sender_settings_carries_only_the_message_type() {
    let moto = Moto::shared();
    start_recording(moto).await;
    let sender = SnsSms::new(&aws_sdk_sns::Client::new(&moto.sdk_config()));
    let phone = unique_phone();
    let message = Outbound::Sms {
        to: self::phone(&phone),
        sender: SmsIdentity::default(),
        text: "Hello".into(),
    };

    sender.send(&message).await.unwrap();

    let publishes = recorded_publishes_to(moto, &phone).await;
    assert_eq!(publishes.len(), 1, "{publishes:?}");
    assert_eq!(
        attribute(&publishes[0], "AWS.SNS.SMS.SMSType"),
        Some("Transactional")
    );
    assert_eq!(attribute(&publishes[0], "AWS.SNS.SMS.SenderID"), None);
    assert_eq!(
        attribute(&publishes[0], "AWS.MM.SMS.OriginationNumber"),
        None
    );
}

#[tokio::test]
async fn sms_to_an_opted_out_number_is_refused_and_nothing_is_sent() {
    let moto = Moto::shared();
    let sender = SnsSms::new(&aws_sdk_sns::Client::new(&moto.sdk_config()));
    // moto answers "opted out" for numbers ending in 99.
    let phone = format!("{}99", &unique_phone()[..10]);

    let result = sender.send(&sms(&phone, "Hello")).await;

    assert_eq!(result, Err(SendError::OptedOut));
    assert!(moto_sms_to(moto, &phone).await.is_empty());
}

#[tokio::test]
async fn sms_sender_refuses_other_channels() {
    let moto = Moto::shared();
    let sender = SnsSms::new(&aws_sdk_sns::Client::new(&moto.sdk_config()));
    let call = Outbound::Call {
        to: phone(&unique_phone()),
        agent_id: "agent".into(),
        instructions: "hi".into(),
        account_id: "acme".into(),
        followup_id: "fu".into(),
        attempt: 1,
        platform: None,
        variables: Default::default(),
    };
    assert!(matches!(
        sender.send(&call).await,
        Err(SendError::Permanent { code, .. }) if code == "wrong_channel"
    ));
}

#[tokio::test]
async fn sms_to_an_unreachable_sns_is_retryable_because_nothing_was_sent() {
    // Nothing listens on port 1: the connection is refused before any request exists.
    let client = aws_sdk_sns::Client::new(&testkit::sdk_config_for("http://127.0.0.1:1"));
    let sender = SnsSms::new(&client).with_retry(fast_retry());

    let result = sender.send(&sms(&unique_phone(), "Hello")).await;

    assert!(
        matches!(result, Err(SendError::Retryable { .. })),
        "{result:?}"
    );
}

#[tokio::test]
async fn sms_that_times_out_after_sending_is_unknown_and_not_sent_again() {
    // A server that takes the request and never answers, counting connections; the
    // opt-out check is answered by a moto-like stub first.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let publishes = Arc::new(AtomicUsize::new(0));
    let seen = publishes.clone();
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            let seen = seen.clone();
            tokio::spawn(async move {
                let mut request = Vec::new();
                let mut buf = [0u8; 4096];
                loop {
                    let Ok(n) = socket.read(&mut buf).await else {
                        return;
                    };
                    if n == 0 {
                        return;
                    }
                    request.extend_from_slice(&buf[..n]);
                    let text = String::from_utf8_lossy(&request);
                    if text.contains("Action=CheckIfPhoneNumberIsOptedOut") {
                        let body = "<CheckIfPhoneNumberIsOptedOutResponse xmlns=\"http://sns.amazonaws.com/doc/2010-03-31/\"><CheckIfPhoneNumberIsOptedOutResult><isOptedOut>false</isOptedOut></CheckIfPhoneNumberIsOptedOutResult><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></CheckIfPhoneNumberIsOptedOutResponse>";
                        let response = format!(
                            "HTTP/1.1 200 OK\r\ncontent-type: text/xml\r\ncontent-length: {}\r\n\r\n{body}",
                            body.len()
                        );
                        let _ = socket.write_all(response.as_bytes()).await;
                        request.clear();
                    } else if text.contains("Action=Publish") {
                        seen.fetch_add(1, Ordering::SeqCst);
                        request.clear();
                        // Never answer.
                        tokio::time::sleep(Duration::from_secs(60)).await;
                    }
                }
            });
        }
    });
    let config =
        aws_sdk_sns::config::Builder::from(&testkit::sdk_config_for(&format!("http://{address}")))
            .timeout_config(
                aws_sdk_sns::config::timeout::TimeoutConfig::builder()
                    .operation_attempt_timeout(Duration::from_millis(500))
                    .build(),
            )
            .build();
    let sender = SnsSms::new(&aws_sdk_sns::Client::from_conf(config)).with_retry(fast_retry());

    let result = sender.send(&sms(&unique_phone(), "Hello")).await;

    assert!(
        matches!(result, Err(SendError::Unknown { .. })),
        "{result:?}"
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(publishes.load(Ordering::SeqCst), 1);
}

async fn ses_with_identity(moto: &Moto) -> (aws_sdk_sesv2::Client, String) {
    let ses = aws_sdk_sesv2::Client::new(&moto.sdk_config());
    let from = format!("{}@acme.example", unique("sender"));
    ses.create_email_identity()
        .email_identity(&from)
        .send()
        .await
        .unwrap();
    (ses, from)
}

fn email(from: &str, to: &str, from_name: &str) -> Outbound {
    Outbound::Email {
        kind: channels::EmailKind::Email,
        to: address(to),
        sender: EmailIdentity {
            name: from_name.into(),
            address: from.into(),
            configuration_set: None,
        },
        content: EmailContent {
            subject: "Thanks for your time, Ana".into(),
            html: "<p>Here is the <a href=\"https://acme.example/m\">meeting link</a>.</p>".into(),
            text: "Here is the meeting link: https://acme.example/m".into(),
        },
        tags: vec![
            ("followup_id".into(), "fu_01J9".into()),
            ("account_id".into(), "acme corp".into()),
        ],
        headers: vec![
            (
                "List-Unsubscribe".into(),
                "<https://api.example/v1/unsubscribe/YWNtZQ.fu_01J9.tag>".into(),
            ),
            (
                "List-Unsubscribe-Post".into(),
                "List-Unsubscribe=One-Click".into(),
            ),
        ],
    }
}

async fn moto_email_to(moto: &Moto, to: &str) -> Vec<serde_json::Value> {
    let data = moto.data().await;
    data["ses"]["Message"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|m| m["destinations"].to_string().contains(to))
        .cloned()
        .collect()
}

#[tokio::test]
async fn email_is_sent_from_the_named_sender_with_html_and_tags() {
    let moto = Moto::shared();
    start_recording(moto).await;
    let (ses, from) = ses_with_identity(moto).await;
    let to = format!("{}@contact.example", unique("ana"));
    let sender = SesEmail::new(&ses);

    let sent = sender
        .send(&email(&from, &to, "Maria at \"Acme\""))
        .await
        .unwrap();

    let recorded = moto_email_to(moto, &to).await;
    assert_eq!(recorded.len(), 1, "{recorded:?}");
    assert_eq!(recorded[0]["id"], sent.provider_id.as_str());
    assert_eq!(
        recorded[0]["source"],
        format!(r#""Maria at \"Acme\"" <{from}>"#).as_str()
    );
    assert_eq!(recorded[0]["subject"], "Thanks for your time, Ana");
    assert_eq!(
        recorded[0]["body"],
        "<p>Here is the <a href=\"https://acme.example/m\">meeting link</a>.</p>"
    );
    let request: serde_json::Value = recorded_bodies(moto)
        .await
        .iter()
        .filter(|b| b.contains(&to))
        .find_map(|b| serde_json::from_str(b).ok())
        .expect("the SendEmail request was recorded");
    let simple = &request["Content"]["Simple"];
    assert_eq!(
        simple["Body"]["Text"]["Data"],
        "Here is the meeting link: https://acme.example/m"
    );
    assert_eq!(
        request["EmailTags"],
        serde_json::json!([
            {"Name": "followup_id", "Value": "fu_01J9"},
            {"Name": "account_id", "Value": "acme_corp"},
        ])
    );
}

#[tokio::test]
async fn email_with_a_configuration_set_goes_through() {
    let moto = Moto::shared();
    let (ses, from) = ses_with_identity(moto).await;
    let set = unique("followups");
    ses.create_configuration_set()
        .configuration_set_name(&set)
        .send()
        .await
        .unwrap();
    let to = format!("{}@contact.example", unique("ana"));
    let mut message = email(&from, &to, "Acme");
    let Outbound::Email { sender, .. } = &mut message else {
        unreachable!()
    };
    sender.configuration_set = Some(set);

    SesEmail::new(&ses).send(&message).await.unwrap();

    assert_eq!(moto_email_to(moto, &to).await.len(), 1);
}

#[tokio::test]
async fn email_from_an_unverified_sender_is_a_permanent_failure() {
    let moto = Moto::shared();
    let ses = aws_sdk_sesv2::Client::new(&moto.sdk_config());
    let from = format!("{}@unverified.example", unique("sender"));
    let to = format!("{}@contact.example", unique("ana"));

    let result = SesEmail::new(&ses).send(&email(&from, &to, "Acme")).await;

    assert!(
        matches!(result, Err(SendError::Permanent { .. })),
        "{result:?}"
    );
    assert!(moto_email_to(moto, &to).await.is_empty());
}

#[tokio::test]
async fn email_with_a_line_break_in_the_sender_name_is_refused_before_sending() {
    let moto = Moto::shared();
    let (ses, from) = ses_with_identity(moto).await;
    let to = format!("{}@contact.example", unique("ana"));

    let result = SesEmail::new(&ses)
        .send(&email(&from, &to, "Acme\r\nBcc: everyone@example.com"))
        .await;

    assert!(
        matches!(&result, Err(SendError::Permanent { code, .. }) if code == "invalid_header"),
        "{result:?}"
    );
    assert!(moto_email_to(moto, &to).await.is_empty());
}

#[tokio::test]
async fn ssm_secret_is_read_decrypted_and_served_from_cache_until_the_ttl_passes() {
    let moto = Moto::shared();
    let ssm = aws_sdk_ssm::Client::new(&moto.sdk_config());
    let name = format!("/followups/{}/whatsapp-token", unique("acct"));
    let put = |value: &'static str| {
        ssm.put_parameter()
            .name(&name)
            .value(value)
            .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
            .overwrite(true)
            .send()
    };
    put("token-one").await.unwrap();
    let secrets = SsmSecrets::new(ssm.clone(), Duration::from_millis(700));

    assert_eq!(secrets.get(&name).await.unwrap().expose(), "token-one");
    put("token-two").await.unwrap();
    assert_eq!(
        secrets.get(&name).await.unwrap().expose(),
        "token-one",
        "a second read within the TTL is served from the cache"
    );
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(secrets.get(&name).await.unwrap().expose(), "token-two");

    put("token-three").await.unwrap();
    secrets.forget(&name).await;
    assert_eq!(secrets.get(&name).await.unwrap().expose(), "token-three");
}

#[tokio::test]
async fn a_missing_ssm_secret_is_a_permanent_failure() {
    let moto = Moto::shared();
    let secrets = SsmSecrets::new(
        aws_sdk_ssm::Client::new(&moto.sdk_config()),
        channels::DEFAULT_SECRET_TTL,
    );
    let result = secrets
        .get(&format!("/followups/{}", unique("missing")))
        .await;
    assert!(
        matches!(&result, Err(SendError::Permanent { code, .. }) if code == "secret_missing"),
        "{result:?}"
    );
}

/// The names SSM lists under `path` (DescribeParameters: names and metadata, no values).
async fn described_under(ssm: &aws_sdk_ssm::Client, path: &str) -> (Vec<String>, String) {
    let filter = aws_sdk_ssm::types::ParameterStringFilter::builder()
        .key("Name")
        .option("BeginsWith")
        .values(path)
        .build()
        .unwrap();
    let described = ssm
        .describe_parameters()
        .parameter_filters(filter)
        .send()
        .await
        .unwrap();
    let names = described
        .parameters()
        .iter()
        .filter_map(|p| p.name().map(str::to_owned))
        .collect();
    (names, format!("{described:?}"))
}

#[tokio::test]
async fn the_ssm_secret_store_puts_secure_strings_gets_deletes_and_never_lists_a_value() {
    use channels::{Secret, SecretStore, SsmSecretStore};
    let moto = Moto::shared();
    let ssm = aws_sdk_ssm::Client::new(&moto.sdk_config());
    let prefix = format!("/followups/{}", unique("platforms"));
    let name = format!("{prefix}/acme/vapi/api-key");
    let ttl = Duration::from_secs(300);
    let store = SsmSecretStore::new(ssm.clone(), None, ttl);
    assert!(store.read(&name, true).await.unwrap().is_none());

    store
        .write(&name, &Secret::new("vapi-key-first"))
        .await
        .unwrap();
    let stored = ssm.get_parameter().name(&name).send().await.unwrap();
    assert_eq!(
        stored.parameter().and_then(|p| p.r#type()),
        Some(&aws_sdk_ssm::types::ParameterType::SecureString)
    );
    // Another process (its own store, its own cache) reads it decrypted.
    let other = SsmSecretStore::new(ssm.clone(), None, ttl);
    assert_eq!(
        other.read(&name, false).await.unwrap().unwrap().expose(),
        "vapi-key-first"
    );

    // Replaced: the writer sees the new value at once; the other process keeps its
    // cached one until it reads fresh (as after a signature that did not verify).
    store
        .write(&name, &Secret::new("vapi-key-second"))
        .await
        .unwrap();
    assert_eq!(
        store.read(&name, false).await.unwrap().unwrap().expose(),
        "vapi-key-second"
    );
    assert_eq!(
        other.read(&name, false).await.unwrap().unwrap().expose(),
        "vapi-key-first"
    );
    assert_eq!(
        other.read(&name, true).await.unwrap().unwrap().expose(),
        "vapi-key-second"
    );

    // Listed by name only: no value in the listing, nor in the store's Debug.
    let (names, listing) = described_under(&ssm, &prefix).await;
    assert_eq!(names, vec![name.clone()]);
    assert!(!listing.contains("vapi-key-"), "{listing}");
    assert!(!format!("{store:?}").contains("vapi-key-"));

    store.remove(&name).await.unwrap();
    store.remove(&name).await.unwrap();
    assert!(store.read(&name, false).await.unwrap().is_none());
    assert!(other.read(&name, true).await.unwrap().is_none());
    assert!(ssm.get_parameter().name(&name).send().await.is_err());
    assert!(described_under(&ssm, &prefix).await.0.is_empty());
}

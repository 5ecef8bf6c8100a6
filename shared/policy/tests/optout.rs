//! Opt-outs: which replies revoke consent, and when the one
//! confirmation text may go out.

use chrono::{DateTime, TimeDelta, Utc};
use policy::{SenderName, confirmation_due, confirmation_text, is_opt_out};
use proptest::prelude::*;

const WORDS: [&str; 12] = [
    "STOP",
    "QUIT",
    "END",
    "REVOKE",
    "OPT OUT",
    "CANCEL",
    "UNSUBSCRIBE",
    "STOPALL",
    "ARRET",
    "OPTOUT",
    "REMOVE",
    "TD",
];

#[test]
fn every_fcc_and_carrier_word_opts_out() {
    for word in WORDS {
        assert!(is_opt_out(word), "{word}");
        assert!(is_opt_out(&word.to_lowercase()), "{word} in lower case");
    }
}

#[test]
fn opt_out_words_are_recognised_with_stray_spaces_case_and_punctuation() {
    let table = [
        ("Stop", true),
        ("  stop  ", true),
        ("STOP.", true),
        ("stop!!", true),
        ("\"Stop\"", true),
        ("opt-out", true),
        ("Opt  Out", true),
        ("opt_out", true),
        ("Revoke.", true),
        ("ARRÊT", true),
        ("arrêt !", true),
        ("Unsubscribe\n", true),
        ("td", true),
        ("S.T.O.P", true),
        ("\u{200b}stop", true),
    ];
    for (reply, expected) in table {
        assert_eq!(is_opt_out(reply), expected, "{reply:?}");
    }
}

#[test]
fn other_replies_do_not_opt_out() {
    let table = [
        "",
        "   ",
        "yes",
        "HELP",
        "START",
        "UNSTOP",
        "stopped",
        "don't stop",
        "STOP STOP",
        "Stop calling me please",
        "ending",
        "cancelled",
        "stop 2",
    ];
    for reply in table {
        assert!(!is_opt_out(reply), "{reply:?}");
    }
}

#[test]
fn a_long_reply_is_never_a_keyword() {
    let long = format!("stop{}", ".".repeat(100));
    assert!(!is_opt_out(&long));
}

fn at(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

#[test]
fn the_confirmation_goes_out_once_within_five_minutes_when_the_account_wants_it() {
    let opted_out = at("2026-03-02T15:00:00Z");
    let table = [
        // (enabled, confirmed already, minutes since the opt-out, due)
        (true, false, 0, true),
        (true, false, 5, true),
        (true, false, 6, false),
        (true, true, 0, false),
        (false, false, 0, false),
    ];
    for (enabled, confirmed, minutes, due) in table {
        let now = opted_out + TimeDelta::minutes(minutes);
        let confirmed_at = confirmed.then_some(opted_out);
        assert_eq!(
            confirmation_due(enabled, opted_out, confirmed_at, now),
            due,
            "enabled={enabled} confirmed={confirmed} after {minutes} min"
        );
    }
}

#[test]
fn the_confirmation_only_confirms() {
    let sender = SenderName::parse("s", "Acme Dental").unwrap();
    let text = confirmation_text(Some(&sender));
    assert!(text.starts_with("Acme Dental: "));
    assert!(text.contains("opted out"));
    assert!(!text.contains("http"));
    assert!(!confirmation_text(None).contains("http"));
}

proptest! {
    /// Wrapping a word in any case, whitespace and punctuation keeps it an opt-out.
    #[test]
    fn any_casing_and_punctuation_around_a_word_still_opts_out(
        index in 0..WORDS.len(),
        upper in proptest::collection::vec(any::<bool>(), 12),
        before in "[ \\t\\n.,!?\"'*-]{0,4}",
        after in "[ \\t\\n.,!?\"'*-]{0,4}",
    ) {
        let word: String = WORDS[index]
            .chars()
            .zip(upper.iter().cycle())
            .map(|(c, up)| if *up { c.to_ascii_uppercase() } else { c.to_ascii_lowercase() })
            .collect();
        let reply = format!("{before}{word}{after}");
        prop_assert!(is_opt_out(&reply), "{:?}", reply);
    }

    /// A reply holding a letter or digit outside any word is never an opt-out.
    #[test]
    fn a_word_with_anything_more_is_not_an_opt_out(
        index in 0..WORDS.len(),
        extra in "[A-Za-z0-9]{1,3}",
    ) {
        let reply = format!("{} {extra}", WORDS[index]);
        let joined: String = reply.chars().filter(|c| c.is_alphanumeric()).collect::<String>().to_uppercase();
        prop_assume!(!["STOPALL", "OPTOUT"].contains(&joined.as_str()));
        prop_assert!(!is_opt_out(&reply), "{:?}", reply);
    }

    /// Any text at all is classified without panicking.
    #[test]
    fn any_reply_is_classified(reply in "\\PC{0,200}") {
        let _ = is_opt_out(&reply);
    }
}

mod cancellation {
    use super::*;
    use policy::{DncSource, FollowUp, Reason, Status};
    use serde_json::json;

    fn followup(status: &str) -> FollowUp {
        serde_json::from_value(json!({
            "id": "fu_1", "account_id": "acme", "campaign_id": "c1", "agent_id": "a1",
            "contact_id": "k1", "call_id": "call_1", "channel": "sms", "status": status,
            "due_at": "2026-03-02T15:00:00Z", "time_zone": "UTC", "attempt": 1,
            "destination": "+14155552671",
            "created_at": "2026-03-02T15:00:00Z", "updated_at": "2026-03-02T15:00:00Z"
        }))
        .unwrap()
    }

    #[test]
    fn an_opt_out_cancels_only_follow_ups_still_waiting_to_go_out() {
        let now = at("2026-03-02T15:01:00Z");
        for status in Status::ALL {
            let mut f = followup(status.as_str());
            let changed = f.cancel_for_opt_out(DncSource::SmsReply, now);
            let open = matches!(status, Status::Scheduled | Status::NeedsReview);
            assert_eq!(changed, open, "{status}");
            if open {
                assert_eq!(f.status, Status::Cancelled);
                assert_eq!(f.reason, Some(Reason::OptedOut));
                assert_eq!(
                    f.trace.last().unwrap().detail,
                    "the contact opted out (sms_reply)"
                );
            } else {
                assert_eq!(f.status, status);
            }
        }
    }
}

mod deliveries {
    use super::*;
    use policy::{
        Attempt, Delivery, DeliveryState, FollowUp, FollowUpId, Status, parse_callback_data,
        whatsapp_callback_data,
    };
    use serde_json::json;

    fn sent_whatsapp() -> FollowUp {
        let mut f: FollowUp = serde_json::from_value(json!({
            "id": "fu_1", "account_id": "acme", "campaign_id": "c1", "agent_id": "a1",
            "contact_id": "k1", "call_id": "call_1", "channel": "whatsapp", "status": "sent",
            "due_at": "2026-03-02T15:00:00Z", "time_zone": "UTC", "attempt": 1,
            "destination": "+14155552671",
            "created_at": "2026-03-02T15:00:00Z", "updated_at": "2026-03-02T15:00:00Z"
        }))
        .unwrap();
        f.attempts.push(Attempt {
            attempt: 1,
            at: at("2026-03-02T15:00:00Z"),
            status: Status::Sent,
            provider_id: Some("wamid.A".into()),
            error: None,
            deliveries: Vec::new(),
        });
        f
    }

    fn delivery(state: DeliveryState, code: Option<i64>) -> Delivery {
        Delivery {
            state,
            at: at("2026-03-02T15:00:05Z"),
            error_code: code,
            error: code.map(|_| "Re-engagement message".into()),
        }
    }

    #[test]
    fn a_status_is_recorded_once_on_the_attempt_whose_message_it_names() {
        let table = [
            // (attempt, provider id, recorded)
            (1, "wamid.A", true),
            (2, "wamid.A", false),
            (1, "wamid.B", false),
        ];
        for (attempt, provider_id, recorded) in table {
            let mut f = sent_whatsapp();
            let d = delivery(DeliveryState::Failed, Some(131047));
            assert_eq!(f.record_delivery(attempt, provider_id, d.clone()), recorded);
            if recorded {
                assert_eq!(f.attempts[0].deliveries, vec![d.clone()]);
                assert!(
                    !f.record_delivery(attempt, provider_id, d),
                    "a redelivery changes nothing"
                );
            }
        }
    }

    #[test]
    fn callback_data_names_the_follow_up_and_attempt() {
        let id = FollowUpId::parse("id", "fu_0191e3a0b1c27d3e").unwrap();
        let data = whatsapp_callback_data(&id, 2);
        assert_eq!(parse_callback_data(&data), Some((id, 2)));
        for bad in ["", "fu_1", "fu_1:x", ":1", "fu 1:1", "fu_1:-1"] {
            assert_eq!(parse_callback_data(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn meta_states_are_parsed_and_others_ignored() {
        assert_eq!(DeliveryState::parse("read"), Some(DeliveryState::Read));
        assert_eq!(DeliveryState::parse("failed"), Some(DeliveryState::Failed));
        assert_eq!(DeliveryState::parse("deleted"), None);
    }
}

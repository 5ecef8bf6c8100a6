//! The legal floor: the recipient's latest zone, zones inferred from the area code,
//! the state calling laws, frequency caps and the account's switches.

mod common;

use chrono::{DateTime, TimeDelta, Utc};
use common::*;
use policy::{
    AtSend, Channel, Decision, Destination, FollowUp, FollowUpId, History, PhoneNumber,
    Precondition, Reason, RecipientFacts, Rule, SendCheck, Settings, Status, TimeZone, Touch,
    TouchKind, ZoneSource, decide, recheck,
};
use serde_json::{Value, json};

fn zone(name: &str) -> TimeZone {
    TimeZone::parse("tz", name).unwrap()
}

fn local(zone_name: &str, t: DateTime<Utc>) -> String {
    t.with_timezone(&zone(zone_name).tz())
        .format("%a %Y-%m-%d %H:%M")
        .to_string()
}

fn rules(names: &[&str]) -> Vec<Rule> {
    names
        .iter()
        .map(|n| serde_json::from_value(json!(n)).unwrap())
        .collect()
}

/// Agent hours as wide as the federal window, every day, so the state laws show.
fn wide_settings(account: Value) -> Settings {
    let agent = with(
        with(
            agent_json(),
            "/allowed_hours",
            json!({"start": "08:00", "end": "21:00"}),
        ),
        "/allowed_days",
        json!(["mon", "tue", "wed", "thu", "fri", "sat", "sun"]),
    );
    settings_from(account, Some(agent), Some(campaign_json()))
}

/// A call to `phone` (no zone reported unless `tz`), asking for a call at `at`.
fn call_request_event(phone: &str, tz: Option<&str>, state: Option<&str>, at: &str) -> Value {
    let mut body = with(
        with(event_json(), "/contact/phone", json!(phone)),
        "/analysis/followup_requests",
        json!([{"channel": "call", "at": at}]),
    );
    body = with(
        body,
        "/contact/timezone",
        tz.map_or(Value::Null, |t| json!(t)),
    );
    with(
        body,
        "/contact/state",
        state.map_or(Value::Null, |s| json!(s)),
    )
}

fn created_call(decisions: &policy::Decisions) -> policy::NewFollowUp {
    decisions
        .created()
        .find(|f| f.channel == Channel::Call)
        .cloned()
        .expect("a call follow-up")
}

// ---- the recipient's zone is the most recent one known ----

/// A follow-up call placed at `attempt` whose zone was the fallback New York.
fn placed_call_in_new_york() -> FollowUp {
    let new = created_call(&decide(
        &settings(),
        &event(call_request_event(
            "+14155552671",
            Some("America/New_York"),
            None,
            "2024-05-14T12:00",
        )),
        &History::default(),
        now(),
    ));
    let mut call = new.into_followup(FollowUpId::parse("id", "fu-call").unwrap(), now());
    call.status = Status::Placed;
    call
}

fn retry_of(decisions: &policy::Decisions) -> (DateTime<Utc>, TimeZone, Vec<Rule>) {
    decisions
        .iter()
        .find_map(|d| match d {
            Decision::Retry {
                due_at,
                time_zone,
                trace,
                ..
            } => Some((*due_at, *time_zone, trace.rules.clone())),
            _ => None,
        })
        .expect("a retry")
}

/// The follow-up call went unanswered at 08:30 in New York (05:30 in Los Angeles).
fn unanswered(tz: Option<&str>) -> policy::CallCompleted {
    let mut body = with(
        with(
            with(event_json(), "/call/followup_id", json!("fu-call")),
            "/call/outcome",
            json!("no_answer"),
        ),
        "/call/ended_at",
        json!("2024-05-14T12:30:00Z"),
    );
    body = with(body, "/call/started_at", json!("2024-05-14T12:29:00Z"));
    event(with(
        body,
        "/contact/timezone",
        tz.map_or(Value::Null, |t| json!(t)),
    ))
}

#[test]
fn a_retry_is_timed_in_the_zone_a_later_call_reported() {
    let history = History {
        original_followup: Some(placed_call_in_new_york()),
        ..History::default()
    };
    let at = utc("2024-05-14T12:31:00Z");
    let decisions = decide(
        &settings(),
        &unanswered(Some("America/Los_Angeles")),
        &history,
        at,
    );
    let (due, tz, held) = retry_of(&decisions);
    // 60 minutes later is 09:30 in New York but 06:30 in Los Angeles: 08:00 there.
    assert_eq!(tz.as_str(), "America/Los_Angeles");
    assert_eq!(local("America/Los_Angeles", due), "Tue 2024-05-14 08:00");
    assert!(held.contains(&Rule::ALLOWED_WINDOW));
}

#[test]
fn a_retry_uses_the_latest_stored_zone_when_the_call_reports_none() {
    let history = History {
        original_followup: Some(placed_call_in_new_york()),
        recipient: RecipientFacts {
            zone: Some(zone("America/Los_Angeles")),
            zone_reported_at: Some(utc("2024-05-14T10:00:00Z")),
            ..RecipientFacts::default()
        },
        ..History::default()
    };
    let at = utc("2024-05-14T12:31:00Z");
    let (due, tz, _) = retry_of(&decide(&settings(), &unanswered(None), &history, at));
    assert_eq!(tz.as_str(), "America/Los_Angeles");
    assert_eq!(local("America/Los_Angeles", due), "Tue 2024-05-14 08:00");
}

#[test]
fn the_send_time_check_reads_the_recipients_current_zone() {
    let mut call = placed_call_in_new_york();
    call.status = Status::Scheduled;
    call.zone_source = Some(ZoneSource::Fallback);
    call.due_at = utc("2024-05-14T13:30:00Z"); // 09:30 New York, 06:30 Los Angeles
    let facts = RecipientFacts {
        zone: Some(zone("America/Los_Angeles")),
        zone_reported_at: Some(utc("2024-05-14T13:00:00Z")),
        ..RecipientFacts::default()
    };
    let at_send = AtSend {
        on_dnc: false,
        undeliverable: false,
        facts: &facts,
        touches: &[],
    };
    assert_eq!(
        recheck(&call, &settings(), &at_send, call.due_at),
        SendCheck::Hold {
            at: utc("2024-05-14T15:00:00Z"),
            rules: vec![Rule::ALLOWED_WINDOW]
        }
    );
}

// ---- a retry to a number on the list converges ----

#[test]
fn a_retry_to_a_number_on_the_dnc_list_ends_suppressed_and_the_decision_converges() {
    let original = placed_call_in_new_york();
    let destination = original.destination.clone().unwrap();
    let mut history = History {
        original_followup: Some(original),
        ..History::default()
    };
    let at = utc("2024-05-14T12:31:00Z");
    let first = decide(&settings(), &unanswered(None), &history, at);
    assert!(
        first
            .preconditions()
            .contains(&Precondition::NotOnDnc(destination.clone()))
    );
    // The write fails on the list: the fact is learned and the call decided again.
    history.learn_dnc(destination.clone());
    let second = decide(&settings(), &unanswered(None), &history, at);
    let finish = second.iter().find_map(|d| match d {
        Decision::Finish { status, reason, .. } => Some((*status, *reason)),
        _ => None,
    });
    assert_eq!(finish, Some((Status::Suppressed, Reason::Dnc)));
    assert!(
        second.preconditions().iter().all(|p| p.holds(&history)),
        "nothing left to fail: the webhook is written"
    );
}

// ---- zones from the area code ----

#[test]
fn without_a_reported_zone_the_area_code_gives_the_zone() {
    // 206 is Seattle: Pacific time (and Washington's 08:00-20:00).
    let decisions = decide(
        &settings(),
        &event(call_request_event(
            "+12065550123",
            None,
            None,
            "2024-05-15T12:00:00Z",
        )),
        &History::default(),
        now(),
    );
    let call = created_call(&decisions);
    assert_eq!(call.time_zone.as_str(), "America/Los_Angeles");
    assert_eq!(call.zone_source, ZoneSource::AreaCode);
    assert_eq!(
        local("America/Los_Angeles", call.due_at),
        "Wed 2024-05-15 08:00"
    );
}

#[test]
fn an_area_code_split_between_zones_allows_only_hours_allowed_in_every_one() {
    // 850 is the Florida panhandle, Central and Eastern. 08:05 Eastern is 07:05
    // Central: too early there; 08:00 Central (09:00 Eastern) is the first instant
    // both allow.
    let decisions = decide(
        &wide_settings(account_json()),
        &event(call_request_event(
            "+18505550123",
            None,
            None,
            "2024-05-15T12:05:00Z",
        )),
        &History::default(),
        now(),
    );
    let call = created_call(&decisions);
    assert_eq!(call.due_at, utc("2024-05-15T13:00:00Z"));
    // And at the end of the day: 19:50 Central is 20:50 Eastern, past Florida's 20:00.
    let late = decide(
        &wide_settings(account_json()),
        &event(call_request_event(
            "+18505550123",
            None,
            None,
            "2024-05-16T00:50:00Z",
        )),
        &History::default(),
        now(),
    );
    let call = created_call(&late);
    assert_eq!(call.due_at, utc("2024-05-16T13:00:00Z"));
    assert!(call.trace[0].rules.contains(&rules(&["state_hours:FL"])[0]));
}

// ---- state laws ----

/// The instant a follow-up call requested for `at` (local to `tz`) to `phone` gets.
fn due_for(phone: &str, tz: &str, state: Option<&str>, at: &str) -> (DateTime<Utc>, Vec<Rule>) {
    let call = created_call(&decide(
        &wide_settings(account_json()),
        &event(call_request_event(phone, Some(tz), state, at)),
        &History::default(),
        utc("2024-05-01T00:00:00Z"),
    ));
    (call.due_at, call.trace[0].rules.clone())
}

#[test]
fn florida_oklahoma_maryland_and_washington_end_calls_at_20_00() {
    for (phone, tz, state) in [
        ("+13055550123", "America/New_York", "FL"),
        ("+14055550123", "America/Chicago", "OK"),
        ("+14105550123", "America/New_York", "MD"),
        ("+12065550123", "America/Los_Angeles", "WA"),
    ] {
        let (due, held) = due_for(phone, tz, None, "2024-05-14T20:30");
        assert_eq!(local(tz, due), "Wed 2024-05-15 08:00", "{state}");
        assert_eq!(held, rules(&[&format!("state_hours:{state}")]), "{state}");
    }
}

#[test]
fn texas_calls_start_at_9_on_weekdays_and_at_noon_on_sundays() {
    let (due, held) = due_for("+15125550123", "America/Chicago", None, "2024-05-14T08:30");
    assert_eq!(local("America/Chicago", due), "Tue 2024-05-14 09:00");
    assert_eq!(held, rules(&["state_hours:TX"]));
    let (due, _) = due_for("+15125550123", "America/Chicago", None, "2024-05-19T10:00");
    assert_eq!(local("America/Chicago", due), "Sun 2024-05-19 12:00");
}

#[test]
fn alabama_and_louisiana_skip_sundays_and_state_holidays_mississippi_sundays() {
    // Sunday 2024-05-26, then Memorial Day Monday 2024-05-27 in both states.
    for (phone, state) in [("+12055550123", "AL"), ("+15045550123", "LA")] {
        let (due, held) = due_for(phone, "America/Chicago", None, "2024-05-26T10:00");
        assert_eq!(
            local("America/Chicago", due),
            "Tue 2024-05-28 08:00",
            "{state}"
        );
        assert!(
            held.contains(&rules(&[&format!("state_days:{state}")])[0]),
            "{state}"
        );
    }
    let (due, held) = due_for("+16015550123", "America/Chicago", None, "2024-05-26T10:00");
    assert_eq!(local("America/Chicago", due), "Mon 2024-05-27 08:00");
    assert!(held.contains(&rules(&["state_days:MS"])[0]));
}

#[test]
fn the_stated_state_and_the_area_code_state_both_apply() {
    // A Texas number, but the contact says Florida: 09:00 (Texas) to 20:00 (Florida).
    let (due, _) = due_for(
        "+15125550123",
        "America/Chicago",
        Some("fl"),
        "2024-05-14T20:15",
    );
    assert_eq!(local("America/Chicago", due), "Wed 2024-05-15 09:00");
    let (due, held) = due_for(
        "+15125550123",
        "America/Chicago",
        Some("FL"),
        "2024-05-15T08:30",
    );
    assert_eq!(local("America/Chicago", due), "Wed 2024-05-15 09:00");
    assert_eq!(held, rules(&["state_hours:TX"]));
}

#[test]
fn an_invalid_contact_state_is_refused_naming_the_field() {
    let body = with(event_json(), "/contact/state", json!("Florida"));
    let errors = policy::parse_event(body.to_string().as_bytes()).unwrap_err();
    assert_eq!(errors.0[0].field, "contact.state");
}

// ---- frequency caps ----

fn touches_at(times: &[&str], kind: TouchKind) -> Vec<Touch> {
    times.iter().map(|t| Touch { at: utc(t), kind }).collect()
}

#[test]
fn a_capped_call_waits_until_the_24_hour_window_frees() {
    // Three calls to a Florida number in the last 24 h (the call that just ended is the
    // third): the follow-up waits until the oldest is 24 h old.
    let history = History {
        touches: touches_at(
            &["2024-05-13T16:00:00Z", "2024-05-14T13:00:00Z"],
            TouchKind::Call,
        ),
        ..History::default()
    };
    let body = call_request_event(
        "+13055550123",
        Some("America/New_York"),
        None,
        "2024-05-14T11:30",
    );
    let call = created_call(&decide(
        &wide_settings(account_json()),
        &event(body),
        &history,
        now(),
    ));
    assert_eq!(call.due_at, utc("2024-05-14T16:00:00Z"));
    assert_eq!(call.trace[0].rules, rules(&["frequency_cap:FL"]));
}

#[test]
fn maryland_counts_texts_and_florida_does_not() {
    let texts = touches_at(
        &["2024-05-14T13:00:00Z", "2024-05-14T14:00:00Z"],
        TouchKind::Text,
    );
    let history = History {
        touches: texts,
        ..History::default()
    };
    let settings = wide_settings(account_json());
    let fl = call_request_event(
        "+13055550123",
        Some("America/New_York"),
        None,
        "2024-05-14T12:00",
    );
    let call = created_call(&decide(&settings, &event(fl), &history, now()));
    assert_eq!(
        call.due_at,
        utc("2024-05-14T16:00:00Z"),
        "Florida counts calls only"
    );
    let md = call_request_event(
        "+14105550123",
        Some("America/New_York"),
        None,
        "2024-05-14T12:00",
    );
    let call = created_call(&decide(&settings, &event(md), &history, now()));
    // The call (14:50) and two texts: the first text leaves the span at 13:00 tomorrow.
    assert_eq!(call.due_at, utc("2024-05-15T13:00:00Z"));
    assert_eq!(call.trace[0].rules, rules(&["frequency_cap:MD"]));
}

#[test]
fn a_send_that_would_exceed_a_cap_is_held_at_send_time() {
    let body = call_request_event(
        "+14105550123",
        Some("America/New_York"),
        None,
        "2024-05-14T12:00",
    );
    let mut call = created_call(&decide(
        &settings(),
        &event(body),
        &History::default(),
        now(),
    ))
    .into_followup(FollowUpId::parse("id", "fu-1").unwrap(), now());
    call.due_at = now();
    let touches = touches_at(
        &[
            "2024-05-14T01:00:00Z",
            "2024-05-14T10:00:00Z",
            "2024-05-14T14:50:00Z",
        ],
        TouchKind::Text,
    );
    let facts = RecipientFacts::default();
    let at_send = AtSend {
        on_dnc: false,
        undeliverable: false,
        facts: &facts,
        touches: &touches,
    };
    assert_eq!(
        recheck(&call, &settings(), &at_send, now()),
        SendCheck::Hold {
            // The first text leaves the span at 01:00Z (21:00 in New York), then the
            // window opens at 08:00.
            at: utc("2024-05-15T12:00:00Z") + TimeDelta::zero(),
            rules: rules(&["frequency_cap:MD", "allowed_window"])
        }
    );
}

// ---- the account's switches ----

#[test]
fn an_account_may_turn_a_rule_off_explicitly_and_the_trace_says_so() {
    let account = with(
        account_json(),
        "/calling_rules",
        json!({"disabled": ["state_hours:FL"]}),
    );
    let call = created_call(&decide(
        &wide_settings(account),
        &event(call_request_event(
            "+13055550123",
            Some("America/New_York"),
            None,
            "2024-05-14T20:30",
        )),
        &History::default(),
        utc("2024-05-01T00:00:00Z"),
    ));
    assert_eq!(
        local("America/New_York", call.due_at),
        "Tue 2024-05-14 20:30"
    );
    assert!(
        call.trace[0]
            .detail
            .contains("rules turned off by the account: state_hours:FL"),
        "{}",
        call.trace[0].detail
    );
}

#[test]
fn an_account_may_add_stricter_rules_but_not_turn_off_unknown_ones() {
    let account = with(
        account_json(),
        "/calling_rules",
        json!({"states": {"CA": {"hours": {"start": "10:00", "end": "18:00"}, "max_per_24h": 1}}}),
    );
    let call = created_call(&decide(
        &wide_settings(account),
        &event(call_request_event(
            "+14155552671",
            Some("America/Los_Angeles"),
            None,
            "2024-05-14T09:00",
        )),
        &History::default(),
        utc("2024-05-01T00:00:00Z"),
    ));
    // 10:00 by the account's hours, then the call that just ended (14:50Z) caps it for
    // 24 h at one contact a day.
    assert_eq!(call.due_at, utc("2024-05-15T17:00:00Z"));
    let bad = with(
        account_json(),
        "/calling_rules",
        json!({"disabled": ["allowed_window"]}),
    );
    let errors = policy::AccountSettings::from_json(&bad).unwrap_err();
    assert_eq!(errors.0[0].field, "calling_rules.disabled");
}

#[test]
fn the_federal_hours_bind_even_when_the_quiet_hours_are_wider() {
    let account = with(
        account_json(),
        "/quiet_hours",
        json!({"start": "07:00", "end": "22:00"}),
    );
    let agent = with(
        agent_json(),
        "/allowed_hours",
        json!({"start": "07:00", "end": "22:00"}),
    );
    let settings = settings_from(account, Some(agent), Some(campaign_json()));
    let call = created_call(&decide(
        &settings,
        &event(call_request_event(
            "+14155552671",
            Some("America/Los_Angeles"),
            None,
            "2024-05-14T07:15",
        )),
        &History::default(),
        utc("2024-05-01T00:00:00Z"),
    ));
    assert_eq!(
        local("America/Los_Angeles", call.due_at),
        "Tue 2024-05-14 08:00"
    );
    assert_eq!(call.trace[0].rules, rules(&["federal_hours"]));
    let _ = (Destination::Phone(
        PhoneNumber::parse("p", "+14155552671").unwrap(),
    ),);
}

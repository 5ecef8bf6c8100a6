//! The proof of the legal floor: a seeded randomized simulation of contacts called
//! again and again through `decide` and `recheck` — every US and Latin American zone,
//! instants weighted towards DST changes, repeated calls per contact, unanswered
//! follow-up calls retried, zones reported late, numbers put on the do-not-call list
//! between decision and send — checked against an independent, simple statement of the
//! rules written below (no code of the policy's window search is used):
//!
//! - no send outside the applicable window, no frequency cap exceeded, no send to the
//!   list;
//! - every due time the earliest allowed: allowed itself, and no earlier minute from the
//!   requested instant on allowed (brute force, minute by minute).
//!
//! `cargo test -p policy --test simulation` runs 1,000 calls; the full run is
//! `SIMULATION_CALLS=100000 cargo test --release -p policy --test simulation -- --nocapture`
//! (figures in docs/compliance.md). `SIMULATION_SEED` picks another seed.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Datelike, NaiveDate, TimeDelta, Timelike, Utc, Weekday};
use common::*;
use policy::recipient::area_code;
use policy::{
    AtSend, CallCompleted, Channel, Decision, Destination, FollowUp, FollowUpId, History,
    PhoneNumber, RecipientFacts, SendCheck, Settings, Status, TimeZone, Touch, TouchKind, decide,
    recheck,
};
use serde_json::{Value, json};

// ---- a small seeded generator (splitmix64) ----

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

// ---- the rules, stated simply (the oracle) ----

/// Minutes after local midnight.
fn minute_of(zone: TimeZone, t: DateTime<Utc>) -> (NaiveDate, Weekday, u32) {
    let local = t.with_timezone(&zone.tz());
    (
        local.date_naive(),
        local.weekday(),
        local.hour() * 60 + local.minute(),
    )
}

/// Holidays of Alabama (Ala. Code § 1-3-8) and Louisiana (La. R.S. 1:55) in 2025 and
/// 2026, written out by hand (observed days included).
const AL_DAYS: &[&str] = &[
    "2025-01-01",
    "2025-01-20",
    "2025-02-17",
    "2025-03-04",
    "2025-04-28",
    "2025-05-26",
    "2025-06-02",
    "2025-07-04",
    "2025-09-01",
    "2025-10-13",
    "2025-11-11",
    "2025-11-27",
    "2025-12-25",
    "2026-01-01",
    "2026-01-19",
    "2026-02-16",
    "2026-02-17",
    "2026-04-27",
    "2026-05-25",
    "2026-06-01",
    "2026-07-03",
    "2026-07-04",
    "2026-09-07",
    "2026-10-12",
    "2026-11-11",
    "2026-11-26",
    "2026-12-25",
];
const LA_DAYS: &[&str] = &[
    "2025-01-01",
    "2025-01-20",
    "2025-03-04",
    "2025-04-18",
    "2025-05-26",
    "2025-06-19",
    "2025-07-04",
    "2025-09-01",
    "2025-11-11",
    "2025-11-27",
    "2025-12-25",
    "2026-01-01",
    "2026-01-19",
    "2026-02-17",
    "2026-04-03",
    "2026-05-25",
    "2026-06-19",
    "2026-07-03",
    "2026-07-04",
    "2026-09-07",
    "2026-11-11",
    "2026-11-26",
    "2026-12-25",
];

struct Oracle {
    zones: Vec<TimeZone>,
    states: Vec<&'static str>,
    channel: Channel,
    /// Allowed minutes of the day and weekdays of the follow-up's own window.
    own_start: u32,
    own_end: u32,
    own_days: Vec<Weekday>,
    al: BTreeSet<NaiveDate>,
    la: BTreeSet<NaiveDate>,
}

impl Oracle {
    fn state_allows(&self, state: &str, date: NaiveDate, day: Weekday, m: u32) -> bool {
        let h = |a: u32, b: u32| m >= a * 60 && m < b * 60;
        match state {
            "FL" | "OK" | "MD" | "WA" => h(8, 20),
            "TX" if day == Weekday::Sun => h(12, 21),
            "TX" => h(9, 21),
            "AL" => h(8, 20) && day != Weekday::Sun && !self.al.contains(&date),
            "LA" => h(8, 20) && day != Weekday::Sun && !self.la.contains(&date),
            "MS" => day != Weekday::Sun,
            _ => true,
        }
    }

    fn cap_allows(&self, touches: &[Touch], t: DateTime<Utc>) -> bool {
        let texting = self.channel != Channel::Call;
        self.states.iter().all(|state| {
            let counts_texts = match *state {
                "FL" | "OK" if !texting => false,
                "MD" => true,
                _ => return true,
            };
            let recent = touches
                .iter()
                .filter(|x| x.kind == TouchKind::Call || counts_texts)
                .filter(|x| x.at <= t && x.at > t - TimeDelta::hours(24))
                .count();
            recent < 3
        })
    }

    fn allows(&self, touches: &[Touch], t: DateTime<Utc>) -> bool {
        let local_ok = self.zones.iter().all(|zone| {
            let (date, day, m) = minute_of(*zone, t);
            m >= self.own_start
                && m < self.own_end
                && self.own_days.contains(&day)
                && (8 * 60..21 * 60).contains(&m)
                && self
                    .states
                    .iter()
                    .all(|s| self.state_allows(s, date, day, m))
        });
        local_ok && self.cap_allows(touches, t)
    }

    /// `due` is allowed and nothing earlier from `from` on is: `from` itself, every
    /// minute boundary in between, and every instant a touch leaves the 24-hour span.
    fn check_earliest(
        &self,
        touches: &[Touch],
        from: DateTime<Utc>,
        due: DateTime<Utc>,
    ) -> Result<(), String> {
        if due < from {
            return Err(format!("due {due} before {from}"));
        }
        if !self.allows(touches, due) {
            return Err(format!("due {due} is not allowed"));
        }
        let mut candidates: Vec<DateTime<Utc>> = vec![from];
        let first_minute =
            DateTime::<Utc>::from_timestamp((from.timestamp() / 60 + 1) * 60, 0).unwrap();
        let mut m = first_minute;
        while m < due {
            candidates.push(m);
            m += TimeDelta::minutes(1);
        }
        candidates.extend(
            touches
                .iter()
                .map(|x| x.at + TimeDelta::hours(24))
                .filter(|x| *x >= from && *x < due),
        );
        match candidates
            .into_iter()
            .filter(|c| *c < due)
            .find(|c| self.allows(touches, *c))
        {
            Some(earlier) => Err(format!("{earlier} is allowed, earlier than due {due}")),
            None => Ok(()),
        }
    }
}

// ---- the world ----

fn sim_zones() -> Vec<TimeZone> {
    let mut zones: Vec<TimeZone> = policy::zone::Zone::names()
        .filter(|name| {
            name.starts_with("America/")
                || ["Pacific/Honolulu", "Pacific/Guam", "Pacific/Pago_Pago"].contains(name)
        })
        .map(|name| TimeZone::parse("time_zone", name).unwrap())
        .collect();
    zones.sort_by_key(|z| z.as_str().to_owned());
    zones
}

const STATES: &[&str] = &["FL", "OK", "MD", "WA", "TX", "AL", "LA", "MS", "CA", "NY"];
const NANP_CODES: &[&str] = &[
    "305", "850", "405", "410", "206", "512", "915", "205", "504", "601", "415", "212", "208",
    "605", "270", "906", "702", "808", "907", "787", "204",
];

struct Contact {
    id: String,
    phone: String,
    /// The zone calls will report, and from which call on.
    zone: TimeZone,
    reports_from: usize,
    state: Option<&'static str>,
    facts: RecipientFacts,
    touches: Vec<Touch>,
    dnc: BTreeSet<Destination>,
}

#[derive(Default)]
struct Tally {
    calls: usize,
    decided_times: usize,
    sends: usize,
    holds: usize,
    dnc_suppressed: usize,
    retries: usize,
    failures: Vec<String>,
}

const WEEK: [Weekday; 7] = [
    Weekday::Mon,
    Weekday::Tue,
    Weekday::Wed,
    Weekday::Thu,
    Weekday::Fri,
    Weekday::Sat,
    Weekday::Sun,
];

fn settings_for(rng: &mut Rng) -> (Settings, u32, u32, Vec<Weekday>) {
    let start = 6 * 60 + 30 * rng.below(8) as u32; // 06:00..09:30
    let end = 17 * 60 + 30 * rng.below(12) as u32; // 17:00..22:30
    let mut days: Vec<Weekday> = WEEK.iter().copied().filter(|_| rng.chance(80)).collect();
    if days.is_empty() {
        days.push(Weekday::Wed);
    }
    let names: Vec<String> = days.iter().map(|d| d.to_string().to_lowercase()).collect();
    let hhmm = |m: u32| format!("{:02}:{:02}", m / 60, m % 60);
    let quiet = if rng.chance(30) {
        ("07:00", "22:00")
    } else {
        ("08:00", "21:00")
    };
    let account = with(
        account_json(),
        "/quiet_hours",
        json!({"start": quiet.0, "end": quiet.1}),
    );
    let agent = with(
        with(
            agent_json(),
            "/allowed_hours",
            json!({"start": hhmm(start), "end": hhmm(end)}),
        ),
        "/allowed_days",
        json!(names),
    );
    let agent = with(agent, "/calls/max_retries", json!(rng.below(4)));
    let agent = with(
        agent,
        "/calls/retry_interval_minutes",
        json!(5 + rng.below(600)),
    );
    let quiet_start = if quiet.0 == "07:00" { 7 * 60 } else { 8 * 60 };
    let quiet_end = if quiet.1 == "22:00" { 22 * 60 } else { 21 * 60 };
    let settings = settings_from(account, Some(agent), Some(campaign_json()));
    (settings, start.max(quiet_start), end.min(quiet_end), days)
}

/// An instant in 2025–2026, half the time within two days of a DST change of `zone`.
fn instant_near_dst(rng: &mut Rng, zone: TimeZone) -> DateTime<Utc> {
    let start = DateTime::<Utc>::from_timestamp(1_735_689_600, 0).unwrap(); // 2025-01-01
    let uniform = start + TimeDelta::seconds(rng.below(700 * 86_400) as i64);
    if rng.chance(50) {
        let changes = policy::wallclock::transitions(zone, start, start + TimeDelta::days(700));
        if !changes.is_empty() {
            let change = *rng.pick(&changes);
            return change - TimeDelta::hours(48) + TimeDelta::seconds(rng.below(96 * 3600) as i64);
        }
    }
    uniform
}

fn new_contact(rng: &mut Rng, n: usize, zones: &[TimeZone]) -> Contact {
    let phone = (0..50)
        .map(|_| {
            if rng.chance(70) {
                let exchange = 201 + rng.below(700);
                format!(
                    "+1{}{exchange}{:04}",
                    rng.pick(NANP_CODES),
                    rng.below(10_000)
                )
            } else {
                format!("+5255{:08}", rng.below(100_000_000))
            }
        })
        .find(|raw| PhoneNumber::parse("p", raw).is_ok())
        .unwrap_or_else(|| "+14155552671".to_owned());
    Contact {
        id: format!("c{n}"),
        phone,
        zone: *rng.pick(zones),
        reports_from: rng.below(4) as usize,
        state: rng.chance(40).then(|| *rng.pick(STATES)),
        facts: RecipientFacts::default(),
        touches: Vec::new(),
        dnc: BTreeSet::new(),
    }
}

fn oracle(c: &Contact, f: &FollowUp, settings: &Settings, own: (u32, u32, &[Weekday])) -> Oracle {
    let phone = PhoneNumber::parse("p", &c.phone).ok();
    let area = phone.as_ref().and_then(area_code);
    let zones = match (c.facts.zone, &area) {
        (Some(z), _) => vec![z],
        (None, Some(a)) if !a.zones.is_empty() => a.zones.clone(),
        // The zone the follow-up was decided with is the fallback (settings' zone).
        _ => vec![settings.zone_for(None)],
    };
    let mut states: Vec<&'static str> = c.facts.state.map(|s| s.as_str()).into_iter().collect();
    if let Some(s) = area.and_then(|a| a.state) {
        states.push(s.as_str());
    }
    let date = |s: &&str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
    let (own_start, own_end, own_days) = if f.channel == Channel::Sms {
        let q = settings.account.quiet_hours;
        let m = |t: chrono::NaiveTime| t.hour() * 60 + t.minute();
        (m(q.start()), q.end().map_or(24 * 60, m), WEEK.to_vec())
    } else {
        (own.0, own.1, own.2.to_vec())
    };
    Oracle {
        zones,
        states,
        channel: f.channel,
        own_start,
        own_end,
        own_days,
        al: AL_DAYS.iter().map(date).collect(),
        la: LA_DAYS.iter().map(date).collect(),
    }
}

// ---- the timeline of one contact ----

enum Step {
    /// The campaign's agent calls (the n-th call to this contact).
    Call(usize),
    /// A follow-up is due; `from` is where its search started (for the earliest check).
    Send(Box<FollowUp>),
    /// Our follow-up call ended unanswered.
    Unanswered(Box<FollowUp>),
}

struct Run<'a> {
    rng: Rng,
    zones: &'a [TimeZone],
    tally: Tally,
    next_id: u64,
}

fn body_of(
    c: &Contact,
    n: usize,
    ended: DateTime<Utc>,
    extra: impl FnOnce(Value) -> Value,
) -> CallCompleted {
    let mut contact = json!({"id": c.id, "phone": c.phone, "name": "Ana"});
    if n >= c.reports_from {
        contact["timezone"] = json!(c.zone.as_str());
    }
    if let Some(state) = c.state {
        contact["state"] = json!(state);
    }
    let body = json!({
        "type": "call.completed",
        "call": {"id": format!("{}-{n}", c.id), "agent_id": "agent-1", "campaign_id": "camp-1",
                 "outcome": "completed", "started_at": (ended - TimeDelta::minutes(3)).to_rfc3339(),
                 "ended_at": ended.to_rfc3339()},
        "contact": contact,
        "analysis": {"consent": {"sms": true, "whatsapp": true},
                     "sms_destination": {"number": c.phone, "confirmed": true}}
    });
    event(extra(body))
}

impl Run<'_> {
    fn fail(&mut self, what: String) {
        if self.tally.failures.len() < 20 {
            self.tally.failures.push(what);
        }
    }

    fn contact(&mut self, n: usize) {
        let mut c = new_contact(&mut self.rng, n, self.zones);
        let (settings, own_start, own_end, own_days) = settings_for(&mut self.rng);
        let own = (own_start, own_end, own_days.as_slice());
        let mut timeline: BTreeMap<(DateTime<Utc>, u64), Step> = BTreeMap::new();
        let mut at = instant_near_dst(&mut self.rng, c.zone);
        for call in 0..1 + self.rng.below(4) as usize {
            timeline.insert((at, self.seq()), Step::Call(call));
            at += TimeDelta::minutes(10 + self.rng.below(30 * 60) as i64);
        }
        let mut calls_made = 0;
        while let Some(((now, _), step)) = timeline.pop_first() {
            match step {
                Step::Call(k) => {
                    calls_made = calls_made.max(k + 1);
                    self.call(&mut c, k, now, &settings, own, &mut timeline);
                }
                Step::Send(f) => self.send(&mut c, *f, now, &settings, own, &mut timeline),
                Step::Unanswered(f) => {
                    self.unanswered(&mut c, calls_made, *f, now, &settings, own, &mut timeline)
                }
            }
        }
    }

    fn seq(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    #[allow(clippy::too_many_arguments)]
    fn call(
        &mut self,
        c: &mut Contact,
        k: usize,
        now: DateTime<Utc>,
        settings: &Settings,
        own: (u32, u32, &[Weekday]),
        timeline: &mut BTreeMap<(DateTime<Utc>, u64), Step>,
    ) {
        self.tally.calls += 1;
        let mut wanted: BTreeMap<Channel, DateTime<Utc>> = BTreeMap::new();
        let mut requests = Vec::new();
        for channel in [Channel::Call, Channel::Whatsapp] {
            if self.rng.chance(60) {
                let at = now + TimeDelta::minutes(self.rng.below(48 * 60) as i64);
                requests.push(json!({"channel": channel.as_str(), "at": at.to_rfc3339()}));
                wanted.insert(channel, at);
            }
        }
        let event = body_of(c, k, now, |b| {
            with(b, "/analysis/followup_requests", json!(requests))
        });
        let history = History {
            dnc: c.dnc.clone(),
            recipient: c.facts.clone(),
            touches: c.touches.clone(),
            ..History::default()
        };
        let decisions = decide(settings, &event, &history, now);
        c.facts = policy::latest_facts(&c.facts, &event);
        if let Some(touch) = policy::call_touch(&event) {
            policy::remember_touch(&mut c.touches, touch, now);
        }
        for new in decisions.created() {
            if new.status != Status::Scheduled
                || new.channel.guard_kind().is_some() && new.channel != Channel::Sms
            {
                continue;
            }
            let id = FollowUpId::parse("id", &format!("fu{}", self.seq())).unwrap();
            let f = new.clone().into_followup(id, now);
            let from = wanted.get(&f.channel).copied().unwrap_or(now).max(now);
            let oracle = oracle(c, &f, settings, own);
            self.tally.decided_times += 1;
            if let Err(e) = oracle.check_earliest(&c.touches, from, f.due_at) {
                self.fail(format!(
                    "decide {} {} {:?}: {e}",
                    c.phone, f.channel, oracle.zones
                ));
            }
            if self.rng.chance(8) {
                c.dnc.insert(Destination::Phone(
                    PhoneNumber::parse("p", &c.phone).unwrap(),
                ));
            }
            timeline.insert((f.due_at, self.seq()), Step::Send(Box::new(f)));
        }
    }

    fn send(
        &mut self,
        c: &mut Contact,
        mut f: FollowUp,
        now: DateTime<Utc>,
        settings: &Settings,
        own: (u32, u32, &[Weekday]),
        timeline: &mut BTreeMap<(DateTime<Utc>, u64), Step>,
    ) {
        let on_dnc = f.destination.as_ref().is_some_and(|d| c.dnc.contains(d));
        let at_send = AtSend {
            on_dnc,
            undeliverable: false,
            facts: &c.facts,
            touches: &c.touches,
        };
        let oracle = oracle(c, &f, settings, own);
        match recheck(&f, settings, &at_send, now) {
            SendCheck::Send => {
                self.tally.sends += 1;
                if on_dnc {
                    self.fail(format!("sent {} to {} on the list", f.channel, c.phone));
                }
                if !oracle.allows(&c.touches, now) {
                    self.fail(format!(
                        "sent {} at {now} outside {:?} {:?}",
                        f.channel, oracle.zones, oracle.states
                    ));
                }
                let kind = if f.channel == Channel::Call {
                    TouchKind::Call
                } else {
                    TouchKind::Text
                };
                policy::remember_touch(&mut c.touches, Touch { at: now, kind }, now);
                if f.channel == Channel::Call && self.rng.chance(60) {
                    f.status = Status::Placed;
                    let ended = now + TimeDelta::minutes(1 + self.rng.below(5) as i64);
                    timeline.insert((ended, self.seq()), Step::Unanswered(Box::new(f)));
                }
            }
            SendCheck::Hold { at, .. } => {
                self.tally.holds += 1;
                if let Err(e) = oracle.check_earliest(&c.touches, now, at) {
                    self.fail(format!("hold {} {:?}: {e}", f.channel, oracle.zones));
                }
                f.due_at = at;
                timeline.insert((at, self.seq()), Step::Send(Box::new(f)));
            }
            SendCheck::Suppress(policy::Reason::Dnc) => {
                self.tally.dnc_suppressed += 1;
                if !on_dnc {
                    self.fail(format!("suppressed {} for dnc off the list", f.id));
                }
            }
            other => self.fail(format!(
                "unexpected {other:?} for {} due {}",
                f.id, f.due_at
            )),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn unanswered(
        &mut self,
        c: &mut Contact,
        calls_made: usize,
        f: FollowUp,
        now: DateTime<Utc>,
        settings: &Settings,
        own: (u32, u32, &[Weekday]),
        timeline: &mut BTreeMap<(DateTime<Utc>, u64), Step>,
    ) {
        self.tally.calls += 1;
        let event = body_of(c, calls_made, now, |b| {
            with(
                with(b, "/call/outcome", json!("no_answer")),
                "/call/followup_id",
                json!(f.id.as_str()),
            )
        });
        let history = History {
            dnc: c.dnc.clone(),
            recipient: c.facts.clone(),
            touches: c.touches.clone(),
            original_followup: Some(f.clone()),
            ..History::default()
        };
        let decisions = decide(settings, &event, &history, now);
        c.facts = policy::latest_facts(&c.facts, &event);
        for decision in decisions.iter() {
            match decision {
                Decision::Retry {
                    attempt,
                    due_at,
                    time_zone,
                    ..
                } => {
                    self.tally.retries += 1;
                    let interval =
                        TimeDelta::minutes(i64::from(f.retry_interval_minutes.unwrap_or(60)));
                    let from = (now + interval).max(now);
                    let oracle = oracle(c, &f, settings, own);
                    if let Err(e) = oracle.check_earliest(&c.touches, from, *due_at) {
                        self.fail(format!("retry {:?}: {e}", oracle.zones));
                    }
                    let mut next = f.clone();
                    (next.attempt, next.due_at, next.time_zone, next.status) =
                        (*attempt, *due_at, *time_zone, Status::Scheduled);
                    timeline.insert((*due_at, self.seq()), Step::Send(Box::new(next)));
                }
                Decision::Finish {
                    status: Status::Suppressed,
                    reason,
                    ..
                } => {
                    let on = f.destination.as_ref().is_some_and(|d| c.dnc.contains(d));
                    if *reason != policy::Reason::Dnc || !on {
                        self.fail(format!(
                            "retry of {} suppressed {reason} (on list: {on})",
                            f.id
                        ));
                    }
                }
                _ => {}
            }
        }
    }
}

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[test]
fn no_send_breaks_the_legal_floor_and_every_due_time_is_the_earliest_allowed() {
    let target = env_or("SIMULATION_CALLS", 1_000) as usize;
    let seed = env_or("SIMULATION_SEED", 17);
    let zones = sim_zones();
    let mut run = Run {
        rng: Rng(seed),
        zones: &zones,
        tally: Tally::default(),
        next_id: 0,
    };
    let mut contacts = 0;
    while run.tally.calls < target {
        run.contact(contacts);
        contacts += 1;
    }
    let t = &run.tally;
    println!(
        "seed {seed}: {contacts} contacts in {} zones, {} calls decided, {} due times and {} holds checked \
         minute by minute, {} sends, {} retries, {} suppressed for the list",
        zones.len(),
        t.calls,
        t.decided_times,
        t.holds,
        t.sends,
        t.retries,
        t.dnc_suppressed
    );
    assert!(t.failures.is_empty(), "{:#?}", t.failures);
    assert!(
        t.sends > 0 && t.holds > 0 && t.retries > 0 && t.dnc_suppressed > 0,
        "the run exercised every path"
    );
}

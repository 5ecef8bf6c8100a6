//! `PhoneNumber::parse` checks numbers against a numbering plan compiled into the binary
//! (`src/phone_plan.rs`). Before that it called the `phonenumber` crate; these tests hold
//! the two to the same answers, accepted or refused and the same E.164 form, on every
//! example number of libphonenumber's metadata and tens of thousands of numbers around
//! them: a digit more or less, digits changed, national prefixes and carrier codes in
//! front, random digits.

use policy::PhoneNumber;

/// What `PhoneNumber::parse` did with the crate (the code it had, verbatim in effect).
fn with_the_crate(raw: &str) -> Option<String> {
    let digits = raw.strip_prefix('+')?;
    if digits.is_empty() || digits.len() > 15 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let parsed = phonenumber::parse(None, raw).ok()?;
    if !phonenumber::is_valid(&parsed) {
        return None;
    }
    Some(parsed.format().mode(phonenumber::Mode::E164).to_string())
}

fn with_the_plan(raw: &str) -> Option<String> {
    PhoneNumber::parse("phone", raw)
        .ok()
        .map(|phone| phone.as_str().to_owned())
}

/// A small deterministic generator (xorshift64*), so a failure can be replayed.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn digit(&mut self) -> char {
        char::from(b'0' + self.below(10) as u8)
    }

    fn digits(&mut self, n: usize) -> String {
        (0..n).map(|_| self.digit()).collect()
    }
}

/// Example national numbers of every description of every territory, with the
/// territory's calling code, national prefix and possible lengths.
struct Example {
    code: u16,
    national_prefix: Option<String>,
    national: String,
    lengths: Vec<u16>,
}

fn examples() -> Vec<Example> {
    let mut found = Vec::new();
    for meta in phonenumber::metadata::DATABASE.iter() {
        let d = meta.descriptors();
        let all = [
            Some(d.general()),
            d.fixed_line(),
            d.mobile(),
            d.toll_free(),
            d.premium_rate(),
            d.shared_cost(),
            d.personal_number(),
            d.voip(),
            d.pager(),
            d.uan(),
            d.voicemail(),
            d.no_international(),
        ];
        for desc in all.into_iter().flatten() {
            if let Some(national) = desc.example() {
                found.push(Example {
                    code: meta.country_code(),
                    national_prefix: meta.national_prefix().map(str::to_owned),
                    national: national.to_owned(),
                    lengths: desc.possible_length().to_vec(),
                });
            }
        }
    }
    found
}

/// The example and numbers around it, in national form (without `+` and the code).
fn around(example: &Example, random: &mut Random) -> Vec<String> {
    let x = &example.national;
    let mut out = vec![x.clone()];
    for prefix in [
        example.national_prefix.as_deref().unwrap_or("0"),
        "0",
        "1",
        "9",
    ] {
        out.push(format!("{prefix}{x}"));
        out.push(format!("{prefix}{prefix}{x}"));
    }
    // National prefixes with carrier codes, and other digits in front.
    for len in 1..=4 {
        out.push(format!("{}{x}", random.digits(len)));
        out.push(format!("0{}{x}", random.digits(len)));
    }
    out.push(x[..x.len() - 1].to_owned());
    out.push(x[1..].to_owned());
    for _ in 0..3 {
        out.push(format!("{x}{}", random.digit()));
        let at = random.below(x.len() + 1);
        out.push(format!("{}{}{}", &x[..at], random.digit(), &x[at..]));
    }
    for at in 0..x.len() {
        out.push(format!("{}{}{}", &x[..at], random.digit(), &x[at + 1..]));
    }
    // Keep the start of the example, fill a possible length (or one more or less) with
    // random digits: numbers on both sides of the pattern's edges.
    for _ in 0..6 {
        let keep = 1 + random.below(x.len());
        let target = match example.lengths.as_slice() {
            [] => x.len(),
            lengths => usize::from(lengths[random.below(lengths.len())]),
        };
        let target = (target + random.below(3)).saturating_sub(1).max(keep);
        out.push(format!("{}{}", &x[..keep], random.digits(target - keep)));
    }
    out
}

fn corpus() -> Vec<String> {
    let mut random = Random(0x5eed_cafe_f00d_d00d);
    let mut numbers = Vec::new();
    for example in examples() {
        for national in around(&example, &mut random) {
            numbers.push(format!("+{}{national}", example.code));
        }
    }
    let codes: Vec<u16> = phonenumber::metadata::DATABASE
        .iter()
        .map(|meta| meta.country_code())
        .collect();
    for _ in 0..5_000 {
        let len = 1 + random.below(16);
        numbers.push(format!("+{}", random.digits(len)));
        let code = codes[random.below(codes.len())];
        let len = 2 + random.below(13);
        numbers.push(format!("+{code}{}", random.digits(len)));
    }
    // Sorted, numbers of one calling code come together: the crate keeps only 100
    // compiled regexes, and checking the codes in turn keeps the test fast.
    numbers.sort();
    numbers.dedup();
    numbers
}

#[test]
fn the_compiled_plan_agrees_with_the_phonenumber_crate() {
    let numbers = corpus();
    let mut disagreements = Vec::new();
    let mut valid = 0;
    for raw in &numbers {
        let expected = with_the_crate(raw);
        let actual = with_the_plan(raw);
        valid += usize::from(expected.is_some());
        if expected != actual {
            disagreements.push(format!("{raw}: crate {expected:?}, plan {actual:?}"));
        }
    }
    assert!(numbers.len() > 40_000, "{} numbers", numbers.len());
    assert!(
        valid > 10_000 && numbers.len() - valid > 10_000,
        "{valid} valid of {}",
        numbers.len()
    );
    assert!(
        disagreements.is_empty(),
        "{} disagreements of {} numbers, first ones:\n{}",
        disagreements.len(),
        numbers.len(),
        disagreements[..disagreements.len().min(40)].join("\n")
    );
}

#[test]
fn national_prefixes_and_carrier_codes_give_the_canonical_number() {
    for (raw, e164) in [
        // The UK's trunk 0 is dropped.
        ("+4407911123456", "+447911123456"),
        // Argentina: trunk 0, area code 11, then 15 before a mobile number: the
        // international form is 9, area code, number.
        ("+540111512345678", "+5491112345678"),
        ("+5401112345678", "+541112345678"),
        // Brazil: trunk 0 with carrier code 15, or 90, are dropped.
        ("+550152123456789", "+552123456789"),
        ("+55902123456789", "+552123456789"),
        // Italy keeps its leading 0.
        ("+3905492123456", "+3905492123456"),
    ] {
        assert_eq!(with_the_plan(raw).as_deref(), Some(e164), "{raw}");
        assert_eq!(with_the_crate(raw).as_deref(), Some(e164), "{raw}");
    }
}

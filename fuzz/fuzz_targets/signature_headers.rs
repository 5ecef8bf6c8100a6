//! The three Standard Webhooks headers and the body, as the webhook receives them:
//! verification never panics or overflows and accepts only the exact signature.
//! The body of the target is `hardening::signature_headers`.

#![no_main]

use libfuzzer_sys::fuzz_target;

// Each target uses half of the shared bodies.
#[allow(dead_code)]
#[path = "hardening.rs"]
mod hardening;

fuzz_target!(|data: &[u8]| hardening::signature_headers(data));

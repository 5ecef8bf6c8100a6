//! The body of `POST /v1/local/clock`: reading it never panics or overflows, and the
//! clock never goes beyond its bound. The body of the target is
//! `hardening::local_clock_body`.

#![no_main]

use libfuzzer_sys::fuzz_target;

// Each target uses half of the shared bodies.
#[allow(dead_code)]
#[path = "hardening.rs"]
mod hardening;

fuzz_target!(|data: &[u8]| hardening::local_clock_body(data));

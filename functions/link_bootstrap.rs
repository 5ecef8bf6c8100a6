//! The build script of every Lambda function: on Linux the bootstrap is linked as a
//! position-dependent executable (`-no-pie`).
//!
//! A position-independent executable carries one dynamic relocation per pointer in its
//! read-only data (≈ 58,000 in `api`): 1.3 MB of relocation records in the file, which
//! the loader applies at every cold start (≈ 1.8 ms), dirtying ≈ 1.4 MB of pages that
//! then count in the function's memory. Linked position-dependent, the linker resolves
//! them once. The price: the executable's own code is not placed at a random address
//! (libraries, heap and stack still are), as with Go's default Lambda binaries.
//! Measured in docs/performance.md (F9). Only the function binaries are linked this
//! way; proc-macros and build scripts stay position-independent. `FOLLOWUPS_LINK_PIE=1`
//! at build time keeps the default (position-independent) link.

fn main() {
    println!("cargo:rerun-if-changed=../link_bootstrap.rs");
    println!("cargo:rerun-if-env-changed=FOLLOWUPS_LINK_PIE");
    let keep_pie = std::env::var_os("FOLLOWUPS_LINK_PIE").is_some_and(|v| v == "1");
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") && !keep_pie {
        println!("cargo:rustc-link-arg-bins=-no-pie");
    }
}

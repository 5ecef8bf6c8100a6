//! The one tracing setup: JSON lines in Lambda (CloudWatch picks up the request id
//! span the runtime opens), readable lines on a terminal. `RUST_LOG` filters by target
//! and level (`info`, `info,store=debug`); tracing-subscriber's `Targets` parses it
//! without a regex engine (the `env-filter` feature would link two into every binary).

use std::io::IsTerminal;
use std::str::FromStr;

use tracing_subscriber::filter::Targets;
use tracing_subscriber::prelude::*;

pub fn init() {
    let filter = filter(std::env::var("RUST_LOG").ok().as_deref());
    let in_lambda = std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_some();
    // Logs go to stderr: stdout is the Lambda runtime's and the local banner's.
    let layer = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    // A second init (tests) is harmless: keep the first subscriber.
    let _ = if in_lambda {
        let layer = layer
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .without_time()
            .with_ansi(false);
        tracing_subscriber::registry()
            .with(layer.with_filter(filter))
            .try_init()
    } else {
        let layer = layer
            .with_target(false)
            .with_ansi(std::io::stderr().is_terminal());
        tracing_subscriber::registry()
            .with(layer.with_filter(filter))
            .try_init()
    };
}

/// `RUST_LOG` as targets and levels; `info` when unset or unreadable.
fn filter(rust_log: Option<&str>) -> Targets {
    let info = || Targets::new().with_default(tracing::Level::INFO);
    match rust_log.map(str::trim).filter(|s| !s.is_empty()) {
        Some(spec) => Targets::from_str(spec).unwrap_or_else(|_| info()),
        None => info(),
    }
}

#[cfg(test)]
mod tests {
    use tracing::Level;

    use super::*;

    #[test]
    fn rust_log_sets_the_default_level_and_per_target_levels() {
        let f = filter(Some("warn,store=debug"));
        assert!(f.would_enable("store", &Level::DEBUG));
        assert!(f.would_enable("service", &Level::WARN));
        assert!(!f.would_enable("service", &Level::INFO));
        let debug = filter(Some("debug"));
        assert!(debug.would_enable("policy", &Level::DEBUG));
    }

    #[test]
    fn an_unset_or_unreadable_rust_log_means_info() {
        for spec in [None, Some(""), Some("=nonsense=")] {
            let f = filter(spec);
            assert!(f.would_enable("service", &Level::INFO), "{spec:?}");
            assert!(!f.would_enable("service", &Level::DEBUG), "{spec:?}");
        }
    }
}

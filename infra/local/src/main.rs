//! `cargo run -p followups-local`: the whole engine on one machine, no AWS account.
//!
//! The same router and use cases as the Lambda functions, with the embedded store
//! (a redb file in the data directory, surviving restarts), an in-process scheduler
//! fed by the store's change feed, and the outbox in place of SNS, SES, WhatsApp and
//! the voice platform (`GET /v1/outbox`). The clock can be moved forward
//! (`--advance 26h` or `POST /v1/local/clock`) to watch tomorrow's follow-ups fire.

mod console;
mod local_routes;
mod mailboxes;
mod options;
mod runtime;

use options::Options;

#[tokio::main]
async fn main() {
    service::telemetry::init();
    let options = match Options::from_args(std::env::args().skip(1)) {
        Ok(options) => options,
        Err(message) => {
            eprintln!("{message}\n\n{}", options::USAGE);
            std::process::exit(2);
        }
    };
    if let Err(e) = runtime::run(options).await {
        eprintln!("followups-local: {e}");
        std::process::exit(1);
    }
}

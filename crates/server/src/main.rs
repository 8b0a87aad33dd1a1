//! `lanyard`: enterprise identity for a SaaS product — SAML in, SCIM in, OIDC out.

mod api;
mod app;
mod auth;
mod claims;
mod cli;
mod console;
mod error;
mod etag;
mod extensions;
mod extract;
mod i18n;
mod limits;
mod mail;
mod metrics;
mod oauth_scopes;
mod oidc;
mod permissions;
mod saml;
mod scim;
mod secrets;
mod sp_keys;
mod state;
mod svg;
mod urls;
mod validate;

use clap::Parser;

// Requests allocate many small, short-lived values (JSON trees, SQLite's statement state) from
// several threads; glibc's allocator spent ~13 % of a SCIM write's CPU time on them.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    let args = cli::Cli::parse();
    cli::init_logging(&args);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: could not start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(cli::run(args)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

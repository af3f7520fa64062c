//! Logging (issue 14 item 4): `tracing` to stderr, in a human or a JSON format, filtered
//! `RUST_LOG`-style.
//!
//! | setting | flag (any subcommand) | environment | default |
//! |---|---|---|---|
//! | format: `auto`, `human`, `json` | `--log-format` | `WAGATE_LOG_FORMAT` | `auto` |
//! | filter (`info`, `wa_client=debug,info`, …) | `--log` | `WAGATE_LOG`, then `RUST_LOG` | `info` |
//!
//! `auto` is the human format, coloured when stderr is a terminal (and `NO_COLOR` is unset),
//! plain otherwise; `human` is the human format, never coloured; `json` is one JSON object a
//! line: `timestamp`, `level`, `target`, `fields` (the message and the event's fields), `span`
//! and `spans` (the enclosing spans with their fields: an account's session tasks run in a
//! `session` span with the `account` id, so every line they log names it).
//!
//! Secrets are kept out by construction: tokens and keys are never passed to `tracing`, and
//! the `Debug` forms of the configurations that hold them mask them.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

/// How log lines look.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum LogFormat {
    /// Human, coloured on a terminal.
    #[default]
    Auto,
    /// Human, never coloured.
    Human,
    /// One JSON object a line.
    Json,
}

/// The logging flags, accepted by every subcommand.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct LogArgs {
    /// Log format: auto (human, coloured on a terminal), human (never coloured) or json.
    #[arg(
        long,
        global = true,
        env = "WAGATE_LOG_FORMAT",
        value_enum,
        default_value_t
    )]
    log_format: LogFormat,
    /// Log filter, RUST_LOG-style (e.g. `info`, `wa_client=debug,info`); default: RUST_LOG,
    /// else `info`.
    #[arg(long = "log", global = true, env = "WAGATE_LOG", value_name = "FILTER")]
    filter: Option<String>,
}

/// Installs the process's subscriber (stderr).
pub(crate) fn init(args: &LogArgs) {
    let (given, invalid) = match args.filter.as_deref().map(|f| (f, EnvFilter::try_new(f))) {
        Some((_, Ok(filter))) => (Some(filter), None),
        Some((text, Err(error))) => (None, Some((text, error))),
        None => (None, None),
    };
    let filter = given
        .or_else(|| EnvFilter::try_from_default_env().ok())
        .unwrap_or_else(|| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match args.log_format {
        LogFormat::Json => builder
            .json()
            .with_current_span(true)
            .with_span_list(true)
            .init(),
        LogFormat::Human => builder.with_ansi(false).init(),
        LogFormat::Auto => builder.with_ansi(colours()).init(),
    }
    if let Some((filter, error)) = invalid {
        tracing::warn!(filter, %error, "--log / WAGATE_LOG is not a valid filter: ignored");
    }
}

/// Colours only on a terminal, unless `NO_COLOR` says otherwise (no-color.org).
fn colours() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

//! Logs on stderr: text for people, or JSON in the layout of controller-runtime's zap logger
//! (`level`, `ts`, `logger`, `msg`, then every field at the top level), which log collectors and
//! the usual operator dashboards read without a transform.

use std::{fmt, io::IsTerminal, time::SystemTime};

use serde_json::{Map, Value};
use tracing::{
    Event, Level, Subscriber,
    field::{Field, Visit},
};
use tracing_subscriber::{
    EnvFilter, Layer,
    fmt::{
        FmtContext, FormatEvent, FormattedFields,
        format::{JsonFields, Writer},
    },
    registry::LookupSpan,
};

/// Log output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// The layer that logs to stderr at `level` (a level or a `RUST_LOG`-style filter), unless
/// `RUST_LOG` holds a valid filter, which wins as it always has. An empty `RUST_LOG` (a
/// manifest's `value: ""`) counts as unset: as a filter it would silence everything, errors
/// included. The filter is this layer's own, so traces can select spans of their own.
pub fn log_layer<S>(format: LogFormat, level: &str) -> Box<dyn Layer<S> + Send + Sync>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    let filter = std::env::var("RUST_LOG")
        .ok()
        .filter(|v| !v.trim().is_empty())
        .and_then(|v| EnvFilter::try_new(v).ok())
        .or_else(|| EnvFilter::try_new(level).ok())
        .unwrap_or_else(|| EnvFilter::new("info"));
    match format {
        LogFormat::Text => tracing_subscriber::fmt::layer()
            .with_ansi(std::io::stderr().is_terminal())
            .with_writer(std::io::stderr)
            .with_filter(filter)
            .boxed(),
        LogFormat::Json => json_layer(std::io::stderr).with_filter(filter).boxed(),
    }
}

/// The JSON layer writing to `writer`. Span fields are stored as JSON (`JsonFields`) so that
/// `ZapJson` can lift them to the top level of each line.
fn json_layer<S, W>(writer: W) -> impl tracing_subscriber::Layer<S>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + 'static,
{
    tracing_subscriber::fmt::layer()
        .fmt_fields(JsonFields::new())
        .event_format(ZapJson)
        .with_writer(writer)
}

/// Checks a `--zap-log-level` value. A single word must be a level: EnvFilter would read a typo
/// such as `warning` as a target name and quietly log nothing else.
pub fn log_filter(value: &str) -> Result<String, String> {
    const LEVELS: [&str; 6] = ["trace", "debug", "info", "warn", "error", "off"];
    let single_word = !value.contains([',', '=', '[', ':']);
    if single_word && !LEVELS.contains(&value.to_ascii_lowercase().as_str()) {
        return Err(format!(
            "expected one of {} or a RUST_LOG-style filter such as info,recommender_operator=debug",
            LEVELS.join(", ")
        ));
    }
    EnvFilter::builder()
        .parse(value)
        .map(|_| value.to_owned())
        .map_err(|e| e.to_string())
}

/// Keys every line has; a field of the same name is written as `field.NAME` instead, so that it
/// cannot replace them.
const RESERVED: [&str; 4] = ["level", "ts", "logger", "msg"];

/// One JSON object per line: `level` (lowercase), `ts` (RFC 3339, microseconds, UTC), `logger`
/// (the tracing target), `msg`, then the fields of every span the event is in, outermost first,
/// then the event's own (an inner name wins). All spans, not only the innermost, so a line logged
/// deep inside an AWS SDK call still carries the reconcile's `namespace`, `name` and
/// `reconcileID`.
pub struct ZapJson;

impl<S> FormatEvent<S, JsonFields> for ZapJson
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, JsonFields>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let meta = event.metadata();
        let mut line = Map::new();
        line.insert("level".into(), level_name(*meta.level()).into());
        line.insert(
            "ts".into(),
            humantime::format_rfc3339_micros(SystemTime::now())
                .to_string()
                .into(),
        );
        line.insert("logger".into(), meta.target().into());
        line.insert("msg".into(), "".into());
        if let Some(scope) = ctx.event_scope() {
            for span in scope.from_root() {
                let extensions = span.extensions();
                let Some(fields) = extensions.get::<FormattedFields<JsonFields>>() else {
                    continue;
                };
                // An empty span's fields are "", not "{}".
                if let Ok(Value::Object(fields)) = serde_json::from_str(fields.as_str()) {
                    for (name, value) in fields {
                        put(&mut line, name, value);
                    }
                }
            }
        }
        event.record(&mut EventFields(&mut line));
        let text = serde_json::to_string(&line).map_err(|_| fmt::Error)?;
        writeln!(writer, "{text}")
    }
}

/// zap's level names; zap has no trace level, so it keeps tracing's name.
fn level_name(level: Level) -> &'static str {
    match level {
        Level::TRACE => "trace",
        Level::DEBUG => "debug",
        Level::INFO => "info",
        Level::WARN => "warn",
        Level::ERROR => "error",
    }
}

fn put(line: &mut Map<String, Value>, name: String, value: Value) {
    if RESERVED.contains(&name.as_str()) {
        line.insert(format!("field.{name}"), value);
    } else {
        line.insert(name, value);
    }
}

/// An event's fields into the line: `message` is `msg`; events from the `log` crate carry their
/// real target in `log.target` (the logger) and their source location in other `log.*` fields,
/// which zap's production layout leaves out.
struct EventFields<'a>(&'a mut Map<String, Value>);

impl EventFields<'_> {
    fn value(&mut self, field: &Field, value: Value) {
        match field.name() {
            "message" => {
                self.0.insert("msg".into(), value);
            }
            "log.target" => {
                self.0.insert("logger".into(), value);
            }
            name if name.starts_with("log.") => {}
            name => put(self.0, name.to_owned(), value),
        }
    }
}

impl Visit for EventFields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.value(field, format!("{value:?}").into());
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.value(field, value.into());
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.value(field, value.into());
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.value(field, value.into());
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.value(field, value.into());
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.value(field, value.into());
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.value(field, value.to_string().into());
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};
    use tracing_subscriber::prelude::*;

    use tracing::{info, info_span, warn};

    use super::*;

    /// What the JSON layer writes while `log` runs, one parsed object per line.
    fn json_lines(log: impl FnOnce()) -> Vec<Map<String, Value>> {
        let out = Arc::new(Mutex::new(Vec::<u8>::new()));
        let sink = out.clone();
        let writer = move || Sink(sink.clone());
        let subscriber = tracing_subscriber::registry().with(json_layer(writer));
        tracing::subscriber::with_default(subscriber, log);
        let bytes = out.lock().expect("not poisoned").clone();
        String::from_utf8(bytes)
            .expect("UTF-8")
            .lines()
            .map(|l| match serde_json::from_str(l) {
                Ok(Value::Object(line)) => line,
                other => panic!("not a JSON object: {l}: {other:?}"),
            })
            .collect()
    }

    struct Sink(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Sink {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("not poisoned").extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn an_event_in_a_span_has_zaps_keys_and_every_field_at_the_top_level() {
        let lines = json_lines(|| {
            let outer = info_span!("run", controller = "recommendermodel");
            let _outer = outer.enter();
            let span = info_span!(
                "reconcile",
                namespace = "shop",
                name = "movie-recs",
                reconcileID = "1b4e28ba-2fa1-11d2-883f-0016d3cca427",
                reason = tracing::field::Empty
            );
            let _span = span.enter();
            span.record("reason", "Throttled");
            warn!(attempt = 2, retry_in = ?std::time::Duration::from_secs(1), "reconcile failed");
        });
        let [line] = lines.as_slice() else {
            panic!("one line: {lines:?}")
        };
        // The fixed keys first, in zap's order; tracing keeps a span's fields sorted by name.
        let keys: Vec<&str> = line.keys().map(String::as_str).collect();
        assert_eq!(keys[..4], ["level", "ts", "logger", "msg"]);
        let mut fields = keys[4..].to_vec();
        fields.sort_unstable();
        assert_eq!(
            fields,
            [
                "attempt",
                "controller",
                "name",
                "namespace",
                "reason",
                "reconcileID",
                "retry_in"
            ]
        );
        assert_eq!(line["level"], "warn");
        assert_eq!(line["logger"], module_path!());
        assert_eq!(line["msg"], "reconcile failed");
        assert_eq!(line["namespace"], "shop");
        assert_eq!(line["name"], "movie-recs");
        assert_eq!(line["reason"], "Throttled");
        assert_eq!(line["attempt"], 2);
        assert_eq!(line["retry_in"], "1s");
        let ts = line["ts"].as_str().expect("a string");
        assert!(humantime::parse_rfc3339(ts).is_ok(), "{ts}");
        assert!(ts.contains('.') && ts.ends_with('Z'), "{ts}");
    }

    #[test]
    fn fields_never_replace_the_fixed_keys_and_log_records_keep_their_target() {
        let lines = json_lines(|| {
            info!(level = 3, msg = "mine", "the message");
            info!(
                log.target = "rustls::client",
                log.file = "client.rs",
                "from the log crate"
            );
            info!(done = true);
        });
        assert_eq!(lines[0]["level"], "info");
        assert_eq!(lines[0]["msg"], "the message");
        assert_eq!(lines[0]["field.level"], 3);
        assert_eq!(lines[0]["field.msg"], "mine");
        assert_eq!(lines[1]["logger"], "rustls::client");
        assert!(!lines[1].keys().any(|k| k.starts_with("log.")));
        assert_eq!(lines[2]["msg"], "");
        assert_eq!(lines[2]["done"], true);
    }

    #[test]
    fn a_log_level_is_a_level_or_a_filter() {
        for good in [
            "debug",
            "INFO",
            "warn",
            "error",
            "info,recommender_operator=debug",
            "kube=warn",
        ] {
            assert_eq!(log_filter(good).as_deref(), Ok(good));
        }
        for bad in ["warning", "verbose", "info,=x=y"] {
            assert!(log_filter(bad).is_err(), "{bad}");
        }
    }
}

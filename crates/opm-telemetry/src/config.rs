//! What to export and where: [`OtelConfig`], read from the standard OpenTelemetry environment
//! variables plus OPM's `OPM_OTEL_CAPTURE_CONTENT`.
//!
//! Export is on only when an OTLP endpoint variable is set. Variables the SDK reads by itself keep
//! working unchanged: `OTEL_TRACES_SAMPLER`/`OTEL_TRACES_SAMPLER_ARG`, `OTEL_RESOURCE_ATTRIBUTES`,
//! `OTEL_EXPORTER_OTLP_HEADERS`, `OTEL_EXPORTER_OTLP_TIMEOUT` (and their per-signal forms).

use std::time::Duration;

use crate::TelemetryError;

/// The OTLP transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OtlpProtocol {
    /// `http/protobuf`, the default.
    #[default]
    HttpProtobuf,
    /// `grpc`.
    Grpc,
}

impl OtlpProtocol {
    /// Parses an `OTEL_EXPORTER_OTLP_PROTOCOL` value; `http/json` is not supported.
    pub fn parse(value: &str) -> Option<OtlpProtocol> {
        match value.trim() {
            "http/protobuf" => Some(OtlpProtocol::HttpProtobuf),
            "grpc" => Some(OtlpProtocol::Grpc),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            OtlpProtocol::HttpProtobuf => "http/protobuf",
            OtlpProtocol::Grpc => "grpc",
        }
    }
}

/// Where one signal (traces or metrics) is sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignalExport {
    /// The full URL: for HTTP the signal's own path (`.../v1/traces`), for gRPC the server.
    pub endpoint: String,
    pub protocol: OtlpProtocol,
}

/// Telemetry settings. Build it with [`OtelConfig::from_env`], or directly (tests do).
#[derive(Debug, Clone, PartialEq)]
pub struct OtelConfig {
    /// `None`: no spans are built or exported.
    pub traces: Option<SignalExport>,
    /// `None`: no metrics are recorded or exported.
    pub metrics: Option<SignalExport>,
    /// The `service.name` resource attribute.
    pub service_name: String,
    /// Record prompt and completion content on model spans (opt-in: it may hold personal data).
    pub capture_content: bool,
    /// How often metrics are exported; `None` leaves the SDK default (60 s).
    pub metric_export_interval: Option<Duration>,
    /// The longest [`crate::Telemetry::shutdown`] waits for the last export.
    pub shutdown_timeout: Duration,
}

/// The service name when neither `OTEL_SERVICE_NAME` nor `OTEL_RESOURCE_ATTRIBUTES` gives one.
pub const DEFAULT_SERVICE_NAME: &str = "opm";
/// The default bound on shutdown.
pub const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(5);

const ENDPOINT: &str = "OTEL_EXPORTER_OTLP_ENDPOINT";
const PROTOCOL: &str = "OTEL_EXPORTER_OTLP_PROTOCOL";

/// The variables that configure one signal.
struct SignalVariables {
    endpoint: &'static str,
    protocol: &'static str,
    exporter: &'static str,
    /// Appended to `OTEL_EXPORTER_OTLP_ENDPOINT` for HTTP.
    http_path: &'static str,
}

const TRACES: SignalVariables = SignalVariables {
    endpoint: "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    protocol: "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
    exporter: "OTEL_TRACES_EXPORTER",
    http_path: "v1/traces",
};

const METRICS: SignalVariables = SignalVariables {
    endpoint: "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
    protocol: "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL",
    exporter: "OTEL_METRICS_EXPORTER",
    http_path: "v1/metrics",
};

impl OtelConfig {
    /// Nothing exported.
    pub fn disabled() -> OtelConfig {
        OtelConfig {
            traces: None,
            metrics: None,
            service_name: DEFAULT_SERVICE_NAME.to_owned(),
            capture_content: false,
            metric_export_interval: None,
            shutdown_timeout: DEFAULT_SHUTDOWN_TIMEOUT,
        }
    }

    /// Both signals to one OTLP base endpoint (`http://host:4318` for HTTP, `http://host:4317`
    /// for gRPC), as `OTEL_EXPORTER_OTLP_ENDPOINT` would.
    pub fn otlp(protocol: OtlpProtocol, base_endpoint: &str) -> OtelConfig {
        OtelConfig {
            traces: Some(SignalExport {
                endpoint: signal_endpoint(protocol, base_endpoint, TRACES.http_path),
                protocol,
            }),
            metrics: Some(SignalExport {
                endpoint: signal_endpoint(protocol, base_endpoint, METRICS.http_path),
                protocol,
            }),
            ..OtelConfig::disabled()
        }
    }

    /// Whether anything is exported.
    pub fn is_enabled(&self) -> bool {
        self.traces.is_some() || self.metrics.is_some()
    }

    /// Reads the process environment.
    pub fn from_env() -> Result<OtelConfig, TelemetryError> {
        OtelConfig::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the variables through `lookup` (an empty value counts as unset, as the
    /// specification says).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<OtelConfig, TelemetryError> {
        let get = |name: &str| lookup(name).map(|value| value.trim().to_owned()).filter(|value| !value.is_empty());
        let service_name = get("OTEL_SERVICE_NAME")
            .or_else(|| get("OTEL_RESOURCE_ATTRIBUTES").and_then(|attributes| service_name_in(&attributes)))
            .unwrap_or_else(|| DEFAULT_SERVICE_NAME.to_owned());
        let mut config = OtelConfig { service_name, ..OtelConfig::disabled() };
        config.capture_content = match get("OPM_OTEL_CAPTURE_CONTENT") {
            None => false,
            Some(value) => parse_bool(&value).ok_or_else(|| TelemetryError::InvalidEnv {
                name: "OPM_OTEL_CAPTURE_CONTENT",
                value: value.clone(),
                expected: "`true` or `false`",
            })?,
        };
        if get("OTEL_SDK_DISABLED").is_some_and(|value| value.eq_ignore_ascii_case("true")) {
            return Ok(config);
        }
        config.traces = signal(&get, &TRACES)?;
        config.metrics = signal(&get, &METRICS)?;
        if let Some(value) = get("OTEL_METRIC_EXPORT_INTERVAL") {
            let millis: u64 = value.parse().map_err(|_| TelemetryError::InvalidEnv {
                name: "OTEL_METRIC_EXPORT_INTERVAL",
                value: value.clone(),
                expected: "milliseconds",
            })?;
            config.metric_export_interval = Some(Duration::from_millis(millis)).filter(|interval| !interval.is_zero());
        }
        Ok(config)
    }
}

/// One signal's export, or `None` when no endpoint is set or its exporter is `none`.
fn signal(
    get: &impl Fn(&str) -> Option<String>,
    vars: &SignalVariables,
) -> Result<Option<SignalExport>, TelemetryError> {
    if let Some(exporters) = get(vars.exporter) {
        let names: Vec<&str> = exporters.split(',').map(str::trim).filter(|name| !name.is_empty()).collect();
        if !names.contains(&"otlp") {
            if names.iter().all(|name| *name == "none") {
                return Ok(None);
            }
            return Err(TelemetryError::InvalidEnv {
                name: vars.exporter,
                value: exporters.clone(),
                expected: "`otlp` or `none`",
            });
        }
    }
    let protocol = match get(vars.protocol)
        .map(|value| (vars.protocol, value))
        .or_else(|| get(PROTOCOL).map(|value| (PROTOCOL, value)))
    {
        None => OtlpProtocol::default(),
        Some((name, value)) => OtlpProtocol::parse(&value).ok_or(TelemetryError::InvalidEnv {
            name,
            value,
            expected: "`http/protobuf` or `grpc`",
        })?,
    };
    let endpoint = match (get(vars.endpoint), get(ENDPOINT)) {
        (Some(endpoint), _) => endpoint,
        (None, Some(base)) => signal_endpoint(protocol, &base, vars.http_path),
        (None, None) => return Ok(None),
    };
    validate_endpoint(&endpoint)?;
    Ok(Some(SignalExport { endpoint, protocol }))
}

/// The signal's URL under a base endpoint: HTTP appends the signal path, gRPC uses the base as is.
fn signal_endpoint(protocol: OtlpProtocol, base: &str, http_path: &str) -> String {
    match protocol {
        OtlpProtocol::HttpProtobuf => format!("{}/{http_path}", base.trim_end_matches('/')),
        OtlpProtocol::Grpc => base.to_owned(),
    }
}

/// An endpoint must be an absolute `http://` or `https://` URL.
pub(crate) fn validate_endpoint(endpoint: &str) -> Result<(), TelemetryError> {
    let valid = endpoint.parse::<http::Uri>().is_ok_and(|uri| {
        matches!(uri.scheme_str(), Some("http" | "https")) && uri.authority().is_some_and(|a| !a.host().is_empty())
    });
    if valid { Ok(()) } else { Err(TelemetryError::InvalidEndpoint { endpoint: endpoint.to_owned() }) }
}

/// `service.name` from an `OTEL_RESOURCE_ATTRIBUTES` list (`key=value,key=value`).
fn service_name_in(attributes: &str) -> Option<String> {
    attributes.split(',').find_map(|pair| {
        let (key, value) = pair.split_once('=')?;
        (key.trim() == "service.name").then(|| value.trim().to_owned()).filter(|value| !value.is_empty())
    })
}

fn parse_bool(value: &str) -> Option<bool> {
    match value.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Some(true),
        "false" | "0" | "no" | "off" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    fn read(vars: &[(&str, &str)]) -> Result<OtelConfig, TelemetryError> {
        OtelConfig::from_lookup(|name| vars.iter().find(|(key, _)| *key == name).map(|(_, value)| (*value).to_owned()))
    }

    fn export(endpoint: &str, protocol: OtlpProtocol) -> Option<SignalExport> {
        Some(SignalExport { endpoint: endpoint.to_owned(), protocol })
    }

    #[test]
    fn nothing_set_means_disabled_with_defaults() {
        let config = read(&[]).unwrap();
        assert_eq!(config, OtelConfig::disabled());
        assert!(!config.is_enabled());
        assert_eq!(config.service_name, "opm");
    }

    #[test]
    fn base_endpoint_gets_signal_paths_for_http() {
        let config = read(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318/")]).unwrap();
        assert_eq!(config.traces, export("http://collector:4318/v1/traces", OtlpProtocol::HttpProtobuf));
        assert_eq!(config.metrics, export("http://collector:4318/v1/metrics", OtlpProtocol::HttpProtobuf));
        assert!(config.is_enabled());
    }

    #[test]
    fn base_endpoint_is_used_as_is_for_grpc() {
        let config =
            read(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4317"), ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")])
                .unwrap();
        assert_eq!(config.traces, export("http://collector:4317", OtlpProtocol::Grpc));
        assert_eq!(config.metrics, export("http://collector:4317", OtlpProtocol::Grpc));
    }

    #[test]
    fn signal_endpoints_and_protocols_win_and_are_not_modified() {
        let config = read(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://base:4318"),
            ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "https://traces.example/custom"),
            ("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", "grpc"),
        ])
        .unwrap();
        assert_eq!(config.traces, export("https://traces.example/custom", OtlpProtocol::HttpProtobuf));
        assert_eq!(config.metrics, export("http://base:4318", OtlpProtocol::Grpc));
    }

    #[test]
    fn only_one_signal_endpoint_enables_only_that_signal() {
        let config = read(&[("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "http://m:4318/v1/metrics")]).unwrap();
        assert_eq!(config.traces, None);
        assert_eq!(config.metrics, export("http://m:4318/v1/metrics", OtlpProtocol::HttpProtobuf));
    }

    #[test]
    fn exporter_none_and_sdk_disabled_turn_signals_off() {
        let base = ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318");
        let config = read(&[base, ("OTEL_TRACES_EXPORTER", "none")]).unwrap();
        assert_eq!(config.traces, None);
        assert!(config.metrics.is_some());
        let config = read(&[base, ("OTEL_METRICS_EXPORTER", "none"), ("OTEL_TRACES_EXPORTER", "otlp")]).unwrap();
        assert!(config.traces.is_some());
        assert_eq!(config.metrics, None);
        let config = read(&[base, ("OTEL_SDK_DISABLED", "TRUE")]).unwrap();
        assert!(!config.is_enabled());
        let config = read(&[base, ("OTEL_SDK_DISABLED", "false")]).unwrap();
        assert!(config.is_enabled());
    }

    #[test]
    fn service_name_from_variable_then_resource_attributes() {
        let named = read(&[("OTEL_SERVICE_NAME", "gateway-eu")]).unwrap();
        assert_eq!(named.service_name, "gateway-eu");
        let from_resource =
            read(&[("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment=prod, service.name=opm-prod")]).unwrap();
        assert_eq!(from_resource.service_name, "opm-prod");
        let both = read(&[("OTEL_SERVICE_NAME", "wins"), ("OTEL_RESOURCE_ATTRIBUTES", "service.name=loses")]).unwrap();
        assert_eq!(both.service_name, "wins");
    }

    #[test]
    fn capture_content_and_export_interval() {
        let config_on = read(&[("OPM_OTEL_CAPTURE_CONTENT", "True"), ("OTEL_METRIC_EXPORT_INTERVAL", "1500")]).unwrap();
        assert!(config_on.capture_content);
        assert_eq!(config_on.metric_export_interval, Some(Duration::from_millis(1500)));
        assert!(!read(&[("OPM_OTEL_CAPTURE_CONTENT", "false")]).unwrap().capture_content);
        assert!(!read(&[("OPM_OTEL_CAPTURE_CONTENT", "")]).unwrap().capture_content);
    }

    #[test]
    fn invalid_values_are_errors_naming_the_variable() {
        let cases: &[&[(&str, &str)]] = &[
            &[("OPM_OTEL_CAPTURE_CONTENT", "maybe")],
            &[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"), ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json")],
            &[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"), ("OTEL_TRACES_EXPORTER", "zipkin")],
            &[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"), ("OTEL_METRIC_EXPORT_INTERVAL", "soon")],
        ];
        for vars in cases {
            let error = read(vars).unwrap_err().to_string();
            let name = vars.last().unwrap().0;
            assert!(error.contains(name), "{error} should name {name}");
        }
        for endpoint in ["collector:4318", "ftp://collector", "/v1/traces", "http://"] {
            let error = read(&[("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", endpoint)]).unwrap_err();
            assert!(matches!(error, TelemetryError::InvalidEndpoint { .. }), "{endpoint}: {error}");
        }
    }

    #[test]
    fn otlp_constructor_matches_the_environment() {
        let from_env = read(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318")]).unwrap();
        assert_eq!(OtelConfig::otlp(OtlpProtocol::HttpProtobuf, "http://c:4318"), from_env);
        assert_eq!(OtlpProtocol::parse(OtlpProtocol::Grpc.as_str()), Some(OtlpProtocol::Grpc));
    }
}

//! Starting the OTLP exporters and the SDK providers behind [`crate::Telemetry`]: batch span
//! export and a periodic metric reader, both on the SDK's own background threads.

use opentelemetry::InstrumentationScope;
use opentelemetry::metrics::MeterProvider as _;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{MetricExporter, Protocol, SpanExporter, WithExportConfig, WithTonicConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::metrics::{PeriodicReader, SdkMeterProvider};
use opentelemetry_sdk::trace::SdkTracerProvider;
use tonic::transport::ClientTlsConfig;

use crate::config::{OtelConfig, OtlpProtocol, SignalExport, validate_endpoint};
use crate::metrics::Instruments;
use crate::{Inner, TelemetryError};

/// The instrumentation scope of every span and metric OPM emits.
const SCOPE_NAME: &str = "opm";

/// Builds the providers `config` asks for.
pub(crate) fn start(config: &OtelConfig) -> Result<Inner, TelemetryError> {
    // reqwest (OTLP/HTTP) and tonic (OTLP/gRPC) use rustls without a built-in crypto provider, so
    // https endpoints need one installed: ring's (no C build). A provider already installed by
    // another part of the process is kept, which is why the result is ignored.
    let _ = rustls::crypto::ring::default_provider().install_default();
    // `Resource::builder` also reads `OTEL_RESOURCE_ATTRIBUTES`; the service name set here wins.
    let resource = Resource::builder().with_service_name(config.service_name.clone()).build();
    let scope = InstrumentationScope::builder(SCOPE_NAME).with_version(env!("CARGO_PKG_VERSION")).build();

    let tracer_provider = match &config.traces {
        Some(signal) => Some(
            SdkTracerProvider::builder()
                .with_batch_exporter(span_exporter(signal)?)
                .with_resource(resource.clone())
                .build(),
        ),
        None => None,
    };
    let meter_provider = match &config.metrics {
        Some(signal) => {
            let mut reader = PeriodicReader::builder(metric_exporter(signal)?);
            if let Some(interval) = config.metric_export_interval {
                reader = reader.with_interval(interval);
            }
            Some(SdkMeterProvider::builder().with_reader(reader.build()).with_resource(resource).build())
        }
        None => None,
    };
    let tracer = tracer_provider.as_ref().map(|provider| provider.tracer_with_scope(scope.clone()));
    let instruments = meter_provider.as_ref().map(|provider| Instruments::new(&provider.meter_with_scope(scope)));
    Ok(Inner {
        tracer,
        instruments,
        tracer_provider,
        meter_provider,
        capture_content: config.capture_content,
        shutdown_timeout: config.shutdown_timeout,
    })
}

fn span_exporter(signal: &SignalExport) -> Result<SpanExporter, TelemetryError> {
    check(signal)?;
    let built = match signal.protocol {
        OtlpProtocol::HttpProtobuf => SpanExporter::builder()
            .with_http()
            .with_protocol(Protocol::HttpBinary)
            .with_endpoint(signal.endpoint.clone())
            .build(),
        OtlpProtocol::Grpc => {
            grpc_tls(SpanExporter::builder().with_tonic().with_endpoint(signal.endpoint.clone()), &signal.endpoint)
                .build()
        }
    };
    built.map_err(|source| TelemetryError::Exporter { signal: "traces", endpoint: signal.endpoint.clone(), source })
}

fn metric_exporter(signal: &SignalExport) -> Result<MetricExporter, TelemetryError> {
    check(signal)?;
    let built = match signal.protocol {
        OtlpProtocol::HttpProtobuf => MetricExporter::builder()
            .with_http()
            .with_protocol(Protocol::HttpBinary)
            .with_endpoint(signal.endpoint.clone())
            .build(),
        OtlpProtocol::Grpc => {
            grpc_tls(MetricExporter::builder().with_tonic().with_endpoint(signal.endpoint.clone()), &signal.endpoint)
                .build()
        }
    };
    built.map_err(|source| TelemetryError::Exporter { signal: "metrics", endpoint: signal.endpoint.clone(), source })
}

/// A valid endpoint, and for gRPC a Tokio runtime: tonic's channel spawns its connection task
/// when it is built and would panic outside a runtime.
fn check(signal: &SignalExport) -> Result<(), TelemetryError> {
    validate_endpoint(&signal.endpoint)?;
    if signal.protocol == OtlpProtocol::Grpc && tokio::runtime::Handle::try_current().is_err() {
        return Err(TelemetryError::NoTokioRuntime);
    }
    Ok(())
}

/// An `https://` gRPC endpoint verified against the system's root certificates (tonic's default
/// TLS configuration trusts no root at all).
fn grpc_tls<B: WithTonicConfig>(builder: B, endpoint: &str) -> B {
    if endpoint.starts_with("https://") {
        builder.with_tls_config(ClientTlsConfig::new().with_native_roots())
    } else {
        builder
    }
}

//! From OTLP protobuf messages to the receiver's plain values ([`ReceivedSpan`], [`ReceivedMetric`]).

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue};
use opentelemetry_proto::tonic::metrics::v1::{HistogramDataPoint, NumberDataPoint, metric, number_data_point};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{Span, span, status};

use crate::received::{
    AttributeValue, Attributes, HistogramPoint, MetricKind, NumberPoint, NumberValue, ReceivedMetric, ReceivedSpan,
    SpanKind, StatusCode, Transport,
};

/// Every span of an export request.
pub fn spans(request: ExportTraceServiceRequest, transport: Transport) -> Vec<ReceivedSpan> {
    let mut received = Vec::new();
    for resource_spans in request.resource_spans {
        let service_name = service_name(resource_spans.resource.as_ref());
        for scope_spans in resource_spans.scope_spans {
            let scope_name = scope_spans.scope.map(|scope| scope.name).unwrap_or_default();
            for span in scope_spans.spans {
                received.push(decode_span(span, &service_name, &scope_name, transport));
            }
        }
    }
    received
}

/// Every metric of an export request.
pub fn metrics(request: ExportMetricsServiceRequest, transport: Transport) -> Vec<ReceivedMetric> {
    let mut received = Vec::new();
    for resource_metrics in request.resource_metrics {
        let service_name = service_name(resource_metrics.resource.as_ref());
        for scope_metrics in resource_metrics.scope_metrics {
            let scope_name = scope_metrics.scope.map(|scope| scope.name).unwrap_or_default();
            for metric in scope_metrics.metrics {
                let (kind, histogram_points, number_points) = match metric.data {
                    Some(metric::Data::Histogram(histogram)) => (
                        MetricKind::Histogram,
                        histogram.data_points.into_iter().map(histogram_point).collect(),
                        vec![],
                    ),
                    Some(metric::Data::Sum(sum)) => {
                        (MetricKind::Sum, vec![], sum.data_points.into_iter().map(number_point).collect())
                    }
                    Some(metric::Data::Gauge(gauge)) => {
                        (MetricKind::Gauge, vec![], gauge.data_points.into_iter().map(number_point).collect())
                    }
                    _ => (MetricKind::Other, vec![], vec![]),
                };
                received.push(ReceivedMetric {
                    name: metric.name,
                    description: metric.description,
                    unit: metric.unit,
                    kind,
                    histogram_points,
                    number_points,
                    service_name: service_name.clone(),
                    scope_name: scope_name.clone(),
                    transport,
                });
            }
        }
    }
    received
}

fn decode_span(span: Span, service_name: &Option<String>, scope_name: &str, transport: Transport) -> ReceivedSpan {
    let kind = match span::SpanKind::try_from(span.kind) {
        Ok(span::SpanKind::Internal) => SpanKind::Internal,
        Ok(span::SpanKind::Server) => SpanKind::Server,
        Ok(span::SpanKind::Client) => SpanKind::Client,
        Ok(span::SpanKind::Producer) => SpanKind::Producer,
        Ok(span::SpanKind::Consumer) => SpanKind::Consumer,
        Ok(span::SpanKind::Unspecified) | Err(_) => SpanKind::Unspecified,
    };
    let (status_code, status_message) = match span.status {
        Some(status) => {
            let code = match status::StatusCode::try_from(status.code) {
                Ok(status::StatusCode::Ok) => StatusCode::Ok,
                Ok(status::StatusCode::Error) => StatusCode::Error,
                Ok(status::StatusCode::Unset) | Err(_) => StatusCode::Unset,
            };
            (code, status.message)
        }
        None => (StatusCode::Unset, String::new()),
    };
    ReceivedSpan {
        name: span.name,
        kind,
        trace_id: hex(&span.trace_id),
        span_id: hex(&span.span_id),
        parent_span_id: hex(&span.parent_span_id),
        attributes: attributes(span.attributes),
        status_code,
        status_message,
        start_time_unix_nano: span.start_time_unix_nano,
        end_time_unix_nano: span.end_time_unix_nano,
        service_name: service_name.clone(),
        scope_name: scope_name.to_owned(),
        transport,
    }
}

fn histogram_point(point: HistogramDataPoint) -> HistogramPoint {
    HistogramPoint {
        attributes: attributes(point.attributes),
        count: point.count,
        sum: point.sum,
        min: point.min,
        max: point.max,
        bounds: point.explicit_bounds,
        bucket_counts: point.bucket_counts,
    }
}

fn number_point(point: NumberDataPoint) -> NumberPoint {
    let value = match point.value {
        Some(number_data_point::Value::AsInt(value)) => NumberValue::Int(value),
        Some(number_data_point::Value::AsDouble(value)) => NumberValue::Double(value),
        None => NumberValue::Int(0),
    };
    NumberPoint { attributes: attributes(point.attributes), value }
}

fn service_name(resource: Option<&Resource>) -> Option<String> {
    resource?
        .attributes
        .iter()
        .find(|attribute| attribute.key == "service.name")
        .and_then(|attribute| attribute.value.as_ref())
        .and_then(|value| match &value.value {
            Some(Value::StringValue(name)) => Some(name.clone()),
            _ => None,
        })
}

fn attributes(list: Vec<KeyValue>) -> Attributes {
    list.into_iter().map(|attribute| (attribute.key, any_value(attribute.value))).collect()
}

fn any_value(value: Option<AnyValue>) -> AttributeValue {
    match value.and_then(|value| value.value) {
        Some(Value::StringValue(value)) => AttributeValue::String(value),
        Some(Value::BoolValue(value)) => AttributeValue::Bool(value),
        Some(Value::IntValue(value)) => AttributeValue::Int(value),
        Some(Value::DoubleValue(value)) => AttributeValue::Double(value),
        Some(Value::BytesValue(value)) => AttributeValue::Bytes(value),
        Some(Value::ArrayValue(array)) => {
            AttributeValue::Array(array.values.into_iter().map(|value| any_value(Some(value))).collect())
        }
        Some(Value::KvlistValue(list)) => AttributeValue::Map(
            list.values.into_iter().map(|attribute| (attribute.key, any_value(attribute.value))).collect(),
        ),
        _ => AttributeValue::Empty,
    }
}

/// Lowercase hex of an id (empty for an empty id, as a root span's parent is).
fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut text = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        text.push(char::from(DIGITS[usize::from(byte >> 4)]));
        text.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_is_lowercase_and_empty_for_no_bytes() {
        assert_eq!(hex(&[]), "");
        assert_eq!(hex(&[0x00, 0xab, 0x7f]), "00ab7f");
    }

    #[test]
    fn nested_values_decode() {
        use opentelemetry_proto::tonic::common::v1::ArrayValue;
        let value = AnyValue {
            value: Some(Value::ArrayValue(ArrayValue {
                values: vec![
                    AnyValue { value: Some(Value::StringValue("stop".into())) },
                    AnyValue { value: Some(Value::IntValue(3)) },
                ],
            })),
        };
        let decoded = any_value(Some(value));
        assert_eq!(decoded, AttributeValue::Array(vec![AttributeValue::String("stop".into()), AttributeValue::Int(3)]));
        assert_eq!(decoded.as_str_array(), Some(vec!["stop"]));
        assert_eq!(any_value(None), AttributeValue::Empty);
    }
}

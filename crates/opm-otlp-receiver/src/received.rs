//! What the receiver keeps: spans and metrics decoded from OTLP into plain, comparable values
//! (hex ids, attribute maps), so tests assert on them without touching protobuf types.

use std::collections::BTreeMap;

/// How a batch reached the receiver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// OTLP/HTTP with a protobuf body.
    Http,
    /// OTLP/gRPC.
    Grpc,
}

/// An attribute value as OTLP carries it.
#[derive(Debug, Clone, PartialEq)]
pub enum AttributeValue {
    String(String),
    Bool(bool),
    Int(i64),
    Double(f64),
    Bytes(Vec<u8>),
    Array(Vec<AttributeValue>),
    /// A key-value list, kept in order.
    Map(Vec<(String, AttributeValue)>),
    /// No value, or a kind this receiver does not decode.
    Empty,
}

impl AttributeValue {
    /// The string, when this is a string value.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            AttributeValue::String(value) => Some(value),
            _ => None,
        }
    }

    /// The integer, when this is an integer value.
    pub fn as_int(&self) -> Option<i64> {
        match self {
            AttributeValue::Int(value) => Some(*value),
            _ => None,
        }
    }

    /// The float, when this is a double value.
    pub fn as_double(&self) -> Option<f64> {
        match self {
            AttributeValue::Double(value) => Some(*value),
            _ => None,
        }
    }

    /// The boolean, when this is a boolean value.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            AttributeValue::Bool(value) => Some(*value),
            _ => None,
        }
    }

    /// The strings of an array of strings (non-string elements are skipped).
    pub fn as_str_array(&self) -> Option<Vec<&str>> {
        match self {
            AttributeValue::Array(values) => Some(values.iter().filter_map(AttributeValue::as_str).collect()),
            _ => None,
        }
    }
}

/// Attributes by key (OTLP keys are unique within one attribute list).
pub type Attributes = BTreeMap<String, AttributeValue>;

/// The OTLP span kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpanKind {
    Unspecified,
    Internal,
    Server,
    Client,
    Producer,
    Consumer,
}

/// The OTLP span status code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusCode {
    Unset,
    Ok,
    Error,
}

/// One received span.
#[derive(Debug, Clone, PartialEq)]
pub struct ReceivedSpan {
    pub name: String,
    pub kind: SpanKind,
    /// 32 lowercase hex digits.
    pub trace_id: String,
    /// 16 lowercase hex digits.
    pub span_id: String,
    /// 16 lowercase hex digits, or empty for a root span.
    pub parent_span_id: String,
    pub attributes: Attributes,
    pub status_code: StatusCode,
    pub status_message: String,
    pub start_time_unix_nano: u64,
    pub end_time_unix_nano: u64,
    /// The resource's `service.name`, when it had one.
    pub service_name: Option<String>,
    /// The instrumentation scope's name.
    pub scope_name: String,
    pub transport: Transport,
}

impl ReceivedSpan {
    /// An attribute by key.
    pub fn attribute(&self, key: &str) -> Option<&AttributeValue> {
        self.attributes.get(key)
    }

    /// A string attribute by key.
    pub fn str_attribute(&self, key: &str) -> Option<&str> {
        self.attribute(key).and_then(AttributeValue::as_str)
    }

    /// An integer attribute by key.
    pub fn int_attribute(&self, key: &str) -> Option<i64> {
        self.attribute(key).and_then(AttributeValue::as_int)
    }

    /// A double attribute by key.
    pub fn double_attribute(&self, key: &str) -> Option<f64> {
        self.attribute(key).and_then(AttributeValue::as_double)
    }
}

/// One data point of a histogram.
#[derive(Debug, Clone, PartialEq)]
pub struct HistogramPoint {
    pub attributes: Attributes,
    pub count: u64,
    pub sum: Option<f64>,
    pub min: Option<f64>,
    pub max: Option<f64>,
    /// The explicit bucket upper bounds.
    pub bounds: Vec<f64>,
    /// One count per bucket: `bounds.len() + 1` of them.
    pub bucket_counts: Vec<u64>,
}

/// One data point of a sum or gauge.
#[derive(Debug, Clone, PartialEq)]
pub struct NumberPoint {
    pub attributes: Attributes,
    pub value: NumberValue,
}

/// A sum's or gauge's value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum NumberValue {
    Int(i64),
    Double(f64),
}

/// What kind of data a metric carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricKind {
    Histogram,
    Sum,
    Gauge,
    /// Exponential histograms and summaries are not decoded.
    Other,
}

/// One received metric (from one export: cumulative metrics arrive again with every export).
#[derive(Debug, Clone, PartialEq)]
pub struct ReceivedMetric {
    pub name: String,
    pub description: String,
    pub unit: String,
    pub kind: MetricKind,
    /// Data points when `kind` is `Histogram`.
    pub histogram_points: Vec<HistogramPoint>,
    /// Data points when `kind` is `Sum` or `Gauge`.
    pub number_points: Vec<NumberPoint>,
    pub service_name: Option<String>,
    pub scope_name: String,
    pub transport: Transport,
}

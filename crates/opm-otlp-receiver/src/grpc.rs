//! OTLP/gRPC: the collector's `TraceService` and `MetricsService`, storing what they receive.

use std::sync::Arc;

use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_server::{
    MetricsService, MetricsServiceServer,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{ExportMetricsServiceRequest, ExportMetricsServiceResponse};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{TraceService, TraceServiceServer};
use opentelemetry_proto::tonic::collector::trace::v1::{ExportTraceServiceRequest, ExportTraceServiceResponse};
use tonic::{Request, Response, Status};

use crate::decode;
use crate::received::Transport;
use crate::sink::Sink;

/// Both gRPC services over one sink.
#[derive(Clone)]
pub struct Collector {
    sink: Arc<Sink>,
}

impl Collector {
    pub fn new(sink: Arc<Sink>) -> Self {
        Self { sink }
    }

    pub fn trace_service(&self) -> TraceServiceServer<Collector> {
        TraceServiceServer::new(self.clone())
    }

    pub fn metrics_service(&self) -> MetricsServiceServer<Collector> {
        MetricsServiceServer::new(self.clone())
    }
}

#[tonic::async_trait]
impl TraceService for Collector {
    async fn export(
        &self,
        request: Request<ExportTraceServiceRequest>,
    ) -> Result<Response<ExportTraceServiceResponse>, Status> {
        self.sink.add_spans(decode::spans(request.into_inner(), Transport::Grpc));
        Ok(Response::new(ExportTraceServiceResponse::default()))
    }
}

#[tonic::async_trait]
impl MetricsService for Collector {
    async fn export(
        &self,
        request: Request<ExportMetricsServiceRequest>,
    ) -> Result<Response<ExportMetricsServiceResponse>, Status> {
        self.sink.add_metrics(decode::metrics(request.into_inner(), Transport::Grpc));
        Ok(Response::new(ExportMetricsServiceResponse::default()))
    }
}

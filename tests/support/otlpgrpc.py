"""OTLP/gRPC for the test receiver: grpcio's server with opentelemetry-proto's services."""

from __future__ import annotations

from concurrent import futures
from typing import TYPE_CHECKING, Any

import grpc
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2, logs_service_pb2_grpc
from opentelemetry.proto.collector.metrics.v1 import (
    metrics_service_pb2,
    metrics_service_pb2_grpc,
)
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc

if TYPE_CHECKING:
    from tests.support.otlp import OtlpReceiver

CONTENT_TYPE = "application/grpc"


class GrpcServer:
    """A running gRPC server and its port."""

    def __init__(self, server: grpc.Server, port: int) -> None:
        self.server, self.port = server, port

    def stop(self) -> None:
        self.server.stop(grace=None)


class _Traces(trace_service_pb2_grpc.TraceServiceServicer):  # type: ignore[misc]
    def __init__(self, receiver: OtlpReceiver) -> None:
        self._receiver = receiver

    def Export(self, request: Any, context: Any) -> Any:  # gRPC's method name
        self._receiver.accept("traces", request, CONTENT_TYPE)
        return trace_service_pb2.ExportTraceServiceResponse()


class _Metrics(metrics_service_pb2_grpc.MetricsServiceServicer):  # type: ignore[misc]
    def __init__(self, receiver: OtlpReceiver) -> None:
        self._receiver = receiver

    def Export(self, request: Any, context: Any) -> Any:
        self._receiver.accept("metrics", request, CONTENT_TYPE)
        return metrics_service_pb2.ExportMetricsServiceResponse()


class _Logs(logs_service_pb2_grpc.LogsServiceServicer):  # type: ignore[misc]
    def __init__(self, receiver: OtlpReceiver) -> None:
        self._receiver = receiver

    def Export(self, request: Any, context: Any) -> Any:
        self._receiver.accept("logs", request, CONTENT_TYPE)
        return logs_service_pb2.ExportLogsServiceResponse()


def serve(receiver: OtlpReceiver) -> GrpcServer:
    """Start OTLP/gRPC on a free port of 127.0.0.1, feeding `receiver`."""
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(_Traces(receiver), server)
    metrics_service_pb2_grpc.add_MetricsServiceServicer_to_server(_Metrics(receiver), server)
    logs_service_pb2_grpc.add_LogsServiceServicer_to_server(_Logs(receiver), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    return GrpcServer(server, port)

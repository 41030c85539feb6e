"""Values both suites use: the echo record's fields in order, and known trace contexts."""

RECORD_FIELDS = [
    "uuid", "endpoint", "method", "cookies", "data", "headers", "args", "form", "remote_addr",
    "files", "path", "url", "scheme", "host", "query_string", "json", "data_encoding",
    "body_size", "client_ip", "origin", "trace", "server", "trace_context", "auth",
    "protocol", "http2",
    "client_cert",
    "body_complete", "body_expected_size",
]  # fmt: skip

TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
PARENT_SPAN_ID = "b7ad6b7169203331"
TRACEPARENT = f"00-{TRACE_ID}-{PARENT_SPAN_ID}-01"
UNSAMPLED_TRACEPARENT = f"00-{TRACE_ID}-{PARENT_SPAN_ID}-00"
CLOUD_TRACE_ID = "105445aa7843bc8bf206b12000100000"
# An address nobody answers, so a server with K_SERVICE never waits on a metadata server.
NO_METADATA = {"GCE_METADATA_HOST": "127.0.0.1:9"}

-- wrk script for bench/load.py: POST one prepared body (GET when there is none) over kept-alive
-- connections, then print the results as one JSON line prefixed WRK_JSON. The body file, its
-- Content-Type and one extra header come from the environment, so one script serves every run.
local body_file = os.getenv("WRK_BODY_FILE")
if body_file and body_file ~= "" then
  local file = assert(io.open(body_file, "rb"))
  wrk.method = "POST"
  wrk.body = file:read("*a")
  file:close()
  wrk.headers["Content-Type"] = os.getenv("WRK_CONTENT_TYPE")
end
local header = os.getenv("WRK_HEADER_NAME")
if header and header ~= "" then
  wrk.headers[header] = os.getenv("WRK_HEADER_VALUE")
end

function done(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests": %d, "duration_us": %d, "bytes": %d, '
      .. '"p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d, '
      .. '"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}}\n',
    summary.requests, summary.duration, summary.bytes,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    errors.connect, errors.read, errors.write, errors.status, errors.timeout))
end

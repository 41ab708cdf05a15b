-- wrk script for scripts/bench/flows.sh: one fixed POST, every response's status checked.
--
--   wrk ... -s flows_par.lua URL -- PATH EXPECTED_STATUS BODY
--
-- BODY is sent as application/x-www-form-urlencoded. done() prints one line
--   STATUS ok=<n> unexpected=<n> first=<status of the first unexpected response, or ->
-- so the caller can discard a run that saw anything but EXPECTED_STATUS (wrk's own
-- "Non-2xx or 3xx" line only counts statuses above 399).

local threads = {}

function setup(thread)
    table.insert(threads, thread)
end

-- Globals, not locals: done() reads them from each thread with thread:get.
expected = 0
ok = 0
unexpected = 0
first = "-"

function init(args)
    wrk.method = "POST"
    wrk.path = args[1]
    expected = tonumber(args[2])
    wrk.body = args[3]
    wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
    wrk.headers["Accept"] = "application/json"
end

function response(status, headers, body)
    if status == expected then
        ok = ok + 1
    else
        unexpected = unexpected + 1
        if first == "-" then
            first = (tostring(status) .. "_" .. string.sub(body or "", 1, 160)):gsub("%s+", "_")
        end
    end
end

function done(summary, latency, requests)
    local total_ok, total_unexpected, first_seen = 0, 0, "-"
    for _, thread in ipairs(threads) do
        total_ok = total_ok + (thread:get("ok") or 0)
        total_unexpected = total_unexpected + (thread:get("unexpected") or 0)
        local f = thread:get("first")
        if first_seen == "-" and f and f ~= "-" then first_seen = f end
    end
    io.write(string.format("STATUS ok=%d unexpected=%d first=%s\n", total_ok, total_unexpected, first_seen))
end

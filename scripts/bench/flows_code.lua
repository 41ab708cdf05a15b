-- wrk script for scripts/bench/flows.sh: complete authorization-code flows over HTTP.
--
--   wrk ... -s flows_code.lua URL -- CLIENT_ID CLIENT_SECRET REDIRECT_URI COOKIE VERIFIER:CHALLENGE...
--
-- Each flow is three requests, possibly on different connections of the same thread:
--   1. POST /oauth2/par (client_secret_post; response_type=code, redirect_uri, scope=openid, S256
--      code_challenge, state, nonce)                         -> 201 {"request_uri": ...}
--   2. GET /oauth2/authorize?client_id=...&request_uri=...   -> 302/303 Location: REDIRECT_URI?code=...&state=...
--      with the signed-in session cookie COOKIE ("name=value")
--   3. POST /oauth2/token (authorization_code, code, redirect_uri, code_verifier, client_secret_post)
--                                                            -> 200 {..."id_token": ...}
-- request() takes the next pending step from this thread's queue, or starts a new flow with a PAR
-- when nothing is pending; response() recognises the answer, reads request_uri or code from it and
-- queues the step that follows. The PKCE pair of a flow is named by its state ("f<pair>x<n>"), which
-- the authorization response carries back. A flow counts as complete only on a 200 from the token
-- endpoint whose body has an id_token. Anything else is counted as unexpected, and that flow ends.
--
-- done() prints one line:
--   FLOWS completed=<n> seconds=<s> rate=<flows/s> par=<201s> codes=<redirects with a code>
--         unexpected=<n> first=<status and start of the first unexpected response, or ->

local threads = {}

function setup(thread)
    table.insert(threads, thread)
end

-- Per-thread globals (each wrk thread has its own Lua state); done() reads them with thread:get.
completed = 0
pars = 0
codes = 0
unexpected = 0
first = "-"

local client_id, client_secret, redirect_uri, cookie
local pairs_pkce = {}
local queue, head, tail = {}, 1, 0
local started = 0
local par_body_prefix
local par_headers, authorize_headers, token_headers

local function urlencode(s)
    return (string.gsub(s, "[^%w%-%._~]", function(c) return string.format("%%%02X", string.byte(c)) end))
end

local function urldecode(s)
    s = string.gsub(s, "+", " ")
    return (string.gsub(s, "%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end))
end

function init(args)
    client_id, client_secret, redirect_uri, cookie = args[1], args[2], args[3], args[4]
    for i = 5, #args do
        local verifier, challenge = string.match(args[i], "^([^:]+):([^:]+)$")
        table.insert(pairs_pkce, { verifier = verifier, challenge = challenge })
    end
    if #pairs_pkce == 0 then error("flows_code.lua: no PKCE pairs given") end
    par_body_prefix = "response_type=code&client_id=" .. urlencode(client_id) ..
        "&client_secret=" .. urlencode(client_secret) ..
        "&redirect_uri=" .. urlencode(redirect_uri) .. "&scope=openid"
    par_headers = { ["Content-Type"] = "application/x-www-form-urlencoded", ["Accept"] = "application/json" }
    authorize_headers = { ["Cookie"] = cookie, ["Accept"] = "text/html" }
    token_headers = { ["Content-Type"] = "application/x-www-form-urlencoded", ["Accept"] = "application/json" }
end

local function push(step)
    tail = tail + 1
    queue[tail] = step
end

local function pop()
    if head > tail then return nil end
    local step = queue[head]
    queue[head] = nil
    head = head + 1
    return step
end

local function note_unexpected(status, what)
    unexpected = unexpected + 1
    if first == "-" then
        first = (tostring(status) .. "_" .. string.sub(what or "", 1, 160)):gsub("%s+", "_")
    end
end

function request()
    local step = pop()
    if step == nil then
        started = started + 1
        local index = (started % #pairs_pkce) + 1
        local state = "f" .. index .. "x" .. started
        local body = par_body_prefix ..
            "&code_challenge=" .. pairs_pkce[index].challenge .. "&code_challenge_method=S256" ..
            "&state=" .. state .. "&nonce=n" .. started
        return wrk.format("POST", "/oauth2/par", par_headers, body)
    elseif step.kind == "authorize" then
        return wrk.format("GET", "/oauth2/authorize?client_id=" .. urlencode(client_id) ..
            "&request_uri=" .. urlencode(step.request_uri), authorize_headers, nil)
    else
        local body = "grant_type=authorization_code&code=" .. urlencode(step.code) ..
            "&redirect_uri=" .. urlencode(redirect_uri) ..
            "&code_verifier=" .. step.verifier ..
            "&client_id=" .. urlencode(client_id) .. "&client_secret=" .. urlencode(client_secret)
        return wrk.format("POST", "/oauth2/token", token_headers, body)
    end
end

local function header(headers, name)
    for k, v in pairs(headers) do
        if string.lower(k) == name then return v end
    end
    return nil
end

function response(status, headers, body)
    if status == 201 then
        local request_uri = body and string.match(body, '"request_uri"%s*:%s*"([^"]+)"')
        if request_uri then
            pars = pars + 1
            push({ kind = "authorize", request_uri = request_uri })
            return
        end
    elseif status == 302 or status == 303 then
        local location = header(headers, "location") or ""
        if string.sub(location, 1, #redirect_uri) == redirect_uri then
            local code = string.match(location, "[?&]code=([^&#]+)")
            local state = string.match(location, "[?&]state=([^&#]+)")
            local index = state and tonumber(string.match(state, "^f(%d+)x%d+$"))
            if code and index and pairs_pkce[index] then
                codes = codes + 1
                push({ kind = "token", code = urldecode(code), verifier = pairs_pkce[index].verifier })
                return
            end
        end
        note_unexpected(status, "Location:" .. location)
        return
    elseif status == 200 then
        if body and string.find(body, '"id_token"', 1, true) and string.find(body, '"access_token"', 1, true) then
            completed = completed + 1
            return
        end
    end
    note_unexpected(status, body)
end

function done(summary, latency, requests)
    local total = { completed = 0, pars = 0, codes = 0, unexpected = 0 }
    local first_seen = "-"
    for _, thread in ipairs(threads) do
        for name, _ in pairs(total) do
            total[name] = total[name] + (thread:get(name) or 0)
        end
        local f = thread:get("first")
        if first_seen == "-" and f and f ~= "-" then first_seen = f end
    end
    local seconds = summary.duration / 1e6
    io.write(string.format("FLOWS completed=%d seconds=%.3f rate=%.1f par=%d codes=%d unexpected=%d first=%s\n",
        total.completed, seconds, total.completed / seconds, total.pars, total.codes, total.unexpected, first_seen))
end

-- stdlib/limpet/progress.lua -- a progress bar for loops (training, data).
-- Owns: TTY detection, the redrawn bar (label, bar, count, rate, ETA and
-- caller fields such as the running loss) on a terminal, and plain summary
-- lines when the stream is not a terminal (logs, pipes, CI).
-- Not here: what is measured (train.lua).
-- Timing: wall seconds from /proc/uptime where the system has it (0.01 s),
-- else os.time(); only for display, so results never depend on it.
local M = {}

local function uptime()
  local f = io.open("/proc/uptime", "r")
  if not f then return nil end
  local s = f:read("n")
  f:close()
  return s
end

--- progress.now() -> wall-clock seconds (an arbitrary origin).
function M.now() return uptime() or os.time() end

local tty_cache
--- progress.isatty() -> true when stderr is a terminal.
function M.isatty()
  if tty_cache == nil then
    local ok, a, _, c = pcall(os.execute, "test -t 2")
    -- os.execute returns true | nil, "exit", code (5.4)
    tty_cache = ok and (a == true or c == 0) and true or false
    local env = os.getenv("LIMPET_PROGRESS")
    if env == "plain" then tty_cache = false elseif env == "tty" then tty_cache = true end
  end
  return tty_cache
end

--- progress.duration(seconds) -> "1:05" or "1:02:03"
function M.duration(s)
  if s ~= s or s == math.huge then return "--:--" end
  s = math.floor(s + 0.5)
  local h, m = s // 3600, (s % 3600) // 60
  if h > 0 then return ("%d:%02d:%02d"):format(h, m, s % 60) end
  return ("%d:%02d"):format(m, s % 60)
end

local Bar = {}
Bar.__index = Bar

--- progress.new{total = n or nil, label = "epoch 1/3", stream = io.stderr | obj with :write,
---   tty = bool (default: detected for io.stderr, false otherwise), width = 24}
function M.new(o)
  local stream = o.stream or io.stderr
  local tty = o.tty
  if tty == nil then tty = stream == io.stderr and M.isatty() end
  return setmetatable({ total = o.total, label = o.label or "", stream = stream, tty = tty,
    width = o.width or 24, done = 0, start = M.now(), last_draw = -math.huge, unit = o.unit or "it" }, Bar)
end

local function fmt_fields(fields)
  local parts = {}
  for _, f in ipairs(fields or {}) do
    local v = f[2]
    parts[#parts + 1] = type(v) == "number" and ("%s %.4g"):format(f[1], v) or ("%s %s"):format(f[1], tostring(v))
  end
  return table.concat(parts, "  ")
end

function Bar:rate()
  local el = M.now() - self.start
  return el > 0 and self.done / el or nil, el
end

function Bar:line(fields)
  local rate, el = self:rate()
  local out = { self.label }
  if self.total and self.total > 0 then
    local frac = math.min(1, self.done / self.total)
    local n = math.floor(frac * self.width + 0.5)
    out[#out + 1] = "[" .. ("="):rep(n) .. (n < self.width and ">" or "") .. (" "):rep(math.max(0, self.width - n - 1)) .. "]"
    out[#out + 1] = ("%d/%d"):format(self.done, self.total)
  else
    out[#out + 1] = tostring(self.done)
  end
  out[#out + 1] = rate and ("%.1f %s/s"):format(rate, self.unit) or ("-- %s/s"):format(self.unit)
  if self.total and rate and rate > 0 and self.done < self.total then
    out[#out + 1] = "ETA " .. M.duration((self.total - self.done) / rate)
  else
    out[#out + 1] = M.duration(el)
  end
  local f = fmt_fields(fields)
  if f ~= "" then out[#out + 1] = f end
  return table.concat(out, "  ")
end

--- bar:update(n_done, fields): fields = {{"loss", 0.69}, {"acc", 0.5}}; redraws
-- at most 10 times a second on a terminal, prints nothing otherwise.
function Bar:update(done, fields)
  self.done = done
  if not self.tty then return end
  local t = M.now()
  if t - self.last_draw < 0.1 and done ~= self.total then return end
  self.last_draw = t
  self.stream:write("\r\27[K", self:line(fields))
  if self.stream.flush then self.stream:flush() end
end

--- bar:finish(fields): the final line (on a terminal it replaces the bar).
function Bar:finish(fields)
  local l = self:line(fields)
  if self.tty then self.stream:write("\r\27[K", l, "\n") else self.stream:write(l, "\n") end
  if self.stream.flush then self.stream:flush() end
end

return M

-- stdlib/limpet/train.lua -- `lp.train`: the training loop and a simple loader.
-- Owns: fit (epochs of forward / loss / backward / clip / step, validation,
-- metrics, early stopping, checkpoints, NaN diagnosis and the check that
-- every parameter is still in its valid range after each optimiser step,
-- progress display)
-- and TensorLoader (mini-batches from in-memory tensors).
-- Not here: losses (loss.lua), optimisers and schedules (optim/), the
-- modules (nn/), the bar itself (progress.lua), data sets (data/).
-- Shapes: inputs (B, T, N); outputs (B, T, C) or (B, C); labels (B) in 1..C.
local core = require "limpet.core"
local base = require "limpet.optim.base"
local progress = require "limpet.progress"
local shard = require "limpet.data.shard"

local argerror = base.argerror
local M = {}

---------------------------------------------------------------------------
-- TensorLoader

-- splitmix64: the loader's own generator, so shuffling neither disturbs
-- nor depends on anyone else's random stream except through its seed.
local function splitmix(seed)
  local s = seed
  return function()
    s = s + 0x9E3779B97F4A7C15
    local z = s
    z = (z ~ (z >> 30)) * 0xBF58476D1CE4E5B9
    z = (z ~ (z >> 27)) * 0x94D049BB133111EB
    return z ~ (z >> 31)
  end
end

local function permutation(n, seed)
  local p = {}
  for i = 1, n do p[i] = i end
  local rnd = splitmix(seed)
  for i = n, 2, -1 do
    local j = (rnd() >> 11) % i + 1
    p[i], p[j] = p[j], p[i]
  end
  return p
end
M._permutation = permutation

local TensorLoader = { __name = "TensorLoader" }
TensorLoader.__index = TensorLoader

--- TensorLoader(x, y[, {batch_size = 32, shuffle = false, seed = , drop_last = false}])
-- x: (N, ...) inputs, y: (N, ...) labels or targets (or nil). Each epoch's
-- order comes from `seed` and the epoch count; without a seed it is drawn
-- from limpet's generator (lp.seed makes it reproducible).
function M.TensorLoader(x, y, opts)
  if not core.is_tensor(x) or x:dim() < 1 then
    argerror(1, "TensorLoader", "expected a tensor with a leading sample dimension")
  end
  local N = x.shape[1]
  if y ~= nil then
    if not core.is_tensor(y) then argerror(2, "TensorLoader", ("expected a tensor, got %s"):format(type(y))) end
    if y:dim() < 1 or y.shape[1] ~= N then
      argerror(2, "TensorLoader", ("expected %d samples, got %s"):format(N, y:dim() < 1 and "a scalar" or tostring(y.shape[1])))
    end
  end
  local o = base.options("TensorLoader", 3, opts, { batch_size = 32, shuffle = false, seed = -1, drop_last = false,
    shard = {} })
  if math.type(o.batch_size) ~= "integer" or o.batch_size < 1 then
    argerror(3, "TensorLoader", "field 'batch_size' must be an integer >= 1")
  end
  if math.type(o.seed) ~= "integer" then argerror(3, "TensorLoader", "field 'seed' must be an integer") end
  -- a shuffled epoch is a permutation table of N entries: refused here,
  -- before anything is allocated, when the size cap would not allow it
  -- (N can be huge with a tiny storage: an expanded view)
  if o.shuffle then core._check_table("TensorLoader", "a shuffled order", N) end
  local srank, ssize = shard.check(next(o.shard) ~= nil and o.shard or nil, "TensorLoader", 3)
  if srank and o.shuffle and o.seed < 0 then
    argerror(3, "TensorLoader", "field 'shard' with shuffle needs a 'seed' (every rank must draw the same order)")
  end
  return setmetatable({ x = x, y = y, n = N, batch_size = o.batch_size, shuffle = o.shuffle,
    seed = o.seed >= 0 and o.seed or nil, drop_last = o.drop_last, epoch = 0,
    shard_rank = srank, shard_size = ssize }, TensorLoader)
end

function TensorLoader:__len()
  if self.shard_rank then return #shard.ranges(self.n, self.batch_size, self.shard_rank, self.shard_size, self.drop_last) end
  if self.drop_last then return self.n // self.batch_size end
  return (self.n + self.batch_size - 1) // self.batch_size
end

local function rows(t, idx, i, j)
  if not t then return nil end
  if not idx then return t:slice(1, i, j) end
  local parts = {}
  for k = i, j do parts[#parts + 1] = t:slice(1, idx[k], idx[k]) end
  return core.cat(parts, 1)
end

--- loader:iter() -> iterator of (x_batch, y_batch)
function TensorLoader:iter()
  self.epoch = self.epoch + 1
  local idx
  if self.shuffle then
    local seed = self.seed and (self.seed * 1000003 + self.epoch) or core.randint(0, 1 << 31, { 1 }):get(1)
    core._check_table("TensorLoader", "a shuffled order", self.n)
    idx = permutation(self.n, seed)
  end
  local i, B, N, nb = 1, self.batch_size, self.n, #self
  local spans = self.shard_rank and shard.ranges(N, B, self.shard_rank, self.shard_size, self.drop_last)
  local count = 0
  return function()
    if count >= nb then return nil end
    count = count + 1
    local j = math.min(i + B - 1, N)
    if spans then i, j = spans[count][1], spans[count][2] end
    local xb, yb = rows(self.x, idx, i, j), rows(self.y, idx, i, j)
    i = j + 1
    return xb, yb
  end
end

TensorLoader.__tostring = function(l)
  return ("TensorLoader(%d samples, batch_size=%d%s)"):format(l.n, l.batch_size, l.shuffle and ", shuffled" or "")
end

---------------------------------------------------------------------------
-- metrics

-- Correct predictions in a batch: argmax over classes of the time-summed
-- output ((B, T, C) summed over T; (B, C) as is) against labels 1..C.
local function correct(out, y, fname)
  fname = fname or "correct"
  if not core.is_tensor(out) or (out:dim() ~= 2 and out:dim() ~= 3) then
    argerror(1, fname, "expected an output of shape (B, T, C) or (B, C)")
  end
  if type(y) == "table" and not core.is_tensor(y) then
    local ok, t = pcall(core.tensor, y, "int64")
    if not ok then argerror(2, fname, "expected labels as a tensor or a flat table of integers") end
    y = t
  end
  if not core.is_tensor(y) or y:dim() ~= 1 or y.shape[1] ~= out.shape[1] then
    argerror(2, fname, ("expected %d labels in a 1-d tensor"):format(out.shape[1]))
  end
  local s = out:dim() == 3 and out:sum(2) or out
  local pred = s:argmax(2)
  return pred:eq(y:astype(pred.dtype)):astype("int64"):sum():item()
end
M.correct = correct

--- lp.train.accuracy(output, labels) -> fraction correct (argmax over classes
-- of the time-summed output against labels 1..C).
function M.accuracy(out, y)
  if not core.is_tensor(out) or (out:dim() ~= 2 and out:dim() ~= 3) then
    argerror(1, "accuracy", "expected an output of shape (B, T, C) or (B, C)")
  end
  return correct(out, y, "accuracy") / out.shape[1]
end

---------------------------------------------------------------------------
-- NaN diagnosis

local function natural(a, b)
  a, b = tostring(a), tostring(b)
  local na, ra = a:match("^(%d+)(.*)$")
  local nb, rb = b:match("^(%d+)(.*)$")
  if na and nb and tonumber(na) ~= tonumber(nb) then return tonumber(na) < tonumber(nb) end
  if na and nb then return ra < rb end
  return a < b
end

local function has_nan(t)
  return (t.dtype == "float32" or t.dtype == "float64") and t:numel() > 0 and t:isnan():astype("int64"):sum():item() > 0
end

-- First tensor (in module order) with a NaN in a nested table; its path.
local function first_nan(tree, path)
  if core.is_tensor(tree) then return has_nan(tree) and path or nil end
  if type(tree) ~= "table" then return nil end
  local keys = {}
  for k in pairs(tree) do keys[#keys + 1] = k end
  table.sort(keys, natural)
  for _, k in ipairs(keys) do
    local p = path and (path .. "." .. tostring(k)) or tostring(k)
    local hit = first_nan(tree[k], p)
    if hit then return hit end
  end
  return nil
end
M._first_nan = first_nan

-- The first parameter of a module tree outside its valid range (a time
-- constant <= 0, a decay outside [0, 1], a value not finite: nn/validate.lua),
-- as "parameter '2_ExpSyn.tau' of module '2_ExpSyn' left its valid range
-- (must be > 0, got -0.002 at element 3)"; nil when all are in range.
local function out_of_range(net)
  if type(net) ~= "table" or rawget(net, "_attrs") == nil then return nil end
  local path, _, _, problem = require("limpet.nn.validate").first_violation(net)
  if not path then return nil end
  local mod = path:match("^(.*)%.[^.]+$")
  return ("parameter '%s'%s left its valid range (%s)"):format(path,
    mod and (" of module '" .. mod .. "'") or "", problem)
end
M._out_of_range = out_of_range

-- Why is the loss NaN? A parameter out of its range first, then NaN
-- parameters, then a recorded re-run of the batch (from the reset state),
-- then the output itself.
local function diagnose(net, x, out, reset)
  local bad = out_of_range(net)
  if bad then return bad end
  local p = net.parameters and first_nan(net:parameters())
  if p then
    local mod = p:match("^(.*)%.[^.]+$")
    return ("parameter '%s'%s holds NaN"):format(p, mod and (" of module '" .. mod .. "'") or "")
  end
  if core.is_tensor(x) and has_nan(x) then return "the input batch holds NaN" end
  if reset and net.reset_state then
    local ok, rec = pcall(function()
      net:reset_state()
      return core.no_grad(function() return select(3, net(x, true)) end)
    end)
    local r = ok and type(rec) == "table" and first_nan(rec)
    if r then
      local outmod = r:match("^(.*)_output$")            -- Sequential's "<name>_output" entries
      if outmod then return ("module '%s' produced it (its output holds NaN)"):format(outmod) end
      local mod, key = r:match("^(.*)%.([^.]+)$")
      if mod then return ("module '%s' produced it (record '%s' holds NaN)"):format(mod, key) end
      return ("record '%s' holds NaN"):format(r)
    end
  end
  if core.is_tensor(out) and has_nan(out) then return "the network output holds NaN" end
  if not core.is_tensor(out) and first_nan(out) then return "the network output holds NaN" end
  return "the network output is finite: the loss function produced it"
end

---------------------------------------------------------------------------
-- fit

local fit_fields = {
  net = true, loss = true, data = true, val_data = true, epochs = true, optimizer = true,
  metrics = true, on_epoch = true, checkpoint = true, patience = true, clip_grad_norm = true,
  schedule = true, reset_state = true, progress = true, distributed = true,
}

local function check_fit(o)
  if type(o) ~= "table" then argerror(1, "fit", ("expected a table of named fields, got %s"):format(type(o)), 3) end
  local keys = {}
  for k in pairs(o) do keys[#keys + 1] = tostring(k) end
  table.sort(keys)
  for _, k in ipairs(keys) do
    if not fit_fields[k] then argerror(1, "fit", ("unknown field '%s'"):format(k), 3) end
  end
  local function need(k, what, ok)
    if o[k] == nil then argerror(1, "fit", ("field '%s' is required"):format(k), 4) end
    if not ok(o[k]) then argerror(1, "fit", ("field '%s' must be %s"):format(k, what), 4) end
  end
  local function callable(v)
    if type(v) == "function" then return true end
    local mt = getmetatable(v)
    return mt ~= nil and type(mt) == "table" and mt.__call ~= nil
  end
  local function loader(v)
    return type(v) == "table" and type(v.iter) == "function"
  end
  need("net", "a module (callable)", callable)
  need("loss", "a function (output, labels) -> loss", callable)
  need("data", "a loader (with an iter method)", loader)
  need("optimizer", "an optimiser (with step and zero_grad)", function(v)
    return type(v) == "table" and type(v.step) == "function" and type(v.zero_grad) == "function"
  end)
  if o.val_data ~= nil and not loader(o.val_data) then
    argerror(1, "fit", "field 'val_data' must be a loader (with an iter method)", 3)
  end
  local epochs = o.epochs or 1
  if math.type(epochs) ~= "integer" or epochs < 0 then argerror(1, "fit", "field 'epochs' must be an integer >= 0", 3) end
  local metrics = o.metrics or {}
  if type(metrics) ~= "table" then argerror(1, "fit", "field 'metrics' must be a list of names", 3) end
  local acc = false
  for _, m in ipairs(metrics) do
    if m == "accuracy" then acc = true
    else argerror(1, "fit", ("unknown metric '%s' (known: accuracy)"):format(tostring(m)), 3) end
  end
  if o.on_epoch ~= nil and not callable(o.on_epoch) then argerror(1, "fit", "field 'on_epoch' must be a function", 3) end
  if o.checkpoint ~= nil then
    if type(o.checkpoint) ~= "string" then argerror(1, "fit", "field 'checkpoint' must be a path", 3) end
    if type(o.net.save) ~= "function" then argerror(1, "fit", "field 'checkpoint' needs a net with a save method", 3) end
  end
  if o.patience ~= nil and (math.type(o.patience) ~= "integer" or o.patience < 1) then
    argerror(1, "fit", "field 'patience' must be an integer >= 1", 3)
  end
  if o.clip_grad_norm ~= nil and (type(o.clip_grad_norm) ~= "number" or o.clip_grad_norm <= 0) then
    argerror(1, "fit", "field 'clip_grad_norm' must be a number > 0", 3)
  end
  if o.schedule ~= nil and (type(o.schedule) ~= "table" or type(o.schedule.step) ~= "function") then
    argerror(1, "fit", "field 'schedule' must be a schedule (with a step method)", 3)
  end
  if o.reset_state ~= nil and type(o.reset_state) ~= "boolean" then
    argerror(1, "fit", "field 'reset_state' must be a boolean", 3)
  end
  if o.distributed ~= nil and type(o.distributed) ~= "boolean" then
    argerror(1, "fit", "field 'distributed' must be a boolean", 3)
  end
  local pr = o.progress
  if pr == nil then pr = true end
  if not (type(pr) == "boolean" or pr == "plain" or pr == "tty" or (type(pr) == "table" or type(pr) == "userdata") and pr.write) then
    argerror(1, "fit", "field 'progress' must be a boolean, 'plain', 'tty' or a stream with a write method", 3)
  end
  return epochs, acc, pr
end

local function scalar_of(l)
  if type(l) == "number" then return l end
  if not core.is_tensor(l) or l:numel() ~= 1 then return nil end
  return l:item()
end

local function batch_size(x)
  if core.is_tensor(x) then return x:dim() > 0 and x.shape[1] or 1 end
  return 1
end

local function nbatches(data)
  local ok, n = pcall(function() return #data end)
  return ok and math.type(n) == "integer" and n > 0 and n or nil
end

local function check_labels_for_accuracy(y)
  if not core.is_tensor(y) or y.dtype == "float32" or y.dtype == "float64" then
    error("fit: metric 'accuracy' needs integer class labels (a tensor of shape (B,)), got "
      .. (core.is_tensor(y) and y.dtype .. " labels" or type(y)), 0)
  end
end

-- One pass over a loader. train: backward and step. Returns mean loss and
-- accuracy (nil without the metric) over samples.
local function run_epoch(o, data, train, acc, bar_label, pr, epoch)
  local net, opt, reset = o.net, o.optimizer, o.reset_state ~= false
  local total = nbatches(data)
  local bar
  if pr ~= false then
    local stream = (pr == true or pr == "plain" or pr == "tty") and io.stderr or pr
    local tty                                   -- nil: detect (stderr only)
    if pr == "plain" then tty = false
    elseif pr == "tty" then tty = true
    elseif stream ~= io.stderr then tty = type(pr) == "table" and rawget(pr, "tty") == true end
    bar = progress.new { total = total, label = bar_label, stream = stream, tty = tty, unit = "batch" }
  end
  local sum_loss, n, n_correct, b = 0, 0, 0, 0
  local function fields()
    local f = { { "loss", n > 0 and sum_loss / n or 0 / 0 } }
    if acc then f[2] = { "acc", n > 0 and n_correct / n or 0 / 0 } end
    return f
  end
  for x, y in data:iter() do
    b = b + 1
    if reset and net.reset_state then net:reset_state() end
    local out, lv
    local function forward()
      out = net(x)
      local l = o.loss(out, y)
      lv = scalar_of(l)
      if lv == nil then
        error(("fit: the loss function must return a scalar tensor, got %s"):format(
          core.is_tensor(l) and ("a tensor of shape (" .. table.concat(l.shape, ", ") .. ")") or type(l)), 0)
      end
      return l
    end
    if train then
      opt:zero_grad()
      local l = forward()
      if lv ~= lv then
        error(("fit: loss is NaN at epoch %d, batch %d: %s"):format(epoch, b, diagnose(net, x, out, reset)), 0)
      end
      l:backward()
      if o.__dist then o.__dist.average_gradients(o.__params, batch_size(x)) end
      if o.clip_grad_norm then require("limpet.optim.clip").clip_grad_norm(opt, o.clip_grad_norm) end
      opt:step()
      local bad = out_of_range(net)
      if bad then
        error(("fit: after the optimiser step at epoch %d, batch %d, %s; lower the learning rate or keep the parameter in range")
          :format(epoch, b, bad), 0)
      end
    else
      core.no_grad(forward)
      if lv ~= lv then
        error(("fit: validation loss is NaN at epoch %d, batch %d: %s"):format(epoch, b, diagnose(net, x, out, reset)), 0)
      end
    end
    local bs = batch_size(x)
    sum_loss, n = sum_loss + lv * bs, n + bs
    if acc then
      check_labels_for_accuracy(y)
      n_correct = n_correct + core.no_grad(correct, out, y)
    end
    if bar then bar:update(b, fields()) end
  end
  if o.__dist then                       -- the epoch's figures over all ranks
    local tot = o.__dist.all_reduce(core.tensor({ sum_loss, n, n_correct }, "float64"), "sum")
    sum_loss, n, n_correct = tot[1], tot[2], tot[3]
  end
  if bar and pr ~= false then bar:finish(fields()) end
  if n == 0 then return 0 / 0, acc and 0 / 0 or nil end
  return sum_loss / n, acc and n_correct / n or nil
end

--- lp.train.fit{net =, loss = function(output, labels) -> scalar tensor, data = loader,
---   val_data =, epochs = 1, optimizer =, metrics = {"accuracy"},
---   on_epoch = function(epoch, stats) end, checkpoint = path, patience =,
---   clip_grad_norm =, schedule =, reset_state = true, progress = true} -> history
-- Each batch: reset the net's state (unless reset_state = false), forward,
-- loss, backward, optional gradient clipping, optimiser step. After each
-- epoch: validation (no grad, the net in eval mode, then back in the mode
-- it was in), the schedule's step, on_epoch(epoch, stats)
-- (return false to stop), the checkpoint (net:save(path), written when the
-- monitored loss improves: val_loss with val_data, else train_loss) and
-- early stopping after `patience` epochs without improvement.
-- history: {train_loss = {...}, train_accuracy =, val_loss =, val_accuracy =,
--   lr = {...}, epochs = n, best_epoch =, best_loss =, stopped_early = bool}.
-- Progress: a redrawn bar on stderr when it is a terminal, one line per
-- epoch otherwise; 'plain' / 'tty' force a mode, false is silent, and a
-- stream (anything with :write) gets plain lines (the redrawn bar if it is
-- a table with tty = true).
function M.fit(o)
  local epochs, acc, pr = check_fit(o)
  if o.distributed then
    -- data parallel (lp.dist): the same net on every rank, parameters from rank 1,
    -- gradients averaged after each backward (weighted by each rank's samples),
    -- figures reduced over ranks; progress and checkpoints on rank 1 only
    local dist = require "limpet.dist"
    dist.init()
    local params = o.net:parameters()
    dist.broadcast_parameters(params)
    local shadow = {}
    for k, v in pairs(o) do shadow[k] = v end
    shadow.__dist, shadow.__params = dist, params
    if not dist.is_main() then shadow.progress, pr, shadow.checkpoint = false, false, nil end
    o = shadow
  end
  local hist = { train_loss = {}, val_loss = o.val_data and {} or nil, lr = {},
                 train_accuracy = acc and {} or nil, val_accuracy = (acc and o.val_data) and {} or nil,
                 epochs = 0, stopped_early = false }
  local best, since_best = math.huge, 0
  for epoch = 1, epochs do
    local t0 = progress.now()
    local lr = o.optimizer.lr
    local label = ("epoch %d/%d"):format(epoch, epochs)
    local tl, ta = run_epoch(o, o.data, true, acc, label, pr, epoch)
    local stats = { epoch = epoch, train_loss = tl, train_accuracy = ta, lr = lr }
    hist.train_loss[epoch] = tl
    if acc then hist.train_accuracy[epoch] = ta end
    hist.lr[epoch] = lr
    if o.val_data then
      -- validation in eval mode (dropout off, batch norm on its running
      -- statistics, no noise), then back to the mode the net was in
      local was = o.net.training
      local modal = type(o.net.eval) == "function" and was ~= nil
      if modal then o.net:eval() end
      local ok, vl, va = pcall(run_epoch, o, o.val_data, false, acc, ("  val %d/%d"):format(epoch, epochs), pr, epoch)
      if modal then o.net:train(was) end
      if not ok then error(vl, 0) end
      hist.val_loss[epoch], stats.val_loss = vl, vl
      if acc then hist.val_accuracy[epoch], stats.val_accuracy = va, va end
    end
    stats.time = progress.now() - t0
    hist.epochs = epoch
    if o.schedule then o.schedule:step() end
    local monitored = o.val_data and stats.val_loss or tl
    local improved = monitored < best
    if improved then
      best, since_best = monitored, 0
      hist.best_epoch, hist.best_loss = epoch, monitored
      if o.checkpoint then
        local ok, err = o.net:save(o.checkpoint)
        if not ok then error(("fit: cannot write checkpoint: %s"):format(tostring(err)), 0) end
      end
    else
      since_best = since_best + 1
    end
    stats.improved = improved
    local stop = false
    if o.on_epoch and o.on_epoch(epoch, stats) == false then stop = true end
    if o.patience and since_best >= o.patience then hist.stopped_early = true; stop = true end
    if stop then break end
  end
  return hist
end

-- Adversarial training against parameter mismatch (adversarial.lua).
function M.pga_attack(...) return require("limpet.adversarial").pga_attack(...) end
function M.adversarial_loss(...) return require("limpet.adversarial").adversarial_loss(...) end

return M

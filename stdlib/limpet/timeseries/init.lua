-- stdlib/limpet/timeseries/init.lua -- the time-series classes and files as
-- one table (lp.timeseries): TSContinuous (continuous.lua), TSEvent
-- (event.lua), load_ts_from_file, TimeSeries.load and TSDictOnDisk (io.lua).
-- lp.TSContinuous, lp.TSEvent, lp.load_ts_from_file and lp.TSDictOnDisk
-- reach the same.
local io_ = require "limpet.timeseries.io"

return {
  TSContinuous = require "limpet.timeseries.continuous",
  TSEvent = require "limpet.timeseries.event",
  TSDictOnDisk = io_.TSDictOnDisk,
  --- load_ts_from_file(path[, expected_type]) -> TSContinuous | TSEvent | nil, msg
  load_ts_from_file = function(path, expected) return io_.load(path, expected, "load_ts_from_file") end,
  --- TimeSeries.load(path[, expected_type]): Rockpool's base-class spelling
  TimeSeries = { load = function(path, expected) return io_.load(path, expected, "load") end },
}

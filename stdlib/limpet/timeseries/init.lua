-- stdlib/limpet/timeseries/init.lua -- the time-series classes as one table:
-- TSContinuous (continuous.lua) and TSEvent (event.lua), reached as
-- lp.TSContinuous and lp.TSEvent.
return {
  TSContinuous = require "limpet.timeseries.continuous",
  TSEvent = require "limpet.timeseries.event",
}

-- spec/fuzz/model_seeds.lua -- the networks behind the model-file corpus
-- (spec/fuzz/corpus/model/, one JSON module tree each) and the arrays
-- fuzz_model.c stores next to a fuzzed tree. Their array names do not
-- collide (distinct classes at each position), so one set of arrays fits
-- every seed tree. Returns a function making the list (seeded: the same
-- numbers every time).
return function(lp)
  local nn = lp.nn
  lp.seed(7)
  return {
    nn.Sequential(nn.Linear({ 2, 3 }), nn.LIF(3, { has_rec = true }), nn.Linear({ 3, 2 }), nn.ExpSyn(2)),
    nn.Sequential(nn.Linear({ 2, 3 }), nn.LIFBitshift(3), nn.Instant("tanh", 3)),
    nn.Sequential(nn.Linear({ 2, 3 }), nn.aLIF(3), nn.Rate(3)),
    nn.Sequential(nn.Linear({ 2, 3 }), nn.LIFNeuron(3), nn.UnitDropout(3, { p = 0.25 })),
    nn.Sequential(nn.Linear({ 2, 3 }), nn.Residual(nn.Linear({ 3, 3 }), nn.LIF(3)), nn.TimeStepDropout(3)),
    nn.LIF({ 4, 2 }, { tau_mem = 0.01, tau_syn = { 0.002, 0.004, 0.006, 0.008 }, dt = 5e-4 }),
  }
end

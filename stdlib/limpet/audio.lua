-- stdlib/limpet/audio.lua -- lp.audio: sound files in and out (libsndfile).
-- Owns: argument checks, the shape convention, the encoding names. The file
-- work is C (core/src/audio.c through core._audio_load / core._audio_save).
--
--   local samples, rate = lp.audio.load("word.wav")   -- (T) mono or (T, C), float64 in [-1, 1]
--   lp.audio.save("out.wav", samples, 16000[, {encoding = "PCM_16"}])  -- atomic; -> true
--
-- load: any format libsndfile reads (WAV, FLAC, Ogg/Vorbis, AIFF, ...); a
-- missing or unreadable file returns nil, message; a file whose content is
-- not sound raises an error naming the file.
-- save: the container from the extension (.wav, .flac, .aiff/.aif, .ogg);
-- encoding "PCM_16" (default), "PCM_24", "PCM_32", "FLOAT", "DOUBLE" or
-- "VORBIS" (.ogg); samples (T) or (T, C), values beyond [-1, 1] clip (FLOAT
-- and DOUBLE keep them); the rate
-- is a positive integer (Hz). The file is written beside path and renamed
-- over it, so a failed save leaves no half-written file. A directory that
-- cannot be written returns nil, message.
local core = require "limpet.core"

local audio = {}

local ENC = { PCM_16 = 0, PCM_24 = 1, PCM_32 = 2, FLOAT = 3, DOUBLE = 4, VORBIS = 5 }

local function argerror(fname, n, msg) error(("bad argument #%d to '%s' (%s)"):format(n, fname, msg), 3) end

--- audio.load(path) -> samples (T) or (T, C) float64, rate (Hz) | nil, message
function audio.load(path)
  if type(path) ~= "string" then argerror("load", 1, "expected a file path, got " .. type(path)) end
  local s, rate = core._audio_load(path)
  if s == nil then return nil, rate end
  if s.shape[2] == 1 then s = s:reshape(s.shape[1]) end
  return s, math.tointeger(rate) or rate
end

--- audio.save(path, samples, rate[, {encoding = "PCM_16"}]) -> true | nil, message
function audio.save(path, samples, rate, opts)
  if type(path) ~= "string" then argerror("save", 1, "expected a file path, got " .. type(path)) end
  local ext = path:lower():match("%.(%w+)$")
  if ext ~= "wav" and ext ~= "flac" and ext ~= "aiff" and ext ~= "aif" and ext ~= "ogg" then
    argerror("save", 1, ("unknown sound file extension in '%s' (use .wav, .flac, .aiff or .ogg)"):format(path))
  end
  if not core.is_tensor(samples) then
    if type(samples) ~= "table" then argerror("save", 2, "expected samples (T) or (T, C), got " .. type(samples)) end
    samples = core.tensor(samples, "float64")
  end
  if samples:dim() ~= 1 and samples:dim() ~= 2 then
    argerror("save", 2, ("expected samples (T) or (T, C), got %d dims"):format(samples:dim()))
  end
  if math.type(rate) ~= "integer" then
    if type(rate) == "number" and rate == math.floor(rate) and rate > 0 then rate = math.tointeger(rate)
    else argerror("save", 3, "sample rate must be a positive integer (Hz), got " .. tostring(rate)) end
  end
  if rate < 1 then argerror("save", 3, "sample rate must be a positive integer (Hz), got " .. tostring(rate)) end
  local enc = 0
  if opts ~= nil then
    if type(opts) ~= "table" then argerror("save", 4, "expected an options table, got " .. type(opts)) end
    for k in pairs(opts) do
      if k ~= "encoding" then argerror("save", 4, ("unknown field '%s'"):format(tostring(k))) end
    end
    if opts.encoding ~= nil then
      enc = ENC[opts.encoding]
      if not enc then
        argerror("save", 4, ("field 'encoding' must be PCM_16, PCM_24, PCM_32, FLOAT, DOUBLE or VORBIS, got '%s'"):format(
          tostring(opts.encoding)))
      end
    end
  end
  return core._audio_save(path, samples, rate, enc)
end

return audio

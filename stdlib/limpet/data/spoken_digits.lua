-- stdlib/limpet/data/spoken_digits.lua -- lp.data.SpokenDigits: the digits
-- zero..nine spoken in English and German, synthesised on this machine with
-- Debian's espeak-ng and flite (20 classes, like SHD's Heidelberg Digits).
-- Owns: the speakers (engine, voice, variant), the fixed train/test split,
-- synthesis into a WAV cache (once), reading the cache back, resampling to
-- one rate, and the seeded augmentation (gain, additive white noise).
-- Not here: WAV decoding (lp.audio.load, through libsndfile;
-- see `read_wav`), front ends (lp.xylo), DataLoader / DiskCache (loader.lua,
-- cache.lua).
--
--   lp.data.SpokenDigits{split = "train" | "test", root = , languages = {"en", "de"},
--                        renditions = 2, sample_rate = 16000, augment = true,
--                        seed = 0, limit = , transform = , synthesize = true}
--   -> ds | nil, message (no espeak-ng / flite, or cache files missing with
--   synthesize = false)
-- ds:get(i) -> audio (T, 1) float32 in [-1, 1] at ds.sample_rate, label, meta
-- Labels: English "zero".."nine" are 1..10, German "null".."neun" 11..20
-- (with languages = {"de"} alone they are still 11..20; ds.classes names
-- all 20). meta = {speaker = "engine/voice/variant", engine, voice,
-- variant, language, word, digit (0..9), speed (words per minute), pitch
-- (espeak-ng 0..99; flite: the mean F0 in Hz), gain, snr_db, path}.
--
-- Speakers. espeak-ng: the English voices en, en-us, en-gb-scotland,
-- en-gb-x-gbclan, en-gb-x-rp, en-gb-x-gbcwmd, en-029, en-us-nyc and the
-- German voice de, each plain and with each of the 101 variants Debian's
-- espeak-ng-data ships (102 "variants" per voice; the MBROLA voices are
-- left out: they need the mbrola package and its non-free voice data).
-- flite: every voice Debian's flite ships (kal, kal16, awb, awb_time, rms,
-- slt; English only: flite has no German voice, so German classes come from
-- espeak-ng only; awb_time is a limited-domain voice built for telling the
-- time, whose domain includes the digits).
--
-- The split is by speaker and fixed: the TEST set is every flite voice and
-- every espeak-ng voice with one of the 21 variants in TEST_VARIANTS (every
-- fifth name of the sorted variant list from the third, plus "travis");
-- no test speaker is ever used in training. That is 21 of 102 espeak-ng
-- variants per voice (20.6 %) and all 6 flite voices.
--
-- Renditions: each (speaker, word) is synthesised `renditions` times (at
-- most 9), each at a different cell of the SPEEDS x PITCHES grid, the cells
-- taken in an order shuffled by a hash of speaker and word, so the data set
-- holds several speeds and pitches and no two renditions are the same. The
-- cache holds <root>/<engine>/<voice>/<variant>/<lang>-<word>-s<speed>-p<pitch>.wav,
-- written once (atomically: a temporary name, then rename). root defaults
-- to $LIMPET_DATA/SpokenDigits or data/SpokenDigits. The full default set
-- (both languages, 2 renditions) is 18,480 files, about 0.6 GB; `limit = k`
-- takes the first k speakers of the split (in the order of `ds.speakers`,
-- variants outer, voices inner), which is what quick runs use.
--
-- Augmentation (augment = true): sample i of a data set seeded `seed` gets
-- a gain in [0.5, 1] and white Gaussian noise at an SNR in [20, 40] dB
-- (relative to the utterance's RMS), drawn from a splitmix64 stream seeded
-- by (seed, split, i): the same sample is the same on every call and every
-- run, and limpet's global generator is not touched.
-- Resampling: espeak-ng writes 22,050 Hz, flite 16,000 Hz; audio is brought
-- to `sample_rate` by linear interpolation (espeak-ng's output carries
-- little energy above 8 kHz; a band-limited resampler is lp.audio's job).
local core = require "limpet.core"
require "limpet.tensor"
local data = require "limpet.data"

local SpokenDigits = data.Dataset:extend("SpokenDigits")

local WORDS = {
  en = { "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine" },
  de = { "null", "eins", "zwei", "drei", "vier", "fünf", "sechs", "sieben", "acht", "neun" },
}
local CLASS_BASE = { en = 0, de = 10 }
SpokenDigits.classes = {}
for _, lang in ipairs { "en", "de" } do
  for d = 1, 10 do SpokenDigits.classes[CLASS_BASE[lang] + d] = lang .. ":" .. WORDS[lang][d] end
end

SpokenDigits.ESPEAK_VOICES = {
  en = { "en", "en-us", "en-gb-scotland", "en-gb-x-gbclan", "en-gb-x-rp", "en-gb-x-gbcwmd", "en-029", "en-us-nyc" },
  de = { "de" },
}
SpokenDigits.FLITE_VOICES = { "kal", "kal16", "awb", "awb_time", "rms", "slt" }
-- The variants of Debian 12's espeak-ng-data (voices/!v), sorted; "none" is
-- the voice without a variant.
SpokenDigits.VARIANTS = {
  "none", "Alex", "Alicia", "Andrea", "Andy", "Annie", "AnxiousAndy", "Demonic", "Denis", "Diogo", "Gene",
  "Gene2", "Henrique", "Hugo", "Jacky", "Lee", "Marco", "Mario", "Michael", "Mike", "Mr", "Nguyen",
  "RicishayMax", "RicishayMax2", "RicishayMax3", "Storm", "Tweaky", "UniRobot", "adam", "anika", "anikaRobot",
  "announcer", "antonio", "aunty", "belinda", "benjamin", "boris", "caleb", "croak", "david", "ed", "edward",
  "edward2", "f1", "f2", "f3", "f4", "f5", "fast", "grandma", "grandpa", "gustave", "iven", "iven2", "iven3",
  "iven4", "john", "kaukovalta", "klatt", "klatt2", "klatt3", "klatt4", "klatt5", "klatt6", "linda", "m1",
  "m2", "m3", "m4", "m5", "m6", "m7", "m8", "marcelo", "max", "michel", "miguel", "norbert", "pablo", "paul",
  "pedro", "quincy", "rob", "robert", "robosoft", "robosoft2", "robosoft3", "robosoft4", "robosoft5",
  "robosoft6", "robosoft7", "robosoft8", "sandro", "shelby", "steph", "steph2", "steph3", "travis", "victor",
  "whisper", "whisperf", "zac",
}
SpokenDigits.TEST_VARIANTS = {
  "Andrea", "Denis", "Hugo", "Michael", "RicishayMax2", "adam", "aunty", "croak", "f1", "fast", "iven2",
  "klatt", "klatt6", "m4", "marcelo", "pablo", "robert", "robosoft5", "shelby", "victor", "travis",
}
local IS_TEST_VARIANT = {}
for _, v in ipairs(SpokenDigits.TEST_VARIANTS) do IS_TEST_VARIANT[v] = true end

SpokenDigits.SPEEDS = { 130, 165, 200 }          -- words per minute (flite: duration_stretch = 165 / speed)
SpokenDigits.PITCHES = { 30, 50, 70 }            -- espeak-ng pitch 0..99 (flite: F0 mean 90 + pitch Hz)

local function shell_quote(s) return "'" .. s:gsub("'", "'\\''") .. "'" end

local function have(cmd)
  local ok = os.execute("command -v " .. cmd .. " >/dev/null 2>&1")
  return ok == true
end

-- splitmix64 (integers wrap, as Lua's do).
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
local function uniform(rnd) return ((rnd() >> 11) + 0.5) / 9007199254740992.0 end
local function hash(s)
  local h = 1469598103934665603
  for i = 1, #s do h = (h ~ s:byte(i)) * 1099511628211 end
  return h
end

--- SpokenDigits.speakers(split, languages) -> list of {engine, voice, variant,
--- language, id}: the speakers of a split, in the data set's order.
function SpokenDigits.speakers(split, languages)
  local out = {}
  local want = {}
  for _, l in ipairs(languages) do want[l] = true end
  for _, variant in ipairs(SpokenDigits.VARIANTS) do
    if (IS_TEST_VARIANT[variant] == true) == (split == "test") then
      for _, lang in ipairs { "en", "de" } do
        if want[lang] then
          for _, voice in ipairs(SpokenDigits.ESPEAK_VOICES[lang]) do
            out[#out + 1] = { engine = "espeak-ng", voice = voice, variant = variant, language = lang,
                              id = ("espeak-ng/%s/%s"):format(voice, variant) }
          end
        end
      end
    end
  end
  if split == "test" and want.en then
    for _, voice in ipairs(SpokenDigits.FLITE_VOICES) do
      out[#out + 1] = { engine = "flite", voice = voice, variant = "none", language = "en",
                        id = ("flite/%s/none"):format(voice) }
    end
  end
  return out
end

local function languages_check(v)
  if type(v) ~= "table" or #v == 0 then return "must be a non-empty list of \"en\", \"de\"" end
  local seen = {}
  for _, l in ipairs(v) do
    if l ~= "en" and l ~= "de" then return ("must list \"en\" and/or \"de\", got '%s'"):format(tostring(l)) end
    if seen[l] then return ("lists '%s' twice"):format(l) end
    seen[l] = true
  end
end
local function posint(lo, hi)
  return function(v)
    if math.type(v) ~= "integer" or v < lo or (hi and v > hi) then
      return ("must be an integer in %d..%s, got %s"):format(lo, hi and tostring(hi) or "", tostring(v))
    end
  end
end

local spec = {
  split = data._one_of("train", "test"),
  root = data._string,
  languages = languages_check,
  renditions = posint(1, 9),
  sample_rate = posint(1000, 192000),
  augment = data._boolean,
  seed = function(v) if math.type(v) ~= "integer" then return "must be an integer, got " .. tostring(v) end end,
  limit = posint(1),
  transform = data._callable,
  synthesize = data._boolean,
}

-- The synthesis command writing `tmp` for one item.
local function command(item, tmp)
  if item.engine == "espeak-ng" then
    local v = item.voice .. (item.variant ~= "none" and ("+" .. item.variant) or "")
    return ("espeak-ng -v %s -s %d -p %d -w %s %s"):format(shell_quote(v), item.speed, item.pitch,
      shell_quote(tmp), shell_quote(item.word))
  end
  return ("flite -voice %s --setf duration_stretch=%.4f --setf int_f0_target_mean=%d -t %s -o %s"):format(
    shell_quote(item.voice), 165 / item.speed, 90 + item.pitch, shell_quote(item.word), shell_quote(tmp))
end

function SpokenDigits:init(opts)
  opts = data._options("SpokenDigits", opts, spec, 4)
  self.split = opts.split or "train"
  self.root = opts.root or data._root("SpokenDigits")
  self.languages = opts.languages or { "en", "de" }
  self.renditions = opts.renditions or 2
  self.sample_rate = opts.sample_rate or 16000
  self.augment = opts.augment ~= false
  self.seed = opts.seed or 0
  self.transform = opts.transform
  local speakers = SpokenDigits.speakers(self.split, self.languages)
  if opts.limit and opts.limit < #speakers then
    local cut = {}
    for i = 1, opts.limit do cut[i] = speakers[i] end
    speakers = cut
  end
  self.speakers = speakers
  -- the items: speaker-major, then word, then rendition
  local items = {}
  for _, sp in ipairs(speakers) do
    for d = 1, 10 do
      local word = WORDS[sp.language][d]
      -- the renditions take distinct cells of the speed x pitch grid, in an
      -- order shuffled by (speaker, word)
      local ns, np = #SpokenDigits.SPEEDS, #SpokenDigits.PITCHES
      local cells = {}
      for c = 1, ns * np do cells[c] = c end
      local rnd = splitmix(hash(("%s|%s"):format(sp.id, word)))
      for c = #cells, 2, -1 do
        local j = (rnd() >> 11) % c + 1
        cells[c], cells[j] = cells[j], cells[c]
      end
      for k = 1, self.renditions do
        local speed = SpokenDigits.SPEEDS[(cells[k] - 1) // np + 1]
        local pitch = SpokenDigits.PITCHES[(cells[k] - 1) % np + 1]
        local dir = ("%s/%s/%s/%s"):format(self.root, sp.engine, sp.voice, sp.variant)
        items[#items + 1] = {
          engine = sp.engine, voice = sp.voice, variant = sp.variant, language = sp.language, speaker = sp.id,
          word = word, digit = d - 1, label = CLASS_BASE[sp.language] + d, speed = speed, pitch = pitch,
          dir = dir, path = ("%s/%s-%s-s%d-p%d.wav"):format(dir, sp.language, word, speed, pitch),
        }
      end
    end
  end
  self.items, self.n = items, #items
  self.num_classes = 20
  -- synthesise what the cache lacks
  local missing = {}
  for _, it in ipairs(items) do if not data._exists(it.path) then missing[#missing + 1] = it end end
  if #missing > 0 then
    if opts.synthesize == false then
      return nil, ("SpokenDigits: %d of %d files are not in the cache '%s' (first: %s) and synthesize = false")
        :format(#missing, #items, self.root, missing[1].path)
    end
    local need = {}
    for _, it in ipairs(missing) do need[it.engine] = true end
    for engine in pairs(need) do
      if not have(engine) then
        return nil, ("SpokenDigits: '%s' is not installed; it synthesises the %s set's %s speakers " ..
          "(apt-get install espeak-ng flite, or `make deps`)"):format(engine, self.split, engine)
      end
    end
    local ok, err = self:_synthesize(missing)
    if not ok then return nil, err end
  end
end

-- Run the synthesis commands of `missing` through one shell script, each
-- writing a temporary file renamed into place.
function SpokenDigits:_synthesize(missing)
  local dirs, lines = {}, {}
  for _, it in ipairs(missing) do
    if not dirs[it.dir] then
      dirs[it.dir] = true
      lines[#lines + 1] = "mkdir -p " .. shell_quote(it.dir) .. " 2>/dev/null"
    end
  end
  for _, it in ipairs(missing) do
    local tmp = it.path .. ".tmp"
    lines[#lines + 1] = command(it, tmp) .. " >/dev/null 2>&1 && mv -f " .. shell_quote(tmp) .. " " .. shell_quote(it.path) .. " 2>/dev/null"
  end
  local script = os.tmpname()
  local f = assert(io.open(script, "w"))
  f:write(table.concat(lines, "\n"), "\n")
  f:close()
  if #missing > 200 then
    io.stderr:write(("SpokenDigits: synthesising %d files into %s (once)...\n"):format(#missing, self.root))
  end
  os.execute("sh " .. shell_quote(script))
  os.remove(script)
  -- every file must be there now, whatever the shell's status said
  for _, it in ipairs(missing) do
    if not data._exists(it.path) then
      os.remove(it.path .. ".tmp")
      return nil, ("SpokenDigits: synthesis failed for %s ('%s' by %s)"):format(it.path, it.word, it.speaker)
    end
  end
  return true
end

-- ---- reading WAV ---------------------------------------------------------------

-- audio samples (a list, channel 1) and rate of a cached file, through
-- lp.audio.load (libsndfile); nil, msg when the file is not there; a corrupt
-- file raises naming it.
local function read_wav(path)
  local x, rate = require("limpet.audio").load(path)
  if not x then return nil, rate end
  if x:dim() == 2 then x = x:slice(2, 1, 1) end
  return x:reshape(-1):astype("float64"):totable(), rate
end
SpokenDigits._read_wav = read_wav

local function resample(x, from, to)
  if from == to then return x end
  local n = #x
  local m = math.max(1, math.floor(n * to / from))
  local out, step = {}, from / to
  for j = 1, m do
    local p = (j - 1) * step + 1
    local i = math.floor(p)
    local fr = p - i
    local a, b = x[i] or 0, x[i + 1] or x[i] or 0
    out[j] = a + (b - a) * fr
  end
  return out
end

function SpokenDigits:_get(i)
  local it = self.items[i]
  local x, rate = read_wav(it.path)
  if not x then error(("SpokenDigits: cannot read '%s': %s"):format(it.path, tostring(rate)), 0) end
  x = resample(x, rate, self.sample_rate)
  local gain, snr = 1, nil
  if self.augment then
    local rnd = splitmix(hash(("%d|%s|%d"):format(self.seed, self.split, i)))
    gain = 0.5 + 0.5 * uniform(rnd)
    snr = 20 + 20 * uniform(rnd)
    local e = 0
    for k = 1, #x do e = e + x[k] * x[k] end
    local rms = math.sqrt(e / math.max(1, #x)) * gain
    local sigma = rms / (10 ^ (snr / 20))
    local k = 1
    while k <= #x do                          -- Box-Muller, two normals a draw
      local u1, u2 = uniform(rnd), uniform(rnd)
      local r = math.sqrt(-2 * math.log(u1))
      x[k] = x[k] * gain + sigma * r * math.cos(2 * math.pi * u2)
      if k + 1 <= #x then x[k + 1] = x[k + 1] * gain + sigma * r * math.sin(2 * math.pi * u2) end
      k = k + 2
    end
    for j = 1, #x do if x[j] > 1 then x[j] = 1 elseif x[j] < -1 then x[j] = -1 end end
  end
  local audio = core.tensor(x, "float32"):reshape(#x, 1)
  return audio, it.label, {
    speaker = it.speaker, engine = it.engine, voice = it.voice, variant = it.variant, language = it.language,
    word = it.word, digit = it.digit, speed = it.speed, pitch = it.pitch, gain = gain, snr_db = snr,
    path = it.path, index = i, sample_rate = self.sample_rate,
  }
end

function SpokenDigits:__tostring()
  return ("SpokenDigits(split = '%s', %d samples, %d speakers, languages %s, %d Hz)"):format(
    self.split, self.n, #self.speakers, table.concat(self.languages, "+"), self.sample_rate)
end

return SpokenDigits

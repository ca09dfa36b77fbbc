#!/bin/sh
# End-to-end tests of mille-voice (docs/voice.md): recognition of flite-synthesized speech
# (16 kHz mono, 44.1 kHz stereo, raw PCM), silence, the dialogue over several processes
# (missing slot, confirm, cancel, repeat, timeout), SQLite skills across restarts, a declared
# skill fed hostile text, locales without a voice, and bad input.
# Env: MILLE_VOICE (binary), VOICE_LM (prefix of the LM from tools/voice_lm.py), MODEL.
set -u
V=${MILLE_VOICE:-build/mille-voice}
MODEL=${MODEL:-models/mille.model}
LMARGS=""
[ -n "${VOICE_LM:-}" ] && [ -f "$VOICE_LM.arpa" ] && LMARGS="--lm $VOICE_LM.arpa --dict $VOICE_LM.dict"
T=$(mktemp -d /tmp/mille-voice-test.XXXXXX)
trap 'rm -rf "$T"' EXIT
DB=$T/state.db
pass=0
fail=0

ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $1" >&2; [ -n "${2:-}" ] && echo "  got: $2" >&2; }

# json FIELD < json: print a field (dotted path) of the JSON object on stdin
json() { python3 -c 'import json,sys
o=json.load(sys.stdin)
for k in sys.argv[1].split("."): o=o[k] if isinstance(o,dict) else o[int(k)]
print(o if not isinstance(o,bool) else str(o).lower())' "$1"; }

# expect NAME FIELD VALUE JSON
expect() {
    got=$(printf '%s' "$4" | json "$2" 2>/dev/null)
    if [ "$got" = "$3" ]; then ok; else bad "$1: $2 = '$3'" "$got / $4"; fi
}
# expect_not NAME FIELD VALUE JSON
expect_not() {
    got=$(printf '%s' "$4" | json "$2" 2>/dev/null)
    if [ "$got" != "$3" ]; then ok; else bad "$1: $2 != '$3'" "$4"; fi
}
# expect_has NAME FIELD SUBSTRING JSON
expect_has() {
    got=$(printf '%s' "$4" | json "$2" 2>/dev/null)
    case "$got" in *"$3"*) ok ;; *) bad "$1: $2 contains '$3'" "$got" ;; esac
}
turn() { "$V" --model "$MODEL" --db "$DB" --json "$@"; }

# ---- the language model (tools/voice_lm.py): its distributions sum to one ----------------
if [ -n "$LMARGS" ]; then
    python3 tests/voice/lm_check.py "$VOICE_LM.arpa" && ok || bad "LM distributions sum to one"
fi

# ---- speech in ----------------------------------------------------------------------------
flite -voice slt -t "wake me up at seven am tomorrow" -o "$T/alarm.wav"
flite -voice slt -t "what is the weather like today" -o "$T/weather.wav"
flite -voice slt -t "what time is it" -o "$T/time.wav"
# the same alarm request at 44.1 kHz stereo (linear upsampling by the test; the program's
# resampler must bring it back to 16 kHz mono)
python3 - "$T/alarm.wav" "$T/alarm44.wav" <<'EOF'
import sys, wave, struct
r = wave.open(sys.argv[1]); n = r.getnframes(); x = struct.unpack("<%dh" % n, r.readframes(n))
m = int(n * 44100 / 16000); out = []
for j in range(m):
    t = j * 16000 / 44100; i = int(t); f = t - i
    v = int(x[i] * (1 - f) + (x[i + 1] if i + 1 < n else 0) * f)
    out += [v, v // 2]
w = wave.open(sys.argv[2], "wb"); w.setnchannels(2); w.setsampwidth(2); w.setframerate(44100)
w.writeframes(struct.pack("<%dh" % len(out), *out)); w.close()
EOF

for f in alarm:alarm_set alarm44:alarm_set weather:weather_query time:datetime_query; do
    name=${f%%:*}; intent=${f#*:}
    out=$(turn $LMARGS --wav "$T/$name.wav")
    expect "recognize $name.wav" intent "$intent" "$out"
    expect "recognize $name.wav" speech_found true "$out"
done
out=$(turn $LMARGS --wav "$T/alarm.wav")
expect_has "transcript of alarm.wav" transcript "seven am" "$out"
expect "alarm from speech is acted on" action act "$out"

# raw PCM on stdin (the WAV's samples after its 44-byte header)
out=$(tail -c +45 "$T/time.wav" | turn $LMARGS --raw 16000)
expect "raw PCM on stdin" intent datetime_query "$out"

# silence: nothing heard, no recognizer call, a fallback
python3 -c 'import wave; w=wave.open("'"$T"'/silence.wav","wb"); w.setnchannels(1); w.setsampwidth(2); w.setframerate(22050); w.writeframes(b"\0\0"*22050); w.close()'
out=$(turn $LMARGS --wav "$T/silence.wav")
expect "silence" speech_found false "$out"
expect "silence" action fallback "$out"

# ---- dialogue ------------------------------------------------------------------------------
NOW=1700000000000
out=$(turn --session a --now $NOW --text "set an alarm")
expect "missing slot asks" action ask "$out"
expect "missing slot asks" response "For what time?" "$out"
out=$(turn --session a --now $NOW --text "repeat")
expect "repeat" response "For what time?" "$out"
out=$(turn --session a --now $NOW --text "seven thirty pm")
expect "answer fills the slot" action act "$out"
expect_has "answer fills the slot" response "Alarm set for 7:30" "$out"  # ICU puts U+202F before PM

# --locale auto: the model identifies the language and the answer is in it
out=$(turn --now $NOW --locale auto --text "wie spät ist es")
expect "--locale auto identifies the locale" locale de-DE "$out"
expect_has "--locale auto answers in it" response "Es ist" "$out"

out=$(turn --session b --now $NOW --text "set an alarm")
out=$(turn --session b --now $NOW --text "cancel")
expect "cancel" response "Okay, cancelled." "$out"
out=$(turn --session b --now $NOW --text "seven pm")
expect_not "after cancel the answer is a new request" skill alarm "$out"

out=$(turn --session c --now $NOW --text "set an alarm")
out=$(turn --session c --now $((NOW + 120000)) --timeout 60 --text "eight pm")
expect_not "a pending question times out" skill alarm "$out"
out=$(turn --session g --now $NOW --text "set an alarm")
out=$(turn --session g --now $((NOW + 120000)) --timeout 1000 --session-ttl 60 --text "eight pm")
expect_not "a session expires after --session-ttl" skill alarm "$out"
out=$(turn --session h --now $NOW --text "set an alarm")
out=$(turn --session h --now $((NOW + 120000)) --timeout 1000 --session-ttl 600 --text "eight pm")
expect "a live session is completed" skill alarm "$out"

# confirmation: with the act threshold at 1, every request is confirmed first
out=$(turn --session d --act 1 --now $NOW --text "wake me up at six am")
expect "confirm" action confirm "$out"
expect_has "confirm" response "wake me up at six am" "$out"
out=$(turn --session d --act 1 --now $NOW --text "yes")
expect "confirmed" action act "$out"
expect "confirmed" skill alarm "$out"
out=$(turn --session e --act 1 --now $NOW --text "wake me up at nine am")
out=$(turn --session e --act 1 --now $NOW --text "no")
expect "declined" response "Okay, I won't." "$out"

# context: the list named in the last request of the scenario
out=$(turn --session f --now $NOW --text "what is on my shopping list")
out=$(turn --session f --now $NOW --text "add milk to the list")
expect "context fills the list name" response "Added to your shopping list." "$out"

# low confidence falls back
out=$(turn --confirm 1 --act 1 --text "wake me up at six am")
expect "fallback" action fallback "$out"

# ---- skills across processes ---------------------------------------------------------------
DB=$T/skills.db
out=$(turn --text "wake me up at five am")
out=$(turn --text "set an alarm for six thirty pm")
out=$(turn --text "what alarms do i have")
expect_has "alarms listed" response "You have 2 alarms: 5:00" "$out"
out=$(turn --text "remove all alarms")
expect "alarm removed" skill alarm "$out"
out=$(turn --text "what alarms do i have")
expect "no alarms left" response "You have no alarms." "$out"
out=$(turn --text "add milk to my shopping list")
expect "list add" skill lists "$out"
out=$(turn --text "what is on my shopping list")
expect_has "list query" response "milk" "$out"
out=$(turn --text "play some jazz")
expect "not connected" skill not_connected "$out"

# ---- declared skill with hostile text ------------------------------------------------------
cat > "$T/skills.json" <<EOF
{"skills": [{"intent": "play_music", "command": ["/usr/bin/printf", "%s", "{text}"],
             "response": {"en-US": "Ran: {output}"}}]}
EOF
HOSTILE='play "x'"'"'; touch '"$T"'/pwned; echo $(id) `id` | tee && rm -rf x'
out=$(turn --skills "$T/skills.json" --act 0 --confirm 0 --text "$HOSTILE")
expect "declared skill, hostile text, verbatim" response "Ran: $HOSTILE" "$out"
[ ! -e "$T/pwned" ] && ok || bad "hostile text ran a shell"
# a command that hangs (even after closing its stdout) is killed at its timeout
printf '{"skills": [{"intent": "play_music", "timeout_ms": 300, "command": ["/bin/sh", "-c", "exec >&-; sleep 30"]}]}' > "$T/slow.json"
out=$(turn --skills "$T/slow.json" --act 0 --confirm 0 --text "play some jazz")
expect_has "hanging command killed" skill_error "killed after 300 ms" "$out"
expect "a failed skill falls back" action fallback "$out"
expect "a failed skill says so" response "Sorry, that skill is not answering right now." "$out"
printf '{"skills": [{"intent": "x", "command": ["relative/prog"]}]}' > "$T/bad.json"
err=$(turn --skills "$T/bad.json" --text "hi" 2>&1 >/dev/null); rc=$?
[ $rc -eq 1 ] && case "$err" in *"absolute path"*) true ;; *) false ;; esac && ok ||
    bad "relative command refused" "$rc $err"

# invalid UTF-8 text: an error naming it, not a crash
err=$(turn --text "$(printf 'set an alarm \377\376')" 2>&1 >/dev/null); rc=$?
[ $rc -eq 1 ] && case "$err" in *UTF-8*) true ;; *) false ;; esac && ok || bad "invalid UTF-8" "$rc $err"

# ---- speech out and locales ----------------------------------------------------------------
out=$(turn --text "what time is it" --out-wav "$T/out.wav")
expect "flite speaks en-US" tts flite:slt "$out"
[ -s "$T/out.wav" ] && ok || bad "en-US WAV written"
out=$(turn --locale de-DE --text "wie spät ist es" --out-wav "$T/de.wav")
expect "espeak-ng speaks de-DE" tts espeak-ng:de "$out"
[ -s "$T/de.wav" ] && ok || bad "de-DE WAV written"
for L in jv-ID km-KH mn-MN tl-PH; do
    out=$(turn --locale $L --text "alarm jam pitu" --out-wav "$T/$L.wav")
    expect_has "$L has no voice" tts "unavailable: no voice for locale $L" "$out"
    [ -n "$(printf '%s' "$out" | json response)" ] && ok || bad "$L still answers in text"
done
err=$(turn --locale fr-FR --wav "$T/alarm.wav" 2>&1 >/dev/null); rc=$?
[ $rc -eq 1 ] && case "$err" in *"fr-FR"*) true ;; *) false ;; esac && ok || bad "no recognizer for fr-FR" "$rc $err"

# ---- bad input -----------------------------------------------------------------------------
err=$(turn --wav "$T/none.wav" 2>&1 >/dev/null); rc=$?
[ $rc -eq 1 ] && case "$err" in *none.wav*) true ;; *) false ;; esac && ok || bad "missing WAV" "$rc $err"
printf 'not a wav' > "$T/junk.wav"
err=$(turn --wav "$T/junk.wav" 2>&1 >/dev/null); rc=$?
[ $rc -eq 1 ] && ok || bad "junk WAV" "$rc $err"
"$V" --bogus >/dev/null 2>&1; [ $? -eq 2 ] && ok || bad "unknown option exits 2"
"$V" --text a --wav b >/dev/null 2>&1; [ $? -eq 2 ] && ok || bad "two inputs exit 2"
"$V" --act 0.2 --confirm 0.5 --text a >/dev/null 2>&1; [ $? -eq 2 ] && ok || bad "confirm > act exits 2"

echo "voice: $pass passed, $fail failed"
[ "$fail" -eq 0 ]

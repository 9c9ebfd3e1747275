//! One audit record and its canonical, Go-compatible bytes.
//!
//! Owns the [`Record`] shape, the defaults a record gets (schema version,
//! ULID id, timestamp, host), and the exact bytes Go Rampart's
//! `encoding/json` writes for it: struct fields in declaration order, map keys
//! sorted, `<` `>` `&` U+2028 U+2029 escaped, `\b` `\f` `\n` `\r` `\t` short
//! escapes (Go 1.22 and later), other control characters as `\u00XX`, and
//! numbers inside `request` written as Go writes a float64. It also computes
//! and checks record hashes. It never touches files and never changes a
//! record's meaning: a record it cannot write faithfully is an error.

use std::borrow::Cow;
use std::io::Write as _;
use std::sync::OnceLock;

use chrono::{Datelike, NaiveDate, Timelike, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Number, Value};
use sha2::{Digest, Sha256};

/// The schema every record this crate writes declares.
pub const SCHEMA_VERSION: &str = "rampart.audit.v1";

/// Prefix of every record hash.
pub const HASH_PREFIX: &str = "sha256:";

/// The machine a record was written on, as Go names it (`GOOS`, `GOARCH`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Host {
    #[serde(default)]
    pub hostname: String,
    #[serde(default)]
    pub os: String,
    #[serde(default)]
    pub arch: String,
}

impl Host {
    /// This machine: its hostname (`unknown` when it has none), Go's names
    /// for the operating system and architecture.
    pub fn local() -> Host {
        static LOCAL: OnceLock<Host> = OnceLock::new();
        LOCAL
            .get_or_init(|| Host {
                hostname: hostname(),
                os: go_os_name(std::env::consts::OS).to_string(),
                arch: go_arch_name(std::env::consts::ARCH).to_string(),
            })
            .clone()
    }
}

fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its whole length; gethostname writes at
    // most that many bytes.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    let name = String::from_utf8_lossy(&buf[..end]).trim().to_string();
    if rc != 0 || name.is_empty() {
        "unknown".to_string()
    } else {
        name
    }
}

/// Go's `runtime.GOOS` for Rust's `std::env::consts::OS`.
fn go_os_name(rust_os: &str) -> &str {
    match rust_os {
        "macos" => "darwin",
        other => other,
    }
}

/// Go's `runtime.GOARCH` for Rust's `std::env::consts::ARCH`.
fn go_arch_name(rust_arch: &str) -> &str {
    match rust_arch {
        "x86_64" => "amd64",
        "x86" => "386",
        "aarch64" => "arm64",
        "powerpc64" if cfg!(target_endian = "little") => "ppc64le",
        "powerpc64" => "ppc64",
        "loongarch64" => "loong64",
        other => other,
    }
}

/// The tool of a record that stands for calls the trail does not hold
/// (see [`Record::lost`]).
pub const LOST_TOOL: &str = "lost";

/// The request key of a `lost` record for a run cut off ([`Record::cut_off`]).
pub const CUT_OFF: &str = "cut_off";

/// The request key that says whether a refused call was refused (`true`)
/// or only recorded with the refusal (`false`: monitor mode, or a call that
/// did not wait for its verdict). Only refusals carry it; `decision.action`
/// stays the policy's verdict, as Go Rampart writes it.
pub const BLOCKED: &str = "blocked";

fn plural(n: u64) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// The policy's verdict on a call, as recorded.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordDecision {
    /// `allow`, `deny`, `watch` or `ask`: the policy's real verdict.
    #[serde(default)]
    pub action: String,
    /// Names of the policies that matched; omitted when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub matched_policies: Vec<String>,
    /// Policy evaluation time in microseconds.
    #[serde(default)]
    pub evaluation_time_us: u64,
    /// Human-readable reason; omitted when empty.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
}

/// One line of the trail: one call, its verdict, and its link in the chain.
///
/// Fields are in the order Go Rampart writes them. `schema_version`, `host`,
/// `matched_policies` and `message` are omitted when empty, as Go does.
///
/// The serde `Serialize` impl is for convenience (it does not escape `<>&`
/// as Go does); the trail's bytes come from [`Record::to_canonical_json`] /
/// [`Record::write_unhashed`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Record {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub schema_version: String,
    /// A ULID.
    #[serde(default)]
    pub id: String,
    /// RFC 3339 in UTC with nanoseconds, trailing zeros trimmed (Go's
    /// `time.RFC3339Nano`), e.g. `2026-03-01T12:00:00.1234Z`.
    #[serde(default)]
    pub timestamp: String,
    #[serde(default)]
    pub agent: String,
    #[serde(default)]
    pub session: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<Host>,
    #[serde(default)]
    pub tool: String,
    #[serde(default)]
    pub request: Map<String, Value>,
    #[serde(default)]
    pub decision: RecordDecision,
    #[serde(default)]
    pub prev_hash: String,
    #[serde(default)]
    pub hash: String,
}

impl Record {
    /// A new record stamped now: schema version, a fresh ULID, the current
    /// UTC time and this host. `prev_hash` and `hash` are set by
    /// [`crate::audit::Chain::append`].
    pub fn new(
        agent: &str,
        session: &str,
        tool: &str,
        request: Map<String, Value>,
        decision: RecordDecision,
    ) -> Record {
        Record {
            schema_version: SCHEMA_VERSION.to_string(),
            id: new_id(),
            timestamp: now_timestamp(),
            agent: agent.to_string(),
            session: session.to_string(),
            host: Some(Host::local()),
            tool: tool.to_string(),
            request,
            decision,
            prev_hash: String::new(),
            hash: String::new(),
        }
    }

    /// A `lost` record: `count` calls of process `pid` (running `exe`)
    /// happened but never reached the collector (it was stopped, wedged or
    /// gone when they were sent), so the trail does not hold them. Its
    /// verdict is `watch`: nothing was decided, something needs a look.
    pub fn lost(agent: &str, session: &str, pid: i32, exe: &str, count: u64) -> Record {
        let mut request = Map::new();
        request.insert("pid".into(), pid.into());
        if !exe.is_empty() {
            request.insert("exe".into(), exe.into());
        }
        let message = format!(
            "{count} record{} of pid {pid} never reached the collector",
            plural(count)
        );
        Record::lost_with(agent, session, request, count, message)
    }

    /// A `lost` record for a writer of the trail that was killed before it
    /// closed it (`crate::audit::writers`): whatever its run's command did
    /// after its last record is not in the trail, and how much is not
    /// known (`count` 0, `request.cut_off`).
    pub fn cut_off(writer: &super::writers::Writer) -> Record {
        let mut request = Map::new();
        request.insert("pid".into(), writer.pid.into());
        request.insert("started".into(), writer.started.clone().into());
        request.insert(CUT_OFF.into(), true.into());
        let message = format!(
            "the run of pid {} (started {}) was killed before it closed the trail: \
             what its command did after its last record is not in it",
            writer.pid, writer.started
        );
        Record::lost_with("rampart", "", request, 0, message)
    }

    /// Whether this is a [`Record::cut_off`] record: its message, if so.
    pub fn cut_off_message(&self) -> Option<&str> {
        (self.tool == LOST_TOOL && self.request.get(CUT_OFF) == Some(&Value::Bool(true)))
            .then_some(self.decision.message.as_str())
    }

    /// A `lost` record for `count` records the collector had but could not
    /// write to the trail (`error`: why, e.g. the disk is full).
    pub fn unwritten(agent: &str, session: &str, count: u64, error: &str) -> Record {
        let mut request = Map::new();
        request.insert("error".into(), error.into());
        let message = format!(
            "{count} record{} could not be written to the trail: {error}",
            plural(count)
        );
        Record::lost_with(agent, session, request, count, message)
    }

    fn lost_with(
        agent: &str,
        session: &str,
        mut request: Map<String, Value>,
        count: u64,
        message: String,
    ) -> Record {
        request.insert("count".into(), count.into());
        Record::new(
            agent,
            session,
            LOST_TOOL,
            request,
            RecordDecision {
                action: "watch".into(),
                matched_policies: Vec::new(),
                evaluation_time_us: 0,
                message,
            },
        )
    }

    /// The verdict as it happened: `decision.action` (Go Rampart's field,
    /// the policy's verdict), except that a refusal that was not applied
    /// (`request.blocked: false`: monitor mode, or a call that did not wait
    /// for its verdict) reads `would deny` / `would ask`.
    pub fn verdict(&self) -> &str {
        let not_applied = self.request.get(BLOCKED) == Some(&Value::Bool(false));
        match self.decision.action.as_str() {
            "deny" if not_applied => "would deny",
            "ask" if not_applied => "would ask",
            action => action,
        }
    }

    /// How many calls a `lost` record stands for; `None` for any other.
    pub fn lost_count(&self) -> Option<u64> {
        if self.tool != LOST_TOOL {
            return None;
        }
        Some(
            self.request
                .get("count")
                .and_then(Value::as_u64)
                .unwrap_or(0),
        )
    }

    /// Fills what Go Rampart fills before hashing: schema version, id,
    /// timestamp and host when they are empty. A timestamp that is valid RFC
    /// 3339 but not in Go's canonical UTC form is rewritten to it (same
    /// instant); one that is not RFC 3339 is an error naming the record and
    /// the value.
    pub fn apply_defaults(&mut self) -> Result<(), String> {
        if is_blank(&self.schema_version) {
            self.schema_version = SCHEMA_VERSION.to_string();
        }
        if self.id.is_empty() {
            self.id = new_id();
        }
        if self.timestamp.is_empty() {
            self.timestamp = now_timestamp();
        } else if let Cow::Owned(canonical) = canonical_timestamp(&self.timestamp)
            .map_err(|e| format!("record {}: timestamp {:?}: {e}", self.id, self.timestamp))?
        {
            self.timestamp = canonical;
        }
        match &mut self.host {
            None => self.host = Some(Host::local()),
            Some(host) => {
                if is_blank(&host.hostname) || is_blank(&host.os) || is_blank(&host.arch) {
                    let local = Host::local();
                    if is_blank(&host.hostname) {
                        host.hostname = local.hostname;
                    }
                    if is_blank(&host.os) {
                        host.os = local.os;
                    }
                    if is_blank(&host.arch) {
                        host.arch = local.arch;
                    }
                }
            }
        }
        Ok(())
    }

    /// Appends the canonical JSON of this record with `"hash":""` (the bytes
    /// the hash covers) to `out`.
    pub fn write_unhashed(&self, out: &mut Vec<u8>) {
        self.write_canonical(out, "");
    }

    /// The canonical JSON line of this record as stored (without newline).
    pub fn to_canonical_json(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(512);
        self.write_canonical(&mut out, &self.hash);
        out
    }

    /// The hash this record should carry given its `prev_hash` and content.
    pub fn compute_hash(&self) -> String {
        let mut unhashed = Vec::with_capacity(512);
        self.write_unhashed(&mut unhashed);
        chain_hash(&self.prev_hash, &unhashed)
    }

    fn write_canonical(&self, out: &mut Vec<u8>, hash: &str) {
        out.push(b'{');
        if !self.schema_version.is_empty() {
            out.extend_from_slice(b"\"schema_version\":");
            write_json_string(out, &self.schema_version);
            out.push(b',');
        }
        out.extend_from_slice(b"\"id\":");
        write_json_string(out, &self.id);
        out.extend_from_slice(b",\"timestamp\":");
        write_json_string(out, &self.timestamp);
        out.extend_from_slice(b",\"agent\":");
        write_json_string(out, &self.agent);
        out.extend_from_slice(b",\"session\":");
        write_json_string(out, &self.session);
        if let Some(host) = &self.host {
            out.extend_from_slice(b",\"host\":{\"hostname\":");
            write_json_string(out, &host.hostname);
            out.extend_from_slice(b",\"os\":");
            write_json_string(out, &host.os);
            out.extend_from_slice(b",\"arch\":");
            write_json_string(out, &host.arch);
            out.push(b'}');
        }
        out.extend_from_slice(b",\"tool\":");
        write_json_string(out, &self.tool);
        out.extend_from_slice(b",\"request\":");
        write_json_object(out, &self.request);
        out.extend_from_slice(b",\"decision\":{\"action\":");
        write_json_string(out, &self.decision.action);
        if !self.decision.matched_policies.is_empty() {
            out.extend_from_slice(b",\"matched_policies\":[");
            for (i, name) in self.decision.matched_policies.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_json_string(out, name);
            }
            out.push(b']');
        }
        out.extend_from_slice(b",\"evaluation_time_us\":");
        write_u64(out, self.decision.evaluation_time_us);
        if !self.decision.message.is_empty() {
            out.extend_from_slice(b",\"message\":");
            write_json_string(out, &self.decision.message);
        }
        out.extend_from_slice(b"},\"prev_hash\":");
        write_json_string(out, &self.prev_hash);
        out.extend_from_slice(b",\"hash\":");
        write_json_string(out, hash);
        out.push(b'}');
    }
}

/// Empty or only whitespace (Go's `strings.TrimSpace(s) == ""`).
fn is_blank(s: &str) -> bool {
    s.chars().all(char::is_whitespace)
}

/// A fresh ULID, as Go Rampart's `NewEventID`.
pub fn new_id() -> String {
    ulid::Ulid::new().to_string()
}

/// The current UTC time in Go's `RFC3339Nano` form.
pub fn now_timestamp() -> String {
    let now = Utc::now();
    let mut out = String::with_capacity(30);
    push_go_timestamp(
        &mut out,
        now.year(),
        now.month(),
        now.day(),
        now.hour(),
        now.minute(),
        now.second(),
        now.nanosecond(),
    );
    out
}

#[allow(clippy::too_many_arguments)]
fn push_go_timestamp(
    out: &mut String,
    year: i32,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
    nanos: u32,
) {
    use std::fmt::Write as _;
    let _ = write!(
        out,
        "{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}"
    );
    if nanos > 0 {
        let mut digits = format!("{nanos:09}");
        while digits.ends_with('0') {
            digits.pop();
        }
        out.push('.');
        out.push_str(&digits);
    }
    out.push('Z');
}

/// `ts` in Go's canonical `RFC3339Nano` UTC form: borrowed when it already
/// is, rewritten (same instant) when it is other valid RFC 3339, an error
/// otherwise.
pub fn canonical_timestamp(ts: &str) -> Result<Cow<'_, str>, String> {
    if is_canonical_timestamp(ts) {
        return Ok(Cow::Borrowed(ts));
    }
    let parsed = chrono::DateTime::parse_from_rfc3339(ts)
        .map_err(|e| format!("not an RFC 3339 time: {e}"))?
        .with_timezone(&Utc);
    if !(0..=9999).contains(&parsed.year()) {
        return Err("year outside 0000-9999".to_string());
    }
    let mut out = String::with_capacity(30);
    // chrono folds a leap second into nanoseconds >= 1e9; Go has none.
    let nanos = parsed.nanosecond().min(999_999_999);
    push_go_timestamp(
        &mut out,
        parsed.year(),
        parsed.month(),
        parsed.day(),
        parsed.hour(),
        parsed.minute(),
        parsed.second(),
        nanos,
    );
    Ok(Cow::Owned(out))
}

/// `YYYY-MM-DDTHH:MM:SS[.fraction]Z` with a valid date and time, a fraction
/// of 1 to 9 digits not ending in 0.
fn is_canonical_timestamp(ts: &str) -> bool {
    let b = ts.as_bytes();
    if b.len() < 20 || b[b.len() - 1] != b'Z' {
        return false;
    }
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    if !(digits(0..4)
        && b[4] == b'-'
        && digits(5..7)
        && b[7] == b'-'
        && digits(8..10)
        && b[10] == b'T'
        && digits(11..13)
        && b[13] == b':'
        && digits(14..16)
        && b[16] == b':'
        && digits(17..19))
    {
        return false;
    }
    let num = |r: std::ops::Range<usize>| {
        b[r].iter()
            .fold(0u32, |acc, &d| acc * 10 + u32::from(d - b'0'))
    };
    let (year, month, day) = (num(0..4), num(5..7), num(8..10));
    if NaiveDate::from_ymd_opt(year as i32, month, day).is_none()
        || num(11..13) > 23
        || num(14..16) > 59
        || num(17..19) > 59
    {
        return false;
    }
    match b.len() {
        20 => true,
        n => {
            let frac = &b[20..n - 1];
            b[19] == b'.'
                && (1..=9).contains(&frac.len())
                && frac.iter().all(u8::is_ascii_digit)
                && frac[frac.len() - 1] != b'0'
        }
    }
}

/// `"sha256:" + hex(SHA-256(prev_hash ‖ unhashed))`.
pub fn chain_hash(prev_hash: &str, unhashed: &[u8]) -> String {
    let mut hasher = Sha256::new();
    hasher.update(prev_hash.as_bytes());
    hasher.update(unhashed);
    hash_string(&hasher.finalize())
}

fn hash_string(digest: &[u8]) -> String {
    let mut hex_digits = [0u8; 64];
    hex::encode_to_slice(digest, &mut hex_digits).expect("a SHA-256 digest is 32 bytes");
    let mut out = String::with_capacity(HASH_PREFIX.len() + 64);
    out.push_str(HASH_PREFIX);
    out.push_str(std::str::from_utf8(&hex_digits).expect("hex digits are ASCII"));
    out
}

/// Serialises `record` (with `prev_hash` already set) into `out`, computes
/// its hash and writes the finished line (with trailing newline) in place:
/// the record is serialised once, with `"hash":""`, hashed, and the hash is
/// spliced into the bytes. Returns the hash.
pub(crate) fn append_sealed_line(record: &Record, out: &mut Vec<u8>) -> String {
    let start = out.len();
    record.write_canonical(out, "");
    let hash = chain_hash(&record.prev_hash, &out[start..]);
    // The line ends with `"hash":""}`; put the hash between the quotes.
    out.truncate(out.len() - 2);
    out.extend_from_slice(hash.as_bytes());
    out.extend_from_slice(b"\"}\n");
    hash
}

/// The hash a stored line (without newline, surrounding whitespace trimmed)
/// should carry: the line's own bytes with its hash value emptied, hashed
/// after `prev_hash`. `None` when the line does not end with
/// `"hash":"<stored_hash>"}`, the form Rampart writes (hash last).
pub(crate) fn hash_of_stored_line(
    prev_hash: &str,
    line: &[u8],
    stored_hash: &str,
) -> Option<String> {
    // Stored hashes are "sha256:<hex>": no characters that JSON escapes, so
    // the stored bytes are the string itself.
    if stored_hash
        .bytes()
        .any(|b| b == b'"' || b == b'\\' || b < 0x20)
    {
        return None;
    }
    let tail_len = stored_hash.len() + 2; // hash value, closing quote, brace
    let key = b"\"hash\":\"";
    if line.len() < tail_len + key.len() + 1 {
        return None;
    }
    let value_start = line.len() - tail_len;
    let key_start = value_start - key.len();
    if &line[value_start..line.len() - 2] != stored_hash.as_bytes()
        || &line[line.len() - 2..] != b"\"}"
        || &line[key_start..value_start] != key
        || !matches!(line[key_start - 1], b',' | b'{')
    {
        return None;
    }
    let mut hasher = Sha256::new();
    hasher.update(prev_hash.as_bytes());
    hasher.update(&line[..value_start]);
    hasher.update(b"\"}");
    Some(hash_string(&hasher.finalize()))
}

// ---- Go encoding/json, byte for byte ----

const NO: u8 = 0;
const UNICODE: u8 = b'u';
const MAYBE_LINE_SEPARATOR: u8 = 1;

/// For each byte: 0 when it is copied as is, the short escape letter, `u`
/// for `\u00XX`, or 1 for 0xE2 (the first byte of U+2028 and U+2029).
static ESCAPES: [u8; 256] = {
    let mut table = [NO; 256];
    let mut c = 0;
    while c < 0x20 {
        table[c] = UNICODE;
        c += 1;
    }
    table[0x08] = b'b';
    table[0x09] = b't';
    table[0x0a] = b'n';
    table[0x0c] = b'f';
    table[0x0d] = b'r';
    table[b'"' as usize] = b'"';
    table[b'\\' as usize] = b'\\';
    table[b'<' as usize] = UNICODE;
    table[b'>' as usize] = UNICODE;
    table[b'&' as usize] = UNICODE;
    table[0xe2] = MAYBE_LINE_SEPARATOR;
    table
};

/// Whether any byte of the 8 in `word` may need escaping: a control
/// character, `"`, `\\`, `<`, `>`, `&`, or 0xE2 (U+2028/U+2029 start with it).
#[inline(always)]
fn word_may_need_escape(word: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    #[inline(always)]
    fn has_zero_byte(v: u64) -> u64 {
        v.wrapping_sub(ONES) & !v & HIGH
    }
    let below_space = word.wrapping_sub(ONES * 0x20) & !word & HIGH;
    (below_space
        | has_zero_byte(word ^ (ONES * u64::from(b'"')))
        | has_zero_byte(word ^ (ONES * u64::from(b'\\')))
        | has_zero_byte(word ^ (ONES * u64::from(b'<')))
        | has_zero_byte(word ^ (ONES * u64::from(b'>')))
        | has_zero_byte(word ^ (ONES * u64::from(b'&')))
        | has_zero_byte(word ^ (ONES * 0xe2)))
        != 0
}

/// Length of the longest prefix of `bytes` that is certainly copied as it
/// is (checked a word at a time; a word that may hold a byte to escape ends
/// the prefix at its start).
#[inline(always)]
fn plain_prefix_len(bytes: &[u8]) -> usize {
    let mut i = 0;
    while i + 8 <= bytes.len() {
        let word = u64::from_le_bytes(bytes[i..i + 8].try_into().expect("8 bytes"));
        if word_may_need_escape(word) {
            return i;
        }
        i += 8;
    }
    if i < bytes.len() {
        // The last few bytes, padded with a letter that needs no escape.
        let mut padded = [b'a'; 8];
        padded[..bytes.len() - i].copy_from_slice(&bytes[i..]);
        if word_may_need_escape(u64::from_le_bytes(padded)) {
            return i;
        }
    }
    bytes.len()
}

/// Writes `s` as Go's `encoding/json` does (HTML-safe escaping on).
pub fn write_json_string(out: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    let plain = plain_prefix_len(bytes);
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    if plain == bytes.len() {
        out.extend_from_slice(bytes);
    } else {
        out.extend_from_slice(&bytes[..plain]);
        write_escaped(out, &bytes[plain..]);
    }
    out.push(b'"');
}

#[cold]
fn write_escaped(out: &mut Vec<u8>, bytes: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        let escape = ESCAPES[b as usize];
        if escape == NO {
            i += 1;
            continue;
        }
        if escape == MAYBE_LINE_SEPARATOR {
            if i + 2 < bytes.len() && bytes[i + 1] == 0x80 && (bytes[i + 2] & !1) == 0xa8 {
                out.extend_from_slice(&bytes[start..i]);
                out.extend_from_slice(if bytes[i + 2] == 0xa8 {
                    b"\\u2028"
                } else {
                    b"\\u2029"
                });
                i += 3;
                start = i;
            } else {
                i += 1;
            }
            continue;
        }
        out.extend_from_slice(&bytes[start..i]);
        if escape == UNICODE {
            out.extend_from_slice(b"\\u00");
            out.push(HEX[(b >> 4) as usize]);
            out.push(HEX[(b & 0xf) as usize]);
        } else {
            out.push(b'\\');
            out.push(escape);
        }
        i += 1;
        start = i;
    }
    out.extend_from_slice(&bytes[start..]);
}

/// Writes a JSON value as Go writes the `any` it decodes to: objects with
/// sorted keys, numbers as float64.
pub fn write_json_value(out: &mut Vec<u8>, value: &Value) {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(n) => write_go_number(out, n),
        Value::String(s) => write_json_string(out, s),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_json_value(out, item);
            }
            out.push(b']');
        }
        Value::Object(map) => write_json_object(out, map),
    }
}

/// Whether serde_json's `Map` iterates in key order (it does unless some
/// crate in the build turns on serde_json's `preserve_order` feature).
fn maps_iterate_sorted() -> bool {
    static SORTED: OnceLock<bool> = OnceLock::new();
    *SORTED.get_or_init(|| {
        let mut probe = Map::new();
        probe.insert("b".into(), Value::Null);
        probe.insert("a".into(), Value::Null);
        probe.keys().next().map(String::as_str) == Some("a")
    })
}

fn write_json_object(out: &mut Vec<u8>, map: &Map<String, Value>) {
    if !maps_iterate_sorted() {
        return write_json_object_sorted(out, map);
    }
    out.push(b'{');
    for (i, (key, value)) in map.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_json_string(out, key);
        out.push(b':');
        write_json_value(out, value);
    }
    out.push(b'}');
}

#[cold]
fn write_json_object_sorted(out: &mut Vec<u8>, map: &Map<String, Value>) {
    let mut entries: Vec<(&String, &Value)> = map.iter().collect();
    entries.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    out.push(b'{');
    for (i, (key, value)) in entries.into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_json_string(out, key);
        out.push(b':');
        write_json_value(out, value);
    }
    out.push(b'}');
}

/// Integers up to 2^53 in magnitude are exact in a float64 and Go writes
/// them as plain integers; beyond that the value is what float64 makes of it.
const EXACT_FLOAT_INT: u64 = 1 << 53;

fn write_go_number(out: &mut Vec<u8>, n: &Number) {
    if let Some(u) = n.as_u64() {
        if u <= EXACT_FLOAT_INT {
            write_u64(out, u);
        } else {
            write_go_float64(out, u as f64);
        }
    } else if let Some(i) = n.as_i64() {
        if i.unsigned_abs() <= EXACT_FLOAT_INT {
            out.push(b'-');
            write_u64(out, i.unsigned_abs());
        } else {
            write_go_float64(out, i as f64);
        }
    } else if let Some(f) = n.as_f64() {
        write_go_float64(out, f);
    }
}

/// Go's `encoding/json` float64 encoding: the shortest decimal that reads
/// back as the same float64, in `strconv` 'f' form for magnitudes in
/// [1e-6, 1e21) (and zero), else 'e' form with a signed exponent of at least
/// one digit (`1e+21`, `1.5e-7`).
pub fn write_go_float64(out: &mut Vec<u8>, f: f64) {
    debug_assert!(f.is_finite(), "JSON numbers are finite");
    let abs = f.abs();
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        // Rust's `{:e}` is the shortest round-trip mantissa: `1.5e-7`, `1e21`.
        let start = out.len();
        let _ = write!(out, "{f:e}");
        let e = start
            + out[start..]
                .iter()
                .position(|&b| b == b'e')
                .expect("exponent form has an e");
        if out[e + 1] != b'-' {
            out.insert(e + 1, b'+');
        }
    } else {
        // Rust's `{}` for f64 is the shortest round-trip digits, never an
        // exponent, integral values without a fraction: Go's 'f', -1.
        let _ = write!(out, "{f}");
    }
}

fn write_u64(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn string_bytes(s: &str) -> String {
        let mut out = Vec::new();
        write_json_string(&mut out, s);
        String::from_utf8(out).unwrap()
    }

    fn float(f: f64) -> String {
        let mut out = Vec::new();
        write_go_float64(&mut out, f);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn strings_escape_as_go_encoding_json() {
        assert_eq!(string_bytes("a<b>&c"), r#""a\u003cb\u003e\u0026c""#);
        assert_eq!(string_bytes("x\u{2028}y\u{2029}z"), r#""x\u2028y\u2029z""#);
        assert_eq!(string_bytes("\u{2027}\u{202a}"), "\"\u{2027}\u{202a}\"");
        assert_eq!(
            string_bytes("q\"b\\n\nr\rt\tb\u{8}f\u{c}"),
            r#""q\"b\\n\nr\rt\tb\bf\f""#
        );
        assert_eq!(
            string_bytes("\u{0}\u{1f}\u{7f}"),
            "\"\\u0000\\u001f\u{7f}\""
        );
        assert_eq!(string_bytes("héllo ✓ 😀"), "\"héllo ✓ 😀\"");
    }

    /// Go's rules, one character at a time.
    fn reference_escape(s: &str) -> String {
        let mut out = String::from("\"");
        for c in s.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                '\u{8}' => out.push_str("\\b"),
                '\u{c}' => out.push_str("\\f"),
                '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                    out.push_str(&format!("\\u{:04x}", c as u32))
                }
                c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
                c => out.push(c),
            }
        }
        out.push('"');
        out
    }

    #[test]
    fn word_at_a_time_scan_escapes_every_position() {
        let specials = [
            "\"", "\\", "<", ">", "&", "\u{2028}", "\u{2029}", "\u{2027}", "\u{0}", "\u{1f}", "\n",
            "\u{8}", "\u{7f}", "é", "\u{e2}", " ",
        ];
        for special in specials {
            for len in 0..20 {
                for at in 0..=len {
                    let s = format!("{}{special}{}", "a".repeat(at), "b".repeat(len - at));
                    assert_eq!(string_bytes(&s), reference_escape(&s), "{s:?}");
                }
            }
        }
    }

    #[test]
    fn floats_format_as_go_float64() {
        assert_eq!(float(0.0), "0");
        assert_eq!(float(-0.0), "-0");
        assert_eq!(float(1.0), "1");
        assert_eq!(float(0.1), "0.1");
        assert_eq!(float(-2.5), "-2.5");
        assert_eq!(float(1e-6), "0.000001");
        assert_eq!(float(1.5e-7), "1.5e-7");
        assert_eq!(float(1e-10), "1e-10");
        assert_eq!(float(1e20), "100000000000000000000");
        assert_eq!(float(1e21), "1e+21");
        assert_eq!(float(-1.2345e300), "-1.2345e+300");
        assert_eq!(float(18446744073709551615.0), "18446744073709552000");
        assert_eq!(float(5e-324), "5e-324");
    }

    #[test]
    fn integers_beyond_2_pow_53_are_written_as_their_float64() {
        let mut out = Vec::new();
        write_json_value(
            &mut out,
            &json!([
                9007199254740992u64,
                9007199254740993u64,
                -9007199254740993i64,
                u64::MAX
            ]),
        );
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "[9007199254740992,9007199254740992,-9007199254740992,18446744073709552000]"
        );
    }

    #[test]
    fn timestamps_take_go_rfc3339nano_form() {
        assert_eq!(
            canonical_timestamp("2026-03-01T12:00:00Z").unwrap(),
            "2026-03-01T12:00:00Z"
        );
        assert_eq!(
            canonical_timestamp("2026-03-01T12:00:00.120000000Z").unwrap(),
            "2026-03-01T12:00:00.12Z"
        );
        assert_eq!(
            canonical_timestamp("2026-03-01T14:00:00.5+02:00").unwrap(),
            "2026-03-01T12:00:00.5Z"
        );
        assert_eq!(
            canonical_timestamp("2026-03-01T12:00:00.000Z").unwrap(),
            "2026-03-01T12:00:00Z"
        );
        assert!(canonical_timestamp("2026-02-30T12:00:00Z").is_err());
        assert!(canonical_timestamp("yesterday").is_err());
        assert!(is_canonical_timestamp(&now_timestamp()));
    }

    #[test]
    fn record_fields_are_in_go_order_and_empty_ones_omitted() {
        let mut request = Map::new();
        request.insert("z".into(), json!(1));
        request.insert("a".into(), json!({"y": 2.5, "b": null}));
        let record = Record {
            schema_version: SCHEMA_VERSION.into(),
            id: "01J00000000000000000000000".into(),
            timestamp: "2026-03-01T12:00:00Z".into(),
            agent: "a".into(),
            session: "s".into(),
            host: None,
            tool: "exec".into(),
            request,
            decision: RecordDecision {
                action: "allow".into(),
                ..Default::default()
            },
            prev_hash: String::new(),
            hash: String::new(),
        };
        let mut out = Vec::new();
        record.write_unhashed(&mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#"{"schema_version":"rampart.audit.v1","id":"01J00000000000000000000000","timestamp":"2026-03-01T12:00:00Z","agent":"a","session":"s","tool":"exec","request":{"a":{"b":null,"y":2.5},"z":1},"decision":{"action":"allow","evaluation_time_us":0},"prev_hash":"","hash":""}"#
        );
    }

    #[test]
    fn sealed_line_hash_is_checked_from_its_stored_bytes() {
        let mut record = Record::new(
            "agent",
            "session",
            "read",
            Map::new(),
            RecordDecision::default(),
        );
        record.prev_hash = "sha256:00".into();
        let mut out = Vec::new();
        let hash = append_sealed_line(&record, &mut out);
        assert_eq!(hash, record.compute_hash());
        let line = &out[..out.len() - 1];
        assert_eq!(
            hash_of_stored_line("sha256:00", line, &hash).as_deref(),
            Some(hash.as_str())
        );
        assert_ne!(
            hash_of_stored_line("sha256:01", line, &hash).as_deref(),
            Some(hash.as_str())
        );
        assert_eq!(hash_of_stored_line("sha256:00", line, "sha256:ff"), None);
    }
}

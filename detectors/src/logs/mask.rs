//! Tokenising a log line and masking its variable parts, in one pass over the bytes.
//!
//! A line splits on ASCII whitespace into tokens. Inside a token, the bytes between
//! delimiters (`= : , ; ( ) [ ] { } < > " ' | @ #`) form segments, and a segment is a
//! variable — replaced by [`WILDCARD`] — when it holds a digit (numbers, hex, IPs and ports,
//! UUIDs, durations, timestamps, versions), is a path (starts with `/`, holds `\` or two
//! `/`), is a month or weekday name (the words of a timestamp), or is the value of a
//! `key=value` pair or a quoted string within one token, or fills an empty `()`, `[]`, `{}`
//! or `""` token. A token longer than
//! [`MaskParams::max_token_bytes`] is one variable (hashes, base64, URLs), which also bounds
//! what a template can store. These rules are shared by almost every log format and need no
//! per-format configuration; extra masks (regular expressions, from the rules file) run over
//! the whole line first, and whatever they match becomes a wildcard.
//!
//! Hand-written rather than regular expressions because it runs on every line at a million
//! lines per second.

use regex::Regex;

/// What a variable part becomes in a template.
pub const WILDCARD: &str = "<*>";

/// Bytes that separate the segments of a token (and stay in the template).
fn is_delimiter(b: u8) -> bool {
    matches!(
        b,
        b'=' | b':'
            | b','
            | b';'
            | b'('
            | b')'
            | b'['
            | b']'
            | b'{'
            | b'}'
            | b'<'
            | b'>'
            | b'"'
            | b'\''
            | b'|'
            | b'@'
            | b'#'
    )
}

/// Whether a segment (no delimiters inside) is a variable.
fn is_variable(segment: &[u8], after_equals: bool) -> bool {
    if segment.is_empty() {
        return false;
    }
    if after_equals {
        return true;
    }
    let mut slashes = 0;
    for &b in segment {
        match b {
            b'0'..=b'9' | b'\\' => return true,
            b'/' => slashes += 1,
            _ => {}
        }
    }
    slashes >= 2 || segment[0] == b'/' || is_date_word(segment)
}

/// Month and weekday names as timestamps print them (`Sat Jun 18 02:08:10 2005`): the words
/// of a date are as variable as its numbers.
fn is_date_word(segment: &[u8]) -> bool {
    matches!(
        segment,
        b"Jan"
            | b"Feb"
            | b"Mar"
            | b"Apr"
            | b"May"
            | b"Jun"
            | b"Jul"
            | b"Aug"
            | b"Sep"
            | b"Oct"
            | b"Nov"
            | b"Dec"
            | b"Mon"
            | b"Tue"
            | b"Wed"
            | b"Thu"
            | b"Fri"
            | b"Sat"
            | b"Sun"
    )
}

/// Masks one non-empty token into `out` (appended).
fn mask_token(token: &[u8], max_token_bytes: usize, out: &mut String) {
    if token.len() > max_token_bytes {
        // One variable, but a delimiter at either end stays (`<*>,` as for a short value),
        // one byte at most so that the stored token stays bounded.
        let (first, last) = (token[0], token[token.len() - 1]);
        if is_delimiter(first) {
            out.push(first as char);
        }
        out.push_str(WILDCARD);
        if is_delimiter(last) {
            out.push(last as char);
        }
        return;
    }
    let mut seg_start = 0;
    let mut after_equals = false;
    let mut opening = 0u8;
    for i in 0..=token.len() {
        let at_end = i == token.len();
        if !at_end && !is_delimiter(token[i]) {
            continue;
        }
        let segment = &token[seg_start..i];
        let closing = if at_end { 0 } else { token[i] };
        let quoted = matches!(opening, b'"' | b'\'') && closing == opening;
        // A token `()` or `""` is a variable that happens to be empty (`(host)` elsewhere);
        // `f()` is a call.
        let empty_pair = segment.is_empty()
            && seg_start == 1
            && matches!(
                (opening, closing),
                (b'(', b')') | (b'[', b']') | (b'{', b'}') | (b'"', b'"') | (b'\'', b'\'')
            );
        if empty_pair || is_variable(segment, after_equals || quoted) {
            // Two variables side by side (`<*><*>`) cannot happen: segments are split by a
            // delimiter, which is kept.
            out.push_str(WILDCARD);
        } else if !segment.is_empty() {
            // Delimiters are ASCII, so segment boundaries are char boundaries.
            out.push_str(std::str::from_utf8(segment).unwrap_or(WILDCARD));
        }
        if !at_end {
            out.push(token[i] as char);
            after_equals = token[i] == b'=';
            opening = token[i];
        }
        seg_start = i + 1;
    }
}

/// Masking settings.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct MaskParams {
    /// Tokens after this many are folded into one trailing wildcard, so a template holds at
    /// most this many tokens.
    pub max_tokens: usize,
    /// A token longer than this (bytes) is a variable as a whole.
    pub max_token_bytes: usize,
    /// Extra masks: regular expressions whose matches become wildcards, run over the whole
    /// line in order before tokenising.
    pub extra: Vec<String>,
}

impl Default for MaskParams {
    fn default() -> Self {
        Self {
            max_tokens: 64,
            max_token_bytes: 64,
            extra: Vec::new(),
        }
    }
}

/// A line after masking: the masked text and its tokens as byte ranges into it.
#[derive(Debug, Default, Clone)]
pub struct Masked {
    text: String,
    spans: Vec<(u32, u32)>,
}

impl Masked {
    /// The number of tokens.
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    /// Whether the line had no tokens (empty or only whitespace).
    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// Token `i`.
    pub fn token(&self, i: usize) -> &str {
        let (a, b) = self.spans[i];
        &self.text[a as usize..b as usize]
    }

    /// Heap bytes held (a miner reuses one `Masked` for every line).
    pub fn heap_bytes(&self) -> usize {
        self.text.capacity() + self.spans.capacity() * std::mem::size_of::<(u32, u32)>()
    }

    /// The tokens in order.
    pub fn tokens(&self) -> impl Iterator<Item = &str> + '_ {
        (0..self.len()).map(|i| self.token(i))
    }
}

/// Compiled masks: the built-in rules plus the configured regular expressions.
#[derive(Debug, Clone)]
pub struct Masker {
    params: MaskParams,
    extra: Vec<Regex>,
}

impl Masker {
    /// Compiles the extra masks; fails on the first that is not a valid regular expression.
    pub fn new(params: MaskParams) -> Result<Self, regex::Error> {
        let extra = params
            .extra
            .iter()
            .map(|r| Regex::new(r))
            .collect::<Result<_, _>>()?;
        Ok(Self { params, extra })
    }

    /// The settings this masker was built from.
    pub fn params(&self) -> &MaskParams {
        &self.params
    }

    /// Masks `line` into `out`, reusing its buffers.
    pub fn mask(&self, line: &str, out: &mut Masked) {
        out.text.clear();
        out.spans.clear();
        if self.extra.is_empty() {
            self.mask_plain(line, out);
        } else {
            let mut owned = std::borrow::Cow::Borrowed(line);
            for re in &self.extra {
                if let std::borrow::Cow::Owned(s) = re.replace_all(&owned, WILDCARD) {
                    owned = std::borrow::Cow::Owned(s);
                }
            }
            self.mask_plain(&owned, out);
        }
    }

    fn mask_plain(&self, line: &str, out: &mut Masked) {
        let bytes = line.as_bytes();
        let max_tokens = self.params.max_tokens.max(1);
        let mut i = 0;
        while i < bytes.len() {
            while i < bytes.len() && bytes[i].is_ascii_whitespace() {
                i += 1;
            }
            if i == bytes.len() {
                break;
            }
            let start = i;
            while i < bytes.len() && !bytes[i].is_ascii_whitespace() {
                i += 1;
            }
            let begin = out.text.len();
            if out.spans.len() + 1 == max_tokens
                && bytes[i..].iter().any(|b| !b.is_ascii_whitespace())
            {
                // The tail past the cap is one variable.
                out.text.push_str(WILDCARD);
                out.spans.push((begin as u32, out.text.len() as u32));
                return;
            }
            mask_token(&bytes[start..i], self.params.max_token_bytes, &mut out.text);
            out.spans.push((begin as u32, out.text.len() as u32));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn masked(line: &str) -> Vec<String> {
        let masker = Masker::new(MaskParams::default()).unwrap();
        let mut out = Masked::default();
        masker.mask(line, &mut out);
        out.tokens().map(str::to_owned).collect()
    }

    #[test]
    fn masks_numbers_hex_ips_ports_and_uuids() {
        assert_eq!(
            masked(
                "took 12ms from 10.0.0.1:8080 id 0x1f uuid 123e4567-e89b-12d3-a456-426614174000"
            ),
            ["took", "<*>", "from", "<*>:<*>", "id", "<*>", "uuid", "<*>"]
        );
    }

    #[test]
    fn masks_paths_key_values_and_quoted_values() {
        assert_eq!(
            masked("open /var/log/x.log user=root 'C:\\Windows' state=\"ok\" a/b"),
            ["open", "<*>", "user=<*>", "'C:<*>'", "state=\"<*>\"", "a/b"]
        );
    }

    #[test]
    fn masks_date_words_and_empty_enclosures_but_not_calls() {
        assert_eq!(
            masked("at Fri Jun 17 07:07:00 2005 from () via init() \"\""),
            [
                "at",
                "<*>",
                "<*>",
                "<*>",
                "<*>:<*>:<*>",
                "<*>",
                "from",
                "(<*>)",
                "via",
                "init()",
                "\"<*>\""
            ]
        );
    }

    #[test]
    fn keeps_words_and_delimiters() {
        assert_eq!(
            masked("pam_unix(sshd:auth): check pass; user unknown"),
            ["pam_unix(sshd:auth):", "check", "pass;", "user", "unknown"]
        );
    }

    #[test]
    fn long_tokens_are_one_variable_and_tokens_are_capped() {
        let long = "x".repeat(1000);
        assert_eq!(masked(&format!("a {long} b")), ["a", "<*>", "b"]);
        assert_eq!(masked(&format!("a ({long}, b")), ["a", "(<*>,", "b"]);
        let many = "w ".repeat(500);
        let tokens = masked(&many);
        assert_eq!(tokens.len(), MaskParams::default().max_tokens);
        assert_eq!(tokens.last().unwrap(), "<*>");
    }

    #[test]
    fn empty_and_whitespace_lines_have_no_tokens() {
        assert!(masked("").is_empty());
        assert!(masked(" \t\r\n ").is_empty());
    }

    #[test]
    fn extra_masks_run_before_the_built_in_ones() {
        let masker = Masker::new(MaskParams {
            extra: vec![r"user \w+".to_owned()],
            ..MaskParams::default()
        })
        .unwrap();
        let mut out = Masked::default();
        masker.mask("session closed for user alice", &mut out);
        assert_eq!(
            out.tokens().collect::<Vec<_>>(),
            ["session", "closed", "for", "<*>"]
        );
        assert!(
            Masker::new(MaskParams {
                extra: vec!["(".to_owned()],
                ..MaskParams::default()
            })
            .is_err()
        );
    }
}

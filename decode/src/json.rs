//! A pull reader over JSON text that borrows every unescaped string from the input.
//!
//! serde_json would do, but it cannot keep going after a field has the wrong type (the native
//! format reports that item and delivers the rest), it rejects `1e999` as a syntax error where
//! we want "value is not finite" for that one item, and a derived struct cannot read OTLP keys
//! in whatever order a producer wrote them without buffering a tree. This reader is the one
//! syntax authority for both JSON formats: [`Reader::skip_value`] and the typed reads accept
//! exactly the same texts (so a part that was skipped can be read later without failing), and
//! property tests hold it to serde_json's verdict. The grammar is RFC 8259; strings with a
//! lone surrogate escape decode to U+FFFD instead of failing.

use std::borrow::Cow;

/// Where and why the text stopped being JSON. Offsets are bytes into the reader's text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Syntax {
    pub at: usize,
    pub what: &'static str,
}

pub(crate) type Parsed<T> = Result<T, Syntax>;

/// What the next value is, judged from its first byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Token {
    String,
    Number,
    Object,
    Array,
    Bool,
    Null,
}

impl Token {
    /// The token as a problem report names it: "found {describe}".
    pub(crate) fn describe(self) -> &'static str {
        match self {
            Token::String => "a string",
            Token::Number => "a number",
            Token::Object => "an object",
            Token::Array => "an array",
            Token::Bool => "a boolean",
            Token::Null => "null",
        }
    }
}

/// A number token that matched the JSON grammar.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Number<'a> {
    pub text: &'a str,
    /// No fraction and no exponent.
    pub integer: bool,
}

impl Number<'_> {
    /// The value as an `i64`, when it is an integer token that fits.
    #[inline]
    pub(crate) fn to_i64(self) -> Option<i64> {
        if !self.integer {
            return None;
        }
        let (negative, digits) = match self.text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, self.text),
        };
        if digits.len() > 18 {
            // Rare (timestamps in ns have 19 digits): let std do the overflow checks.
            return self.text.parse().ok();
        }
        let magnitude = digits
            .bytes()
            .fold(0i64, |acc, d| acc * 10 + i64::from(d - b'0'));
        Some(if negative { -magnitude } else { magnitude })
    }

    /// The nearest `f64`; infinite when the exponent is out of range (`1e999`).
    #[inline]
    pub(crate) fn to_f64(self) -> f64 {
        match self.to_i64() {
            // `as` rounds to nearest, the same result a correct decimal parse gives.
            Some(int) => int as f64,
            None => self.text.parse().unwrap_or(f64::NAN),
        }
    }
}

/// Deepest nesting accepted, as serde_json: bounds the reader's work on hostile input.
const MAX_DEPTH: u32 = 128;

#[derive(Debug, Clone)]
pub(crate) struct Reader<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(text: &'a str) -> Self {
        Self { text, pos: 0 }
    }

    #[inline]
    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    /// The offset of the next value, past whitespace.
    #[inline(always)]
    pub(crate) fn value_start(&mut self) -> usize {
        self.skip_ws();
        self.pos
    }

    #[inline]
    pub(crate) fn seek(&mut self, pos: usize) {
        self.pos = pos;
    }

    #[inline(always)]
    fn bytes(&self) -> &'a [u8] {
        self.text.as_bytes()
    }

    fn fail<T>(&self, what: &'static str) -> Parsed<T> {
        Err(Syntax { at: self.pos, what })
    }

    #[inline(always)]
    pub(crate) fn skip_ws(&mut self) {
        let bytes = self.bytes();
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = bytes.get(self.pos) {
            self.pos += 1;
        }
    }

    /// Skips spaces, tabs and carriage returns but stops at a newline.
    #[inline]
    pub(crate) fn skip_inline_ws(&mut self) {
        let bytes = self.bytes();
        while let Some(b' ' | b'\r' | b'\t') = bytes.get(self.pos) {
            self.pos += 1;
        }
    }

    /// The next byte after whitespace, without consuming it.
    #[inline(always)]
    pub(crate) fn peek(&mut self) -> Option<u8> {
        self.skip_ws();
        self.bytes().get(self.pos).copied()
    }

    /// The kind of the next value, without consuming it.
    #[inline(always)]
    pub(crate) fn peek_token(&mut self) -> Parsed<Token> {
        match self.peek() {
            Some(b'"') => Ok(Token::String),
            Some(b'{') => Ok(Token::Object),
            Some(b'[') => Ok(Token::Array),
            Some(b'-' | b'0'..=b'9') => Ok(Token::Number),
            Some(b't' | b'f') => Ok(Token::Bool),
            Some(b'n') => Ok(Token::Null),
            Some(_) => self.fail("expected a json value"),
            None => self.fail("unexpected end of input, expected a json value"),
        }
    }

    #[inline(always)]
    fn expect(&mut self, byte: u8, what: &'static str) -> Parsed<()> {
        self.skip_ws();
        if self.bytes().get(self.pos) == Some(&byte) {
            self.pos += 1;
            Ok(())
        } else {
            self.fail(what)
        }
    }

    #[inline]
    pub(crate) fn begin_object(&mut self) -> Parsed<()> {
        self.expect(b'{', "expected `{`")
    }

    /// The next key of the object being read, or `None` at its end. `first` starts `true`.
    #[inline(always)]
    pub(crate) fn next_key(&mut self, first: &mut bool) -> Parsed<Option<Cow<'a, str>>> {
        self.skip_ws();
        let bytes = self.bytes();
        if *first {
            *first = false;
            if bytes.get(self.pos) == Some(&b'}') {
                self.pos += 1;
                return Ok(None);
            }
        } else {
            match bytes.get(self.pos) {
                Some(b',') => {
                    self.pos += 1;
                    self.skip_ws();
                }
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(None);
                }
                _ => return self.fail("expected `,` or `}`"),
            }
        }
        if bytes.get(self.pos) != Some(&b'"') {
            return self.fail("expected a string key");
        }
        let key = self.string_at_quote()?;
        self.expect(b':', "expected `:`")?;
        Ok(Some(key))
    }

    #[inline]
    pub(crate) fn begin_array(&mut self) -> Parsed<()> {
        self.expect(b'[', "expected `[`")
    }

    /// Whether another element follows in the array being read. `first` starts `true`.
    #[inline]
    pub(crate) fn next_element(&mut self, first: &mut bool) -> Parsed<bool> {
        self.skip_ws();
        let bytes = self.bytes();
        if *first {
            *first = false;
            if bytes.get(self.pos) == Some(&b']') {
                self.pos += 1;
                return Ok(false);
            }
            return Ok(true);
        }
        match bytes.get(self.pos) {
            Some(b',') => {
                self.pos += 1;
                Ok(true)
            }
            Some(b']') => {
                self.pos += 1;
                Ok(false)
            }
            _ => self.fail("expected `,` or `]`"),
        }
    }

    /// A string value, borrowed when it has no escapes.
    #[inline(always)]
    pub(crate) fn string(&mut self) -> Parsed<Cow<'a, str>> {
        self.skip_ws();
        if self.bytes().get(self.pos) != Some(&b'"') {
            return self.fail("expected a string");
        }
        self.string_at_quote()
    }

    #[inline(always)]
    fn string_at_quote(&mut self) -> Parsed<Cow<'a, str>> {
        let start = self.pos + 1;
        let end = scan_plain(self.bytes(), start);
        match self.bytes().get(end) {
            Some(b'"') => {
                self.pos = end + 1;
                Ok(Cow::Borrowed(&self.text[start..end]))
            }
            _ => {
                let mut owned = String::with_capacity(end - start + 16);
                owned.push_str(&self.text[start..end]);
                self.pos = end;
                self.string_tail(Some(&mut owned))?;
                Ok(Cow::Owned(owned))
            }
        }
    }

    /// Continues a string at its first byte that needs care, up to and past the closing quote,
    /// appending the decoded text to `sink` when there is one.
    fn string_tail(&mut self, mut sink: Option<&mut String>) -> Parsed<()> {
        let bytes = self.bytes();
        loop {
            match bytes.get(self.pos) {
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(());
                }
                Some(b'\\') => {
                    self.pos += 1;
                    let decoded = self.escape()?;
                    if let Some(sink) = sink.as_deref_mut() {
                        sink.push(decoded);
                    }
                }
                Some(_) => {
                    return self.fail("control character (\\u0000-\\u001f) in a string");
                }
                None => return self.fail("unexpected end of input in a string"),
            }
            let run_end = scan_plain(bytes, self.pos);
            if let Some(sink) = sink.as_deref_mut() {
                sink.push_str(&self.text[self.pos..run_end]);
            }
            self.pos = run_end;
        }
    }

    /// Decodes one escape; `pos` is just past the backslash.
    fn escape(&mut self) -> Parsed<char> {
        let Some(&byte) = self.bytes().get(self.pos) else {
            return self.fail("unexpected end of input in a string");
        };
        self.pos += 1;
        Ok(match byte {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                let unit = self.hex4()?;
                match unit {
                    0xD800..=0xDBFF => self.low_surrogate(unit)?,
                    0xDC00..=0xDFFF => char::REPLACEMENT_CHARACTER,
                    _ => char::from_u32(u32::from(unit)).unwrap_or(char::REPLACEMENT_CHARACTER),
                }
            }
            _ => {
                self.pos -= 1;
                return self.fail("invalid escape in a string");
            }
        })
    }

    /// Completes a surrogate pair after its high half, or yields U+FFFD for a lone one.
    fn low_surrogate(&mut self, high: u16) -> Parsed<char> {
        let bytes = self.bytes();
        if bytes.get(self.pos) == Some(&b'\\') && bytes.get(self.pos + 1) == Some(&b'u') {
            let save = self.pos;
            self.pos += 2;
            let low = self.hex4()?;
            if (0xDC00..=0xDFFF).contains(&low) {
                let code = 0x10000 + ((u32::from(high) - 0xD800) << 10) + (u32::from(low) - 0xDC00);
                return Ok(char::from_u32(code).unwrap_or(char::REPLACEMENT_CHARACTER));
            }
            // Not a low half: leave that escape to be decoded on its own.
            self.pos = save;
        }
        Ok(char::REPLACEMENT_CHARACTER)
    }

    fn hex4(&mut self) -> Parsed<u16> {
        let mut unit = 0u16;
        for _ in 0..4 {
            let digit = match self.bytes().get(self.pos) {
                Some(&b @ b'0'..=b'9') => b - b'0',
                Some(&b @ b'a'..=b'f') => b - b'a' + 10,
                Some(&b @ b'A'..=b'F') => b - b'A' + 10,
                _ => return self.fail("invalid \\u escape in a string"),
            };
            unit = unit * 16 + u16::from(digit);
            self.pos += 1;
        }
        Ok(unit)
    }

    #[inline(always)]
    pub(crate) fn number(&mut self) -> Parsed<Number<'a>> {
        self.skip_ws();
        let bytes = self.bytes();
        let start = self.pos;
        let mut i = start;
        let digits = |mut i: usize| {
            while bytes.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
            i
        };
        if bytes.get(i) == Some(&b'-') {
            i += 1;
        }
        match bytes.get(i) {
            Some(b'0') => i += 1,
            Some(b'1'..=b'9') => i = digits(i + 1),
            _ => {
                return Err(Syntax {
                    at: i,
                    what: "invalid number",
                });
            }
        }
        let mut integer = true;
        if bytes.get(i) == Some(&b'.') {
            integer = false;
            if !bytes.get(i + 1).is_some_and(u8::is_ascii_digit) {
                return Err(Syntax {
                    at: i + 1,
                    what: "invalid number: expected a digit after `.`",
                });
            }
            i = digits(i + 1);
        }
        if let Some(b'e' | b'E') = bytes.get(i) {
            integer = false;
            i += 1;
            if let Some(b'+' | b'-') = bytes.get(i) {
                i += 1;
            }
            if !bytes.get(i).is_some_and(u8::is_ascii_digit) {
                return Err(Syntax {
                    at: i,
                    what: "invalid number: expected a digit in the exponent",
                });
            }
            i = digits(i);
        }
        self.pos = i;
        Ok(Number {
            text: &self.text[start..i],
            integer,
        })
    }

    /// `true`, `false` or `null`, as written.
    #[inline]
    pub(crate) fn literal(&mut self) -> Parsed<&'a str> {
        self.skip_ws();
        let rest = &self.bytes()[self.pos..];
        for word in ["true", "false", "null"] {
            if rest.starts_with(word.as_bytes()) {
                self.pos += word.len();
                return Ok(word);
            }
        }
        self.fail("expected a json value")
    }

    /// The raw text of the next value, validated.
    pub(crate) fn raw_value(&mut self) -> Parsed<&'a str> {
        self.skip_ws();
        let start = self.pos;
        self.skip_value()?;
        Ok(&self.text[start..self.pos])
    }

    /// Consumes one value of any shape, checking its syntax without building anything.
    ///
    /// Iterative, with one bit per open container, so hostile nesting cannot overflow the stack.
    pub(crate) fn skip_value(&mut self) -> Parsed<()> {
        // Bit `d` of `objects` is set when the container at depth `d` is an object.
        let mut objects: u128 = 0;
        let mut depth: u32 = 0;
        loop {
            // A value is expected here.
            match self.peek_token()? {
                Token::String => {
                    self.pos += 1;
                    let end = scan_plain(self.bytes(), self.pos);
                    self.pos = end;
                    self.string_tail(None)?;
                }
                Token::Number => {
                    self.number()?;
                }
                Token::Bool | Token::Null => {
                    self.literal()?;
                }
                Token::Object | Token::Array => {
                    let object = self.peek() == Some(b'{');
                    self.pos += 1;
                    self.skip_ws();
                    let close = if object { b'}' } else { b']' };
                    if self.bytes().get(self.pos) == Some(&close) {
                        self.pos += 1;
                    } else {
                        if depth == MAX_DEPTH {
                            return self.fail("nesting deeper than 128 levels");
                        }
                        if object {
                            objects |= 1 << depth;
                            self.member_key()?;
                        } else {
                            objects &= !(1 << depth);
                        }
                        depth += 1;
                        continue;
                    }
                }
            }
            // A value ended: close containers until one continues.
            loop {
                if depth == 0 {
                    return Ok(());
                }
                let object = objects & (1 << (depth - 1)) != 0;
                self.skip_ws();
                match (self.bytes().get(self.pos), object) {
                    (Some(b','), _) => {
                        self.pos += 1;
                        if object {
                            self.skip_ws();
                            self.member_key()?;
                        }
                        break;
                    }
                    (Some(b'}'), true) | (Some(b']'), false) => {
                        self.pos += 1;
                        depth -= 1;
                    }
                    (_, true) => return self.fail("expected `,` or `}`"),
                    (_, false) => return self.fail("expected `,` or `]`"),
                }
            }
        }
    }

    /// A member's key and colon, inside an object being skipped.
    fn member_key(&mut self) -> Parsed<()> {
        if self.bytes().get(self.pos) != Some(&b'"') {
            return self.fail("expected a string key");
        }
        self.pos += 1;
        self.pos = scan_plain(self.bytes(), self.pos);
        self.string_tail(None)?;
        self.expect(b':', "expected `:`")
    }
}

/// The index of the first byte at or after `i` that ends a plain string run: a quote, a
/// backslash or a control character (or the end of input).
#[inline(always)]
pub(crate) fn scan_plain(bytes: &[u8], mut i: usize) -> usize {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    // Eight bytes at a time: the lowest flagged byte of each test is exact (false positives
    // only appear above a true one), so the lowest of their union is the first stop byte.
    while let Some(chunk) = bytes.get(i..i + 8) {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let x = u64::from_le_bytes(word);
        let quote = x ^ (LO * u64::from(b'"'));
        let slash = x ^ (LO * u64::from(b'\\'));
        let found = ((quote.wrapping_sub(LO) & !quote)
            | (slash.wrapping_sub(LO) & !slash)
            | (x.wrapping_sub(LO * 0x20) & !x))
            & HI;
        if found != 0 {
            return i + (found.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while let Some(&b) = bytes.get(i) {
        if b == b'"' || b == b'\\' || b < 0x20 {
            break;
        }
        i += 1;
    }
    i
}

#[cfg(test)]
mod tests;

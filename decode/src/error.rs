//! Errors, and the delivery bookkeeping that decides which problems are per item.

use crate::{Format, Item, Kind};

/// A problem with one item inside an otherwise readable record: the other items are still
/// delivered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("item {index}: {reason}")]
pub struct ItemError {
    /// Position of the item in the record, from 0: the element of a JSON array, the object of
    /// newline-delimited JSON (blank lines not counted), the data point or log record of an
    /// OTLP request in document order, or the line of Influx text (every line counted, so
    /// line number = index + 1).
    pub index: usize,
    /// What is wrong and where (line and column, counted in bytes from 1).
    pub reason: String,
}

/// The whole record is unreadable; nothing of it was delivered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The payload is empty or only whitespace.
    #[error("{format}: empty payload")]
    Empty {
        /// Format the topic is configured with.
        format: Format,
    },
    /// The payload is not the configured format (no line of it, for line-based batches).
    #[error("{format}: {reason} at line {line} column {column}")]
    Malformed {
        /// Format the topic is configured with.
        format: Format,
        /// What was expected.
        reason: String,
        /// Line of the first problem, from 1.
        line: usize,
        /// Byte column of the first problem, from 1.
        column: usize,
    },
    /// The payload is not UTF-8 (no line of it, for line-based batches).
    #[error("{format}: invalid utf-8 at byte {offset}")]
    InvalidUtf8 {
        /// Format the topic is configured with.
        format: Format,
        /// Byte offset of the first invalid sequence.
        offset: usize,
    },
    /// The format cannot carry what the topic is configured to carry.
    #[error("{format} cannot carry {kind}")]
    Unsupported {
        /// Format the topic is configured with.
        format: Format,
        /// What the topic is configured to carry.
        kind: Kind,
    },
    /// An OTLP request of another signal than the topic carries.
    #[error("otlp json: a {kind} topic needs `{expected}`, but the request has `{found}`")]
    WrongSignal {
        /// What the topic is configured to carry.
        kind: Kind,
        /// The top-level key that kind needs.
        expected: &'static str,
        /// The top-level key found instead.
        found: String,
    },
}

/// Where decoded items go: the caller's callback.
pub(crate) trait Sink<'a>: FnMut(Result<Item<'a>, ItemError>) {}

impl<'a, F: FnMut(Result<Item<'a>, ItemError>)> Sink<'a> for F {}

/// A problem found in one item while reading it; located later, only if reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Problem {
    /// Byte offset into the payload.
    pub at: usize,
    pub reason: String,
}

/// Records a problem unless the item already has one: the first problem is the one reported.
pub(crate) fn note(slot: &mut Option<Problem>, at: usize, reason: impl FnOnce() -> String) {
    if slot.is_none() {
        *slot = Some(Problem {
            at,
            reason: reason(),
        });
    }
}

/// Turns byte offsets into line and column, scanning each byte of the payload at most once
/// as long as offsets come in increasing order (they do: errors are found front to back).
#[derive(Debug)]
pub(crate) struct Locator<'a> {
    payload: &'a [u8],
    scanned: usize,
    line: usize,
    line_start: usize,
}

impl<'a> Locator<'a> {
    pub(crate) fn new(payload: &'a [u8]) -> Self {
        Self {
            payload,
            scanned: 0,
            line: 1,
            line_start: 0,
        }
    }

    /// Line and byte column, both from 1.
    pub(crate) fn locate(&mut self, at: usize) -> (usize, usize) {
        let at = at.min(self.payload.len());
        if at < self.scanned {
            *self = Self::new(self.payload);
        }
        let gap = &self.payload[self.scanned..at];
        self.line += memchr::memchr_iter(b'\n', gap).count();
        if let Some(last) = memchr::memrchr(b'\n', gap) {
            self.line_start = self.scanned + last + 1;
        }
        self.scanned = at;
        (self.line, at - self.line_start + 1)
    }
}

/// Delivers the items of one record and decides when it is unreadable as a whole.
///
/// Formats that resynchronise at line boundaries (NDJSON, Influx) hold back the errors of
/// unreadable lines until some line proves readable: if none does, the record is reported as
/// one [`DecodeError`] and nothing at all has been delivered.
///
/// Whole documents (a JSON array, an OTLP request) are unreadable if any part of them is, which
/// shows only at the end: their items are buffered and delivered by [`Batch::finish`]. Moving
/// each item twice costs far less than a syntax-checking pass over the document before reading.
pub(crate) struct Batch<'a, 'o, F> {
    format: Format,
    out: &'o mut F,
    locator: Locator<'a>,
    /// Whether some unit of the record was readable; until then unreadable units wait in
    /// `held` and the first of them in `first`.
    readable: bool,
    held: Vec<ItemError>,
    first: Option<DecodeError>,
    /// Items of a whole document, delivered once it has been read to the end.
    buffer: Option<Vec<Result<Item<'a>, ItemError>>>,
}

impl<'a, 'o, F: Sink<'a>> Batch<'a, 'o, F> {
    pub(crate) fn new(format: Format, payload: &'a [u8], out: &'o mut F) -> Self {
        Self {
            format,
            out,
            locator: Locator::new(payload),
            readable: false,
            held: Vec::new(),
            first: None,
            buffer: None,
        }
    }

    /// For whole documents: items wait until [`Batch::finish`], and are dropped undelivered if
    /// the document turns out unreadable. `expected` sizes the buffer.
    pub(crate) fn buffered(mut self, expected: usize) -> Self {
        self.readable = true;
        self.buffer = Some(Vec::with_capacity(expected));
        self
    }

    #[inline]
    fn mark_readable(&mut self) {
        if !self.readable {
            self.readable = true;
            for held in self.held.drain(..) {
                (self.out)(Err(held));
            }
        }
    }

    #[inline]
    fn send(&mut self, read: Result<Item<'a>, ItemError>) {
        match &mut self.buffer {
            Some(buffer) => buffer.push(read),
            None => {
                self.mark_readable();
                (self.out)(read);
            }
        }
    }

    #[inline]
    pub(crate) fn deliver(&mut self, item: Item<'a>) {
        self.send(Ok(item));
    }

    /// A readable unit with a problem.
    pub(crate) fn problem(&mut self, index: usize, problem: Problem) {
        let error = self.item_error(index, problem.at, &problem.reason);
        self.send(Err(error));
    }

    /// A readable unit that yields nothing (an Influx line of string fields only).
    pub(crate) fn readable_unit(&mut self) {
        self.mark_readable();
    }

    /// A unit that could not be read at all: reported now if another unit was readable,
    /// otherwise held.
    pub(crate) fn unreadable(&mut self, index: usize, at: usize, reason: &str) {
        let error = self.item_error(index, at, reason);
        if self.readable {
            (self.out)(Err(error));
            return;
        }
        if self.first.is_none() {
            self.first = Some(self.malformed(at, reason));
        }
        self.held.push(error);
    }

    /// Like [`Batch::unreadable`], for a unit that is not UTF-8.
    pub(crate) fn not_utf8(&mut self, index: usize, at: usize) {
        let (line, column) = self.locator.locate(at);
        let error = ItemError {
            index,
            reason: format!("invalid utf-8 at line {line} column {column}"),
        };
        if self.readable {
            (self.out)(Err(error));
            return;
        }
        if self.first.is_none() {
            self.first = Some(DecodeError::InvalidUtf8 {
                format: self.format,
                offset: at,
            });
        }
        self.held.push(error);
    }

    pub(crate) fn malformed(&mut self, at: usize, reason: &str) -> DecodeError {
        let (line, column) = self.locator.locate(at);
        DecodeError::Malformed {
            format: self.format,
            reason: reason.to_owned(),
            line,
            column,
        }
    }

    fn item_error(&mut self, index: usize, at: usize, reason: &str) -> ItemError {
        let (line, column) = self.locator.locate(at);
        ItemError {
            index,
            reason: format!("{reason} at line {line} column {column}"),
        }
    }

    /// Ends the record: an error if no unit of it was readable.
    pub(crate) fn finish(self) -> Result<(), DecodeError> {
        if let Some(buffer) = self.buffer {
            buffer.into_iter().for_each(&mut *self.out);
            return Ok(());
        }
        match (self.readable, self.first) {
            (false, Some(first)) => Err(first),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locates_offsets_in_lines_and_byte_columns() {
        let text = b"ab\ncd\n\nef";
        let mut locator = Locator::new(text);
        assert_eq!(locator.locate(0), (1, 1));
        assert_eq!(locator.locate(1), (1, 2));
        assert_eq!(locator.locate(3), (2, 1));
        assert_eq!(locator.locate(8), (4, 2));
        // Going backwards rescans from the start.
        assert_eq!(locator.locate(4), (2, 2));
        assert_eq!(locator.locate(100), (4, 3));
    }

    #[test]
    fn holds_unreadable_units_until_one_is_readable() {
        let mut seen = Vec::new();
        let mut out = |r: Result<Item<'_>, ItemError>| seen.push(r.map(|_| ()));
        let mut batch = Batch::new(Format::Influx, b"x\ny\n", &mut out);
        batch.unreadable(0, 0, "bad");
        batch.readable_unit();
        batch.unreadable(1, 2, "worse");
        assert!(batch.finish().is_ok());
        assert_eq!(seen.len(), 2);
        assert_eq!(
            seen[0],
            Err(ItemError {
                index: 0,
                reason: "bad at line 1 column 1".into()
            })
        );
        assert_eq!(seen[1].as_ref().unwrap_err().index, 1);
    }

    #[test]
    fn reports_the_first_unreadable_unit_when_none_is_readable() {
        let mut calls = 0;
        let mut out = |_: Result<Item<'_>, ItemError>| calls += 1;
        let mut batch = Batch::new(Format::NativeJson, b"x\ny", &mut out);
        batch.unreadable(0, 0, "expected `{`");
        batch.unreadable(1, 2, "expected `{`");
        let err = batch.finish().unwrap_err();
        assert_eq!(
            err.to_string(),
            "native json: expected `{` at line 1 column 1"
        );
        assert_eq!(calls, 0);
    }
}

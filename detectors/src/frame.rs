//! The envelope every versioned snapshot of Faultline's state shares: `magic (2 bytes) ·
//! format version (u16 LE) · CRC-32 of the body (u32 LE) · body`.
//!
//! Detector, template-miner and correlator snapshots each have their own magic (so one can
//! never be restored as another), their own version and their own errors; the envelope is
//! one piece of code. Opening checks only the magic and length: the caller checks the version
//! it can read, then [`Frame::intact`], in that order, and decodes the body.

/// Magic, version and checksum.
pub const HEADER: usize = 8;

/// `body` sealed under `magic` and `version`.
pub fn seal(magic: [u8; 2], version: u16, body: &[u8]) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(HEADER + body.len());
    bytes.extend_from_slice(&magic);
    bytes.extend_from_slice(&version.to_le_bytes());
    bytes.extend_from_slice(&crc32fast::hash(body).to_le_bytes());
    bytes.extend_from_slice(body);
    bytes
}

/// A sealed snapshot's header and body, not yet verified.
#[derive(Debug, Clone, Copy)]
pub struct Frame<'a> {
    /// The format version it was written with.
    pub version: u16,
    crc: u32,
    /// The body.
    pub body: &'a [u8],
}

impl<'a> Frame<'a> {
    /// The frame of `bytes`, or `None` when they are too short or carry another magic.
    pub fn open(bytes: &'a [u8], magic: [u8; 2]) -> Option<Self> {
        if bytes.len() < HEADER || bytes[..2] != magic {
            return None;
        }
        Some(Self {
            version: u16::from_le_bytes([bytes[2], bytes[3]]),
            crc: u32::from_le_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]),
            body: &bytes[HEADER..],
        })
    }

    /// Whether the body matches its checksum.
    pub fn intact(&self) -> bool {
        crc32fast::hash(self.body) == self.crc
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_body_opens_intact_under_its_magic_only() {
        let bytes = seal(*b"XY", 7, b"body");
        let f = Frame::open(&bytes, *b"XY").expect("opens");
        assert_eq!((f.version, f.body), (7, &b"body"[..]));
        assert!(f.intact());
        assert!(Frame::open(&bytes, *b"XZ").is_none());
        assert!(Frame::open(&bytes[..HEADER - 1], *b"XY").is_none());
        let mut flipped = bytes.clone();
        flipped[HEADER] ^= 1;
        assert!(!Frame::open(&flipped, *b"XY").unwrap().intact());
    }
}

//! Versioned snapshots of detector state, for checkpoints.
//!
//! A snapshot is `magic (2 bytes) · format version (u16 LE) · postcard body`. Postcard is
//! compact and stores floats bit for bit, so a restored detector continues exactly where the
//! snapshot left off. The version is bumped whenever a state layout changes; `restore`
//! migrates older versions it knows and rejects the rest with a clear error, instead of
//! misreading bytes.

use thiserror::Error;

use crate::AnyDetector;

const MAGIC: [u8; 2] = *b"FD";
/// Current layout of every detector's state.
pub const FORMAT_VERSION: u16 = 1;

/// A detector's state, versioned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    bytes: Vec<u8>,
}

/// Why a snapshot could not be restored.
#[derive(Debug, Error)]
pub enum SnapshotError {
    /// The bytes are not a detector snapshot.
    #[error("not a detector snapshot (bad magic)")]
    BadMagic,
    /// Written by a layout this build cannot read.
    #[error("detector snapshot has format version {found}; this build reads version {supported}")]
    UnsupportedVersion {
        /// Version in the snapshot.
        found: u16,
        /// Version this build writes and reads.
        supported: u16,
    },
    /// The body does not decode.
    #[error("detector snapshot body is corrupt")]
    Corrupt(#[source] postcard::Error),
}

impl Snapshot {
    pub(crate) fn of(detector: &AnyDetector) -> Self {
        let mut bytes = Vec::with_capacity(256);
        bytes.extend_from_slice(&MAGIC);
        bytes.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        // Serializing plain structs of numbers and vectors into a Vec cannot fail.
        let body = postcard::to_stdvec(detector).unwrap_or_default();
        bytes.extend_from_slice(&body);
        Self { bytes }
    }

    /// Wraps bytes read back from storage.
    pub fn from_bytes(bytes: Vec<u8>) -> Self {
        Self { bytes }
    }

    /// The encoded snapshot, to store.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Rebuilds the detector the snapshot was taken of.
    pub fn restore(&self) -> Result<AnyDetector, SnapshotError> {
        if self.bytes.len() < 4 || self.bytes[..2] != MAGIC {
            return Err(SnapshotError::BadMagic);
        }
        let version = u16::from_le_bytes([self.bytes[2], self.bytes[3]]);
        if version != FORMAT_VERSION {
            return Err(SnapshotError::UnsupportedVersion {
                found: version,
                supported: FORMAT_VERSION,
            });
        }
        postcard::from_bytes(&self.bytes[4..]).map_err(SnapshotError::Corrupt)
    }
}

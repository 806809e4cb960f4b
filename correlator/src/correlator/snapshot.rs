//! Versioned snapshots of the correlator's dynamic state, for checkpoints.
//!
//! A snapshot is `magic "FC" · format version (u16 LE) · CRC-32 of the body (u32 LE) · postcard
//! body`, like the detectors' snapshots: postcard stores floats bit for bit, so a restored
//! correlator continues exactly as the uninterrupted one would; the checksum rejects corrupt
//! bytes (postcard has no integrity check and most flipped bits still decode), and the decoded
//! state is checked for the invariants the correlator relies on, so no byte string makes a
//! later call panic. Bump [`FORMAT_VERSION`] whenever the layout changes.

use faultline_detectors::frame::{Frame, seal};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::incident::Incident;
use crate::topology::LearnedEdge;
use crate::types::{Change, Millis};

const MAGIC: [u8; 2] = *b"FC";
/// Current layout of the correlator state.
pub const FORMAT_VERSION: u16 = 2;

/// Why a snapshot could not be restored.
#[derive(Debug, Error)]
pub enum SnapshotError {
    /// The bytes are not a correlator snapshot.
    #[error("not a correlator snapshot (bad magic)")]
    BadMagic,
    /// Written by a layout this build cannot read.
    #[error("correlator snapshot has format version {found}; this build reads version {supported}")]
    UnsupportedVersion {
        /// Version in the snapshot.
        found: u16,
        /// Version this build writes and reads.
        supported: u16,
    },
    /// The body does not match its checksum.
    #[error("correlator snapshot is corrupt (checksum mismatch)")]
    Checksum,
    /// The body does not decode.
    #[error("correlator snapshot body does not decode")]
    Corrupt(#[source] postcard::Error),
    /// The body decodes but leaves bytes over.
    #[error("correlator snapshot has {extra} trailing bytes")]
    TrailingBytes {
        /// Bytes after the body.
        extra: usize,
    },
    /// The body decodes into a state the correlator cannot be in.
    #[error("correlator snapshot holds an invalid state: {reason}")]
    Invalid {
        /// Which invariant failed.
        reason: &'static str,
    },
}

/// Everything dynamic, in deterministic order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(super) struct State {
    pub clock: Millis,
    /// Open and recently resolved incidents, by id.
    pub incidents: Vec<Incident>,
    /// Remembered change events, by (at, id).
    pub changes: Vec<Change>,
    /// Hashes of recently seen signal ids, oldest first.
    pub seen: Vec<u64>,
    /// Learned topology edges.
    pub edges: Vec<LearnedEdge>,
    /// Signals dropped as too late.
    pub late: u64,
}

impl State {
    pub fn encode(&self) -> Vec<u8> {
        // Serializing plain structs, strings and vectors into a Vec cannot fail.
        let body = postcard::to_stdvec(self).unwrap_or_default();
        seal(MAGIC, FORMAT_VERSION, &body)
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, SnapshotError> {
        let frame = Frame::open(bytes, MAGIC).ok_or(SnapshotError::BadMagic)?;
        if frame.version != FORMAT_VERSION {
            return Err(SnapshotError::UnsupportedVersion {
                found: frame.version,
                supported: FORMAT_VERSION,
            });
        }
        if !frame.intact() {
            return Err(SnapshotError::Checksum);
        }
        let (state, rest): (State, _) =
            postcard::take_from_bytes(frame.body).map_err(SnapshotError::Corrupt)?;
        if !rest.is_empty() {
            return Err(SnapshotError::TrailingBytes { extra: rest.len() });
        }
        Ok(state)
    }
}

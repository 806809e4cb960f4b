//! Versioned snapshots of detector state, for checkpoints.
//!
//! A snapshot is `magic (2 bytes) · format version (u16 LE) · CRC-32 of the body (u32 LE) ·
//! postcard body`. Postcard is compact and stores floats bit for bit, so a restored detector
//! continues exactly where the snapshot left off. Postcard has no integrity check of its own
//! and most flipped bits still decode into *some* state, so the checksum rejects corruption,
//! and the decoded state is then checked for the invariants the detectors index by (window
//! capacities, phase counts) so that no byte string can make a later `observe` panic. The
//! version is bumped whenever a state layout changes; `restore` migrates older versions it
//! knows and rejects the rest with a clear error, instead of misreading bytes.

use thiserror::Error;

use crate::AnyDetector;
use crate::frame::{Frame, seal};

const MAGIC: [u8; 2] = *b"FD";
/// Current layout of every detector's state. Version 2 added the ensemble's warm-up
/// (`EnsembleParams::warmup` and its count of points seen); version 1 is migrated.
pub const FORMAT_VERSION: u16 = 2;

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
    /// The body does not match its checksum.
    #[error("detector snapshot is corrupt (checksum mismatch)")]
    Checksum,
    /// The body does not decode.
    #[error("detector snapshot body does not decode")]
    Corrupt(#[source] postcard::Error),
    /// The body decodes but leaves bytes over.
    #[error("detector snapshot has {extra} trailing bytes")]
    TrailingBytes {
        /// Bytes after the body.
        extra: usize,
    },
    /// The body decodes into a state no detector can be in.
    #[error("detector snapshot holds an invalid state: {reason}")]
    Invalid {
        /// Which invariant failed.
        reason: &'static str,
    },
}

impl Snapshot {
    pub(crate) fn of(detector: &AnyDetector) -> Self {
        // Serializing plain structs of numbers and vectors into a Vec cannot fail.
        let body = postcard::to_stdvec(detector).unwrap_or_default();
        Self {
            bytes: seal(MAGIC, FORMAT_VERSION, &body),
        }
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
        let frame = Frame::open(&self.bytes, MAGIC).ok_or(SnapshotError::BadMagic)?;
        let (version, body) = (frame.version, frame.body);
        if version != FORMAT_VERSION && version != 1 {
            return Err(SnapshotError::UnsupportedVersion {
                found: version,
                supported: FORMAT_VERSION,
            });
        }
        if !frame.intact() {
            return Err(SnapshotError::Checksum);
        }
        let (detector, rest): (AnyDetector, _) = if version == 1 {
            let (old, rest): (v1::AnyDetector, _) =
                postcard::take_from_bytes(body).map_err(SnapshotError::Corrupt)?;
            (old.into(), rest)
        } else {
            postcard::take_from_bytes(body).map_err(SnapshotError::Corrupt)?
        };
        if !rest.is_empty() {
            return Err(SnapshotError::TrailingBytes { extra: rest.len() });
        }
        detector
            .check()
            .map_err(|reason| SnapshotError::Invalid { reason })?;
        Ok(detector)
    }
}

/// Format 1: the catalogue as it was before the ensemble's warm-up.
mod v1 {
    use serde::Deserialize;

    use crate::{ChangePoint, Ewma, RobustZ, Seasonal};

    /// [`crate::AnyDetector`] of format 1, variant for variant (postcard encodes the index).
    #[derive(Deserialize)]
    pub(super) enum AnyDetector {
        Ewma(Ewma),
        RobustZ(RobustZ),
        Seasonal(Seasonal),
        ChangePoint(ChangePoint),
        Ensemble(Box<crate::ensemble::v1::Ensemble>),
    }

    impl From<AnyDetector> for crate::AnyDetector {
        fn from(old: AnyDetector) -> Self {
            match old {
                AnyDetector::Ewma(d) => Self::Ewma(d),
                AnyDetector::RobustZ(d) => Self::RobustZ(d),
                AnyDetector::Seasonal(d) => Self::Seasonal(d),
                AnyDetector::ChangePoint(d) => Self::ChangePoint(d),
                AnyDetector::Ensemble(d) => Self::Ensemble(Box::new((*d).into())),
            }
        }
    }
}

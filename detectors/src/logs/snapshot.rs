//! Versioned snapshots of a template miner, for checkpoints.
//!
//! The same layout as detector snapshots (`magic · format version (u16 LE) · CRC-32 of the
//! body (u32 LE) · postcard body`) under its own magic, so a miner snapshot can never be
//! restored as a detector or the other way round. Templates are stored in id order with
//! their tokens, so a restored miner gives every template the id it had, and continues
//! exactly as the original would have.

use thiserror::Error;

use super::miner::{MinerState, TemplateMiner};
use crate::frame::{Frame, seal};

const MAGIC: [u8; 2] = *b"FT";
/// Current layout of a miner's state.
pub const MINER_FORMAT_VERSION: u16 = 1;

/// Why a miner snapshot could not be restored.
#[derive(Debug, Error)]
pub enum MinerSnapshotError {
    /// The bytes are not a miner snapshot.
    #[error("not a template miner snapshot (bad magic)")]
    BadMagic,
    /// Written by a layout this build cannot read.
    #[error(
        "template miner snapshot has format version {found}; this build reads version {supported}"
    )]
    UnsupportedVersion {
        /// Version in the snapshot.
        found: u16,
        /// Version this build writes and reads.
        supported: u16,
    },
    /// The body does not match its checksum.
    #[error("template miner snapshot is corrupt (checksum mismatch)")]
    Checksum,
    /// The body does not decode.
    #[error("template miner snapshot body does not decode")]
    Corrupt(#[source] postcard::Error),
    /// The body decodes but leaves bytes over.
    #[error("template miner snapshot has {extra} trailing bytes")]
    TrailingBytes {
        /// Bytes after the body.
        extra: usize,
    },
    /// The body decodes into a state no miner can be in.
    #[error("template miner snapshot holds an invalid state: {reason}")]
    Invalid {
        /// Which invariant failed.
        reason: &'static str,
    },
    /// An extra mask no longer compiles.
    #[error("template miner snapshot holds an extra mask that does not compile")]
    Mask(#[source] regex::Error),
}

impl TemplateMiner {
    /// The miner's whole state as a versioned snapshot.
    pub fn snapshot(&self) -> Vec<u8> {
        // Serializing plain structs of numbers, strings and vectors cannot fail.
        let body = postcard::to_stdvec(&self.state).unwrap_or_default();
        seal(MAGIC, MINER_FORMAT_VERSION, &body)
    }

    /// Rebuilds the miner a snapshot was taken of.
    pub fn restore(bytes: &[u8]) -> Result<Self, MinerSnapshotError> {
        let frame = Frame::open(bytes, MAGIC).ok_or(MinerSnapshotError::BadMagic)?;
        if frame.version != MINER_FORMAT_VERSION {
            return Err(MinerSnapshotError::UnsupportedVersion {
                found: frame.version,
                supported: MINER_FORMAT_VERSION,
            });
        }
        if !frame.intact() {
            return Err(MinerSnapshotError::Checksum);
        }
        let (state, rest): (MinerState, _) =
            postcard::take_from_bytes(frame.body).map_err(MinerSnapshotError::Corrupt)?;
        if !rest.is_empty() {
            return Err(MinerSnapshotError::TrailingBytes { extra: rest.len() });
        }
        check(&state).map_err(|reason| MinerSnapshotError::Invalid { reason })?;
        TemplateMiner::from_state(state).map_err(MinerSnapshotError::Mask)
    }
}

/// The invariants mining relies on.
fn check(state: &MinerState) -> Result<(), &'static str> {
    let p = &state.params;
    if !p.similarity.is_finite() {
        return Err("similarity is not finite");
    }
    if state.templates.len() > p.max_templates {
        return Err("more templates than the cap");
    }
    for (i, t) in state.templates.iter().enumerate() {
        if t.id.0 as usize != i {
            return Err("template ids are not in order");
        }
        if t.tokens.len() > p.mask.max_tokens.max(1) {
            return Err("a template has more tokens than the cap");
        }
        let n = state.templates.len();
        if let Some((root, slots)) = t.sibling_of {
            let r = state
                .templates
                .get(root as usize)
                .ok_or("a sibling of no template")?;
            if r.sibling_of.is_some() || r.merged_into.is_some() || root as usize == i {
                return Err("a sibling of a sibling");
            }
            if t.merged_into.is_none()
                && (r.tokens.len() != t.tokens.len()
                    || slots[0] as usize >= t.tokens.len()
                    || (slots[1] != u16::MAX && slots[1] as usize >= t.tokens.len()))
            {
                return Err("a sibling that does not align with its template");
            }
        }
        if let Some(root) = t.merged_into {
            if root as usize >= n || state.templates[root as usize].merged_into.is_some() {
                return Err("a template merged into a merged template");
            }
            if t.sibling_of.map(|(r, _)| r) != Some(root) {
                return Err("a template merged into one it did not branch from");
            }
        }
    }
    Ok(())
}

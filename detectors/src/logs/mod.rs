//! Online log template mining: each line of a service's log stream is reduced to a template
//! (its constant words, with `<*>` where values vary) and given that template's stable id.
//!
//! **Contract.** [`TemplateMiner::mine`] takes one line and returns its [`TemplateId`] (or
//! an overflow); it is one pass, synchronous, allocation-free except for new templates,
//! never panics on any string (empty, whitespace only, a megabyte long), and is
//! deterministic: the same lines in the same order give the same ids and templates. A
//! template's constant tokens turn into wildcards when lines vary there, and its id does not
//! change. Memory is bounded per miner (one miner per service): at most
//! [`MinerParams::max_templates`] templates of at most `max_tokens` tokens of at most
//! `max_token_bytes` bytes; a line that would need one more template is counted
//! ([`TemplateMiner::overflows`]). [`TemplateMiner::snapshot`] and
//! [`TemplateMiner::restore`] carry the state across restarts with every id intact.
//!
//! **How.** [`mask`] first masks what logs of every kind share as variables (numbers, hex,
//! IPs and ports, UUIDs, paths, durations, `key=value` values, long opaque tokens), plus any
//! extra regular expressions from configuration. The miner then follows Drain (He et al.,
//! ICWS 2017): templates are searched among those with the same token count and the same
//! first keyword (a token with no variable that is not a dotted name), and a line joins the
//! one where most tokens are equal if enough are. Where it differs from that template in one
//! or two constant tokens, it first starts a sibling template; once those slots have shown
//! [`MinerParams::variable_after`] values it becomes a wildcard and the siblings merge into
//! the first template, their ids staying valid through [`TemplateMiner::resolve`]. This is
//! what tells `VM started`/`VM stopped` (two events, each recurring) from `user alice`/`user
//! bob`/`user carol` (one event and a variable) without per-format rules.
//!
//! **Why this way.** Per-format regexes and thresholds do not survive contact with a new
//! service's logs, so the defaults must serve every format; the token-count and first-token
//! index keeps the search to a few candidates, which is what lets it run at over a million
//! lines per second on one core; ids in order of first sight and a search that never
//! iterates a hash map are what make replays and restores give the same ids.

pub mod mask;
mod miner;
mod snapshot;

pub use mask::{MaskParams, WILDCARD};
pub use miner::{Mined, MinerParams, TemplateId, TemplateMiner};
pub use snapshot::{MINER_FORMAT_VERSION, MinerSnapshotError};

#[cfg(test)]
mod tests;

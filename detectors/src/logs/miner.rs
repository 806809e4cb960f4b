//! The template miner: a Drain-like search over templates of the same length and first token.

use std::collections::HashMap;

use super::mask::{MaskParams, Masked, Masker, WILDCARD};

/// A template's id, stable for the miner's life: across generalisation, snapshots and a
/// replay of the same input (ids are handed out in order of first sight).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub struct TemplateId(pub u32);

/// Miner settings: one default serves every log format.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct MinerParams {
    /// A line joins the most similar template of its length and search key when at least
    /// this fraction of its tokens equal the template's (a wildcard agrees only with a
    /// masked variable, so a template that has grown vague attracts no more lines).
    pub similarity: f64,
    /// Templates per miner (one miner per service), siblings and merged ones included; a
    /// line that would need one more is counted as an overflow and gets no template.
    pub max_templates: usize,
    /// A line that matches a template except for one or two constant tokens starts a
    /// sibling template with its own values there, until those slots have shown this many
    /// distinct values; then they become wildcards and the siblings merge into the first template
    /// (their ids stay valid, see [`TemplateMiner::resolve`]). A few recurring values in one
    /// slot are usually different events (`started`/`stopped`), many are a variable (user
    /// names). 0 or 1 turns the position into a wildcard at once, as Drain does.
    pub variable_after: u32,
    /// How lines are tokenised and masked.
    pub mask: MaskParams,
}

impl Default for MinerParams {
    fn default() -> Self {
        Self {
            similarity: 0.75,
            max_templates: 1024,
            variable_after: 3,
            mask: MaskParams::default(),
        }
    }
}

/// What mining one line did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mined {
    /// The line matched a template as it stands.
    Matched(TemplateId),
    /// The line matched a template, and some of its constant tokens became wildcards.
    Generalised(TemplateId),
    /// The line started a new template.
    New(TemplateId),
    /// The line needed a new template and the cap was reached (counted).
    Overflow,
}

impl Mined {
    /// The template the line belongs to, if any.
    pub fn id(self) -> Option<TemplateId> {
        match self {
            Self::Matched(id) | Self::Generalised(id) | Self::New(id) => Some(id),
            Self::Overflow => None,
        }
    }
}

/// The one or two positions where a sibling differs from its first template; the second is
/// [`NO_SLOT`] for one.
pub(crate) type Slots = [u16; 2];
pub(crate) const NO_SLOT: u16 = u16::MAX;

/// One template: constant tokens and wildcards.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub(crate) struct Template {
    pub(crate) id: TemplateId,
    /// Tokens; [`WILDCARD`] marks a variable.
    pub(crate) tokens: Vec<Box<str>>,
    /// Lines matched so far.
    pub(crate) count: u64,
    /// For a sibling: the template it branched from and the slots where it differs.
    pub(crate) sibling_of: Option<(u32, Slots)>,
    /// For a merged sibling: the template that absorbed it (which is never merged itself).
    pub(crate) merged_into: Option<u32>,
    /// The search key it was created under (its first tokens may since have become
    /// wildcards; lines that differ there find it no more than they did then).
    pub(crate) key: u64,
}

/// The state a snapshot holds (the search index is rebuilt from it).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub(crate) struct MinerState {
    pub(crate) params: MinerParams,
    pub(crate) templates: Vec<Template>,
    pub(crate) overflows: u64,
}

/// An online, one-pass template miner for one service's log lines; see the module docs.
#[derive(Debug, Clone)]
pub struct TemplateMiner {
    pub(crate) state: MinerState,
    masker: Masker,
    /// (token count, first token) → indices into `templates`, in creation order. Only looked
    /// up, never iterated, so the hash order cannot reach a result.
    index: HashMap<u64, Vec<u32>>,
    /// Reused for every line, so mining allocates only for new templates.
    scratch: Masked,
}

/// Whether a token may serve as the search key: no variable in it, and not a dotted or
/// slashed name (hosts, packages, job names), which vary at the start of lines as often as
/// not.
fn is_keyword(token: &str) -> bool {
    let body = token.trim_end_matches(['.', ':', ',', ';']);
    !token.contains(WILDCARD) && !body.contains(['.', '/', '@', '\\'])
}

/// The search key: FNV-1a over the token count and the first keyword (a leading host,
/// timestamp, id or component name must not scatter a template over many keys).
fn key(line: &Masked) -> u64 {
    let first = line.tokens().find(|t| is_keyword(t)).unwrap_or("");
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in (line.len() as u64)
        .to_le_bytes()
        .iter()
        .chain(first.as_bytes())
    {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

impl TemplateMiner {
    /// A miner with no templates; fails if an extra mask is not a valid regular expression.
    pub fn new(params: MinerParams) -> Result<Self, regex::Error> {
        Self::from_state(MinerState {
            params,
            templates: Vec::new(),
            overflows: 0,
        })
    }

    pub(crate) fn from_state(state: MinerState) -> Result<Self, regex::Error> {
        let masker = Masker::new(state.params.mask.clone())?;
        let mut index: HashMap<u64, Vec<u32>> = HashMap::new();
        for (i, t) in state.templates.iter().enumerate() {
            if t.merged_into.is_some() {
                continue;
            }
            index.entry(t.key).or_default().push(i as u32);
        }
        Ok(Self {
            state,
            masker,
            index,
            scratch: Masked::default(),
        })
    }

    /// The settings.
    pub fn params(&self) -> &MinerParams {
        &self.state.params
    }

    /// Mines one line: finds or creates its template, generalising it if needed.
    pub fn mine(&mut self, line: &str) -> Mined {
        let mut masked = std::mem::take(&mut self.scratch);
        self.masker.mask(line, &mut masked);
        let mined = self.mine_masked(&masked);
        self.scratch = masked;
        mined
    }

    fn mine_masked(&mut self, line: &Masked) -> Mined {
        let k = key(line);
        let mut best: Option<(usize, usize)> = None;
        if let Some(candidates) = self.index.get(&k) {
            for &c in candidates {
                let t = &self.state.templates[c as usize];
                if t.tokens.len() != line.len() {
                    continue; // a hash collision
                }
                let agree = t
                    .tokens
                    .iter()
                    .zip(line.tokens())
                    .filter(|(a, b)| ***a == **b)
                    .count();
                if best.is_none_or(|(_, a)| agree > a) {
                    best = Some((c as usize, agree));
                }
            }
        }
        if let Some((c, agree)) = best
            && (line.is_empty() || agree as f64 >= self.state.params.similarity * line.len() as f64)
        {
            return self.matched(c, line, k);
        }
        self.create(line, k, None)
    }

    /// A line matched template `c` well enough: join it, start a sibling, or merge siblings.
    fn matched(&mut self, c: usize, line: &Masked, k: u64) -> Mined {
        let t = &self.state.templates[c];
        let fits = t
            .tokens
            .iter()
            .zip(line.tokens())
            .all(|(a, b)| &**a == WILDCARD || **a == *b);
        if fits {
            return self.join(c, line);
        }
        let root = t.sibling_of.map_or(c, |(r, _)| r as usize);
        // Where the line differs from the family's first template: one or two slots.
        let mut differing = self.state.templates[root]
            .tokens
            .iter()
            .zip(line.tokens())
            .enumerate()
            .filter(|(_, (a, b))| &***a != WILDCARD && ***a != **b)
            .map(|(i, _)| u16::try_from(i).unwrap_or(NO_SLOT));
        let slots = match (differing.next(), differing.next(), differing.next()) {
            (Some(p), q, None) if p != NO_SLOT && q != Some(NO_SLOT) => [p, q.unwrap_or(NO_SLOT)],
            _ => return self.join(c, line),
        };
        if t.sibling_of.is_some_and(|(_, s)| s != slots) {
            return self.join(c, line);
        }
        let values = 2 + self.siblings(root, slots).count();
        if values >= self.state.params.variable_after as usize {
            self.merge(root, slots);
            return match self.join(root, line) {
                Mined::Matched(id) => Mined::Generalised(id),
                other => other,
            };
        }
        self.create(line, k, Some((root as u32, slots)))
    }

    /// Indices of the siblings of `root` that differ from it at `slots` and are not merged.
    fn siblings(&self, root: usize, slots: Slots) -> impl Iterator<Item = usize> + '_ {
        let root = root as u32;
        self.state
            .templates
            .iter()
            .enumerate()
            .filter_map(move |(i, t)| {
                (t.merged_into.is_none() && t.sibling_of == Some((root, slots))).then_some(i)
            })
    }

    /// Turns `root`'s `slots` into wildcards and folds its siblings there into it.
    fn merge(&mut self, root: usize, slots: Slots) {
        let siblings: Vec<usize> = self.siblings(root, slots).collect();
        for p in slots.into_iter().filter(|&p| p != NO_SLOT) {
            if let Some(slot) = self.state.templates[root].tokens.get_mut(p as usize) {
                *slot = Box::from(WILDCARD);
            }
        }
        for s in siblings {
            let sibling = std::mem::take(&mut self.state.templates[s].tokens);
            let t = &mut self.state.templates[s];
            t.merged_into = Some(root as u32);
            let (count, key) = (t.count, t.key);
            if let Some(list) = self.index.get_mut(&key) {
                list.retain(|&i| i as usize != s);
            }
            let r = &mut self.state.templates[root];
            r.count += count;
            for (slot, token) in r.tokens.iter_mut().zip(sibling.iter()) {
                if slot != token {
                    *slot = Box::from(WILDCARD);
                }
            }
        }
    }

    fn create(&mut self, line: &Masked, k: u64, sibling_of: Option<(u32, Slots)>) -> Mined {
        if self.state.templates.len() >= self.state.params.max_templates {
            self.state.overflows += 1;
            return Mined::Overflow;
        }
        let id = TemplateId(self.state.templates.len() as u32);
        let tokens: Vec<Box<str>> = line.tokens().map(Box::from).collect();
        self.index
            .entry(k)
            .or_default()
            .push(self.state.templates.len() as u32);
        self.state.templates.push(Template {
            id,
            tokens,
            count: 1,
            sibling_of,
            merged_into: None,
            key: k,
        });
        Mined::New(id)
    }

    /// The template that now stands for `id`: itself, or the template it was merged into.
    pub fn resolve(&self, id: TemplateId) -> TemplateId {
        match self.state.templates.get(id.0 as usize) {
            Some(Template {
                merged_into: Some(r),
                ..
            }) => TemplateId(*r),
            _ => id,
        }
    }

    fn join(&mut self, c: usize, line: &Masked) -> Mined {
        let t = &mut self.state.templates[c];
        t.count += 1;
        let mut changed = false;
        for (slot, token) in t.tokens.iter_mut().zip(line.tokens()) {
            if &**slot != WILDCARD && &**slot != token {
                *slot = Box::from(WILDCARD);
                changed = true;
            }
        }
        if changed {
            Mined::Generalised(t.id)
        } else {
            Mined::Matched(t.id)
        }
    }

    /// The template's text: tokens joined by single spaces, variables as `<*>`.
    pub fn template(&self, id: TemplateId) -> Option<String> {
        let t = self.state.templates.get(self.resolve(id).0 as usize)?;
        Some(t.tokens.join(" "))
    }

    /// Lines that matched the template so far.
    pub fn count(&self, id: TemplateId) -> u64 {
        self.state
            .templates
            .get(self.resolve(id).0 as usize)
            .map_or(0, |t| t.count)
    }

    /// The number of templates ever created (merged siblings included: their ids stay valid).
    pub fn len(&self) -> usize {
        self.state.templates.len()
    }

    /// Whether no template exists yet.
    pub fn is_empty(&self) -> bool {
        self.state.templates.is_empty()
    }

    /// Lines that found no template because the cap was reached.
    pub fn overflows(&self) -> u64 {
        self.state.overflows
    }

    /// Bytes of memory the miner holds: templates, their tokens, the search index and the
    /// buffer lines are masked into.
    pub fn state_bytes(&self) -> usize {
        let templates: usize = self
            .state
            .templates
            .iter()
            .map(|t| {
                std::mem::size_of::<Template>()
                    + t.tokens.capacity() * std::mem::size_of::<Box<str>>()
                    + t.tokens.iter().map(|s| s.len()).sum::<usize>()
            })
            .sum();
        let index = self.index.capacity() * (8 + std::mem::size_of::<Vec<u32>>())
            + self.index.values().map(|v| v.capacity() * 4).sum::<usize>();
        std::mem::size_of::<Self>()
            + self
                .state
                .templates
                .capacity()
                .saturating_sub(self.state.templates.len())
                * std::mem::size_of::<Template>()
            + templates
            + index
            + self.scratch.heap_bytes()
    }
}

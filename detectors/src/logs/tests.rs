use super::*;

fn miner() -> TemplateMiner {
    TemplateMiner::new(MinerParams::default()).unwrap()
}

#[test]
fn same_shape_lines_share_a_template_and_masked_values_do_not_split_it() {
    let mut m = miner();
    let a = m.mine("Received block blk_123 of size 67108864 from 10.251.42.84");
    let b = m.mine("Received block blk_-99 of size 12 from 10.0.0.1");
    assert_eq!(a, Mined::New(TemplateId(0)));
    assert_eq!(b, Mined::Matched(TemplateId(0)));
    assert_eq!(
        m.template(TemplateId(0)).unwrap(),
        "Received block <*> of size <*> from <*>"
    );
    assert_eq!(m.count(TemplateId(0)), 2);
}

#[test]
fn varying_constants_become_wildcards_without_changing_the_id() {
    let mut m = miner();
    let first = m.mine("session opened for user alice by sshd");
    let second = m.mine("session opened for user bob by sshd");
    assert_eq!(first, Mined::New(TemplateId(0)));
    assert_eq!(second, Mined::Generalised(TemplateId(0)));
    assert_eq!(
        m.template(TemplateId(0)).unwrap(),
        "session opened for user <*> by sshd"
    );
    assert_eq!(
        m.mine("session opened for user carol by sshd"),
        Mined::Matched(TemplateId(0))
    );
}

#[test]
fn dissimilar_lines_and_other_lengths_get_their_own_templates() {
    let mut m = miner();
    m.mine("Connection closed by 1.2.3.4 [preauth]");
    assert_eq!(
        m.mine("Connection reset by peer again now"),
        Mined::New(TemplateId(1))
    );
    assert_eq!(
        m.mine("Connection closed by 1.2.3.4"),
        Mined::New(TemplateId(2))
    );
    assert_eq!(
        m.mine("Disconnect totally different words here"),
        Mined::New(TemplateId(3))
    );
    assert_eq!(m.len(), 4);
}

#[test]
fn the_template_cap_is_counted_and_never_exceeded() {
    let mut m = TemplateMiner::new(MinerParams {
        max_templates: 2,
        ..MinerParams::default()
    })
    .unwrap();
    m.mine("alpha");
    m.mine("beta gamma");
    assert_eq!(m.mine("delta epsilon zeta"), Mined::Overflow);
    assert_eq!(m.mine("alpha"), Mined::Matched(TemplateId(0)));
    assert_eq!((m.len(), m.overflows()), (2, 1));
}

#[test]
fn empty_lines_share_one_template() {
    let mut m = miner();
    assert_eq!(m.mine(""), Mined::New(TemplateId(0)));
    assert_eq!(m.mine("  \t "), Mined::Matched(TemplateId(0)));
    assert_eq!(m.template(TemplateId(0)).unwrap(), "");
}

#[test]
fn a_restored_miner_keeps_ids_and_continues_identically() {
    let lines = [
        "GET /a/b/c 200 12ms",
        "user=bob logged in",
        "user=eve logged in",
        "disk full on sda",
        "disk full on sdb",
    ];
    let mut original = miner();
    for l in &lines[..3] {
        original.mine(l);
    }
    let mut restored = TemplateMiner::restore(&original.snapshot()).unwrap();
    for l in &lines[3..] {
        assert_eq!(original.mine(l), restored.mine(l));
    }
    assert_eq!(original.snapshot(), restored.snapshot());
}

#[test]
fn corrupt_or_foreign_snapshots_are_rejected() {
    let mut m = miner();
    m.mine("hello world");
    let mut bytes = m.snapshot();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x40;
    assert!(matches!(
        TemplateMiner::restore(&bytes),
        Err(MinerSnapshotError::Checksum)
    ));
    assert!(matches!(
        TemplateMiner::restore(b"FD\x02\x00\0\0\0\0"),
        Err(MinerSnapshotError::BadMagic)
    ));
    let mut newer = m.snapshot();
    newer[2] = 9;
    assert!(matches!(
        TemplateMiner::restore(&newer),
        Err(MinerSnapshotError::UnsupportedVersion { found: 9, .. })
    ));
}

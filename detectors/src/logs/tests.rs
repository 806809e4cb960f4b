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
    let first = m.mine("session opened for user alice by sshd on tty now and then");
    let second = m.mine("session closed for user bob by sshd on pts now and then");
    assert_eq!(first, Mined::New(TemplateId(0)));
    assert_eq!(second, Mined::Generalised(TemplateId(0)));
    assert_eq!(
        m.template(TemplateId(0)).unwrap(),
        "session <*> for user <*> by sshd on <*> now and then"
    );
    assert_eq!(
        m.mine("session opened for user carol by sshd on tty now and then"),
        Mined::Matched(TemplateId(0))
    );
}

#[test]
fn one_token_differences_are_siblings_until_the_slot_shows_many_values() {
    let mut m = miner();
    let started = m.mine("instance state changed to started by scheduler");
    let stopped = m.mine("instance state changed to stopped by scheduler");
    assert_eq!(started, Mined::New(TemplateId(0)));
    assert_eq!(
        stopped,
        Mined::New(TemplateId(1)),
        "two recurring values: two events"
    );
    let again = m.mine("instance state changed to stopped by scheduler");
    assert_eq!(again, Mined::Matched(TemplateId(1)));
    let again = m.mine("instance state changed to started by scheduler");
    assert_eq!(again, Mined::Matched(TemplateId(0)));
    // A third value makes the slot a variable: the sibling folds into the first template,
    // and its id now stands for it.
    assert_eq!(
        m.mine("instance state changed to paused by scheduler"),
        Mined::Generalised(TemplateId(0))
    );
    assert_eq!(m.resolve(TemplateId(1)), TemplateId(0));
    assert_eq!(m.count(TemplateId(0)), 5);
    assert_eq!(
        m.template(TemplateId(1)).unwrap(),
        "instance state changed to <*> by scheduler"
    );
    assert_eq!(
        m.mine("instance state changed to resumed by scheduler"),
        Mined::Matched(TemplateId(0))
    );
}

#[test]
fn siblings_and_merges_survive_a_restore() {
    let mut m = miner();
    m.mine("job finished with state done in queue");
    m.mine("job finished with state failed in queue");
    let mut restored = TemplateMiner::restore(&m.snapshot()).unwrap();
    for l in [
        "job finished with state failed in queue",
        "job finished with state lost in queue",
        "job finished with state done in queue",
    ] {
        assert_eq!(m.mine(l), restored.mine(l));
    }
    assert_eq!(m.snapshot(), restored.snapshot());
    assert_eq!(restored.resolve(TemplateId(1)), TemplateId(0));
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

#[test]
fn two_slot_differences_are_siblings_too() {
    let mut m = miner();
    let a = m.mine("task moved from new to scheduled by the master");
    let b = m.mine("task moved from scheduled to running by the master");
    assert_eq!(
        (a, b),
        (Mined::New(TemplateId(0)), Mined::New(TemplateId(1)))
    );
    assert_eq!(
        m.mine("task moved from scheduled to running by the master"),
        Mined::Matched(TemplateId(1))
    );
    assert_eq!(
        m.mine("task moved from running to done by the master"),
        Mined::Generalised(TemplateId(0))
    );
    assert_eq!(
        m.template(TemplateId(1)).unwrap(),
        "task moved from <*> to <*> by the master"
    );
}

//! loom models of the job mailbox (`kernel::mailbox`): a job handed from one core to its
//! owner is seen whole, the box is reusable once the sender sees completion, and two
//! racing senders cannot both win. Run: RUSTFLAGS="--cfg loom" cargo test -p kernel --release loom
#![cfg(loom)]
#![forbid(unsafe_code)]

use kernel::mailbox::Mailbox;
use loom::sync::Arc;
use loom::sync::atomic::{AtomicU64, Ordering};

#[test]
fn loom_mailbox_handoff_and_reuse() {
    loom::model(|| {
        let mb = Arc::new(Mailbox::<u64>::new());
        let effect = Arc::new(AtomicU64::new(0));
        let owner = {
            let (mb, effect) = (mb.clone(), effect.clone());
            loom::thread::spawn(move || {
                for expect in [7u64, 8] {
                    let job = loop {
                        if let Some(j) = mb.take() {
                            break j;
                        }
                        loom::thread::yield_now();
                    };
                    assert_eq!(job, expect);
                    effect.store(job, Ordering::Relaxed);
                    mb.finish();
                }
            })
        };
        let t1 = mb.post(7).unwrap_or_else(|_| panic!("fresh box refused"));
        while mb.completed() < t1 {
            loom::thread::yield_now();
        }
        // The job's effect (a Relaxed store) is visible through the Release/Acquire count.
        assert_eq!(effect.load(Ordering::Relaxed), 7);
        let t2 = mb
            .post(8)
            .unwrap_or_else(|_| panic!("finished box refused"));
        assert_eq!(t2, t1 + 1);
        owner.join().unwrap();
        assert_eq!(effect.load(Ordering::Relaxed), 8);
    });
}

#[test]
fn loom_mailbox_racing_senders() {
    loom::model(|| {
        let mb = Arc::new(Mailbox::<u64>::new());
        let senders: Vec<_> = (1..=2u64)
            .map(|id| {
                let mb = mb.clone();
                loom::thread::spawn(move || mb.post(id).is_ok().then_some(id))
            })
            .collect();
        let won: Vec<u64> = senders
            .into_iter()
            .filter_map(|t| t.join().unwrap())
            .collect();
        assert_eq!(won.len(), 1);
        assert_eq!(mb.take(), Some(won[0]));
    });
}

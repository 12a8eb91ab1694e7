//! Property tests: random damage to real DTBs (byte changes, truncation, header words
//! overwritten, blocks moved) never panics; whatever parses still satisfies the
//! invariants the kernel relies on.
#![forbid(unsafe_code)]

use platform::Board;
use proptest::prelude::*;

/// Small real DTBs (the 1 MiB QEMU dumps are mostly padding).
const SEEDS: [&[u8]; 4] = [
    include_bytes!("dtb/mt8183-evb.dtb"),
    include_bytes!("dtb/qemu-virt-a53-smp4-256m.dtb"),
    include_bytes!("dtb/mt8516-pumpkin.dtb"),
    include_bytes!("dtb/edge-cases.dtb"),
];

fn check(bytes: &[u8]) {
    if let Ok(board) = Board::from_dtb(bytes) {
        assert!(board.usable.windows(2).all(|w| w[0].end() <= w[1].base));
        assert!(board.usable.iter().all(|r| r.size > 0));
        let json = serde_json::to_string(&board).unwrap();
        assert!(json.starts_with("{\"model\":"));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn random_byte_changes(seed in 0..SEEDS.len(), edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..16)) {
        let mut bytes = SEEDS[seed].to_vec();
        for (at, value) in edits {
            let i = at.index(bytes.len());
            bytes[i] = value;
        }
        check(&bytes);
    }

    #[test]
    fn header_words_overwritten(seed in 0..SEEDS.len(), word in 0usize..10, value in any::<u32>()) {
        let mut bytes = SEEDS[seed].to_vec();
        bytes[word * 4..word * 4 + 4].copy_from_slice(&value.to_be_bytes());
        check(&bytes);
    }

    #[test]
    fn truncated_with_matching_totalsize(seed in 0..SEEDS.len(), len in 0usize..60_000) {
        let mut bytes = SEEDS[seed].to_vec();
        bytes.truncate(len);
        if bytes.len() >= 8 {
            let n = bytes.len() as u32;
            bytes[4..8].copy_from_slice(&n.to_be_bytes());
        }
        check(&bytes);
    }

    #[test]
    fn structure_words_overwritten(seed in 0..SEEDS.len(), at in any::<prop::sample::Index>(), value in prop::sample::select(vec![0u32, 1, 2, 3, 4, 9, 0xffff_ffff, 0x8000_0000, 0x10])) {
        let mut bytes = SEEDS[seed].to_vec();
        let i = at.index(bytes.len() / 4) * 4;
        bytes[i..i + 4].copy_from_slice(&value.to_be_bytes());
        check(&bytes);
    }
}

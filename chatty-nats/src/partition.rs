//! Which partition a signal's conversation falls in: the same on every machine and every run,
//! so that one conversation's signals always go the same way.

use chatty_core::{Address, Signal};

/// The partition of `signal` among `partitions`: by its conversation, the room it was said in
/// or else who sent it ([`Signal::reply_addresses`]); a signal of no conversation goes to
/// partition 0.
pub(crate) fn partition_of(signal: &Signal, partitions: u32) -> u32 {
    partition_of_conversation(signal.reply_addresses().first(), partitions)
}

/// The partition of the conversation `conversation` (a room, or the other party); `None` goes
/// to partition 0.
pub(crate) fn partition_of_conversation(conversation: Option<&Address>, partitions: u32) -> u32 {
    let Some(address) = conversation else {
        return 0;
    };
    let hash = fnv1a(address.to_string().as_bytes());
    u32::try_from(hash % u64::from(partitions.max(1))).expect("below a u32")
}

/// FNV-1a, 64 bits: a fixed function (std's hashers are seeded per process).
fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in bytes {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from(origin: &str) -> Signal {
        let mut signal = Signal::message("hi");
        signal.meta.origin = origin.parse().ok();
        signal
    }

    #[test]
    fn fnv1a_is_the_published_function() {
        // The reference values of FNV-1a 64.
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn one_conversation_is_one_partition_and_a_room_is_its_own() {
        let alice = from("xmpp:alice@example.org");
        let again = from("xmpp:alice@example.org");
        assert_eq!(partition_of(&alice, 16), partition_of(&again, 16));
        // A room's messages go by the room, whoever says them.
        let room: chatty_core::Address = "xmpp:r@rooms.example.org;kind=channel".parse().unwrap();
        let mut in_room = from("xmpp:r@rooms.example.org/alice");
        in_room.meta.visible_to = vec![room.clone()];
        let mut other = from("xmpp:r@rooms.example.org/bob");
        other.meta.visible_to = vec![room];
        assert_eq!(partition_of(&in_room, 1024), partition_of(&other, 1024));
        // Every partition is below the count; no conversation is partition 0.
        assert!((0..50).all(|i| partition_of(&from(&format!("xmpp:u{i}@x")), 7) < 7));
        assert_eq!(partition_of(&Signal::message("nobody's"), 16), 0);
    }

    #[test]
    fn conversations_spread_over_the_partitions() {
        let mut counts = [0_u32; 8];
        for i in 0..800 {
            counts[partition_of(&from(&format!("slack:U{i}")), 8) as usize] += 1;
        }
        assert!(
            counts.iter().all(|&c| (60..=140).contains(&c)),
            "{counts:?}"
        );
    }
}

//! [`Deliveries`]: how far each signal a session sent got.

use std::sync::Mutex;

use super::recent::Recent;
use crate::metadata::SignalId;
use crate::query::DeliveryStatus;

/// How far each of the last signals a session sent got: what the session learns (sent,
/// delivered, read, failed) goes in; [`Query::DeliveryStatus`](crate::Query::DeliveryStatus)
/// is answered from it. A status never moves back ([`DeliveryStatus::advance`]); the oldest
/// entries are forgotten past the capacity.
///
/// ```
/// use chatty_core::{DeliveryStatus, SignalId};
/// use chatty_core::driver::Deliveries;
///
/// let deliveries = Deliveries::new(100);
/// let id = SignalId::from("m1");
/// deliveries.advance(&id, DeliveryStatus::Delivered);
/// deliveries.advance(&id, DeliveryStatus::Sent);
/// assert_eq!(deliveries.get(&id), DeliveryStatus::Delivered);
/// assert_eq!(deliveries.get(&SignalId::from("other")), DeliveryStatus::Unknown);
/// ```
#[derive(Debug)]
pub struct Deliveries(Mutex<Recent<SignalId, DeliveryStatus>>);

impl Deliveries {
    /// How many statuses a session remembers by default.
    pub const DEFAULT_CAPACITY: usize = 10_000;

    /// A table remembering the last `capacity` signals.
    pub fn new(capacity: usize) -> Self {
        Deliveries(Mutex::new(Recent::new(capacity)))
    }

    /// Records that `id` got as far as `status`, unless it is known to be further already.
    pub fn advance(&self, id: &SignalId, status: DeliveryStatus) {
        let mut table = super::lock(&self.0);
        match table.get_mut(id) {
            Some(known) => {
                known.advance(status);
            }
            None => {
                table.insert(id.clone(), status);
            }
        }
    }

    /// How far `id` got; [`DeliveryStatus::Unknown`] for a signal not (or no longer) known.
    pub fn get(&self, id: &SignalId) -> DeliveryStatus {
        super::lock(&self.0)
            .get(id)
            .cloned()
            .unwrap_or(DeliveryStatus::Unknown)
    }
}

impl Default for Deliveries {
    fn default() -> Self {
        Deliveries::new(Deliveries::DEFAULT_CAPACITY)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signal::FailureKind;

    #[test]
    fn a_status_never_moves_back_and_a_failure_is_final() {
        let d = Deliveries::default();
        let id = SignalId::from("a");
        assert_eq!(d.get(&id), DeliveryStatus::Unknown);
        d.advance(&id, DeliveryStatus::Sent);
        d.advance(&id, DeliveryStatus::Pending);
        assert_eq!(d.get(&id), DeliveryStatus::Sent);
        let failed = DeliveryStatus::Failed {
            kind: FailureKind::Bounced,
            message: "no".into(),
        };
        d.advance(&id, failed.clone());
        d.advance(&id, DeliveryStatus::Delivered);
        assert_eq!(d.get(&id), failed);
    }
}

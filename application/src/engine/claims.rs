//! Which instances a command of this node is deciding right now. Two
//! commands of one node for one instance (a step's result and its
//! sibling's, applied in two result rounds at once) would decide on the
//! same cached state and the second append would conflict. On PostgreSQL a
//! conflict aborts the whole batch statement, and every instance in it was
//! then stored again on its own: the conflicts of the cluster benchmark cost
//! more statements than they saved. So a command claims its instances
//! first, and waits for the claims of other commands of this node to end.
//! Between nodes the expected version still decides.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use domain::InstanceId;
use tokio::sync::Notify;

#[derive(Debug, Default)]
pub(super) struct Claims {
    busy: Mutex<HashMap<InstanceId, Arc<Notify>>>,
}

/// Instances claimed by one command; released when dropped.
#[derive(Debug)]
pub(super) struct Claim<'a> {
    claims: &'a Claims,
    ids: Vec<InstanceId>,
}

impl Claims {
    /// Claims every instance of `ids` that no other command holds, after
    /// waiting until at least one of them is free; returns the claim and
    /// the instances left out (still held by others).
    pub(super) async fn claim_some(&self, ids: &[InstanceId]) -> (Claim<'_>, Vec<InstanceId>) {
        loop {
            let released = {
                let mut busy = self.busy.lock().unwrap_or_else(PoisonError::into_inner);
                let (free, held): (Vec<InstanceId>, Vec<InstanceId>) =
                    ids.iter().copied().partition(|id| !busy.contains_key(id));
                if !free.is_empty() || held.is_empty() {
                    for id in &free {
                        busy.insert(*id, Arc::new(Notify::new()));
                    }
                    return (
                        Claim {
                            claims: self,
                            ids: free,
                        },
                        held,
                    );
                }
                // Every one is held: wait for the first holder to let go,
                // registered before the lock is released so that the
                // release cannot be missed.
                let mut released = Box::pin(busy[&held[0]].clone().notified_owned());
                released.as_mut().enable();
                released
            };
            released.await;
        }
    }

    /// Claims one instance, waiting while another command holds it.
    pub(super) async fn claim(&self, id: InstanceId) -> Claim<'_> {
        self.claim_some(&[id]).await.0
    }
}

impl Drop for Claim<'_> {
    fn drop(&mut self) {
        let mut busy = self
            .claims
            .busy
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        for id in &self.ids {
            if let Some(notify) = busy.remove(id) {
                notify.notify_waiters();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use uuid::Uuid;

    use super::*;

    fn ids(n: u128) -> Vec<InstanceId> {
        (1..=n).map(|i| InstanceId(Uuid::from_u128(i))).collect()
    }

    #[tokio::test]
    async fn free_instances_are_claimed_and_held_ones_left_out() {
        let claims = Claims::default();
        let all = ids(3);
        let (first, left) = claims.claim_some(&all[..2]).await;
        assert!(left.is_empty());
        let (second, left) = claims.claim_some(&all).await;
        assert_eq!(second.ids, vec![all[2]]);
        assert_eq!(left, all[..2].to_vec());
        drop(first);
        let (third, left) = claims.claim_some(&all).await;
        assert_eq!(third.ids, all[..2].to_vec());
        assert_eq!(left, vec![all[2]]);
    }

    #[tokio::test]
    async fn a_claim_of_held_instances_waits_for_their_release() {
        let claims = Arc::new(Claims::default());
        let id = ids(1)[0];
        let held = claims.claim(id).await;
        let waiter = {
            let claims = claims.clone();
            tokio::spawn(async move {
                let _claim = claims.claim(id).await;
            })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!waiter.is_finished(), "claimed while held");
        drop(held);
        tokio::time::timeout(Duration::from_secs(5), waiter)
            .await
            .expect("the release woke the waiter")
            .unwrap();
    }
}

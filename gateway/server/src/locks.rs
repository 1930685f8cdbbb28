//! One writer at a time per resource, within this process. A write built
//! from the current resource (read, map or translate, write back) that ran
//! beside another write to the same resource could put back what the other
//! just changed; with ETags the backend's 412 catches that, without them
//! this lock does (in one gateway process, not across replicas). An entry
//! lives only while someone holds or waits for it, so the map is bounded by
//! the requests in flight.

use std::collections::{HashMap, hash_map};
use std::sync::{Arc, Mutex, PoisonError};
use tokio::sync::OwnedMutexGuard;

/// A key's lock and how many hold or wait for it.
#[derive(Debug, Default)]
struct Entry {
    slot: Arc<tokio::sync::Mutex<()>>,
    users: usize,
}

/// Locks keyed by resource path.
#[derive(Debug, Default)]
pub struct KeyedLocks {
    map: Mutex<HashMap<String, Entry>>,
}

impl KeyedLocks {
    /// Waits until no one else holds `key`, then holds it until the guard
    /// is dropped. A wait given up (the future dropped) leaves no trace.
    pub async fn lock(&self, key: &str) -> KeyedGuard<'_> {
        let slot = {
            let mut map = self.map.lock().unwrap_or_else(PoisonError::into_inner);
            let entry = map.entry(key.to_owned()).or_default();
            entry.users += 1;
            entry.slot.clone()
        };
        // Made before the wait, so that its drop also counts a cancelled wait.
        let mut guard = KeyedGuard { locks: self, key: key.to_owned(), held: None };
        guard.held = Some(slot.lock_owned().await);
        guard
    }

    /// How many keys are held or waited for.
    pub fn len(&self) -> usize {
        self.map.lock().unwrap_or_else(PoisonError::into_inner).len()
    }

    /// Whether no key is held or waited for.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A held key (or a wait for it); released and forgotten on drop.
#[derive(Debug)]
pub struct KeyedGuard<'a> {
    locks: &'a KeyedLocks,
    key: String,
    held: Option<OwnedMutexGuard<()>>,
}

impl Drop for KeyedGuard<'_> {
    fn drop(&mut self) {
        drop(self.held.take());
        let mut map = self.locks.map.lock().unwrap_or_else(PoisonError::into_inner);
        // One look up (the key hashed once), the entry removed through it.
        if let hash_map::Entry::Occupied(mut entry) = map.entry(std::mem::take(&mut self.key)) {
            let users = &mut entry.get_mut().users;
            *users = users.saturating_sub(1);
            if *users == 0 {
                entry.remove();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn holders_of_one_key_take_turns_and_the_key_is_forgotten_after() {
        let locks = Arc::new(KeyedLocks::default());
        let inside = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let (locks, inside, most) = (locks.clone(), inside.clone(), most.clone());
                tokio::spawn(async move {
                    let _g = locks.lock("/Users/1").await;
                    let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    tokio::task::yield_now().await;
                    inside.fetch_sub(1, Ordering::SeqCst);
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(most.load(Ordering::SeqCst), 1, "never two at once");
        assert!(locks.is_empty(), "no key left behind");
    }

    #[tokio::test]
    async fn different_keys_do_not_wait_for_each_other() {
        let locks = KeyedLocks::default();
        let _a = locks.lock("/Users/1").await;
        let b = tokio::time::timeout(Duration::from_secs(5), locks.lock("/Users/2")).await;
        assert!(b.is_ok(), "another key is free");
        assert_eq!(locks.len(), 2);
    }

    #[tokio::test]
    async fn a_wait_given_up_leaves_no_entry() {
        let locks = KeyedLocks::default();
        let held = locks.lock("/Users/1").await;
        let waited = tokio::time::timeout(Duration::from_millis(10), locks.lock("/Users/1")).await;
        assert!(waited.is_err(), "the key was held");
        drop(held);
        assert!(locks.is_empty(), "neither the holder nor the cancelled waiter left an entry");
    }
}

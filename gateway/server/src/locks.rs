//! One writer at a time per resource, within this process. A write built
//! from the current resource (read, map or translate, write back) that ran
//! beside another on the same resource could write back what the other
//! just changed; with ETags the backend's 412 catches that, without them
//! only this lock does. Entries live only while someone holds or waits for
//! them, so the map is bounded by the requests in flight.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use tokio::sync::OwnedMutexGuard;

type Slot = Arc<tokio::sync::Mutex<()>>;

/// Locks keyed by resource path.
#[derive(Debug, Default)]
pub struct KeyedLocks {
    map: Mutex<HashMap<String, Slot>>,
}

impl KeyedLocks {
    /// Waits until no one else holds `key`, then holds it until the guard
    /// is dropped.
    pub async fn lock(&self, key: &str) -> KeyedGuard<'_> {
        let slot = {
            let mut map = self.map.lock().unwrap_or_else(PoisonError::into_inner);
            map.entry(key.to_owned()).or_default().clone()
        };
        let guard = slot.clone().lock_owned().await;
        KeyedGuard { locks: self, key: key.to_owned(), slot, guard: Some(guard) }
    }

    /// How many keys are held or waited for.
    pub fn len(&self) -> usize {
        self.map.lock().unwrap_or_else(PoisonError::into_inner).len()
    }

    /// Whether no key is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A held key; released (and forgotten when no one waits) on drop.
#[derive(Debug)]
pub struct KeyedGuard<'a> {
    locks: &'a KeyedLocks,
    key: String,
    slot: Slot,
    guard: Option<OwnedMutexGuard<()>>,
}

impl Drop for KeyedGuard<'_> {
    fn drop(&mut self) {
        drop(self.guard.take());
        let mut map = self.locks.map.lock().unwrap_or_else(PoisonError::into_inner);
        // The map's reference and this guard's: no one else waits.
        if Arc::strong_count(&self.slot) <= 2 {
            map.remove(&self.key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

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
        let _b = locks.lock("/Users/2").await;
        assert_eq!(locks.len(), 2);
    }
}

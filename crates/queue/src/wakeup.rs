//! Wake-ups for claimWork long polls: one `Notify` per taskQueueId, fed by `task-pending`
//! signals (local ones at once, other servers' through LISTEN/NOTIFY).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use relyard_events::Signal;
use tokio::sync::{broadcast, Notify};
use tokio_util::sync::CancellationToken;

use crate::TASK_PENDING_SIGNAL;

#[derive(Default)]
pub(crate) struct Waiters {
    queues: Mutex<HashMap<String, Arc<Notify>>>,
}

impl Waiters {
    /// The notifier of one queue, created on first use.
    pub fn get(&self, task_queue_id: &str) -> Arc<Notify> {
        let mut map = self.queues.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = map.get(task_queue_id) {
            return Arc::clone(n);
        }
        // Forget queues nobody waits on any more, so the map stays as small as the live set.
        if map.len() > 1024 {
            map.retain(|_, n| Arc::strong_count(n) > 1);
        }
        let n = Arc::new(Notify::new());
        map.insert(task_queue_id.to_string(), Arc::clone(&n));
        n
    }

    pub fn wake(&self, task_queue_id: &str) {
        let map = self.queues.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = map.get(task_queue_id) {
            n.notify_waiters();
        }
    }

    pub fn wake_all(&self) {
        let map = self.queues.lock().unwrap_or_else(|p| p.into_inner());
        for n in map.values() {
            n.notify_waiters();
        }
    }
}

/// Forwards signals to waiters until shutdown; on shutdown wakes everyone so they return.
pub(crate) async fn relay(
    waiters: Arc<Waiters>,
    mut signals: broadcast::Receiver<Signal>,
    shutdown: CancellationToken,
) {
    loop {
        let next = tokio::select! {
            _ = shutdown.cancelled() => {
                waiters.wake_all();
                return;
            }
            s = signals.recv() => s,
        };
        match next {
            Ok(s) if s.channel == TASK_PENDING_SIGNAL => waiters.wake(&s.payload),
            Ok(s) if s.channel == "*" => waiters.wake_all(),
            Ok(_) => {}
            // Missed some: any queue may have work now.
            Err(broadcast::error::RecvError::Lagged(_)) => waiters.wake_all(),
            Err(broadcast::error::RecvError::Closed) => return,
        }
    }
}

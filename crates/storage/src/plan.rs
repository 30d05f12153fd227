//! What one batch does with each request, decided before anything is written (pure, so the
//! idempotency rules are unit-tested without a database).

use std::collections::HashMap;

/// The decision for one request of a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Plan {
    /// A new grade: gets the next id.
    Insert,
    /// Same key and grade as an earlier request of this batch (its index): the same id, a replay.
    SameAsEarlier(usize),
    /// The key stored this grade before, under this id.
    Replay(u64),
    /// The key stored a different grade before (or earlier in this batch).
    Conflict,
}

/// `requests[i]` is request i's idempotency key and grade fingerprint, when it has a key; `known`
/// maps keys already stored to (grade id, fingerprint).
pub(crate) fn plan_batch(requests: &[Option<(&str, u64)>], known: &HashMap<String, (u64, u64)>) -> Vec<Plan> {
    let mut first_in_batch: HashMap<&str, (usize, u64)> = HashMap::new();
    requests
        .iter()
        .enumerate()
        .map(|(index, request)| {
            let Some((key, fingerprint)) = *request else {
                return Plan::Insert;
            };
            if let Some(&(id, stored)) = known.get(key) {
                return if stored == fingerprint { Plan::Replay(id) } else { Plan::Conflict };
            }
            match first_in_batch.get(key) {
                Some(&(first, first_fingerprint)) if first_fingerprint == fingerprint => Plan::SameAsEarlier(first),
                Some(_) => Plan::Conflict,
                None => {
                    first_in_batch.insert(key, (index, fingerprint));
                    Plan::Insert
                }
            }
        })
        .collect()
}

/// Ids of the inserted requests, numbered up from `first_id` in batch order (0 for the others).
pub(crate) fn assign_ids(plans: &[Plan], first_id: u64) -> Vec<u64> {
    let mut next = first_id;
    plans
        .iter()
        .map(|plan| match plan {
            Plan::Insert => {
                next += 1;
                next - 1
            }
            _ => 0,
        })
        .collect()
}

pub(crate) fn inserts(plans: &[Plan]) -> u64 {
    plans.iter().filter(|p| matches!(p, Plan::Insert)).count() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_without_keys_are_all_inserted() {
        let plans = plan_batch(&[None, None, None], &HashMap::new());
        assert_eq!(plans, [Plan::Insert; 3]);
        assert_eq!(assign_ids(&plans, 10), [10, 11, 12]);
    }

    #[test]
    fn a_stored_key_replays_or_conflicts() {
        let known = HashMap::from([("k".to_owned(), (7, 99))]);
        assert_eq!(plan_batch(&[Some(("k", 99))], &known), [Plan::Replay(7)]);
        assert_eq!(plan_batch(&[Some(("k", 98))], &known), [Plan::Conflict]);
    }

    #[test]
    fn a_key_repeated_in_one_batch_inserts_once() {
        let plans = plan_batch(&[Some(("a", 1)), None, Some(("a", 1)), Some(("a", 2)), Some(("b", 1))], &HashMap::new());
        assert_eq!(plans, [Plan::Insert, Plan::Insert, Plan::SameAsEarlier(0), Plan::Conflict, Plan::Insert]);
        assert_eq!(inserts(&plans), 3);
        assert_eq!(assign_ids(&plans, 5), [5, 6, 0, 0, 7]);
    }
}

//! Unit tests of the takeover state machine, with injected time.

use super::*;
use crate::failover::buckets::{bucket_of, bucket_owner};

/// The machine takes any delay; 2 s leaves room for the ~1 s detection lag the tests model.
const T: Duration = Duration::from_secs(2);

/// A client id whose bucket `owner` owns when `nodes` all serve.
fn client_of(owner: &str, nodes: &[&str]) -> Vec<u8> {
    (0u32..10_000)
        .map(|i| i.to_be_bytes().to_vec())
        .find(|id| bucket_owner(bucket_of(id), nodes) == Some(owner))
        .unwrap()
}

fn live_pair(t0: Instant) -> Failover {
    let mut f = Failover::new("a", &["a", "b"], T, t0);
    assert_eq!(f.observe("b", true, true, t0), None, "silent→serving is not a hand-back");
    f
}

#[test]
fn both_live_owner_answers_and_secs_lets_anyone_answer() {
    let t0 = Instant::now();
    let f = live_pair(t0);
    let theirs = client_of("b", &["a", "b"]);
    let mine = client_of("a", &["a", "b"]);
    assert!(f.should_answer(&mine, 0, t0));
    assert!(!f.should_answer(&theirs, 0, t0));
    assert!(!f.should_answer(&theirs, 2, t0));
    assert!(f.should_answer(&theirs, 3, t0));
}

#[test]
fn takeover_only_after_takeover_after() {
    let t0 = Instant::now();
    let mut f = live_pair(t0);
    let theirs = client_of("b", &["a", "b"]);
    let t1 = t0 + Duration::from_millis(100);
    assert_eq!(f.observe("b", false, false, t1), None);
    assert_eq!(f.phase("b", t1), Some(PeerPhase::Silent(t1)));
    assert!(!f.should_answer(&theirs, 0, t1 + T - Duration::from_millis(1)));
    assert_eq!(f.tick(t1 + T), vec![Transition::TakeOver("b".into())]);
    assert!(f.should_answer(&theirs, 0, t1 + T));
    assert_eq!(f.owners(t1 + T), vec!["a"]);
}

#[test]
fn short_blip_is_not_a_takeover() {
    let t0 = Instant::now();
    let mut f = live_pair(t0);
    f.observe("b", false, false, t0);
    assert_eq!(f.observe("b", true, false, t0 + T / 2), None);
    assert_eq!(f.phase("b", t0 + 3 * T), Some(PeerPhase::Serving));
}

#[test]
fn hand_back_waits_for_catch_up() {
    let t0 = Instant::now();
    let mut f = live_pair(t0);
    let theirs = client_of("b", &["a", "b"]);
    f.observe("b", false, false, t0);
    let t1 = t0 + T;
    assert!(f.should_answer(&theirs, 0, t1));
    // Back but behind: we keep answering its clients. No tick ran since the silence passed
    // `takeover_after`, so this observation is the one that reports the takeover.
    assert_eq!(f.observe("b", true, false, t1), Some(Transition::TakeOver("b".into())));
    assert_eq!(f.phase("b", t1), Some(PeerPhase::Returning));
    assert!(f.should_answer(&theirs, 0, t1));
    // Dies again while returning: still ours, no transition.
    assert_eq!(f.observe("b", false, false, t1), None);
    assert_eq!(f.phase("b", t1), Some(PeerPhase::TakenOver));
    // Back and caught up: handed back.
    assert_eq!(f.observe("b", true, true, t1), Some(Transition::HandBack("b".into())));
    assert!(!f.should_answer(&theirs, 0, t1));
}

#[test]
fn boot_alone_serves_everyone_after_takeover_after() {
    let t0 = Instant::now();
    let f = Failover::new("a", &["a", "b", "c"], T, t0);
    let theirs = client_of("c", &["a", "b", "c"]);
    assert!(!f.should_answer(&theirs, 0, t0));
    assert!(f.should_answer(&theirs, 0, t0 + T));
}

#[test]
fn three_nodes_survivors_split_the_dead_nodes_buckets() {
    let t0 = Instant::now();
    let nodes = ["a", "b", "c"];
    let mut fa = Failover::new("a", &nodes, T, t0);
    let mut fb = Failover::new("b", &nodes, T, t0);
    for (f, others) in [(&mut fa, ["b", "c"]), (&mut fb, ["a", "c"])] {
        for o in others {
            f.observe(o, true, true, t0);
        }
        f.observe("c", false, false, t0);
    }
    let t1 = t0 + T;
    // Each of c's clients is answered by exactly one survivor; a's and b's keep their owner.
    for i in 0u32..2000 {
        let id = i.to_be_bytes();
        let (a, b) = (fa.should_answer(&id, 0, t1), fb.should_answer(&id, 0, t1));
        assert!(a ^ b, "client {i}: a={a} b={b}");
        let before = bucket_owner(bucket_of(&id), &nodes).unwrap();
        if before != "c" {
            assert_eq!(a, before == "a");
        }
    }
}

#[test]
fn stateless_rule_matches() {
    let theirs = client_of("b", &["a", "b"]);
    let short = [("b", Duration::from_millis(500))];
    let long = [("b", T)];
    assert!(!should_answer("a", &["a"], &short, &theirs, 0, T));
    assert!(should_answer("a", &["a"], &long, &theirs, 0, T));
    assert!(should_answer("a", &["a"], &short, &theirs, 3, T));
    assert!(!should_answer("a", &["a", "b"], &[], &theirs, 0, T));
}

#[test]
fn silence_counts_from_last_heard() {
    let t0 = Instant::now();
    let mut f = live_pair(t0);
    let theirs = client_of("b", &["a", "b"]);
    // Last heard at t0; the failure detector reports it dead 1 s later.
    let t1 = t0 + Duration::from_secs(1);
    assert_eq!(f.observe_since("b", false, false, t0, t1), None);
    assert!(!f.should_answer(&theirs, 0, t1));
    assert!(f.should_answer(&theirs, 0, t0 + T), "takeover 2 s after the last heartbeat");
    // Detected later than takeover_after: taken over at once.
    let mut g = live_pair(t0);
    let late = t0 + Duration::from_secs(5);
    assert_eq!(g.observe_since("b", false, false, t0, late), Some(Transition::TakeOver("b".into())));
}

/// Reading the state (status API, owners) at the moment the silence passes `takeover_after`
/// does not consume the transition: the next tick still reports the takeover.
#[test]
fn reads_do_not_swallow_the_takeover() {
    let t0 = Instant::now();
    let mut f = live_pair(t0);
    assert_eq!(f.observe("b", false, false, t0), None);
    let late = t0 + T + Duration::from_millis(1);
    assert_eq!(f.phase("b", late), Some(PeerPhase::TakenOver));
    assert_eq!(f.owners(late), ["a"]);
    assert_eq!(f.tick(late), [Transition::TakeOver("b".into())]);
    assert!(f.tick(late).is_empty(), "reported once");
}

/// The failure detector reports the peer dead only after its silence passed
/// `takeover_after`, with no tick in between: the observation itself reports the takeover.
#[test]
fn a_late_observation_reports_the_takeover() {
    let t0 = Instant::now();
    let mut f = live_pair(t0);
    assert_eq!(f.observe("b", false, false, t0), None);
    let late = t0 + T + Duration::from_millis(5);
    assert_eq!(f.observe("b", false, false, late), Some(Transition::TakeOver("b".into())));
    assert!(f.tick(late).is_empty());
}

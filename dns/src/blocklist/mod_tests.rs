//! Engine tests: rule semantics per group, explain, compile from files, hostile files.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::*;

const HOME: GroupId = GroupId(0);
const GUEST: GroupId = GroupId(1);
const IOT: GroupId = GroupId(2);

/// Builds an engine from in-memory lists: (name, groups mask, allow list, text).
fn engine(lists: &[(&str, u64, bool, &str)]) -> Engine {
    let mut b = EngineBuilder::new();
    for &(name, groups, allow, text) in lists {
        let id = b.add_list(name, groups, allow).unwrap();
        let mut report = ListReport::new(name);
        parse::read_list(text.as_bytes(), allow, &mut report, &mut |item, line| b.add(id, item, line));
        assert_eq!(report.rejected, 0, "{report}");
    }
    let (e, err) = b.finish();
    assert_eq!(err, None);
    e
}

fn blocked(e: &Engine, name: &str, g: GroupId) -> bool {
    e.lookup(name.as_bytes(), g).is_blocked()
}

#[test]
fn exact_vs_subtree() {
    let e = engine(&[("ads", 1, false, "0.0.0.0 exact.example\n||sub.example^\n*.wild.example\n")]);
    assert!(blocked(&e, "exact.example", HOME));
    assert!(!blocked(&e, "www.exact.example", HOME), "hosts lines are exact");
    assert!(!blocked(&e, "example", HOME));
    assert!(blocked(&e, "sub.example", HOME));
    assert!(blocked(&e, "a.b.sub.example", HOME));
    assert!(!blocked(&e, "notsub.example", HOME), "label boundary");
    assert!(blocked(&e, "wild.example", HOME));
    assert!(blocked(&e, "x.wild.example", HOME));
    assert!(!blocked(&e, "unrelated.test", HOME));
    assert_eq!(e.lookup(b"", HOME), Verdict::NotListed);
    let Verdict::Blocked(m) = e.lookup(b"deep.sub.example", HOME) else { panic!() };
    assert_eq!((m.list, m.line, m.how, m.at), (0, 2, How::Subtree, 5));
}

#[test]
fn allow_wins_over_block() {
    let e = engine(&[
        ("ads", 1, false, "||example.com^\nads.other.com\n||imp.test^$important\n@@||ok.example.com^\n"),
        ("allow", 1, true, "ads.other.com\nimp.test\n"),
    ]);
    assert!(blocked(&e, "example.com", HOME));
    assert!(blocked(&e, "x.example.com", HOME));
    assert!(matches!(e.lookup(b"ok.example.com", HOME), Verdict::Allowed(m) if m.line == 4));
    assert!(matches!(e.lookup(b"a.ok.example.com", HOME), Verdict::Allowed(_)));
    let Verdict::Allowed(m) = e.lookup(b"ads.other.com", HOME) else { panic!() };
    assert_eq!((e.list_name(m.list), m.line), ("allow", 1));
    // $important beats @@ inside lists but not the user's allow list.
    assert!(matches!(e.lookup(b"imp.test", HOME), Verdict::Allowed(m) if m.list == 1));
    assert!(blocked(&e, "x.imp.test", HOME));
}

#[test]
fn important_beats_exceptions() {
    let e = engine(&[("a", 1, false, "||t.example^$important\n@@||t.example^\n")]);
    assert!(blocked(&e, "t.example", HOME));
    let e = engine(&[("a", 1, false, "||t.example^\n@@||t.example^\n")]);
    assert!(!blocked(&e, "t.example", HOME));
}

#[test]
fn groups_share_one_copy() {
    let e = engine(&[
        ("ads", 0b001, false, "shared.example\nhome-only.example\n"),
        ("malware", 0b011, false, "shared.example\nmal.example\n"),
        ("guest-allow", 0b010, true, "||home-only.example^\n"),
    ]);
    assert_eq!(e.len(), 3, "each name stored once");
    assert!(blocked(&e, "shared.example", HOME) && blocked(&e, "shared.example", GUEST));
    assert!(!blocked(&e, "shared.example", IOT));
    assert!(blocked(&e, "home-only.example", HOME));
    assert!(matches!(e.lookup(b"home-only.example", GUEST), Verdict::Allowed(_)));
    assert!(blocked(&e, "mal.example", GUEST) && !blocked(&e, "mal.example", IOT));
    // The guest's verdict for `shared` names the list that applies to the guest.
    let Verdict::Blocked(m) = e.lookup(b"shared.example", GUEST) else { panic!() };
    assert_eq!((e.list_name(m.list), m.line), ("malware", 1));
    let Verdict::Blocked(m) = e.lookup(b"shared.example", HOME) else { panic!() };
    assert_eq!((e.list_name(m.list), m.line), ("ads", 1));
}

#[test]
fn repeats_in_one_list_keep_the_first_line() {
    let e = engine(&[("a", 1, false, "x.example\n0.0.0.0 x.example\n||x.example^\n||x.example^\n")]);
    assert_eq!(e.len(), 1);
    let ex = e.explain("x.example", HOME);
    let lines: Vec<u32> = ex.all.iter().map(|r| r.line).collect();
    assert_eq!(lines, [1, 3], "{ex:?}");
}

#[test]
fn regex_rules() {
    let e = engine(&[("re", 1, false, "/^ad[0-9]+\\./\n@@/^ad7\\./\n"), ("other", 2, false, "z.example\n")]);
    assert!(blocked(&e, "ad1.example", HOME));
    assert!(!blocked(&e, "ad7.example", HOME));
    assert!(!blocked(&e, "bad1.example", HOME));
    assert!(!blocked(&e, "ad1.example", GUEST), "regex of another group");
    assert!(matches!(e.lookup(b"ad1.example", HOME), Verdict::Blocked(m) if m.how == How::Regex));
}

#[test]
fn bad_regexes_are_rejected_lines() {
    let mut b = EngineBuilder::new();
    let id = b.add_list("re", 1, false).unwrap();
    let mut report = ListReport::new("re");
    parse::read_list(&b"/(/\n/a{1000}{1000}/\n/ok/\n"[..], false, &mut report, &mut |i, l| b.add(id, i, l));
    assert_eq!((report.entries, report.rejected), (1, 2), "{report}");
}

#[test]
fn punycode_names_match() {
    let e = engine(&[("idn", 1, false, "||bücher.example^\n")]);
    assert!(blocked(&e, "xn--bcher-kva.example", HOME));
    assert!(blocked(&e, "www.xn--bcher-kva.example", HOME));
}

#[test]
fn explain_names_list_line_and_rule() {
    let e = engine(&[("ads", 0b11, false, "# c\n||track.example^\n"), ("ok", 0b10, true, "a.track.example\n")]);
    let ex = e.explain("A.Track.Example.", HOME);
    assert!(ex.verdict.is_blocked());
    let d = ex.decided_by.unwrap();
    assert_eq!((d.list.as_str(), d.line, d.rule.as_str(), d.groups), ("ads", 2, "||track.example^", 0b11));
    assert_eq!(ex.all.len(), 2);
    let ex = e.explain("a.track.example", GUEST);
    assert!(matches!(ex.verdict, Verdict::Allowed(_)));
    assert_eq!(ex.decided_by.unwrap().rule, "@@a.track.example");
    assert_eq!(e.explain("nothing.example", HOME).decided_by, None);
}

#[test]
fn empty_engine() {
    let e = Engine::default();
    assert!(e.is_empty());
    assert_eq!(e.lookup(b"a.example", HOME), Verdict::NotListed);
}

#[test]
fn heap_bytes_is_compact() {
    let text: String = (0..100_000).map(|i| format!("host-{i:06}.ads{}.example\n", i % 97)).collect();
    let e = engine(&[("big", 1, false, &text)]);
    assert_eq!(e.len(), 100_000);
    let per_name = e.heap_bytes() as f64 / 100_000.0;
    // 22-byte names: 29 bytes of arena entry plus about 6 of index.
    assert!(per_name < 40.0, "{per_name} bytes per name");
    assert!(blocked(&e, "host-099999.ads89.example", HOME));
}

/// A fresh directory under the system temp dir for one test.
pub(crate) fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ravens-bl-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn input(name: &str, path: &Path, groups: u64) -> CompileInput {
    CompileInput { name: name.into(), data: ListData::File(path.to_path_buf()), groups, allow_list: false }
}

#[test]
fn compile_reports_every_list() {
    let dir = temp_dir("compile");
    std::fs::write(dir.join("good.txt"), "0.0.0.0 a.example\nnot a rule at all\n").unwrap();
    std::fs::write(dir.join("empty.txt"), "").unwrap();
    let binary: Vec<u8> = (0..=255u8).cycle().take(1 << 20).collect();
    std::fs::write(dir.join("binary.bin"), &binary).unwrap();
    let mut garbage = std::fs::File::create(dir.join("garbage.txt")).unwrap();
    for i in 0..8 {
        garbage.write_all(&parse::tests::garbage(1 << 20, 0xdead_beef + i)).unwrap();
    }
    drop(garbage);
    let inputs = [
        input("good", &dir.join("good.txt"), 1),
        input("empty", &dir.join("empty.txt"), 1),
        input("missing", &dir.join("missing.txt"), 1),
        input("binary", &dir.join("binary.bin"), 1),
        input("garbage", &dir.join("garbage.txt"), 1),
    ];
    let (e, reports) = compile(&inputs);
    assert!(blocked(&e, "a.example", HOME));
    assert_eq!((reports[0].entries, reports[0].rejected), (1, 1));
    assert_eq!(reports[0].first_rejected[0].line, 2);
    assert_eq!((reports[1].lines, reports[1].error.as_deref()), (0, None));
    assert!(reports[2].error.as_deref().unwrap().contains("cannot read"), "{}", reports[2]);
    assert!(reports[3].lines > 0 && reports[3].rejected > 0, "{}", reports[3]);
    assert!(reports[4].lines > 10_000 && reports[4].error.is_none(), "{}", reports[4]);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn inputs_follow_the_policy() {
    let text = r#"
[[group]]
name = "iot"
clients = ["10.0.20.0/24"]
blocking = false
[[list]]
name = "file"
path = "/etc/ravens/block.txt"
groups = ["default", "iot"]
[[list]]
name = "web"
url = "https://lists.example/hosts.txt"
kind = "allow"
[[list]]
name = "off"
path = "/x"
enabled = false
"#;
    let policy = ravens_config::parse_with(text, "t.toml", &|| String::new()).unwrap().policy;
    let store = ListStore::new("/var/lib/ravens/lists");
    let inputs = inputs_from_policy(&policy, &store);
    assert_eq!(inputs.len(), 2);
    assert_eq!((&inputs[0].data, inputs[0].groups), (&ListData::File("/etc/ravens/block.txt".into()), 1));
    assert_eq!(inputs[1].data, ListData::File(store.copy_path("web")));
    assert!(inputs[1].allow_list);
}

/// Rough lookup timing for development: `cargo test --release -p ravens-dns speed -- --ignored --nocapture`.
#[test]
#[ignore]
fn speed() {
    for n in [1_000usize, 1_000_000] {
        let text: String = (0..n).map(|i| format!("0.0.0.0 www.ads-{i:06}.adnet{}.com\n", i % 50)).collect();
        let t = std::time::Instant::now();
        let mut report = ListReport::new("parse-only");
        parse::read_list(text.as_bytes(), false, &mut report, &mut |_, _| Ok(()));
        let parse = t.elapsed();
        let t = std::time::Instant::now();
        let input =
            CompileInput { name: "big".into(), data: ListData::Text(text.clone()), groups: 1, allow_list: false };
        let (e, _) = compile(&[input]);
        let build = t.elapsed();
        println!("n={n} parse only {parse:?}, parse+build {build:?}");
        let probes: Vec<Vec<u8>> = (0..8192)
            .map(|k| format!("www.ads-{:06}.adnet{}.com", (k * 7919) % n, ((k * 7919) % n) % 50).into_bytes())
            .collect();
        let misses: Vec<Vec<u8>> =
            (0..8192).map(|k| format!("www.shop-{k:06}.example{}.org", k % 50).into_bytes()).collect();
        for (kind, set) in [("hit", &probes), ("miss", &misses)] {
            let mut best = f64::MAX;
            for _ in 0..20 {
                let t = std::time::Instant::now();
                let mut hits = 0;
                for p in set.iter() {
                    hits += usize::from(e.lookup(std::hint::black_box(p), HOME).is_blocked());
                }
                best = best.min(t.elapsed().as_nanos() as f64 / set.len() as f64);
                assert_eq!(hits, if kind == "hit" { set.len() } else { 0 });
            }
            println!("n={n} build={build:?} {kind}: best {best:.1} ns/lookup");
        }
    }
}

#[test]
fn inline_lists_and_unicode_explain() {
    let custom = CompileInput {
        name: "custom".into(),
        data: ListData::Text("bücher.example\n||Tracker.Example^\n".into()),
        groups: 1,
        allow_list: false,
    };
    let (e, reports) = compile(&[custom]);
    assert_eq!(reports[0].entries, 2);
    assert!(blocked(&e, "xn--bcher-kva.example.", HOME), "a trailing dot is ignored");
    assert!(blocked(&e, "a.tracker.example", HOME));
    let d = e.explain("BÜCHER.example", HOME).decided_by.unwrap();
    assert_eq!((d.list.as_str(), d.line, d.rule.as_str()), ("custom", 1, "xn--bcher-kva.example"));
}

#[test]
fn overlapping_lists_store_names_once() {
    let text: String = (0..20_000).map(|i| format!("0.0.0.0 n{i}.example\n")).collect();
    let one = engine(&[("a", 1, false, &text)]);
    let three = engine(&[("a", 1, false, &text), ("b", 2, false, &text), ("c", 4, false, &text)]);
    assert_eq!((one.len(), three.len()), (20_000, 20_000));
    // Each repeat costs one 8-byte overflow record (plus its 4-byte key), not a name.
    assert!(three.heap_bytes() < one.heap_bytes() + 40_000 * 16, "{} vs {}", three.heap_bytes(), one.heap_bytes());
    for g in [HOME, GUEST, GroupId(2)] {
        assert!(blocked(&three, "n19999.example", g));
    }
    let Verdict::Blocked(m) = three.lookup(b"n5.example", GroupId(2)) else { panic!() };
    assert_eq!((three.list_name(m.list), m.line), ("c", 6));
}

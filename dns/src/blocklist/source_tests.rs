//! Source tests against a tiny HTTP/1.1 server on 127.0.0.1:0: 200, 304 with ETag, 500 keeps
//! the previous copy, unreachable at start uses the stored copy.

use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::*;
use crate::blocklist::{CompileInput, GroupId, ListData, compile};

/// What the server answers next, and the request heads it saw.
#[derive(Default)]
struct Server {
    status: u16,
    body: String,
    etag: Option<String>,
    last_modified: Option<String>,
    requests: Vec<String>,
}

async fn serve(state: Arc<Mutex<Server>>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hosts.txt", listener.local_addr().unwrap());
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else { return };
            let mut head = Vec::new();
            let mut buf = [0u8; 1024];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                match sock.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => head.extend_from_slice(&buf[..n]),
                }
            }
            let head = String::from_utf8_lossy(&head).to_lowercase();
            let response = {
                let mut s = state.lock().unwrap();
                s.requests.push(head.clone());
                let etag_matches = s.etag.as_ref().is_some_and(|e| head.contains(&format!("if-none-match: {e}")));
                let date_matches =
                    s.last_modified.as_ref().is_some_and(|d| head.contains(&format!("if-modified-since: {d}")));
                let matches = etag_matches || date_matches;
                let (status, body) = if matches && s.status == 200 { (304, "") } else { (s.status, s.body.as_str()) };
                let mut etag = s.etag.as_ref().map(|e| format!("etag: {e}\r\n")).unwrap_or_default();
                if let Some(d) = &s.last_modified {
                    etag += &format!("last-modified: {d}\r\n");
                }
                format!(
                    "HTTP/1.1 {status} X\r\n{etag}content-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                )
            };
            let _ = sock.write_all(response.as_bytes()).await;
            let _ = sock.shutdown().await;
        }
    });
    url
}

fn client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

fn blocks(store: &ListStore, name: &str) -> bool {
    let input =
        CompileInput { name: "web".into(), data: ListData::File(store.copy_path("web")), groups: 1, allow_list: false };
    let (engine, reports) = compile(&[input]);
    assert!(reports[0].error.is_none(), "{}", reports[0]);
    engine.lookup(name.as_bytes(), GroupId::DEFAULT).is_blocked()
}

#[tokio::test]
async fn download_304_500_and_offline_start() {
    let dir = crate::blocklist::tests::temp_dir("source");
    let store = ListStore::new(dir.join("lists"));
    let state = Arc::new(Mutex::new(Server {
        status: 200,
        body: "0.0.0.0 one.example\n".into(),
        etag: Some("\"v1\"".into()),
        ..Default::default()
    }));
    let url = serve(state.clone()).await;
    let c = client();

    // 200: stored, with its ETag.
    assert!(!store.has_copy("web"));
    let st = store.refresh(&c, "web", &url).await.unwrap();
    assert_eq!(st, FetchStatus::Updated { bytes: 20 });
    assert!(blocks(&store, "one.example"));

    // Same ETag: the request carries it and the server says 304.
    assert_eq!(store.refresh(&c, "web", &url).await.unwrap(), FetchStatus::NotModified);
    assert!(state.lock().unwrap().requests[1].contains("if-none-match: \"v1\""));

    // A new version.
    {
        let mut s = state.lock().unwrap();
        s.body = "0.0.0.0 two.example\n".into();
        s.etag = Some("\"v2\"".into());
    }
    assert!(matches!(store.refresh(&c, "web", &url).await.unwrap(), FetchStatus::Updated { .. }));
    assert!(blocks(&store, "two.example") && !blocks(&store, "one.example"));

    // 500: an error to report, and the previous copy stays.
    state.lock().unwrap().status = 500;
    let err = store.refresh(&c, "web", &url).await.unwrap_err();
    assert!(err.to_string().contains("500"), "{err}");
    assert!(blocks(&store, "two.example"));

    // Unreachable (a port nobody listens on): the stored copy still serves.
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}/hosts.txt", l.local_addr().unwrap())
    };
    let err = store.refresh(&c, "web", &dead).await.unwrap_err();
    assert!(matches!(err, SourceError::Request(_)), "{err}");
    let restarted = ListStore::new(dir.join("lists"));
    assert!(blocks(&restarted, "two.example"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn a_new_url_does_not_send_old_validators() {
    let dir = crate::blocklist::tests::temp_dir("source-url");
    let store = ListStore::new(&dir);
    let state = Arc::new(Mutex::new(Server {
        status: 200,
        body: "a.example\n".into(),
        etag: Some("\"e\"".into()),
        ..Default::default()
    }));
    let url = serve(state.clone()).await;
    store.refresh(&client(), "web", &url).await.unwrap();
    let other = format!("{url}?v=2");
    assert!(matches!(store.refresh(&client(), "web", &other).await.unwrap(), FetchStatus::Updated { .. }));
    assert!(!state.lock().unwrap().requests[1].contains("if-none-match"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn file_names_are_safe_and_distinct() {
    let store = ListStore::new("/d");
    let a = store.copy_path("../etc/passwd");
    assert!(a.starts_with("/d") && !a.to_string_lossy().contains(".."), "{a:?}");
    assert_ne!(store.copy_path("a b"), store.copy_path("a_b"));
}

#[test]
fn meta_round_trips() {
    let m = Meta { url: "http://h/x".into(), etag: Some("W/\"1 2\"".into()), last_modified: None };
    assert_eq!(Meta::parse(&m.render()), m);
}

#[tokio::test]
async fn last_modified_is_sent_back_as_if_modified_since() {
    let dir = crate::blocklist::tests::temp_dir("source-ims");
    let store = ListStore::new(&dir);
    let date = "wed, 21 oct 2015 07:28:00 gmt";
    let state = Arc::new(Mutex::new(Server {
        status: 200,
        body: "a.example\n".into(),
        last_modified: Some(date.into()),
        ..Default::default()
    }));
    let url = serve(state.clone()).await;
    assert!(matches!(store.refresh(&client(), "web", &url).await.unwrap(), FetchStatus::Updated { .. }));
    assert_eq!(store.refresh(&client(), "web", &url).await.unwrap(), FetchStatus::NotModified);
    assert!(state.lock().unwrap().requests[1].contains(&format!("if-modified-since: {date}")));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn issue_10_copies_of_removed_lists_are_deleted_and_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let store = ListStore::new(dir.path());
    assert!(store.remove_stale(&[], &[]).unwrap().is_empty(), "an empty store");
    for name in ["kept", "gone", "with space/and slash"] {
        std::fs::write(store.copy_path(name), "x.example\n").unwrap();
        std::fs::write(store.meta_path(name), "url http://h/x\n").unwrap();
    }
    std::fs::write(store.copy_path("gone").with_extension("part"), "half").unwrap();
    std::fs::write(dir.path().join("my-ads.txt"), "admin's own list file\n").unwrap();
    // An admin's file that happens to look like a copy, configured as a path list.
    let lookalike = dir.path().join("mine-0123abcd.list");
    std::fs::write(&lookalike, "y.example\n").unwrap();
    let mut removed = store.remove_stale(&["kept"], std::slice::from_ref(&lookalike)).unwrap();
    removed.sort();
    let mut expected = vec![
        store.copy_path("gone"),
        store.copy_path("gone").with_extension("part"),
        store.meta_path("gone"),
        store.copy_path("with space/and slash"),
        store.meta_path("with space/and slash"),
    ];
    expected.sort();
    assert_eq!(removed, expected);
    assert!(store.has_copy("kept") && store.meta_path("kept").is_file());
    assert!(dir.path().join("my-ads.txt").is_file() && lookalike.is_file());
}

/// The list status says why a download failed, not only "error sending request for url".
#[tokio::test]
async fn a_refused_download_names_its_cause() {
    // A port nobody listens on: bind one, then free it.
    let port = TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap().port();
    let e = reqwest::get(format!("http://127.0.0.1:{port}/list.txt")).await.unwrap_err();
    let why = SourceError::from(e).with_causes();
    assert!(why.starts_with("download failed: "), "{why}");
    assert!(why.to_lowercase().contains("refused"), "{why}");
}

//! A tiny HTTP/1.1 server for list-download tests: serves one body with an ETag, answers
//! 304 to a matching If-None-Match, and can be switched to 500.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicBool, AtomicU16, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

pub struct ListServer {
    pub addr: SocketAddr,
    pub body: Arc<Mutex<(String, String)>>, // (etag, body)
    pub status: Arc<AtomicU16>,
    pub requests: Arc<AtomicU64>,
    pub not_modified: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
}

impl ListServer {
    pub fn start(body: &str) -> ListServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let s = ListServer {
            addr: listener.local_addr().unwrap(),
            body: Arc::new(Mutex::new(("\"v1\"".into(), body.into()))),
            status: Arc::new(AtomicU16::new(200)),
            requests: Arc::new(AtomicU64::new(0)),
            not_modified: Arc::new(AtomicU64::new(0)),
            stop: Arc::new(AtomicBool::new(false)),
        };
        let (body, status, requests, nm, stop) =
            (s.body.clone(), s.status.clone(), s.requests.clone(), s.not_modified.clone(), s.stop.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let Ok((mut conn, _)) = listener.accept() else {
                    std::thread::sleep(std::time::Duration::from_millis(10));
                    continue;
                };
                conn.set_nonblocking(false).unwrap();
                requests.fetch_add(1, Ordering::Relaxed);
                let mut inm = None;
                let mut reader = BufReader::new(conn.try_clone().unwrap());
                let mut line = String::new();
                while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                    if let Some(v) = line.to_ascii_lowercase().strip_prefix("if-none-match:") {
                        inm = Some(v.trim().to_string());
                    }
                    line.clear();
                }
                let (etag, text) = body.lock().unwrap().clone();
                let code = status.load(Ordering::Relaxed);
                let resp = if code != 200 {
                    format!("HTTP/1.1 {code} Oops\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                } else if inm.as_deref() == Some(etag.as_str()) {
                    nm.fetch_add(1, Ordering::Relaxed);
                    format!("HTTP/1.1 304 Not Modified\r\nETag: {etag}\r\nConnection: close\r\n\r\n")
                } else {
                    format!(
                        "HTTP/1.1 200 OK\r\nETag: {etag}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
                        text.len()
                    )
                };
                let _ = conn.write_all(resp.as_bytes());
            }
        });
        s
    }

    pub fn set_body(&self, etag: &str, body: &str) {
        *self.body.lock().unwrap() = (format!("\"{etag}\""), body.to_string());
    }

    pub fn url(&self) -> String {
        format!("http://{}/list.txt", self.addr)
    }
}

impl Drop for ListServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

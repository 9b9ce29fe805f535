//! A real `judgelet serve` (or `judgelet function`) for the binary's test suites.

#![allow(dead_code)] // Each suite uses its own part of the helper.

use std::process::Command;

impl Drop for Served {
    /// A failed test must not leave its server running (it holds the harness's output).
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A `judgelet serve` on an ephemeral port, with its own uid range.
pub struct Served {
    pub child: std::process::Child,
    pub address: String,
    pub uids: std::ops::Range<u32>,
    /// What it wrote on stderr.
    log: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    /// Its working directory, where its store lives by default.
    _dir: tempfile::TempDir,
}

impl Served {
    pub fn start(uid_base: u32, extra: &[&str]) -> Served {
        Served::launch(uid_base, &["serve"], extra, &[])
    }

    /// `judgelet function NAME`, with the environment OpenFaaS gives a function.
    pub fn function(uid_base: u32, name: &str, env: &[(&str, &str)]) -> Served {
        Served::launch(uid_base, &["function", name], &[], env)
    }

    pub fn launch(uid_base: u32, command: &[&str], extra: &[&str], env: &[(&str, &str)]) -> Served {
        use std::io::BufRead;
        let base = uid_base.to_string();
        let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_judgelet"))
            .current_dir(dir.path())
            .args(command)
            .args([
                "--bind",
                "127.0.0.1",
                "--port",
                "0",
                "--uid-base",
                &base,
                "--uid-count",
                "50",
            ])
            .args(extra)
            .envs(env.iter().copied())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut stderr = std::io::BufReader::new(child.stderr.take().unwrap()).lines();
        let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let mut address = String::new();
        for line in stderr.by_ref() {
            let line = line.unwrap();
            if let Some(rest) = line.strip_prefix("judgelet: listening on http://") {
                address = rest.to_owned();
                break;
            }
            log.lock().unwrap().push(line);
        }
        assert!(!address.is_empty(), "the server did not start");
        // Keep draining, and show what the server says after.
        let lines = log.clone();
        std::thread::spawn(move || {
            for line in stderr.map_while(Result::ok) {
                eprintln!("server: {line}");
                lines.lock().unwrap().push(line);
            }
        });
        Served {
            child,
            address,
            uids: uid_base..uid_base + 50,
            log,
            _dir: dir,
        }
    }

    /// Sends a text request on a raw connection; the thread returns the raw response.
    pub fn post_python(&self, source: &str) -> std::thread::JoinHandle<String> {
        self.post("/function/python", source)
    }

    /// Sends a text request to `path` on a raw connection; the thread returns the response.
    pub fn post(&self, path: &str, source: &str) -> std::thread::JoinHandle<String> {
        use std::io::{Read, Write};
        let mut stream = std::net::TcpStream::connect(&self.address).unwrap();
        let request = format!(
            "POST {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n{source}",
            source.len()
        );
        stream.write_all(request.as_bytes()).unwrap();
        std::thread::spawn(move || {
            let mut response = String::new();
            let _ = stream.read_to_string(&mut response);
            response
        })
    }

    /// One request on a raw connection: the status code and the whole response.
    pub fn request(&self, head: &str, body: &str) -> (u16, String) {
        self.request_as(head, "text/plain", body)
    }

    /// One request with a body of `content_type`.
    pub fn request_as(&self, head: &str, content_type: &str, body: &str) -> (u16, String) {
        use std::io::{Read, Write};
        let mut stream = std::net::TcpStream::connect(&self.address).unwrap();
        let request = format!(
            "{head} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: {content_type}\r\nX-Call-Id: call-42\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        stream.write_all(request.as_bytes()).unwrap();
        stream
            .set_read_timeout(Some(std::time::Duration::from_secs(10)))
            .unwrap();
        let mut response = String::new();
        let _ = stream.read_to_string(&mut response);
        let status = response
            .split(' ')
            .nth(1)
            .and_then(|code| code.parse().ok())
            .unwrap_or(0);
        (status, response)
    }

    pub fn terminate(&self) {
        // SAFETY: sending a signal to our own child.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
    }

    pub fn running_programs(&self) -> usize {
        testkit::processes_of(&self.uids).len()
    }

    pub fn wait_for_programs(&self) {
        for _ in 0..500 {
            if self.running_programs() > 0 {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        panic!("the program never started");
    }
}

impl Served {
    /// One request on a raw connection: the status code and the body as JSON (`null` when
    /// it is not JSON).
    pub fn call(&self, head: &str, body: &str) -> (u16, serde_json::Value) {
        self.call_as(head, "text/plain", body)
    }

    /// [`Served::call`] with a body of `content_type`.
    pub fn call_as(&self, head: &str, content_type: &str, body: &str) -> (u16, serde_json::Value) {
        let (status, response) = self.request_as(head, content_type, body);
        let body = response.split_once("\r\n\r\n").map_or("", |(_, body)| body);
        (
            status,
            serde_json::from_str(body).unwrap_or(serde_json::Value::Null),
        )
    }

    /// Stores `source` for the `python` function: its submission id.
    pub fn submit_python(&self, source: &str) -> String {
        let (status, accepted) = self.call("POST /async-function/python", source);
        assert_eq!(status, 202, "{accepted}");
        accepted["id"].as_str().unwrap().to_owned()
    }

    /// A stored submission as `GET /results/<id>` shows it.
    pub fn result(&self, id: &str) -> serde_json::Value {
        let (status, result) = self.call(&format!("GET /results/{id}"), "");
        assert_eq!(status, 200, "{result}");
        result
    }

    /// Waits until a stored submission is done: its result.
    pub fn done(&self, id: &str) -> serde_json::Value {
        let start = std::time::Instant::now();
        loop {
            let result = self.result(id);
            if result["state"] == "done" {
                return result;
            }
            assert!(
                start.elapsed() < std::time::Duration::from_secs(120),
                "not done: {result}"
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }

    /// Waits for a line of its log that contains `text`.
    pub fn wait_for_log(&self, text: &str) -> String {
        for _ in 0..500 {
            if let Some(line) = self.log.lock().unwrap().iter().find(|l| l.contains(text)) {
                return line.clone();
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        panic!("no log line with {text:?}: {:?}", self.log.lock().unwrap());
    }

    /// This replica's name in results.
    pub fn runner(&self) -> String {
        let (_, health) = self.call("GET /healthz", "");
        health["runner"].as_str().unwrap().to_owned()
    }

    /// The server's resident memory, KiB.
    pub fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|l| l.split_whitespace().next())
            .and_then(|kib| kib.parse().ok())
            .unwrap()
    }
}

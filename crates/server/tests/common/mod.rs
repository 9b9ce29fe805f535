//! A gateway over real HTTP on 127.0.0.1 (an ephemeral port), with the real sandbox, for the
//! server's test suites.

#![allow(dead_code)] // Each suite uses its own part of the helper.

use std::net::SocketAddr;
use std::time::Duration;

use lang::{Toolchain, ToolchainConfig};
use sandbox::{Sandbox, SandboxConfig};
use serde_json::Value;
use server::{AppState, ServerConfig};

pub struct Server {
    pub address: SocketAddr,
    pub http: reqwest::Client,
    pub uids: std::ops::Range<u32>,
    _stop: tokio::sync::oneshot::Sender<()>,
    _cache: tempfile::TempDir,
}

/// The configuration tests start from: `slots`, `queue`, and the repository's problems.
pub fn config(slots: usize, queue: usize) -> ServerConfig {
    ServerConfig {
        slots,
        queue,
        problems_dir: Some(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../problems")),
        ..ServerConfig::default()
    }
}

impl Server {
    /// A server of its own with `slots` and `queue`, and its own uid range so that tests
    /// can look for processes it left behind.
    pub async fn start(slots: usize, queue: usize, uid_base: u32) -> Server {
        Server::with(config(slots, queue), uid_base, None).await
    }

    /// A server with `config`, keeping submissions in `store` if given.
    pub async fn with(config: ServerConfig, uid_base: u32, store: Option<store::Store>) -> Server {
        let cache = tempfile::tempdir_in("/dev/shm").unwrap();
        let sandbox = Sandbox::new(SandboxConfig {
            uid_base,
            uid_count: 300,
            ..SandboxConfig::default()
        })
        .unwrap();
        let toolchain = Toolchain::new(
            sandbox,
            ToolchainConfig {
                cache_dir: cache.path().to_owned(),
                ..ToolchainConfig::default()
            },
        )
        .unwrap();
        let state = AppState::new(toolchain, config, store);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(server::serve(
            listener,
            state.clone(),
            server::app(state),
            async {
                let _ = stopped.await;
            },
            Duration::from_secs(5),
        ));
        Server {
            address,
            http: reqwest::Client::builder()
                .pool_max_idle_per_host(0)
                .build()
                .unwrap(),
            uids: uid_base..uid_base + 300,
            _stop: stop,
            _cache: cache,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    pub async fn text(
        &self,
        function: &str,
        source: impl Into<reqwest::Body>,
    ) -> reqwest::Response {
        self.http
            .post(self.url(&format!("/function/{function}")))
            .header("content-type", "text/plain")
            .body(source)
            .send()
            .await
            .unwrap()
    }

    pub async fn json(&self, function: &str, body: Value) -> (u16, Value) {
        let response = self
            .http
            .post(self.url(&format!("/function/{function}")))
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap())
    }

    /// A GET of `path`: the status and the JSON body.
    pub async fn get(&self, path: &str) -> (u16, Value) {
        let response = self.http.get(self.url(path)).send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Processes running as one of this server's box uids.
    pub fn leftovers(&self) -> Vec<u32> {
        testkit::processes_of(&self.uids)
    }
}

/// A server keeping its submissions in an SQLite file of its own.
pub struct Stored {
    server: Server,
    _data: tempfile::TempDir,
}

impl std::ops::Deref for Stored {
    type Target = Server;
    fn deref(&self) -> &Server {
        &self.server
    }
}

pub async fn stored(config: ServerConfig, uid_base: u32) -> Stored {
    let data = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let url = format!("sqlite:{}", data.path().join("judgelet.db").display());
    let store = store::Store::open(&url).await.unwrap();
    Stored {
        server: Server::with(config, uid_base, Some(store)).await,
        _data: data,
    }
}

pub fn header(response: &reqwest::Response, name: &str) -> String {
    response
        .headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

use std::net::SocketAddr;

use relyard::config::ServerConfig;
use relyard::server::Server;

use crate::TestDb;

/// A relyard server on 127.0.0.1:<free port> over its own test database.
pub struct TestServer {
    pub server: Server,
    pub root_url: String,
    pub root_access_token: String,
    pub db: TestDb,
    _data: tempfile::TempDir,
}

impl TestServer {
    pub async fn start() -> TestServer {
        let db = TestDb::new().await;
        Self::start_on(db).await
    }

    /// Starts a server on a new test database with a changed configuration (e.g. short claims).
    pub async fn start_with(adjust: impl FnOnce(&mut ServerConfig)) -> TestServer {
        let db = TestDb::new().await;
        Self::start_configured(db, adjust).await
    }

    /// Starts a server on an existing test database (e.g. a second server on the same one).
    pub async fn start_on(db: TestDb) -> TestServer {
        Self::start_configured(db, |_| {}).await
    }

    async fn start_configured(db: TestDb, adjust: impl FnOnce(&mut ServerConfig)) -> TestServer {
        let data = tempfile::tempdir().expect("temp dir");
        let root_access_token = format!(
            "{}{}",
            relyard_core::ids::slugid(),
            relyard_core::ids::slugid()
        );
        let mut config = ServerConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            root_url: None,
            database_url: db.url.clone(),
            amqp_url: None,
            data_dir: data.path().to_path_buf(),
            artifact_s3: None,
            root_access_token: root_access_token.clone(),
            encryption_keys: vec![("test".into(), "a test encryption key".into())],
            claim_timeout_secs: relyard::config::DEFAULT_CLAIM_TIMEOUT_SECS,
            reaper_interval: relyard::config::DEFAULT_REAPER_INTERVAL,
            tls: None,
            updates: Default::default(),
            github: None,
        };
        adjust(&mut config);
        let server = Server::start(config).await.expect("server starts");
        let root_url = server.root_url.clone();
        TestServer {
            server,
            root_url,
            root_access_token,
            db,
            _data: data,
        }
    }

    /// Where this server keeps artifact bytes (tests alter them to prove checks notice).
    pub fn data_dir(&self) -> &std::path::Path {
        self._data.path()
    }

    pub fn root_credentials(&self) -> taskcluster::Credentials {
        taskcluster::Credentials::new(relyard_auth::ROOT_CLIENT_ID, &self.root_access_token)
    }

    /// A client builder for the official Rust client, signed with `credentials`.
    pub fn client(
        &self,
        credentials: Option<taskcluster::Credentials>,
    ) -> taskcluster::ClientBuilder {
        let b = taskcluster::ClientBuilder::new(&self.root_url);
        match credentials {
            Some(c) => b.credentials(c),
            None => b,
        }
    }

    pub fn root_client(&self) -> taskcluster::ClientBuilder {
        self.client(Some(self.root_credentials()))
    }
}

//! Building and running Vestnik: the API and the worker, in one process or apart.

use std::future::Future;
use std::sync::Arc;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::api::{self, AppState};
use crate::channels::Gateways;
use crate::clock::Clock;
use crate::deadlines::Rulebook;
use crate::dispatch::{Dispatcher, LiveTemplates};
use crate::metrics::Metrics;
use crate::settings::Settings;
use crate::storage::Db;
use crate::templates::{Renderer, TemplateSet};
use crate::worker;

/// Everything a running Vestnik holds.
pub struct App {
    pub settings: Arc<Settings>,
    pub db: Db,
    pub rulebook: Arc<Rulebook>,
    pub gateways: Gateways,
    pub dispatcher: Arc<Dispatcher>,
    /// The default set from `templates/`: its partials, and what a re-import compares.
    pub templates: Arc<TemplateSet>,
    /// Whether [`App::serve`]'s worker is running, for `/ready`.
    pub worker: worker::Presence,
}

impl App {
    /// Connects, migrates and loads templates; fails early on anything misconfigured.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        Self::build_with_clock(settings, Clock::system()).await
    }

    /// As [`App::build`], planning by `clock` (tests pass a fake one).
    pub async fn build_with_clock(settings: Settings, clock: Clock) -> anyhow::Result<Self> {
        let db = Db::connect(&settings.database.url, settings.database.max_connections).await?;
        db.migrate().await?;
        // Before anything is stamped or leased: keep the database's time (crate::clock).
        if let Err(e) = clock.step_with(&db).await {
            warn!(
                error = format!("{e:#}"),
                "could not read the database's clock"
            );
        }
        let rulebook = Arc::new(Rulebook::load(&settings.deadlines)?);
        // The files seed the database on first start; dispatch renders the active versions.
        let defaults =
            TemplateSet::load_dir(&settings.templates.dir).context("loading templates")?;
        Renderer::new(&defaults).context("compiling the default templates")?;
        db.seed_templates(&defaults)
            .await
            .context("seeding templates")?;
        let templates = Arc::new(LiveTemplates::load(db.clone(), defaults.partials.clone()).await?);
        // Only PostgreSQL has several worker processes to coordinate; SQLite is one process,
        // and an extra writer per block would only contend for its single write lock.
        let shared_limits = (settings.dispatch.shared_rate_limits
            && matches!(db, crate::storage::Db::Postgres(_)))
        .then_some(&db);
        let gateways = Gateways::from_settings(&settings, shared_limits)?;
        let metrics = Metrics::new();
        let dispatcher = Arc::new(Dispatcher::new(
            db.clone(),
            templates,
            rulebook.clone(),
            gateways.clone(),
            &settings,
            clock.clone(),
            metrics,
        )?);
        Ok(Self {
            settings: Arc::new(settings),
            db,
            rulebook,
            gateways,
            dispatcher,
            templates: Arc::new(defaults),
            worker: worker::Presence::default(),
        })
    }

    pub fn router(&self) -> axum::Router {
        api::router(AppState {
            db: self.db.clone(),
            settings: self.settings.clone(),
            rulebook: self.rulebook.clone(),
            providers: self.gateways.providers(),
            documents: self.dispatcher.documents().clone(),
            clock: self.dispatcher.clock().clone(),
            worker: self.worker.clone(),
            templates: self.templates.clone(),
            metrics: self.dispatcher.metrics().clone(),
            gateways: self.gateways.clone(),
            receipts: crate::receipts::Recorder::new(
                self.db.clone(),
                self.dispatcher.documents().clone(),
                self.settings.clone(),
                self.dispatcher.metrics().clone(),
            ),
        })
    }

    /// Serves the API on `listener` and runs a worker until `shutdown` is cancelled; then
    /// stops taking requests and jobs and lets in-flight ones finish.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: CancellationToken,
    ) -> anyhow::Result<()> {
        let running = self.worker.enter();
        let worker = tokio::spawn({
            let run = worker::run(self.dispatcher.clone(), shutdown.clone().cancelled_owned());
            async move {
                let _running = running;
                run.await
            }
        });
        let served = self.serve_api(listener, shutdown.clone()).await;
        shutdown.cancel();
        worker.await.context("worker task panicked")??;
        served
    }

    /// Serves the API alone until `shutdown` is cancelled; `vestnik worker` processes
    /// deliver what it accepts.
    pub async fn serve_api(
        self,
        listener: TcpListener,
        shutdown: CancellationToken,
    ) -> anyhow::Result<()> {
        info!(address = %listener.local_addr()?, "serving the API");
        tokio::spawn(self.keep_in_step(shutdown.clone().cancelled_owned()));
        axum::serve(listener, self.router())
            .with_graceful_shutdown(shutdown.cancelled_owned())
            .await
            .context("HTTP server failed")
    }

    /// Runs only the worker until `shutdown` completes.
    pub async fn work(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let stop = CancellationToken::new();
        tokio::spawn(self.keep_in_step(stop.clone().cancelled_owned()));
        let result = worker::run(self.dispatcher.clone(), shutdown).await;
        stop.cancel();
        result
    }

    fn keep_in_step(
        &self,
        stop: impl Future<Output = ()> + Send + 'static,
    ) -> impl Future<Output = ()> + Send + 'static {
        crate::clock::keep_in_step(
            self.dispatcher.clock().clone(),
            self.db.clone(),
            self.dispatcher.metrics().clone(),
            stop,
        )
    }
}

/// Completes on SIGTERM or Ctrl-C.
pub async fn termination_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM handler");
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
    info!("shutdown requested");
}

//! An export's sessions on the source. The first reads the high-water key
//! and streams pages; the second finds the next page's extent while the
//! first streams. The second is checked out only when a page is followed by
//! another, so an export that fits in one page costs one session, not two.

use crate::context::WorkerContext;
use haul_db::source::SourceConn;
use tokio::sync::OnceCell;

pub struct SourceSessions<'a> {
    ctx: &'a WorkerContext,
    timezone: &'a str,
    first: SourceConn,
    second: OnceCell<SourceConn>,
}

impl<'a> SourceSessions<'a> {
    pub async fn open(ctx: &'a WorkerContext, timezone: &'a str) -> anyhow::Result<Self> {
        Ok(Self {
            ctx,
            timezone,
            first: ctx.sources.session(timezone).await?,
            second: OnceCell::new(),
        })
    }

    pub fn first(&self) -> &SourceConn {
        &self.first
    }

    /// The first session, or the second (checked out on first use).
    pub async fn take_turn(&self, second: bool) -> anyhow::Result<&SourceConn> {
        if !second {
            return Ok(&self.first);
        }
        self.second
            .get_or_try_init(|| self.ctx.sources.session(self.timezone))
            .await
    }

    /// Returns both sessions to the pool; only once every page was read to
    /// its end, so that neither is left mid-statement.
    pub fn give_back(self) {
        self.first.give_back();
        if let Some(second) = self.second.into_inner() {
            second.give_back();
        }
    }
}

//! The event store: an append-only log of `control::Event`s in SQLite (the embedded default,
//! one file) or PostgreSQL (for several server replicas), the same schema in both
//! (`migrations/`), applied in version order.
//!
//! Writes go through one writer thread per process, which commits every request waiting in
//! its queue in one transaction (group commit): each acknowledged event is durable (SQLite in
//! WAL mode with `synchronous=FULL`; PostgreSQL with its default synchronous commit) before
//! its caller hears back, and many concurrent submissions share one fsync. A submission's
//! idempotency key is a unique index: a retry finds the first event instead of adding one.
//! On PostgreSQL each write transaction takes a lock on the table first, so sequence numbers
//! become visible in order and replicas that tail the log by `seq` miss nothing.
//!
//! Snapshots of the folded state (every `snapshot_every` events, written by the leader) let a
//! start replay only the events after the newest one.
//!
//! One process at a time runs the control loop: on PostgreSQL it holds a session advisory lock
//! on a connection of its own, which the database releases when the process dies.

use anyhow::{anyhow, Context, Result};
use std::sync::mpsc;
use std::time::Duration;

/// An event to append, as stored.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub at_ms: i64,
    pub tenant: String,
    pub idem_key: Option<String>,
    pub kind: String,
    pub job: Option<String>,
    pub body: String,
    /// The log's last sequence number when the event was decided (optimistic concurrency):
    /// where any event about the same job or service was written after it (by another
    /// request), this one is not written (`Appended::Conflict`) and the caller decides again.
    pub decided_at: Option<i64>,
    /// Other subjects the decision read (a dispatch read its site), checked like `job` but not
    /// stored.
    pub also: Vec<String>,
}

/// What appending one event did.
#[derive(Debug, Clone, PartialEq)]
pub enum Appended {
    /// Stored with this sequence number.
    New(i64),
    /// An event with the same tenant and idempotency key was stored before: its seq and body.
    Existing(i64, String),
    /// Not written: something about its job or service was written after it was decided.
    Conflict,
    /// Not written: it was the control loop's, under a leader's epoch that has moved on.
    Deposed,
}

/// A leader's lease as its writes carry it: who holds it, and its epoch.
#[derive(Debug, Clone, PartialEq)]
pub struct Lease {
    pub holder: String,
    pub epoch: i64,
}

/// One request of a group commit: its number of events, and the lease of the leader that
/// decided them (none for a request from the API).
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    pub len: usize,
    pub lease: Option<Lease>,
}

/// Which events of one request conflict: those about a job or service (`NewEvent::job`) with
/// an event written after the request's decision (earlier requests of a group commit
/// included). `later(job, after)` lists the sequence numbers of that job's events after `after`.
fn conflicts(events: &[NewEvent], mut later: impl FnMut(&str, i64) -> Result<Vec<i64>>) -> Result<Vec<bool>> {
    let mut out = Vec::with_capacity(events.len());
    let mut seen: std::collections::BTreeMap<String, bool> = std::collections::BTreeMap::new();
    for e in events {
        let mut c = false;
        if let Some(at) = e.decided_at {
            for key in e.job.iter().chain(e.also.iter()) {
                let k = match seen.get(key) {
                    Some(k) => *k,
                    None => {
                        let k = !later(key, at)?.is_empty();
                        seen.insert(key.clone(), k);
                        k
                    }
                };
                c |= k;
            }
        }
        // A conflicting event's subject conflicts for the rest of the request too.
        if c {
            if let Some(j) = &e.job {
                seen.insert(j.clone(), true);
            }
        }
        out.push(c);
    }
    Ok(out)
}

/// The requests of a group commit, as ranges of its events with their leases.
fn requests(n: usize, reqs: &[Request]) -> Vec<(std::ops::Range<usize>, Option<Lease>)> {
    if reqs.is_empty() {
        return vec![(0..n, None)];
    }
    let mut at = 0;
    reqs.iter()
        .map(|q| {
            let r = at..(at + q.len).min(n);
            at += q.len;
            (r, q.lease.clone())
        })
        .collect()
}

/// How long a leader's lease lasts unless renewed, ms. The leader renews it every
/// `LEASE_RENEW_MS`; a leader that stops renewing (dead, frozen, cut off) is replaced within
/// `LEASE_MS + LEASE_RENEW_MS`.
pub const LEASE_MS: i64 = 5000;
pub const LEASE_RENEW_MS: u64 = 1000;

/// A database the log lives in.
pub trait Backend: Send {
    /// Appends a group commit's events in one transaction, in order: `sizes` splits them into
    /// requests, each checked for conflicts (`NewEvent::decided_at`) before any of its events
    /// is written.
    fn append(&mut self, batch: &[NewEvent], requests: &[Request]) -> Result<Vec<Appended>>;
    /// Takes or renews the leader's lease for `holder` (for `LEASE_MS` from now, by the
    /// database's clock): its epoch if held, a new epoch when it changes hands; `None` while
    /// another holder's lease runs.
    fn lead(&mut self, holder: &str) -> Result<Option<i64>>;
    /// Gives the lease up (a clean stop), so another server takes it at once.
    fn resign(&mut self, holder: &str) -> Result<()>;
    /// Events after `seq`, in order, at most `limit`.
    fn since(&mut self, seq: i64, limit: i64) -> Result<Vec<(i64, String)>>;
    /// One tenant's events after `seq`, in order, at most `limit` (by the (tenant, seq) index).
    fn since_for(&mut self, tenant: &str, seq: i64, limit: i64) -> Result<Vec<(i64, String)>>;
    fn meta(&mut self, key: &str) -> Result<Option<String>>;
    /// Sets `key` unless it is set; returns the value now stored.
    fn meta_init(&mut self, key: &str, value: &str) -> Result<String>;
    /// The newest snapshot: the state folded up to `seq`, as JSON.
    fn latest_snapshot(&mut self) -> Result<Option<(i64, String)>>;
    /// Stores a snapshot (a second one at the same `seq` is ignored) and drops old ones.
    fn put_snapshot(&mut self, seq: i64, at_ms: i64, body: &str) -> Result<()>;
}

const SQLITE_MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../migrations/sqlite/0001_events.sql")),
    (2, include_str!("../migrations/sqlite/0002_snapshots.sql")),
    (3, include_str!("../migrations/sqlite/0003_leader.sql")),
];
const POSTGRES_MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../migrations/postgres/0001_events.sql")),
    (2, include_str!("../migrations/postgres/0002_snapshots.sql")),
    (3, include_str!("../migrations/postgres/0003_leader.sql")),
];

/// Snapshots kept (the newest ones); older ones are deleted when a new one is written.
const SNAPSHOTS_KEPT: i64 = 2;

pub struct Sqlite(rusqlite::Connection);

impl Sqlite {
    pub fn open(path: &str) -> Result<Sqlite> {
        let c = rusqlite::Connection::open(path).with_context(|| format!("cannot open SQLite database {path}"))?;
        c.busy_timeout(Duration::from_secs(10))?;
        c.pragma_update(None, "journal_mode", "WAL")?;
        c.pragma_update(None, "synchronous", "FULL")?;
        c.execute_batch("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY)")?;
        for (v, sql) in SQLITE_MIGRATIONS {
            let done: i64 = c.query_row("SELECT COUNT(*) FROM schema_migrations WHERE version = ?1", [v], |r| r.get(0))?;
            if done == 0 {
                let tx = c.unchecked_transaction()?;
                tx.execute_batch(sql).with_context(|| format!("migration {v}"))?;
                tx.execute("INSERT INTO schema_migrations (version) VALUES (?1)", [v])?;
                tx.commit()?;
            }
        }
        Ok(Sqlite(c))
    }
}

impl Backend for Sqlite {
    fn append(&mut self, batch: &[NewEvent], reqs: &[Request]) -> Result<Vec<Appended>> {
        // The write lock from the start: a deferred transaction that read first fails with
        // SQLITE_BUSY_SNAPSHOT (517, which no busy timeout waits out) when another connection (the
        // lease's) commits between its read and its write.
        let tx = self.0.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let mut out = Vec::with_capacity(batch.len());
        for (r, lease) in requests(batch.len(), reqs) {
            let events = &batch[r];
            if let Some(l) = &lease {
                let now: Option<(String, i64)> = tx
                    .query_row("SELECT holder, epoch FROM leader WHERE id = 1", [], |r| Ok((r.get(0)?, r.get(1)?)))
                    .map(Some)
                    .or_else(|e| if e == rusqlite::Error::QueryReturnedNoRows { Ok(None) } else { Err(e) })?;
                if now != Some((l.holder.clone(), l.epoch)) {
                    out.extend(events.iter().map(|_| Appended::Deposed));
                    continue;
                }
            }
            let epoch = lease.as_ref().map(|l| l.epoch);
            let mut later = tx.prepare_cached("SELECT seq FROM events WHERE job = ?1 AND seq > ?2 LIMIT 1")?;
            let conflict = conflicts(events, |key, at| {
                Ok(later.query_map(rusqlite::params![key, at], |r| r.get(0))?.collect::<rusqlite::Result<Vec<i64>>>()?)
            })?;
            let mut ins = tx.prepare_cached("INSERT INTO events (at_ms, tenant, idem_key, kind, job, body, epoch) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT DO NOTHING RETURNING seq")?;
            let mut find = tx.prepare_cached("SELECT seq, body FROM events WHERE tenant = ?1 AND idem_key = ?2")?;
            for (e, c) in events.iter().zip(conflict) {
                if c {
                    out.push(Appended::Conflict);
                    continue;
                }
                let seq: Option<i64> = ins
                    .query_row(rusqlite::params![e.at_ms, e.tenant, e.idem_key, e.kind, e.job, e.body, epoch], |r| r.get(0))
                    .map(Some)
                    .or_else(|err| if err == rusqlite::Error::QueryReturnedNoRows { Ok(None) } else { Err(err) })?;
                out.push(match seq {
                    Some(s) => Appended::New(s),
                    None => {
                        let (s, body) = find.query_row(rusqlite::params![e.tenant, e.idem_key], |r| Ok((r.get(0)?, r.get(1)?)))?;
                        Appended::Existing(s, body)
                    }
                });
            }
        }
        tx.commit()?;
        Ok(out)
    }
    fn lead(&mut self, holder: &str) -> Result<Option<i64>> {
        let now_ms = (std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_millis()) as i64;
        let epoch = self
            .0
            .query_row(
                "INSERT INTO leader (id, holder, epoch, expires_ms) VALUES (1, ?1, 1, ?2 + ?3) \
                 ON CONFLICT (id) DO UPDATE SET epoch = CASE WHEN leader.holder = excluded.holder THEN leader.epoch ELSE leader.epoch + 1 END, holder = excluded.holder, expires_ms = excluded.expires_ms \
                 WHERE leader.holder = excluded.holder OR leader.expires_ms < ?2 RETURNING epoch",
                rusqlite::params![holder, now_ms, LEASE_MS],
                |r| r.get(0),
            )
            .map(Some)
            .or_else(|e| if e == rusqlite::Error::QueryReturnedNoRows { Ok(None) } else { Err(e) })?;
        Ok(epoch)
    }
    fn resign(&mut self, holder: &str) -> Result<()> {
        self.0.execute("UPDATE leader SET expires_ms = 0 WHERE id = 1 AND holder = ?1", [holder])?;
        Ok(())
    }
    fn since(&mut self, seq: i64, limit: i64) -> Result<Vec<(i64, String)>> {
        let mut q = self.0.prepare_cached("SELECT seq, body FROM events WHERE seq > ?1 ORDER BY seq LIMIT ?2")?;
        let rows = q.query_map([seq, limit], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
    fn since_for(&mut self, tenant: &str, seq: i64, limit: i64) -> Result<Vec<(i64, String)>> {
        let mut q = self.0.prepare_cached("SELECT seq, body FROM events WHERE tenant = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3")?;
        let rows = q.query_map(rusqlite::params![tenant, seq, limit], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
    fn meta(&mut self, key: &str) -> Result<Option<String>> {
        Ok(self.0.query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0)).map(Some).or_else(|e| {
            if e == rusqlite::Error::QueryReturnedNoRows {
                Ok(None)
            } else {
                Err(e)
            }
        })?)
    }
    fn meta_init(&mut self, key: &str, value: &str) -> Result<String> {
        self.0.execute("INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT DO NOTHING", [key, value])?;
        self.meta(key)?.ok_or_else(|| anyhow!("meta {key} vanished"))
    }
    fn latest_snapshot(&mut self) -> Result<Option<(i64, String)>> {
        Ok(self
            .0
            .query_row("SELECT seq, body FROM snapshots ORDER BY seq DESC LIMIT 1", [], |r| Ok((r.get(0)?, r.get(1)?)))
            .map(Some)
            .or_else(|e| if e == rusqlite::Error::QueryReturnedNoRows { Ok(None) } else { Err(e) })?)
    }
    fn put_snapshot(&mut self, seq: i64, at_ms: i64, body: &str) -> Result<()> {
        let tx = self.0.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        tx.execute("INSERT INTO snapshots (seq, at_ms, body) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING", rusqlite::params![seq, at_ms, body])?;
        tx.execute("DELETE FROM snapshots WHERE seq NOT IN (SELECT seq FROM snapshots ORDER BY seq DESC LIMIT ?1)", [SNAPSHOTS_KEPT])?;
        tx.commit()?;
        Ok(())
    }
}

pub struct Postgres(postgres::Client);

impl Postgres {
    pub fn open(url: &str) -> Result<Postgres> {
        let mut c = postgres::Client::connect(url, postgres::NoTls).with_context(|| format!("cannot connect to {}", redact(url)))?;
        // Replicas starting together take turns at migrating.
        let mut tx = c.transaction()?;
        tx.execute("SELECT pg_advisory_xact_lock(7021)", &[])?;
        tx.batch_execute("CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY)")?;
        for (v, sql) in POSTGRES_MIGRATIONS {
            let n: i64 = tx.query_one("SELECT COUNT(*) FROM schema_migrations WHERE version = $1", &[v])?.get(0);
            if n == 0 {
                tx.batch_execute(sql).with_context(|| format!("migration {v}"))?;
                tx.execute("INSERT INTO schema_migrations (version) VALUES ($1)", &[v])?;
            }
        }
        tx.commit()?;
        Ok(Postgres(c))
    }
}

/// A database URL without its password, for messages.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(a), Some(b)) if b > a => {
            let creds = &url[a + 3..b];
            let user = creds.split(':').next().unwrap_or("");
            format!("{}{}:***{}", &url[..a + 3], user, &url[b..])
        }
        _ => url.to_string(),
    }
}

impl Backend for Postgres {
    fn append(&mut self, batch: &[NewEvent], reqs: &[Request]) -> Result<Vec<Appended>> {
        let mut tx = self.0.transaction()?;
        tx.batch_execute("LOCK TABLE events IN SHARE ROW EXCLUSIVE MODE")?;
        // The lease as of this transaction: a server taking it over waits for this write to
        // commit (the row is held), and this write waits for a takeover to commit.
        let lease: Option<(String, i64)> = if reqs.iter().any(|q| q.lease.is_some()) {
            tx.query_opt("SELECT holder, epoch FROM leader WHERE id = 1 FOR SHARE", &[])?.map(|r| (r.get(0), r.get(1)))
        } else {
            None
        };
        let ins = tx.prepare("INSERT INTO events (at_ms, tenant, idem_key, kind, job, body, epoch) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING RETURNING seq")?;
        let find = tx.prepare("SELECT seq, body FROM events WHERE tenant = $1 AND idem_key = $2")?;
        let later = tx.prepare("SELECT seq FROM events WHERE job = $1 AND seq > $2 LIMIT 1")?;
        let mut out = Vec::with_capacity(batch.len());
        for (r, mine) in requests(batch.len(), reqs) {
            let events = &batch[r];
            if let Some(l) = &mine {
                if lease != Some((l.holder.clone(), l.epoch)) {
                    out.extend(events.iter().map(|_| Appended::Deposed));
                    continue;
                }
            }
            let epoch = mine.as_ref().map(|l| l.epoch);
            let conflict = conflicts(events, |key, at| Ok(tx.query(&later, &[&key, &at])?.iter().map(|r| r.get(0)).collect()))?;
            for (e, c) in events.iter().zip(conflict) {
                if c {
                    out.push(Appended::Conflict);
                    continue;
                }
                let rows = tx.query(&ins, &[&e.at_ms, &e.tenant, &e.idem_key, &e.kind, &e.job, &e.body, &epoch])?;
                out.push(match rows.first() {
                    Some(r) => Appended::New(r.get(0)),
                    None => {
                        let r = tx.query_one(&find, &[&e.tenant, &e.idem_key])?;
                        Appended::Existing(r.get(0), r.get(1))
                    }
                });
            }
        }
        tx.commit()?;
        Ok(out)
    }
    fn lead(&mut self, holder: &str) -> Result<Option<i64>> {
        let now = "(extract(epoch from clock_timestamp()) * 1000)::bigint";
        let row = self.0.query_opt(
            &format!(
                "INSERT INTO leader (id, holder, epoch, expires_ms) VALUES (1, $1, 1, {now} + $2) \
                 ON CONFLICT (id) DO UPDATE SET epoch = CASE WHEN leader.holder = excluded.holder THEN leader.epoch ELSE leader.epoch + 1 END, holder = excluded.holder, expires_ms = excluded.expires_ms \
                 WHERE leader.holder = excluded.holder OR leader.expires_ms < {now} RETURNING epoch"
            ),
            &[&holder, &LEASE_MS],
        )?;
        Ok(row.map(|r| r.get(0)))
    }
    fn resign(&mut self, holder: &str) -> Result<()> {
        self.0.execute("UPDATE leader SET expires_ms = 0 WHERE id = 1 AND holder = $1", &[&holder])?;
        Ok(())
    }
    fn since(&mut self, seq: i64, limit: i64) -> Result<Vec<(i64, String)>> {
        let rows = self.0.query("SELECT seq, body FROM events WHERE seq > $1 ORDER BY seq LIMIT $2", &[&seq, &limit])?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }
    fn since_for(&mut self, tenant: &str, seq: i64, limit: i64) -> Result<Vec<(i64, String)>> {
        let rows = self.0.query("SELECT seq, body FROM events WHERE tenant = $1 AND seq > $2 ORDER BY seq LIMIT $3", &[&tenant, &seq, &limit])?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }
    fn meta(&mut self, key: &str) -> Result<Option<String>> {
        Ok(self.0.query_opt("SELECT value FROM meta WHERE key = $1", &[&key])?.map(|r| r.get(0)))
    }
    fn meta_init(&mut self, key: &str, value: &str) -> Result<String> {
        self.0.execute("INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT DO NOTHING", &[&key, &value])?;
        self.meta(key)?.ok_or_else(|| anyhow!("meta {key} vanished"))
    }
    fn latest_snapshot(&mut self) -> Result<Option<(i64, String)>> {
        Ok(self.0.query_opt("SELECT seq, body FROM snapshots ORDER BY seq DESC LIMIT 1", &[])?.map(|r| (r.get(0), r.get(1))))
    }
    fn put_snapshot(&mut self, seq: i64, at_ms: i64, body: &str) -> Result<()> {
        let mut tx = self.0.transaction()?;
        tx.execute("INSERT INTO snapshots (seq, at_ms, body) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING", &[&seq, &at_ms, &body])?;
        tx.execute("DELETE FROM snapshots WHERE seq NOT IN (SELECT seq FROM snapshots ORDER BY seq DESC LIMIT $1)", &[&SNAPSHOTS_KEPT])?;
        tx.commit()?;
        Ok(())
    }
}

/// Where the log lives, parsed from `--db`.
#[derive(Debug, Clone, PartialEq)]
pub enum Db {
    Sqlite(String),
    Postgres(String),
}

impl Db {
    pub fn parse(url: &str) -> Result<Db, String> {
        if let Some(p) = url.strip_prefix("sqlite:") {
            let p = p.trim_start_matches("//");
            if p.is_empty() {
                return Err("sqlite: needs a file path, e.g. sqlite:xisuan.db".into());
            }
            Ok(Db::Sqlite(p.to_string()))
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Db::Postgres(url.to_string()))
        } else {
            Err(format!("`{url}` is not sqlite:PATH or postgres://..."))
        }
    }
    pub fn connect(&self) -> Result<Box<dyn Backend>> {
        Ok(match self {
            Db::Sqlite(p) => Box::new(Sqlite::open(p)?),
            Db::Postgres(u) => Box::new(Postgres::open(u)?),
        })
    }
    pub fn describe(&self) -> String {
        match self {
            Db::Sqlite(p) => format!("SQLite {p}"),
            Db::Postgres(u) => format!("PostgreSQL {}", redact(u)),
        }
    }
}

/// The control loop's leadership: a lease with an epoch in the database (`Backend::lead`),
/// one connection of its own. `holder` names this process (random, per start).
pub struct Leadership {
    backend: Box<dyn Backend>,
    pub holder: String,
}

impl Leadership {
    pub fn connect(db: &Db, holder: &str) -> Result<Leadership> {
        Ok(Leadership { backend: db.connect()?, holder: holder.to_string() })
    }
    /// Takes or renews the lease: its epoch while this process holds it.
    pub fn try_lead(&mut self) -> Result<Option<i64>> {
        self.backend.lead(&self.holder)
    }
    pub fn resign(&mut self) -> Result<()> {
        self.backend.resign(&self.holder)
    }
}

/// A thing owned by a thread of its own (a database connection): the synchronous PostgreSQL
/// client runs a runtime inside, which must not be entered from the server's async tasks, so
/// every connection lives on a plain thread and is reached through this.
pub struct Actor<T> {
    tx: mpsc::Sender<Call<T>>,
}

/// A call for an actor's thread to run on the thing it owns.
type Call<T> = Box<dyn FnOnce(&mut T) + Send>;

impl<T: 'static> Actor<T> {
    /// Starts the thread and builds `T` on it; fails if `make` fails.
    pub fn spawn(name: &str, make: impl FnOnce() -> Result<T> + Send + 'static) -> Result<Actor<T>> {
        let (tx, rx) = mpsc::channel::<Box<dyn FnOnce(&mut T) + Send>>();
        let (ready_tx, ready_rx) = mpsc::channel::<Result<(), String>>();
        std::thread::Builder::new().name(name.into()).spawn(move || {
            let mut t = match make() {
                Ok(t) => {
                    let _ = ready_tx.send(Ok(()));
                    t
                }
                Err(e) => {
                    let _ = ready_tx.send(Err(format!("{e:#}")));
                    return;
                }
            };
            while let Ok(job) = rx.recv() {
                job(&mut t);
            }
        })?;
        ready_rx.recv().map_err(|_| anyhow!("{name} stopped"))?.map_err(|e| anyhow!(e))?;
        Ok(Actor { tx })
    }

    /// Runs `f` on the thread and waits for its answer without blocking the async runtime.
    pub async fn call<R: Send + 'static>(&self, f: impl FnOnce(&mut T) -> R + Send + 'static) -> Result<R> {
        let (reply, rx) = tokio::sync::oneshot::channel();
        self.tx
            .send(Box::new(move |t: &mut T| {
                let _ = reply.send(f(t));
            }))
            .map_err(|_| anyhow!("a store thread has stopped"))?;
        rx.await.map_err(|_| anyhow!("a store thread has stopped"))
    }
}

/// A request to the writer thread.
struct Write {
    events: Vec<NewEvent>,
    lease: Option<Lease>,
    reply: tokio::sync::oneshot::Sender<Result<Vec<Appended>, String>>,
}

/// The handle the server uses: appends through the group-commit writer, reads through a
/// connection of its own.
pub struct Store {
    tx: mpsc::Sender<Write>,
    reader: Actor<Box<dyn Backend>>,
    /// A connection of its own for what clients page through (events), so their reads never
    /// queue ahead of the state's own catching up (which every write waits for).
    pages: Actor<Box<dyn Backend>>,
    pub db: Db,
}

impl Store {
    pub fn open(db: Db) -> Result<Store> {
        let (tx, rx) = mpsc::channel::<Write>();
        let (ready_tx, ready_rx) = mpsc::channel::<Result<(), String>>();
        let wdb = db.clone();
        std::thread::Builder::new().name("xisuan-store-writer".into()).spawn(move || {
            let mut writer = match wdb.connect() {
                Ok(w) => {
                    let _ = ready_tx.send(Ok(()));
                    w
                }
                Err(e) => {
                    let _ = ready_tx.send(Err(format!("{e:#}")));
                    return;
                }
            };
            while let Ok(first) = rx.recv() {
                let mut batch = vec![first];
                while batch.len() < 1024 {
                    match rx.try_recv() {
                        Ok(w) => batch.push(w),
                        Err(_) => break,
                    }
                }
                let events: Vec<NewEvent> = batch.iter().flat_map(|w| w.events.iter().cloned()).collect();
                let reqs: Vec<Request> = batch.iter().map(|w| Request { len: w.events.len(), lease: w.lease.clone() }).collect();
                match writer.append(&events, &reqs) {
                    Ok(results) => {
                        let mut it = results.into_iter();
                        for w in batch {
                            let n = w.events.len();
                            let _ = w.reply.send(Ok(it.by_ref().take(n).collect()));
                        }
                    }
                    Err(e) => {
                        for w in batch {
                            let _ = w.reply.send(Err(format!("{e:#}")));
                        }
                        // A connection the database closed (a restart, an administrator's
                        // pg_terminate_backend) is replaced for the next write.
                        if let Ok(w) = wdb.connect() {
                            writer = w;
                        }
                    }
                }
            }
        })?;
        ready_rx.recv().map_err(|_| anyhow!("the store writer stopped"))?.map_err(|e| anyhow!(e))?;
        let rdb = db.clone();
        let reader = Actor::spawn("xisuan-store-reader", move || rdb.connect())?;
        let pdb = db.clone();
        let pages = Actor::spawn("xisuan-store-pages", move || pdb.connect())?;
        Ok(Store { tx, reader, pages, db })
    }

    /// Appends events in one transaction (shared with other waiting writers) and returns once
    /// they are durable.
    pub async fn append(&self, events: Vec<NewEvent>, lease: Option<Lease>) -> Result<Vec<Appended>> {
        let (reply, rx) = tokio::sync::oneshot::channel();
        self.tx.send(Write { events, lease, reply }).map_err(|_| anyhow!("the store writer has stopped"))?;
        rx.await.map_err(|_| anyhow!("the store writer has stopped"))?.map_err(|e| anyhow!(e))
    }

    pub async fn since(&self, seq: i64, limit: i64) -> Result<Vec<(i64, String)>> {
        self.read(move |b| b.since(seq, limit)).await
    }

    /// Events for a client to page through: a tenant's own (`Some`), or all (the admin), on
    /// the pages connection.
    pub async fn page(&self, tenant: Option<String>, seq: i64, limit: i64) -> Result<Vec<(i64, String)>> {
        Self::read_on(&self.pages, self.db.clone(), move |b| match &tenant {
            Some(t) => b.since_for(t, seq, limit),
            None => b.since(seq, limit),
        })
        .await
    }

    /// A read on the reader's connection, replaced after an error (a connection the database
    /// closed) for the next read.
    async fn read<R: Send + 'static>(&self, f: impl FnOnce(&mut Box<dyn Backend>) -> Result<R> + Send + 'static) -> Result<R> {
        Self::read_on(&self.reader, self.db.clone(), f).await
    }

    async fn read_on<R: Send + 'static>(
        actor: &Actor<Box<dyn Backend>>,
        db: Db,
        f: impl FnOnce(&mut Box<dyn Backend>) -> Result<R> + Send + 'static,
    ) -> Result<R> {
        actor
            .call(move |b| {
                let r = f(b);
                if r.is_err() {
                    if let Ok(fresh) = db.connect() {
                        *b = fresh;
                    }
                }
                r
            })
            .await?
    }

    pub async fn meta_init(&self, key: &str, value: &str) -> Result<String> {
        let (k, v) = (key.to_string(), value.to_string());
        self.read(move |b| b.meta_init(&k, &v)).await
    }

    pub async fn latest_snapshot(&self) -> Result<Option<(i64, String)>> {
        self.read(|b| b.latest_snapshot()).await
    }

    pub async fn put_snapshot(&self, seq: i64, at_ms: i64, body: String) -> Result<()> {
        self.read(move |b| b.put_snapshot(seq, at_ms, &body)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(job: &str, kind: &str, decided_at: Option<i64>) -> NewEvent {
        NewEvent {
            at_ms: 0,
            tenant: "t".into(),
            idem_key: None,
            kind: kind.into(),
            job: Some(job.into()),
            body: format!("{{\"kind\":\"{kind}\"}}"),
            decided_at,
            also: Vec::new(),
        }
    }

    /// Issue 24, failure 1, at the store: a dispatch decided at seq 1 is not written once a
    /// cancel of the same job was written after seq 1, whether the cancel came in an earlier
    /// transaction or earlier in the same group commit; a request's own events do not
    /// conflict with each other, and other jobs' events do not conflict with it.
    fn decisions_conflict_per_job(b: &mut dyn Backend) {
        let s1 = match b.append(&[ev("j1", "job_submitted", None), ev("j2", "job_submitted", None)], &[]).unwrap()[..] {
            [Appended::New(a), Appended::New(_)] => a,
            ref other => panic!("{other:?}"),
        };
        let at = s1 + 1;
        b.append(&[ev("j1", "job_cancelled", Some(at))], &[]).unwrap();
        let out = b
            .append(
                &[
                    ev("j1", "job_dispatched", Some(at)),
                    ev("j1", "job_started", Some(at)),
                    ev("j2", "job_dispatched", Some(at)),
                    ev("j2", "job_started", Some(at)),
                ],
                &[],
            )
            .unwrap();
        assert!(matches!(out[..], [Appended::Conflict, Appended::Conflict, Appended::New(_), Appended::New(_)]), "{out:?}");
        // In one group commit: a cancel (request 1), then a dispatch decided before it (request 2).
        let head = match b.append(&[ev("j3", "job_submitted", None)], &[]).unwrap()[..] {
            [Appended::New(s)] => s,
            ref other => panic!("{other:?}"),
        };
        let out = b
            .append(
                &[ev("j3", "job_cancelled", Some(head)), ev("j3", "job_dispatched", Some(head))],
                &[Request { len: 1, lease: None }, Request { len: 1, lease: None }],
            )
            .unwrap();
        assert!(matches!(out[..], [Appended::New(_), Appended::Conflict]), "{out:?}");
        // A dispatch read that its site was up: a site event written after its decision
        // conflicts with it (issue 24's history check found one written after a site_down).
        let head = match b.append(&[ev("j4", "job_submitted", None)], &[]).unwrap()[..] {
            [Appended::New(s)] => s,
            ref other => panic!("{other:?}"),
        };
        b.append(&[ev("sites", "site_down", None)], &[]).unwrap();
        let mut dispatch = ev("j4", "job_dispatched", Some(head));
        dispatch.also = vec!["sites".into()];
        assert!(matches!(b.append(&[dispatch], &[]).unwrap()[..], [Appended::Conflict]));
        // Undecided appends (submissions) never conflict.
        assert!(matches!(b.append(&[ev("j3", "job_checkpointed", None)], &[]).unwrap()[..], [Appended::New(_)]));
    }

    /// Issue 24, failure 3, at the store: a leader whose lease lapsed (frozen, or cut off from
    /// the database) is replaced with the next epoch, and from then on its writes are refused,
    /// in whatever order they arrive; the new leader's go in, each event with its epoch.
    fn a_deposed_leader_writes_nothing(open: &dyn Fn() -> Box<dyn Backend>) {
        let (mut a, mut b, mut w) = (open(), open(), open());
        let e1 = a.lead("a").unwrap().expect("a takes the free lease");
        assert_eq!(a.lead("a").unwrap(), Some(e1), "renewing keeps the epoch");
        assert_eq!(b.lead("b").unwrap(), None, "b waits while a's lease runs");
        let mine = |h: &str, e: i64| vec![Request { len: 1, lease: Some(Lease { holder: h.into(), epoch: e }) }];
        assert!(matches!(w.append(&[ev("j1", "planned", None)], &mine("a", e1)).unwrap()[..], [Appended::New(_)]));
        // a stops renewing (SIGSTOP, a lost session): b takes over once the lease has run out.
        std::thread::sleep(std::time::Duration::from_millis(LEASE_MS as u64 + 300));
        let e2 = b.lead("b").unwrap().expect("b takes the lapsed lease");
        assert_eq!(e2, e1 + 1);
        assert!(matches!(
            w.append(
                &[ev("j1", "planned", None), ev("j2", "planned", None)],
                &[Request { len: 2, lease: Some(Lease { holder: "a".into(), epoch: e1 }) }]
            )
            .unwrap()[..],
            [Appended::Deposed, Appended::Deposed]
        ));
        assert!(matches!(w.append(&[ev("j1", "planned", None)], &mine("b", e2)).unwrap()[..], [Appended::New(_)]));
        assert_eq!(a.lead("a").unwrap(), None, "a, awake, is a follower");
        // A clean stop hands it over at once.
        b.resign("b").unwrap();
        assert_eq!(a.lead("a").unwrap(), Some(e2 + 1));
    }

    #[test]
    fn a_deposed_leader_writes_nothing_on_sqlite() {
        let dir = std::env::temp_dir().join(format!("xisuan-store-lease-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("s.db").display().to_string();
        a_deposed_leader_writes_nothing(&|| Box::new(Sqlite::open(&path).unwrap()));
    }

    #[test]
    fn a_deposed_leader_writes_nothing_on_postgres() {
        let Some(url) = postgres_db("lease") else { return };
        a_deposed_leader_writes_nothing(&|| Box::new(Postgres::open(&url).unwrap()));
    }

    /// A PostgreSQL database of the test's own, where `XISUAN_TEST_POSTGRES` names a server
    /// (`.ci/run` starts one; with `XISUAN_REQUIRE_SERVICES` set its absence fails the test).
    fn postgres_db(name: &str) -> Option<String> {
        let Ok(admin) = std::env::var("XISUAN_TEST_POSTGRES") else {
            assert!(std::env::var("XISUAN_REQUIRE_SERVICES").is_err(), "XISUAN_REQUIRE_SERVICES is set but XISUAN_TEST_POSTGRES is not");
            eprintln!("XISUAN_TEST_POSTGRES not set: PostgreSQL not tested here");
            return None;
        };
        let mut c = postgres::Client::connect(&admin, postgres::NoTls).expect("XISUAN_TEST_POSTGRES reachable");
        let db = format!("xisuan_store_{name}_{}", std::process::id());
        c.batch_execute(&format!("DROP DATABASE IF EXISTS {db}")).unwrap();
        c.batch_execute(&format!("CREATE DATABASE {db}")).unwrap();
        let base = admin.rsplit_once('/').map(|x| x.0).unwrap_or(&admin);
        Some(format!("{base}/{db}"))
    }

    #[test]
    fn decisions_conflict_per_job_on_sqlite() {
        let dir = std::env::temp_dir().join(format!("xisuan-store-conflict-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let mut b = Sqlite::open(dir.join("s.db").to_str().unwrap()).unwrap();
        decisions_conflict_per_job(&mut b);
    }

    /// The same on PostgreSQL, where `XISUAN_TEST_POSTGRES` names a server (`.ci/run` starts
    /// one; with `XISUAN_REQUIRE_SERVICES` set its absence fails the test).
    #[test]
    fn decisions_conflict_per_job_on_postgres() {
        let Some(url) = postgres_db("conflict") else { return };
        decisions_conflict_per_job(&mut Postgres::open(&url).unwrap());
    }
}

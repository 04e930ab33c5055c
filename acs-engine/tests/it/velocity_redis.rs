//! Velocity counts in a real `redis-server` (installed by `scripts/test-all` when
//! missing), started on a free localhost port and stopped afterwards: engines with their
//! own connections share exact counts under concurrent load, an event id counts once, a
//! Redis killed mid-run answers through each counter's failure policy, and a restarted
//! one is used again with no help.

use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use acs_engine::velocity::{RedisOptions, RedisStore, VelocityStore, Window};
use acs_engine::Engine;
use serde_json::{json, Value};

const RULES: &str = r#"
velocity:
  - name: open
    events: [pay]
    key: ctx.userId
    windows: [1m, 1h]
    id: event.id
  - name: closed
    events: [pay]
    key: ctx.userId
    windows: [1m]
    on_failure: closed
  - name: local
    events: [pay]
    key: ctx.userId
    windows: [1m]
    on_failure: local
rules:
  - id: OPEN
    priority: 3
    severity: low
    description: fails open
    condition: "event.type == 'pay' && velocity.count('open', ctx.userId, '1h') > 3"
    action: [ { flagWatchlist: { reason: open } } ]
    audit: false
  - id: CLOSED
    priority: 2
    severity: low
    description: fails closed
    condition: "event.type == 'pay' && velocity.count('closed', ctx.userId, '1m') > 3"
    action: [ { flagWatchlist: { reason: closed } } ]
    audit: false
  - id: LOCAL
    priority: 1
    severity: low
    description: falls back to this process
    condition: "event.type == 'pay' && velocity.count('local', ctx.userId, '1m') > 3"
    action: [ { flagWatchlist: { reason: local } } ]
    audit: false
"#;

/// A `redis-server` of the test's own, on a free port; killed when dropped.
struct Redis {
    port: u16,
    child: Option<Child>,
}

impl Redis {
    fn start() -> Redis {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut redis = Redis { port, child: None };
        redis.restart();
        redis
    }

    fn restart(&mut self) {
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server must be installed: scripts/test-all installs it (apt-get install redis-server)");
        self.child = Some(child);
        for _ in 0..200 {
            if TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        panic!("redis-server did not start on port {}", self.port);
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    fn engine(&self) -> Engine {
        let mut options = RedisOptions::new(self.url());
        // Generous for a loaded CI machine: this test checks behaviour, not speed.
        options.budget = Duration::from_millis(500);
        let store = RedisStore::open(options).unwrap();
        Engine::builder()
            .velocity_store(Arc::new(store))
            .load_str("rules.yaml", RULES)
            .unwrap()
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.kill();
    }
}

fn pay(user: &str, id: Option<&str>) -> Value {
    let mut input = json!({"event": {"type": "pay"}, "ctx": {"userId": user}});
    if let Some(id) = id {
        input["event"]["id"] = json!(id);
    }
    input
}

/// The `open` counter's hour for `user`, read straight from Redis by a store of its own.
fn count(redis: &Redis, user: &str) -> Value {
    let store = RedisStore::open(RedisOptions {
        budget: Duration::from_secs(2),
        ..RedisOptions::new(redis.url())
    })
    .unwrap();
    let windows = [Window::parse("1m").unwrap(), Window::parse("1h").unwrap()];
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as f64;
    json!(store.read("open", user, &windows, now).unwrap()[1])
}

#[test]
fn replicas_share_exact_counts_under_concurrent_load() {
    let redis = Redis::start();
    let engines = [redis.engine(), redis.engine()];
    std::thread::scope(|scope| {
        for engine in &engines {
            for _ in 0..2 {
                scope.spawn(move || {
                    for _ in 0..150 {
                        let decision = engine.evaluate(&pay("U-LOAD", None));
                        assert!(decision.errors.is_empty(), "{:?}", decision.errors);
                    }
                });
            }
        }
    });
    // 2 engines x 2 threads x 150, each counted exactly once, seen by both.
    assert_eq!(count(&redis, "U-LOAD"), json!(600));
    let metrics = engines[0].metrics().velocity.unwrap();
    assert_eq!(metrics.backend, "redis");
    assert!(metrics.round_trips >= 300, "{metrics:?}");
    assert_eq!((metrics.errors, metrics.timeouts), (0, 0), "{metrics:?}");
    assert!(engines[0]
        .metrics()
        .to_prometheus()
        .contains("acs_velocity_round_trips_total{backend=\"redis\"}"));
}

#[test]
fn an_event_id_counts_once_across_replicas() {
    let redis = Redis::start();
    let (a, b) = (redis.engine(), redis.engine());
    for (engine, id) in [(&a, "e1"), (&b, "e1"), (&a, "e2"), (&b, "e2"), (&b, "e3")] {
        assert!(engine.evaluate(&pay("U-ID", Some(id))).errors.is_empty());
    }
    assert_eq!(count(&redis, "U-ID"), json!(3));
}

#[test]
fn a_killed_redis_answers_through_each_policy_and_a_restarted_one_is_used_again() {
    let mut redis = Redis::start();
    let engine = redis.engine();
    for _ in 0..2 {
        assert!(engine.evaluate(&pay("U-DOWN", None)).errors.is_empty());
    }
    redis.kill();
    let mut decision = engine.evaluate(&pay("U-DOWN", None));
    for _ in 0..2 {
        decision = engine.evaluate(&pay("U-DOWN", None));
    }
    // open: the count is unknown, OPEN does not fire and says why;
    // closed: the count reads as unbounded, CLOSED fires;
    // local: this process's counts (3 since Redis went down) answer, LOCAL does not fire.
    let matched = decision.matched_ids();
    assert_eq!(matched, ["CLOSED"], "{decision:?}");
    let errors: Vec<&str> = decision.errors.iter().map(|e| &*e.rule_id).collect();
    assert_eq!(errors, ["OPEN"], "{:?}", decision.errors);
    assert!(
        decision.errors[0].message.contains("failing open"),
        "{:?}",
        decision.errors
    );
    let metrics = engine.metrics().velocity.unwrap();
    assert!(metrics.errors + metrics.timeouts >= 3, "{metrics:?}");
    assert!(
        metrics.fallbacks >= 6,
        "closed and local, 3 evaluations: {metrics:?}"
    );
    let local_fourth = engine.evaluate(&pay("U-DOWN", None));
    assert!(
        local_fourth.matched_ids().contains(&"LOCAL"),
        "{local_fourth:?}"
    );

    // Restarted (empty: it saved nothing): the store reconnects on its own.
    redis.restart();
    let mut recovered = false;
    for _ in 0..100 {
        let decision = engine.evaluate(&pay("U-BACK", None));
        if decision.errors.is_empty() {
            recovered = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(recovered, "the store never reconnected");
    assert_eq!(count(&redis, "U-BACK"), json!(1));
}

/// Set in a child process: the Redis URL to count in.
const CHILD: &str = "ACS_VELOCITY_CHILD";
/// Evaluations each child makes (two threads, half each).
const PER_CHILD: usize = 400;

/// The child: a replica of its own (its own engine, store and connection) counting
/// `PER_CHILD` payments of one user on two threads.
#[test]
fn velocity_child_entry() {
    let Ok(url) = std::env::var(CHILD) else {
        return; // run as a test of its own: nothing to do
    };
    let mut options = RedisOptions::new(url);
    options.budget = Duration::from_secs(2);
    let engine = Engine::builder()
        .velocity_store(Arc::new(RedisStore::open(options).unwrap()))
        .load_str("rules.yaml", RULES)
        .unwrap();
    std::thread::scope(|scope| {
        for _ in 0..2 {
            scope.spawn(|| {
                for _ in 0..PER_CHILD / 2 {
                    let decision = engine.evaluate(&pay("U-PROCESSES", None));
                    assert!(decision.errors.is_empty(), "{:?}", decision.errors);
                }
            });
        }
    });
}

#[test]
fn two_processes_under_concurrent_load_share_exact_counts() {
    let redis = Redis::start();
    let exe = std::env::current_exe().unwrap();
    let children: Vec<_> = (0..2)
        .map(|_| {
            Command::new(&exe)
                .args([
                    "velocity_redis::velocity_child_entry",
                    "--exact",
                    "--test-threads=1",
                ])
                .env(CHILD, redis.url())
                .stdout(Stdio::null())
                .stderr(Stdio::inherit())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut child in children {
        assert!(child.wait().unwrap().success(), "a child failed");
    }
    assert_eq!(count(&redis, "U-PROCESSES"), json!(2 * PER_CHILD));
}

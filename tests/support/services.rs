//! A PostgreSQL database and a RabbitMQ vhost of a test's own.

use std::process::Command;

/// A database and a vhost of their own, removed afterwards: by `remove`,
/// or when dropped (a test that failed leaves nothing behind either).
pub struct Services {
    pub database_url: String,
    admin_url: String,
    pub database: String,
    pub amqp_url: String,
    pub vhost: String,
    removed: bool,
}

impl Services {
    pub async fn new() -> Self {
        let admin_url =
            std::env::var("DATABASE_URL").expect("DATABASE_URL is set (scripts/test sets it)");
        let amqp_base = std::env::var("AMQP_URL")
            .unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".into());
        let suffix = uuid::Uuid::now_v7().simple().to_string();
        let database = format!("distorch_e2e_{suffix}");
        let pool = sqlx::PgPool::connect(&admin_url)
            .await
            .expect("PostgreSQL answers at DATABASE_URL");
        sqlx::query(sqlx::AssertSqlSafe(format!("create database {database}")))
            .execute(&pool)
            .await
            .unwrap();
        let database_url = match admin_url.rsplit_once('/') {
            Some((base, _)) => format!("{base}/{database}"),
            None => panic!("DATABASE_URL has no database name"),
        };
        let vhost = format!("distorch-e2e-{suffix}");
        rabbitmqctl(&["add_vhost", &vhost]);
        rabbitmqctl(&["set_permissions", "-p", &vhost, "guest", ".*", ".*", ".*"]);
        let amqp_url = match amqp_base.rsplit_once('/') {
            Some((base, _)) => format!("{base}/{vhost}"),
            None => panic!("AMQP_URL has no vhost"),
        };
        Self {
            database_url,
            admin_url,
            database,
            amqp_url,
            vhost,
            removed: false,
        }
    }

    /// `DATABASE_URL` and `AMQP_URL`, in that order, for `spawn`.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("DATABASE_URL", self.database_url.clone()),
            ("AMQP_URL", self.amqp_url.clone()),
        ]
    }

    pub async fn remove(mut self) {
        rabbitmqctl(&["delete_vhost", &self.vhost]);
        drop_database(&self.admin_url, &self.database)
            .await
            .unwrap();
        self.removed = true;
    }
}

async fn drop_database(admin_url: &str, database: &str) -> Result<(), sqlx::Error> {
    let pool = sqlx::PgPool::connect(admin_url).await?;
    let drop = format!("drop database if exists {database} with (force)");
    sqlx::query(sqlx::AssertSqlSafe(drop))
        .execute(&pool)
        .await?;
    Ok(())
}

impl Drop for Services {
    /// Removes what `remove` did not (the test panicked), on a thread of
    /// its own: a drop may run inside the test's runtime. Never panics.
    fn drop(&mut self) {
        if self.removed {
            return;
        }
        let (vhost, admin_url, database) = (
            self.vhost.clone(),
            self.admin_url.clone(),
            self.database.clone(),
        );
        let cleanup = std::thread::spawn(move || {
            let _ = Command::new("rabbitmqctl")
                .args(["delete_vhost", &vhost])
                .output();
            if let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                let _ = runtime.block_on(drop_database(&admin_url, &database));
            }
        });
        let _ = cleanup.join();
    }
}

/// Runs `rabbitmqctl`, which must succeed; returns what it printed.
pub fn rabbitmqctl(args: &[&str]) -> String {
    let output = Command::new("rabbitmqctl")
        .args(args)
        .output()
        .expect("rabbitmqctl runs (RabbitMQ is installed)");
    assert!(
        output.status.success(),
        "rabbitmqctl {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use figment::providers::Serialized;

use crate::backend_tests;
use crate::helpers::{Backend, TestDb, start};

backend_tests!(
    without_a_configured_master_key_sqlite_creates_one_and_postgresql_refuses_unless_the_file_exists,
    a_wrong_master_key_stops_the_server_from_starting,
    migrate_creates_the_schema_and_can_run_again,
    a_new_data_directory_and_the_files_in_it_are_the_owners_alone,
);

async fn without_a_configured_master_key_sqlite_creates_one_and_postgresql_refuses_unless_the_file_exists(
    backend: Backend,
) {
    let db = TestDb::new(backend).await;
    let figment = db
        .figment()
        .merge(Serialized::default("master_key", None::<String>));
    let key_file = db.data_dir.path().join("master.key");
    if backend == Backend::Postgres {
        let config = psi_server::Config::from_figment(figment.clone()).unwrap();
        let error = psi_server::build(config)
            .await
            .err()
            .expect("refused without a key");
        let message = format!("{error:#}");
        assert!(
            message.contains("PSI_MASTER_KEY") && message.contains("PostgreSQL"),
            "{message}"
        );
        assert!(!key_file.exists(), "no key is generated for PostgreSQL");
        std::fs::write(&key_file, &db.master_key).unwrap();
    }
    let app = start(figment.clone()).await;
    app.stop().await.unwrap();
    let key = std::fs::read_to_string(&key_file).expect("master.key");
    assert_eq!(STANDARD.decode(key.trim()).unwrap().len(), 32);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key_file).unwrap().permissions().mode() & 0o777;
        if backend == Backend::Sqlite {
            assert_eq!(mode, 0o600, "only the owner reads the generated key");
        }
    }
    let again = start(figment).await;
    again.stop().await.unwrap();
    assert_eq!(
        std::fs::read_to_string(&key_file).unwrap(),
        key,
        "the key is reused, not replaced"
    );
}

async fn a_wrong_master_key_stops_the_server_from_starting(backend: Backend) {
    let db = TestDb::new(backend).await;
    let app = start(db.figment()).await;
    app.stop().await.unwrap();
    let other_key = STANDARD.encode([9u8; 32]);
    let config = psi_server::Config::from_figment(
        db.figment()
            .merge(Serialized::default("master_key", other_key)),
    )
    .unwrap();
    let error = psi_server::build(config).await.err().expect("refused");
    assert!(
        format!("{error:#}").contains("master key is not the one"),
        "{error:#}"
    );
}

async fn migrate_creates_the_schema_and_can_run_again(backend: Backend) {
    let db = TestDb::new(backend).await;
    let args = psi_server::cli::MigrateArgs {
        storage: psi_server::cli::StorageArgs {
            data_dir: Some(db.data_dir.path().to_owned()),
            database_url: db.database_url.clone(),
            ..Default::default()
        },
    };
    psi_server::migrate(args.clone())
        .await
        .expect("first migration");
    psi_server::migrate(args)
        .await
        .expect("nothing left to apply");
    let pool = db.raw_pool().await;
    let applied: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations WHERE success = $1")
            .bind(true)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert!(applied >= 1);
    let services: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM services")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(services, 0);
}

async fn a_new_data_directory_and_the_files_in_it_are_the_owners_alone(backend: Backend) {
    use std::os::unix::fs::PermissionsExt;
    let mode = |path: &std::path::Path| {
        std::fs::metadata(path)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
            .permissions()
            .mode()
            & 0o777
    };
    let db = TestDb::new(backend).await;
    let parent = db.data_dir.path().join("new");
    let data_dir = parent.join("psi-data");
    let mut figment = db
        .figment()
        .merge(Serialized::default("data_dir", &data_dir));
    if backend == Backend::Sqlite {
        figment = figment.merge(Serialized::default("master_key", None::<String>));
    }
    let app = start(figment).await;
    // A write, so SQLite has made its journal files too.
    psi_server::db::settings::put(&app.state().db, "permissions_test", "x")
        .await
        .unwrap();
    for dir in [&parent, &data_dir] {
        assert_eq!(mode(dir), 0o700, "{}", dir.display());
    }
    let files: Vec<_> = std::fs::read_dir(&data_dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect();
    if backend == Backend::Sqlite {
        for name in ["psi.db", "master.key"] {
            assert!(files.contains(&data_dir.join(name)), "{name} in {files:?}");
        }
    }
    for file in &files {
        assert_eq!(mode(file), 0o600, "{}", file.display());
    }
    app.stop().await.unwrap();
}

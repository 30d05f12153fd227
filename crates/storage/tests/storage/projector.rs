//! The projector folds every committed grade exactly once: with two of them on one database,
//! with a fold cut off midway, and on a database the previous release filled.

use std::time::Duration;

use grades_storage::projector::ProjectorConfig;
use grades_testkit::{eventually, TcpProxy, TestDatabase};

use crate::helpers::{assert_summaries_exact, insert_grades, quick, wait_folded, Projector};

#[tokio::test]
async fn two_projectors_on_one_database_fold_every_grade_exactly_once() {
    let db = TestDatabase::create().await;
    let first = Projector::start(&db.url(), None, quick());
    let second = Projector::start(&db.url(), None, quick());
    for _ in 0..5 {
        insert_grades(db.pool(), 2_000, 300).await;
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    wait_folded(&db, Duration::from_secs(20)).await;
    assert_summaries_exact(&db).await;

    // Whichever led, the other one takes over when it is gone.
    first.stop().await;
    insert_grades(db.pool(), 2_000, 300).await;
    wait_folded(&db, Duration::from_secs(20)).await;
    assert_summaries_exact(&db).await;
    second.stop().await;
}

#[tokio::test]
async fn a_fold_cut_off_midway_applies_nothing_and_is_folded_again() {
    let db = TestDatabase::create().await;
    // A wide student pool makes each fold long enough to cut.
    insert_grades(db.pool(), 60_000, 50_000).await;
    let proxy = TcpProxy::for_url(&db.url()).await;
    let projector = Projector::start(&proxy.rewrite(&db.url()), None, ProjectorConfig { max_fold: 60_000, ..quick() });

    let running = eventually(Duration::from_secs(20), || async {
        let statements: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE DB = ? AND COMMAND IN ('Query', 'Execute') \
             AND (INFO LIKE 'INSERT INTO student_stats%' OR INFO LIKE 'SELECT n.curso%' OR INFO LIKE 'INSERT INTO enrollments%')",
        )
        .bind(db.name())
        .fetch_one(db.pool())
        .await
        .unwrap();
        (statements > 0).then_some(())
    })
    .await;
    assert!(running.is_some(), "no fold statement was seen running");
    proxy.stop();
    let applied: Vec<u64> = sqlx::query_scalar("SELECT applied_id FROM projection_state").fetch_all(db.pool()).await.unwrap();
    assert!(applied.iter().all(|id| *id == 0 || *id == 60_000), "a fold is applied whole or not at all: {applied:?}");
    proxy.resume().await;

    wait_folded(&db, Duration::from_secs(90)).await;
    assert!(projector.failures() >= 1, "the cut connection was noticed");
    assert_summaries_exact(&db).await;
    projector.stop().await;
}

#[tokio::test]
async fn a_database_filled_by_the_previous_release_migrates_and_stays_exact() {
    // Migrations 1 and 2: the schema where each grade's summaries were written with it.
    let db = TestDatabase::create_at_migration(2).await;
    for statement in [
        "INSERT INTO grades (id, carnet, nombre, curso, nota, semestre, year, route, created_at) \
         SELECT n, 1 + n % 97, CONCAT('Alumno ', 1 + n % 97), ELT(1 + n % 5, 'SO1', 'BD1', 'LFP', 'SA', 'AYD1'), (n * 37) % 101, \
                IF(n % 2 = 0, '1S', '2S'), 2020 + n % 4, IF(n % 3 = 0, 'grpc', 'rest'), UTC_TIMESTAMP(3) \
         FROM (SELECT a.d + 10 * b.d + 100 * c.d + 1 AS n FROM \
               (SELECT 0 AS d UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4 UNION ALL SELECT 5 \
                UNION ALL SELECT 6 UNION ALL SELECT 7 UNION ALL SELECT 8 UNION ALL SELECT 9) a, \
               (SELECT 0 AS d UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4 UNION ALL SELECT 5 \
                UNION ALL SELECT 6 UNION ALL SELECT 7 UNION ALL SELECT 8 UNION ALL SELECT 9) b, \
               (SELECT 0 AS d UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4 UNION ALL SELECT 5 \
                UNION ALL SELECT 6 UNION ALL SELECT 7 UNION ALL SELECT 8 UNION ALL SELECT 9) c) seq",
        "UPDATE id_sequence SET next_id = 1001 WHERE name = 'grades'",
        "INSERT INTO enrollments SELECT DISTINCT curso, semestre, year, carnet FROM grades \
         UNION SELECT DISTINCT curso, semestre, 0, carnet FROM grades",
        "INSERT INTO course_term_stats SELECT curso, semestre, year, COUNT(DISTINCT carnet), SUM(nota >= 61), SUM(nota < 61) \
         FROM (SELECT curso, semestre, year, carnet, nota FROM grades UNION ALL SELECT curso, semestre, 0, carnet, nota FROM grades) g \
         GROUP BY curso, semestre, year",
        "INSERT INTO student_stats (semestre, year, carnet, nombre, grade_count, grade_sum) \
         SELECT s, y, carnet, MAX(nombre), COUNT(*), SUM(nota) FROM ( \
             SELECT semestre AS s, year AS y, carnet, nombre, nota FROM grades \
             UNION ALL SELECT semestre, 0, carnet, nombre, nota FROM grades \
             UNION ALL SELECT '*', year, carnet, nombre, nota FROM grades \
             UNION ALL SELECT '*', 0, carnet, nombre, nota FROM grades) g GROUP BY s, y, carnet",
        "INSERT INTO route_stats SELECT route, COUNT(*) FROM grades GROUP BY route",
    ] {
        sqlx::query(statement).execute(db.pool()).await.unwrap_or_else(|e| panic!("{statement}: {e}"));
    }
    assert_summaries_exact(&db).await;

    grades_testkit::MIGRATOR.run(db.pool()).await.expect("migrate forward");
    let watermarks: Vec<(String, u64)> =
        sqlx::query_as("SELECT name, applied_id FROM projection_state ORDER BY name").fetch_all(db.pool()).await.unwrap();
    assert_eq!(watermarks, [("students".into(), 1000), ("terms".into(), 1000)], "the watermarks start where the summaries are");
    let (sequence,): (String,) = sqlx::query_as("SELECT name FROM id_sequence").fetch_one(db.pool()).await.unwrap();
    assert_eq!(sequence, "grade_ids", "writers of the previous release find no sequence row and stop");

    let projector = Projector::start(&db.url(), None, quick());
    insert_grades(db.pool(), 3_000, 97).await;
    wait_folded(&db, Duration::from_secs(20)).await;
    assert_summaries_exact(&db).await;
    assert_eq!(db.count("SELECT COUNT(*) FROM grades").await, 4_000);
    projector.stop().await;
}

/// The folds run where GTID consistency is enforced, as Cloud SQL runs MySQL: the terms fold
/// writes its scratch table (a temporary table) inside the fold's transaction, which that mode
/// refuses unless the binary log is row-based. The test containers start MySQL so
/// (`--gtid-mode=ON --enforce-gtid-consistency=ON`, ROW logging by default); a MySQL without
/// them fails this test rather than pass it without proof. MariaDB has no such mode: there the
/// folds simply run.
#[tokio::test]
async fn folds_run_where_gtid_consistency_is_enforced() {
    let db = TestDatabase::create().await;
    let version: String = sqlx::query_scalar("SELECT VERSION()").fetch_one(db.pool()).await.unwrap();
    if !version.contains("MariaDB") {
        let (gtid_mode, enforced, format): (String, String, String) =
            sqlx::query_as("SELECT @@GLOBAL.gtid_mode, CAST(@@GLOBAL.enforce_gtid_consistency AS CHAR), @@GLOBAL.binlog_format")
                .fetch_one(db.pool())
                .await
                .unwrap();
        assert_eq!(
            (gtid_mode.as_str(), enforced.as_str(), format.as_str()),
            ("ON", "ON", "ROW"),
            "MySQL {version} must run as Cloud SQL does (GTIDs on and enforced, row-based binary log) for this test to prove anything"
        );
    }
    let projector = Projector::start(&db.url(), None, quick());
    for _ in 0..3 {
        insert_grades(db.pool(), 400, 150).await;
        wait_folded(&db, Duration::from_secs(20)).await;
    }
    assert_summaries_exact(&db).await;
    assert_eq!(projector.failures(), 0, "no fold failed");
    projector.stop().await;
}

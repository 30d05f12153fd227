//! The summary tables recomputed from `grades` with plain GROUP BYs: what the projector must have
//! built, exactly.

use sqlx::MySqlPool;

/// Every difference between a summary table and the GROUP BY over `grades` it must equal, as
/// readable lines (empty when they agree).
pub async fn summary_mismatches(pool: &MySqlPool) -> Vec<String> {
    let mut differences = Vec::new();
    for (table, stored, expected) in [
        (
            "enrollments",
            "SELECT CONCAT_WS('|', curso, semestre, year, carnet) FROM enrollments",
            "SELECT CONCAT_WS('|', curso, semestre, year, carnet) FROM (
                 SELECT DISTINCT curso, semestre, year, carnet FROM grades
                 UNION SELECT DISTINCT curso, semestre, 0, carnet FROM grades) e",
        ),
        (
            "course_term_stats",
            "SELECT CONCAT_WS('|', curso, semestre, year, students, passed, failed) FROM course_term_stats",
            "SELECT CONCAT_WS('|', curso, semestre, year, COUNT(DISTINCT carnet), SUM(nota >= 61), SUM(nota < 61)) FROM (
                 SELECT curso, semestre, year, carnet, nota FROM grades
                 UNION ALL SELECT curso, semestre, 0, carnet, nota FROM grades) g GROUP BY curso, semestre, year",
        ),
        (
            "student_stats",
            "SELECT CONCAT_WS('|', semestre, year, carnet, nombre, grade_count, grade_sum) FROM student_stats",
            "SELECT CONCAT_WS('|', s, y, carnet, SUBSTRING(MAX(CONCAT(LPAD(id, 20, '0'), nombre)), 21), COUNT(*), SUM(nota)) FROM (
                 SELECT id, semestre AS s, year AS y, carnet, nombre, nota FROM grades
                 UNION ALL SELECT id, semestre, 0, carnet, nombre, nota FROM grades
                 UNION ALL SELECT id, '*', year, carnet, nombre, nota FROM grades
                 UNION ALL SELECT id, '*', 0, carnet, nombre, nota FROM grades) g GROUP BY s, y, carnet",
        ),
        (
            "route_stats",
            "SELECT CONCAT_WS('|', route, grades) FROM route_stats WHERE grades > 0",
            "SELECT CONCAT_WS('|', route, COUNT(*)) FROM grades GROUP BY route",
        ),
    ] {
        let mut stored = rows(pool, stored).await;
        let mut expected = rows(pool, expected).await;
        stored.sort();
        expected.sort();
        if stored != expected {
            let missing: Vec<_> = expected.iter().filter(|row| stored.binary_search(row).is_err()).take(5).collect();
            let extra: Vec<_> = stored.iter().filter(|row| expected.binary_search(row).is_err()).take(5).collect();
            differences.push(format!(
                "{table}: {} rows stored, {} expected; expected but not stored (first 5): {missing:?}; stored but not expected: {extra:?}",
                stored.len(),
                expected.len()
            ));
        }
    }
    differences
}

async fn rows(pool: &MySqlPool, sql: &str) -> Vec<String> {
    sqlx::query_scalar::<_, String>(sql).fetch_all(pool).await.unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// True when every projection has folded every committed grade.
pub async fn all_folded(pool: &MySqlPool) -> bool {
    let (folded, latest): (Option<u64>, u64) = sqlx::query_as(
        "SELECT (SELECT MIN(applied_id) FROM projection_state), (SELECT CAST(COALESCE(MAX(id), 0) AS UNSIGNED) FROM grades)",
    )
    .fetch_one(pool)
    .await
    .expect("projection_state");
    folded == Some(latest)
}

//! The summary tables the dashboard reads, and how a range of committed grades is added to them.
//!
//! - `enrollments(curso, semestre, year, carnet)`: distinct students per course term.
//! - `course_term_stats(curso, semestre, year, students, passed, failed)`.
//! - `route_stats(route, grades)`.
//! - `student_stats(semestre, year, carnet, nombre, grade_count, grade_sum)`: averages.
//!
//! Rollup rows: `year = ALL_YEARS` sums every year, `semestre = ALL_SEMESTERS` both semesters.
//!
//! Each fold adds one id range of `grades` with a few fixed statements that aggregate inside
//! MySQL (`INSERT ... SELECT ... GROUP BY`): the grades never travel to the client, and each
//! statement is prepared once. The folds run in READ COMMITTED, so reading the range takes no
//! gap locks that would hold up the writers; the range is final (every id in it is committed and
//! grades are never changed), so every statement sees the same rows.

use std::collections::BTreeMap;

use grades_domain::{StoredGrade, PASSING_NOTA};
use grades_live::{RouteCounts, StudentCount, RECENT_LEN};
use sqlx::mysql::MySqlConnection;
use sqlx::{MySql, QueryBuilder};

use crate::rows::{into_grades, GradeRow, GRADE_COLUMNS};

/// The `year` of all-years rollup rows.
pub const ALL_YEARS: u16 = 0;
/// The `semestre` of all-semesters rollup rows.
pub const ALL_SEMESTERS: &str = "*";

/// A course term (`curso`, `semestre`, `year`), or its all-years rollup.
pub type Term = (String, String, u16);

/// Grade ids `first..=last`, all committed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdRange {
    /// First id of the range.
    pub first: u64,
    /// Last id of the range (inclusive).
    pub last: u64,
}

impl IdRange {
    /// Ids in the range.
    pub fn len(&self) -> u64 {
        self.last + 1 - self.first
    }

    /// True when `last < first`.
    pub fn is_empty(&self) -> bool {
        self.last < self.first
    }
}

/// What a terms fold leaves for the live state.
#[derive(Debug, Clone)]
pub struct TermsFolded {
    /// The newest grades of the range, newest first, at most [`RECENT_LEN`].
    pub newest: Vec<StoredGrade>,
    /// Grades per route after the fold.
    pub route_count: RouteCounts,
    /// Student counts after the fold of the course terms the range touched (rollups excluded).
    pub students: Vec<StudentCount>,
}

/// Counts of one `course_term_stats` row to add.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TermCounts {
    /// Students new to the term.
    pub students: u64,
    /// Passing grades.
    pub passed: u64,
    /// Failing grades.
    pub failed: u64,
}

/// Rows to add to `course_term_stats`: pass/fail of every term the range touched, and how many
/// students are new to each (a term can only gain students where it has grades).
pub fn course_term_rows(pass_fail: Vec<(Term, u64, u64)>, new_students: &[(Term, u64)]) -> BTreeMap<Term, TermCounts> {
    let mut rows: BTreeMap<Term, TermCounts> = BTreeMap::new();
    for (term, passed, failed) in pass_fail {
        let row = rows.entry(term).or_default();
        row.passed += passed;
        row.failed += failed;
    }
    for (term, count) in new_students {
        rows.entry(term.clone()).or_default().students += count;
    }
    rows
}

/// The grade's term and its all-years rollup, for every grade of the range, once per student.
const RANGE_ENROLLMENTS: &str = "SELECT DISTINCT g.curso, g.semestre, IF(r.rollup = 0, g.year, ?) AS year, g.carnet \
     FROM grades g CROSS JOIN (SELECT 0 AS rollup UNION ALL SELECT 1) r WHERE g.id BETWEEN ? AND ?";

/// The connection's scratch table for one terms fold: the range's (term, student) pairs that
/// `enrollments` lacks. Found once, then counted and inserted from here, in primary-key order so
/// a large fold (the seed's) walks the `enrollments` index in order instead of at random.
const NEW_ENROLLMENTS_TABLE: &str = "CREATE TEMPORARY TABLE IF NOT EXISTS fold_new_enrollments (\
     curso VARCHAR(10) CHARACTER SET ascii COLLATE ascii_general_ci NOT NULL, \
     semestre CHAR(2) CHARACTER SET ascii COLLATE ascii_general_ci NOT NULL, \
     year SMALLINT UNSIGNED NOT NULL, carnet BIGINT UNSIGNED NOT NULL, \
     PRIMARY KEY (curso, semestre, year, carnet)) ENGINE = InnoDB";

/// Creates the terms fold's scratch table on `connection` (outside any transaction; see
/// [`crate::projector::FoldConnection`]).
pub(crate) async fn create_scratch_table(connection: &mut MySqlConnection) -> Result<(), sqlx::Error> {
    sqlx::query(NEW_ENROLLMENTS_TABLE).execute(connection).await.map(|_| ())
}

/// Adds `range` to `enrollments`, `course_term_stats` and `route_stats` (the terms projection).
/// `tx` is a transaction on a connection that holds the scratch table.
pub async fn fold_terms(tx: &mut MySqlConnection, range: IdRange) -> Result<TermsFolded, sqlx::Error> {
    let new_students = new_enrollments(tx, range).await?;
    let pass_fail = pass_fail_by_term(tx, range).await?;
    let rows = course_term_rows(pass_fail, &new_students);
    let touched: Vec<Term> = rows.keys().filter(|(_, _, year)| *year != ALL_YEARS).cloned().collect();
    upsert_course_terms(tx, &rows).await?;
    sqlx::query(
        "INSERT INTO route_stats (route, grades) SELECT * FROM \
           (SELECT route, COUNT(*) AS grades FROM grades WHERE id BETWEEN ? AND ? GROUP BY route) AS n \
         ON DUPLICATE KEY UPDATE grades = route_stats.grades + n.grades",
    )
    .bind(range.first)
    .bind(range.last)
    .execute(&mut *tx)
    .await?;

    let newest: Vec<GradeRow> =
        sqlx::query_as(&format!("SELECT {GRADE_COLUMNS} FROM grades WHERE id BETWEEN ? AND ? ORDER BY id DESC LIMIT ?"))
            .bind(range.first)
            .bind(range.last)
            .bind(RECENT_LEN as u32)
            .fetch_all(&mut *tx)
            .await?;
    let route_count = read_route_counts(tx).await?;
    let students = read_student_counts(tx, &touched).await?;
    Ok(TermsFolded { newest: into_grades(newest)?, route_count, students })
}

/// The range's students new to a term, recorded in `enrollments`, counted per term.
async fn new_enrollments(tx: &mut MySqlConnection, range: IdRange) -> Result<Vec<(Term, u64)>, sqlx::Error> {
    // Students new to a term: not in `enrollments` yet (unique index lookups). Nothing else
    // writes `enrollments` while this fold holds the terms watermark. The scratch table is the
    // connection's own and emptied inside this transaction, so a fold rolled back leaves nothing.
    sqlx::query("DELETE FROM fold_new_enrollments").execute(&mut *tx).await?;
    let find_new = format!(
        "INSERT INTO fold_new_enrollments (curso, semestre, year, carnet) SELECT n.curso, n.semestre, n.year, n.carnet \
         FROM ({RANGE_ENROLLMENTS}) n WHERE NOT EXISTS (SELECT 1 FROM enrollments e \
         WHERE e.curso = n.curso AND e.semestre = n.semestre AND e.year = n.year AND e.carnet = n.carnet)"
    );
    let found = sqlx::query(&find_new).bind(ALL_YEARS).bind(range.first).bind(range.last).execute(&mut *tx).await?;
    if found.rows_affected() == 0 {
        return Ok(Vec::new());
    }
    sqlx::query("INSERT INTO enrollments (curso, semestre, year, carnet) SELECT curso, semestre, year, carnet FROM fold_new_enrollments ORDER BY curso, semestre, year, carnet")
        .execute(&mut *tx)
        .await?;
    let counts: Vec<(String, String, u16, u64)> = sqlx::query_as(
        "SELECT curso, semestre, CAST(year AS UNSIGNED), CAST(COUNT(*) AS UNSIGNED) FROM fold_new_enrollments GROUP BY curso, semestre, year",
    )
    .fetch_all(&mut *tx)
    .await?;
    Ok(counts.into_iter().map(|(curso, semestre, year, count)| ((curso, semestre, year), count)).collect())
}

/// The range's passed and failed grades per term, and per course and semester over all years.
async fn pass_fail_by_term(tx: &mut MySqlConnection, range: IdRange) -> Result<Vec<(Term, u64, u64)>, sqlx::Error> {
    let pass_fail: Vec<(String, String, u16, u64, u64)> = sqlx::query_as(
        "SELECT g.curso, g.semestre, CAST(IF(r.rollup = 0, g.year, ?) AS UNSIGNED) AS y, \
                CAST(SUM(g.nota >= ?) AS UNSIGNED), CAST(SUM(g.nota < ?) AS UNSIGNED) \
         FROM grades g CROSS JOIN (SELECT 0 AS rollup UNION ALL SELECT 1) r WHERE g.id BETWEEN ? AND ? \
         GROUP BY g.curso, g.semestre, y",
    )
    .bind(ALL_YEARS)
    .bind(PASSING_NOTA)
    .bind(PASSING_NOTA)
    .bind(range.first)
    .bind(range.last)
    .fetch_all(&mut *tx)
    .await?;
    Ok(pass_fail.into_iter().map(|(curso, semestre, year, passed, failed)| ((curso, semestre, year), passed, failed)).collect())
}

/// Adds `rows` to `course_term_stats` in one statement.
async fn upsert_course_terms(tx: &mut MySqlConnection, rows: &BTreeMap<Term, TermCounts>) -> Result<(), sqlx::Error> {
    // The new values come from a derived table `n` rather than `VALUES(column)`: MySQL deprecates
    // that function (8.0.20) and MariaDB lacks MySQL's row alias, while both accept this.
    let mut upsert =
        QueryBuilder::<MySql>::new("INSERT INTO course_term_stats (curso, semestre, year, students, passed, failed) SELECT * FROM (");
    for (index, ((curso, semestre, year), counts)) in rows.iter().enumerate() {
        // The first row names the derived table's columns.
        let names: [&str; 6] =
            if index == 0 { [" AS curso", " AS semestre", " AS year", " AS students", " AS passed", " AS failed"] } else { [""; 6] };
        upsert.push(if index == 0 { "SELECT " } else { " UNION ALL SELECT " });
        upsert.push_bind(curso).push(names[0]).push(", ").push_bind(semestre).push(names[1]).push(", ");
        upsert.push_bind(*year).push(names[2]).push(", ").push_bind(counts.students).push(names[3]).push(", ");
        upsert.push_bind(counts.passed).push(names[4]).push(", ").push_bind(counts.failed).push(names[5]);
    }
    upsert.push(
        ") AS n ON DUPLICATE KEY UPDATE students = course_term_stats.students + n.students, \
         passed = course_term_stats.passed + n.passed, failed = course_term_stats.failed + n.failed",
    );
    upsert.build().persistent(false).execute(&mut *tx).await?;
    Ok(())
}

/// Adds `range` to `student_stats` (the students projection): one row change per student and
/// rollup, however many of the student's grades the range holds. The name kept is the one on
/// the student's newest grade.
pub async fn fold_students(tx: &mut MySqlConnection, range: IdRange) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO student_stats (semestre, year, carnet, nombre, grade_count, grade_sum) SELECT * FROM \
           (SELECT IF(r.rollup >= 2, ?, g.semestre) AS s, IF(r.rollup % 2 = 1, ?, g.year) AS y, g.carnet, \
                   SUBSTRING(MAX(CONCAT(LPAD(g.id, 20, '0'), g.nombre)), 21) AS nombre, COUNT(*) AS grade_count, SUM(g.nota) AS grade_sum \
            FROM grades g CROSS JOIN (SELECT 0 AS rollup UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3) r \
            WHERE g.id BETWEEN ? AND ? GROUP BY s, y, g.carnet) AS n \
         ON DUPLICATE KEY UPDATE nombre = n.nombre, grade_count = student_stats.grade_count + n.grade_count, \
                                 grade_sum = student_stats.grade_sum + n.grade_sum",
    )
    .bind(ALL_SEMESTERS)
    .bind(ALL_YEARS)
    .bind(range.first)
    .bind(range.last)
    .execute(tx)
    .await
    .map(|_| ())
}

pub(crate) async fn read_route_counts(connection: &mut MySqlConnection) -> Result<RouteCounts, sqlx::Error> {
    let rows: Vec<(String, u64)> =
        sqlx::query_as("SELECT CAST(route AS CHAR), CAST(grades AS UNSIGNED) FROM route_stats").fetch_all(connection).await?;
    let mut counts = RouteCounts::default();
    for (route, grades) in rows {
        if let Some(route) = grades_domain::Route::parse(&route) {
            counts.add(route, grades);
        }
    }
    Ok(counts)
}

/// Student counts of `terms`, or of every course term (rollups excluded) when `terms` is empty.
pub(crate) async fn read_student_counts(connection: &mut MySqlConnection, terms: &[Term]) -> Result<Vec<StudentCount>, sqlx::Error> {
    let mut query = QueryBuilder::<MySql>::new(
        "SELECT curso, semestre, CAST(year AS UNSIGNED), CAST(students AS UNSIGNED) FROM course_term_stats WHERE year <> ",
    );
    query.push_bind(ALL_YEARS);
    if !terms.is_empty() {
        query.push(" AND (curso, semestre, year) IN (");
        let mut list = query.separated(", ");
        for (curso, semestre, year) in terms {
            list.push("(");
            list.push_bind_unseparated(curso)
                .push_unseparated(", ")
                .push_bind_unseparated(semestre)
                .push_unseparated(", ")
                .push_bind_unseparated(*year)
                .push_unseparated(")");
        }
        query.push(")");
    }
    let rows: Vec<(String, String, u16, u64)> = query.build_query_as().persistent(false).fetch_all(connection).await?;
    Ok(rows.into_iter().map(|(curso, semestre, year, students)| StudentCount { curso, semestre, year, students }).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn term(curso: &str, year: u16) -> Term {
        (curso.to_owned(), "2S".to_owned(), year)
    }

    #[test]
    fn new_students_are_counted_per_term_and_rollup() {
        let pass_fail =
            vec![(term("SO1", 2023), 2, 1), (term("SO1", ALL_YEARS), 2, 1), (term("BD1", 2023), 0, 1), (term("BD1", ALL_YEARS), 0, 1)];
        let new = vec![(term("SO1", 2023), 2), (term("SO1", ALL_YEARS), 1)];
        let rows = course_term_rows(pass_fail, &new);
        assert_eq!(rows[&term("SO1", 2023)], TermCounts { students: 2, passed: 2, failed: 1 });
        assert_eq!(rows[&term("SO1", ALL_YEARS)], TermCounts { students: 1, passed: 2, failed: 1 });
        assert_eq!(rows[&term("BD1", 2023)], TermCounts { students: 0, passed: 0, failed: 1 });
        assert_eq!(rows.len(), 4);
    }

    #[test]
    fn ranges_count_their_ids() {
        assert_eq!(IdRange { first: 5, last: 9 }.len(), 5);
        assert!(!IdRange { first: 5, last: 5 }.is_empty());
    }
}

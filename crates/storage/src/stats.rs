//! The dashboard's read queries. Each reads a summary table or walks an index newest-first, so
//! its cost does not grow with the number of grades stored.

use grades_domain::{CourseCode, Semester, StoredGrade, Year};
use serde::Serialize;
use sqlx::{MySql, MySqlPool, QueryBuilder};

use crate::rows::{into_grades, GradeRow, GRADE_COLUMNS};
use crate::summary::{ALL_SEMESTERS, ALL_YEARS};

/// Which grades [`list_grades`] returns; `None` fields match every value.
#[derive(Debug, Clone, Default)]
pub struct GradeFilter {
    /// Only grades of this course.
    pub curso: Option<CourseCode>,
    /// Only grades of this semester.
    pub semestre: Option<Semester>,
    /// Only grades of this year.
    pub year: Option<Year>,
}

/// One page of the grade list, newest first.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct GradePage {
    /// The grades of this page.
    pub items: Vec<StoredGrade>,
    /// Pass back as `cursor` for the next (older) page; `None` on the last page.
    pub next_cursor: Option<String>,
}

impl GradeFilter {
    /// The index of `grades` that holds the matching rows in id order, so a page is one range
    /// read, if one does. Named in the query: with a cursor, the optimizer would otherwise take
    /// `(curso, id)` for `curso` alone as a lookup and walk every newer grade of the course
    /// (seconds at 10 M grades) instead of a range that starts at the cursor.
    fn index_in_id_order(&self) -> Option<&'static str> {
        match (self.curso.is_some(), self.semestre.is_some(), self.year.is_some()) {
            (false, false, false) => Some("PRIMARY"),
            (true, false, false) => Some("grades_by_course"),
            (false, true, true) => Some("grades_by_term"),
            (true, true, true) => Some("grades_by_course_term"),
            _ => None,
        }
    }

    /// Appends ` AND column = value` for every field set.
    fn push_conditions(&self, query: &mut QueryBuilder<'_, MySql>) {
        if let Some(curso) = &self.curso {
            query.push(" AND curso = ").push_bind(curso.as_str().to_owned());
        }
        if let Some(semestre) = self.semestre {
            query.push(" AND semestre = ").push_bind(semestre.as_str());
        }
        if let Some(year) = self.year {
            query.push(" AND year = ").push_bind(year.get());
        }
    }
}

/// Newest first. `before_id` is the cursor: only grades with a smaller id are returned.
///
/// A filter an index holds in id order is one range read of that index. Any other filter (a
/// `semestre` without a `year`, a `year` without a `semestre`) is answered by [`unindexed_page`].
pub async fn list_grades(pool: &MySqlPool, filter: &GradeFilter, limit: u32, before_id: Option<u64>) -> Result<GradePage, sqlx::Error> {
    // One extra row tells whether an older page exists.
    let wanted = limit + 1;
    let mut rows: Vec<GradeRow> = match filter.index_in_id_order() {
        Some(index) => {
            let mut query = QueryBuilder::<MySql>::new("");
            page_query(&mut query, GRADE_COLUMNS, index, filter, (None, before_id), wanted);
            query.build_query_as().persistent(false).fetch_all(pool).await?
        }
        None => {
            let ids = unindexed_page(pool, filter, wanted, before_id).await?;
            // No id (nothing matches) still makes a valid statement that returns nothing.
            let mut query = QueryBuilder::new(format!("SELECT {GRADE_COLUMNS} FROM grades WHERE id IN (NULL"));
            for id in ids {
                query.push(", ").push_bind(id);
            }
            query.push(") ORDER BY id DESC").build_query_as().persistent(false).fetch_all(pool).await?
        }
    };
    let more = rows.len() > limit as usize;
    rows.truncate(limit as usize);
    let items = into_grades(rows)?;
    let next_cursor = more.then(|| items.last().map(|g| g.id.to_string())).flatten();
    Ok(GradePage { items, next_cursor })
}

/// How many ids below the cursor [`unindexed_page`] looks through first.
const RECENT_WINDOW: u64 = 2_000;

/// The ids of one page (`wanted` of them at most) of a filter no index holds in id order.
///
/// Without a year, first the [`RECENT_WINDOW`] ids below the cursor, one primary-key range read
/// newest-first until a page matches: where a semester's grades are about half of the newest
/// (as in `just seed`'s data) that is about two rows read per row listed, and since the range is
/// every id between its bottom and the cursor, its newest matches are the newest overall. When it
/// holds fewer than a page (a rare filter, the oldest grades, or a semester other than the one
/// being entered now, when grades arrive term by term), that read was spent for nothing and the
/// filter is split into filters an index serves, each read newest-first for one page of ids
/// (which the index holds: an InnoDB secondary index carries the primary key), and the union is
/// cut to the page:
/// - with a `year` but no `semestre`: one read per semester;
/// - with a `semestre` but no `year`: one read per year that has grades of that semester (from
///   `course_term_stats`), plus the grades the projector has not folded yet (above its
///   watermark, read first, so no new year is missed).
///
/// The union alone was the plan before: for a semester it is 26 index reads (one per year) a
/// page, which 16 concurrent readers of a 100 M-grade table queued behind (p99 66 ms on MySQL).
async fn unindexed_page(pool: &MySqlPool, filter: &GradeFilter, wanted: u32, before_id: Option<u64>) -> Result<Vec<u64>, sqlx::Error> {
    // The window only where the union is long: a year is 1/26 of the grades at most, and its
    // union is two reads.
    if filter.year.is_none() {
        let below = match before_id {
            Some(before) => before,
            None => sqlx::query_as::<_, (Option<u64>,)>("SELECT MAX(id) FROM grades").fetch_one(pool).await?.0.map_or(0, |max| max + 1),
        };
        // Ids strictly above `bottom`; `None` when the range reaches the first grade.
        let bottom = below.checked_sub(RECENT_WINDOW + 1);
        let mut window = QueryBuilder::<MySql>::new("");
        page_query(&mut window, "id", "PRIMARY", filter, (bottom, Some(below)), wanted);
        let recent: Vec<(u64,)> = window.build_query_as().persistent(false).fetch_all(pool).await?;
        if recent.len() == wanted as usize || bottom.is_none() {
            return Ok(recent.into_iter().map(|(id,)| id).collect());
        }
    }
    // Each part with the lowest id it can hold: the tail starts above the watermark.
    let mut parts: Vec<(GradeFilter, Option<u64>)> = Vec::new();
    if filter.year.is_some() {
        for semestre in [Semester::First, Semester::Second] {
            parts.push((GradeFilter { semestre: Some(semestre), ..filter.clone() }, None));
        }
    } else {
        let (folded,): (u64,) =
            sqlx::query_as("SELECT applied_id FROM projection_state WHERE name = 'terms'").fetch_optional(pool).await?.unwrap_or((0,));
        parts.push((filter.clone(), Some(folded)));
        // The primary key: at most a thousand rows. The students index would cover the query
        // too, but its entries move with every fold, and a long transaction elsewhere (a seed,
        // a backup) keeps their old versions, which every scan then has to step over.
        let mut years = QueryBuilder::<MySql>::new("SELECT DISTINCT year FROM course_term_stats FORCE INDEX (PRIMARY) WHERE year <> ");
        years.push_bind(ALL_YEARS);
        filter.push_conditions(&mut years);
        let years: Vec<(u16,)> = years.build_query_as().persistent(false).fetch_all(pool).await?;
        for (year,) in years {
            let year = Year::new(u64::from(year)).map_err(|e| sqlx::Error::Decode(e.into()))?;
            parts.push((GradeFilter { year: Some(year), ..filter.clone() }, None));
        }
    }
    let mut query = QueryBuilder::<MySql>::new("SELECT id FROM (");
    for (index, (part, above)) in parts.iter().enumerate() {
        query.push(if index == 0 { "(" } else { " UNION (" });
        // The tail above the watermark is a short primary-key range whatever its filter.
        let index = if above.is_some() { "PRIMARY" } else { part.index_in_id_order().unwrap_or("PRIMARY") };
        page_query(&mut query, "id", index, part, (*above, before_id), wanted);
        query.push(")");
    }
    query.push(") ids ORDER BY id DESC LIMIT ").push_bind(wanted);
    let ids: Vec<(u64,)> = query.build_query_as().persistent(false).fetch_all(pool).await?;
    Ok(ids.into_iter().map(|(id,)| id).collect())
}

/// `SELECT columns FROM grades` through `index`, the rows of `filter` with ids strictly between
/// `bounds` (either side open when `None`), newest first, `limit` of them.
fn page_query(
    query: &mut QueryBuilder<'_, MySql>,
    columns: &str,
    index: &str,
    filter: &GradeFilter,
    (above, below): (Option<u64>, Option<u64>),
    limit: u32,
) {
    query.push(format!("SELECT {columns} FROM grades FORCE INDEX ({index}) WHERE 1 = 1"));
    filter.push_conditions(query);
    if let Some(above) = above {
        query.push(" AND id > ").push_bind(above);
    }
    if let Some(below) = below {
        query.push(" AND id < ").push_bind(below);
    }
    query.push(" ORDER BY id DESC LIMIT ").push_bind(limit);
}

/// Passed and failed grades of a course in a semester, of one year or of all years.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct PassFail {
    /// Course code.
    pub curso: String,
    /// Semester.
    pub semestre: String,
    /// The year asked for; `None` for all years.
    pub year: Option<u16>,
    /// Grades at or above the passing mark.
    pub passed: u64,
    /// Grades below the passing mark.
    pub failed: u64,
}

/// Pass/fail counts of a course term from `course_term_stats` (zeros when it has no grades).
pub async fn pass_fail(pool: &MySqlPool, curso: &CourseCode, semestre: Semester, year: Option<Year>) -> Result<PassFail, sqlx::Error> {
    let row: Option<(u64, u64)> = sqlx::query_as(
        "SELECT CAST(passed AS UNSIGNED), CAST(failed AS UNSIGNED) FROM course_term_stats WHERE curso = ? AND semestre = ? AND year = ?",
    )
    .bind(curso.as_str())
    .bind(semestre.as_str())
    .bind(year.map_or(ALL_YEARS, Year::get))
    .fetch_optional(pool)
    .await?;
    let (passed, failed) = row.unwrap_or((0, 0));
    Ok(PassFail { curso: curso.as_str().to_owned(), semestre: semestre.as_str().to_owned(), year: year.map(Year::get), passed, failed })
}

/// A course and how many distinct students it has in the term asked for.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct CourseStudents {
    /// Course code.
    pub curso: String,
    /// Course name from the catalog.
    pub name: String,
    /// Distinct students with a grade in it.
    pub students: u64,
}

/// Courses with the most distinct students in a semester (of one year, or of all years).
pub async fn top_courses(pool: &MySqlPool, semestre: Semester, year: Option<Year>, limit: u32) -> Result<Vec<CourseStudents>, sqlx::Error> {
    let rows: Vec<(String, String, u64)> = sqlx::query_as(
        "SELECT s.curso, c.name, CAST(s.students AS UNSIGNED) FROM course_term_stats s JOIN courses c ON c.code = s.curso \
         WHERE s.semestre = ? AND s.year = ? ORDER BY s.students DESC, s.curso ASC LIMIT ?",
    )
    .bind(semestre.as_str())
    .bind(year.map_or(ALL_YEARS, Year::get))
    .bind(limit)
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(|(curso, name, students)| CourseStudents { curso, name, students }).collect())
}

/// A student's average grade over the grades selected.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct StudentAverage {
    /// Student id.
    pub carnet: u64,
    /// Student name, as on their grades.
    pub nombre: String,
    /// Mean grade, rounded to two decimals.
    pub average: f64,
    /// Grades the average is over.
    pub grades: u64,
}

/// Students with the best average grade, over all grades or those of a semester and/or year.
pub async fn top_students(
    pool: &MySqlPool,
    semestre: Option<Semester>,
    year: Option<Year>,
    limit: u32,
) -> Result<Vec<StudentAverage>, sqlx::Error> {
    let rows: Vec<(u64, String, u64, u64)> = sqlx::query_as(
        "SELECT carnet, nombre, CAST(grade_sum AS UNSIGNED), CAST(grade_count AS UNSIGNED) FROM student_stats \
         WHERE semestre = ? AND year = ? ORDER BY avg_nota DESC, grade_count DESC, carnet ASC LIMIT ?",
    )
    .bind(semestre.map_or(ALL_SEMESTERS, Semester::as_str))
    .bind(year.map_or(ALL_YEARS, Year::get))
    .bind(limit)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(carnet, nombre, sum, count)| StudentAverage {
            carnet,
            nombre,
            average: if count == 0 { 0.0 } else { ((sum as f64 / count as f64) * 100.0).round() / 100.0 },
            grades: count,
        })
        .collect())
}

/// Grades stored by each route, from MySQL (the source of truth); routes with none are absent.
pub async fn grades_per_route(pool: &MySqlPool) -> Result<Vec<(String, u64)>, sqlx::Error> {
    sqlx::query_as("SELECT CAST(route AS CHAR), CAST(grades AS UNSIGNED) FROM route_stats ORDER BY route").fetch_all(pool).await
}

/// How far the summaries are behind the committed grades (the projector's lag).
pub async fn projector_status(pool: &MySqlPool) -> Result<crate::projection::ProjectorStatus, sqlx::Error> {
    crate::projection::read_status(pool).await
}

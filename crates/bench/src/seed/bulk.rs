//! Multi-row INSERT statements as text, built on a generator thread and sent by a loader on a
//! connection of its own. (Prepared statements with bound values, tried too, cost MariaDB more
//! CPU per row than parsing the text: 56 s against 43 s of server CPU for 1 M grades.)

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sqlx::mysql::MySqlConnection;
use sqlx::types::chrono::NaiveDateTime;
use tokio::sync::mpsc;

use super::generate::{self, Aggregates, Grade, Shape, COURSES, FIRST_CARNET, SEMESTERS};

/// Statement size: a few MiB amortises the round trip and the parse; far below the server's
/// `max_allowed_packet` (16 MiB by default on MariaDB, 64 MiB on MySQL 8).
const STATEMENT_BYTES: usize = 4 << 20;

/// One INSERT of many rows.
pub struct Statement {
    pub sql: String,
    pub rows: u64,
}

/// Why a generator stopped: the loader is gone (it failed and reports why).
#[derive(Debug)]
pub struct LoaderGone;

/// Collects rows of one table into statements of about [`STATEMENT_BYTES`] and hands them to
/// the loader.
pub struct Rows<'a> {
    header: &'static str,
    sql: String,
    rows: u64,
    out: &'a mpsc::Sender<Statement>,
}

impl<'a> Rows<'a> {
    pub fn new(header: &'static str, out: &'a mpsc::Sender<Statement>) -> Self {
        Self { header, sql: String::with_capacity(STATEMENT_BYTES + 4096), rows: 0, out }
    }

    /// The statement text to append one `(...)` row tuple to.
    fn next_row(&mut self) -> &mut String {
        if self.rows == 0 {
            self.sql.push_str(self.header);
        } else {
            self.sql.push(',');
        }
        self.rows += 1;
        &mut self.sql
    }

    fn row_done(&mut self) -> Result<(), LoaderGone> {
        if self.sql.len() >= STATEMENT_BYTES {
            self.flush()?;
        }
        Ok(())
    }

    pub fn flush(&mut self) -> Result<(), LoaderGone> {
        if self.rows == 0 {
            return Ok(());
        }
        let sql = std::mem::replace(&mut self.sql, String::with_capacity(STATEMENT_BYTES + 4096));
        let statement = Statement { sql, rows: std::mem::take(&mut self.rows) };
        self.out.blocking_send(statement).map_err(|_| LoaderGone)
    }
}

/// Sends every statement it receives on `connection`, counting rows into `loaded`.
pub async fn load(
    connection: &mut MySqlConnection,
    mut statements: mpsc::Receiver<Statement>,
    loaded: Arc<AtomicU64>,
) -> Result<(), sqlx::Error> {
    while let Some(statement) = statements.recv().await {
        sqlx::raw_sql(&statement.sql).execute(&mut *connection).await?;
        loaded.fetch_add(statement.rows, Ordering::Relaxed);
    }
    Ok(())
}

/// The grades of `shape`, in id order. `created_at` is SQL: a quoted DATETIME or an expression.
pub fn grades(shape: &Shape, created_at: &str, out: &mpsc::Sender<Statement>) -> Result<(), LoaderGone> {
    let mut rows = Rows::new("INSERT INTO grades (id, carnet, nombre, curso, nota, semestre, year, route, created_at) VALUES ", out);
    let mut chunk = Vec::with_capacity(generate::CHUNK as usize);
    for index in 0..shape.chunks() {
        generate::chunk(shape, index, &mut chunk);
        let first = shape.first_id + index * generate::CHUNK;
        for (offset, grade) in chunk.iter().enumerate() {
            grade_row(rows.next_row(), shape, first + offset as u64, grade, created_at);
            rows.row_done()?;
        }
    }
    rows.flush()
}

fn grade_row(sql: &mut String, shape: &Shape, id: u64, grade: &Grade, created_at: &str) {
    let _ = write!(sql, "({id},{},'", FIRST_CARNET + u64::from(grade.student));
    // Names come from fixed lists without quotes or backslashes: nothing to escape.
    generate::name(grade.student, sql);
    let _ = write!(
        sql,
        "','{}',{},'{}',{},'{}',{created_at})",
        COURSES[usize::from(grade.course)],
        grade.nota,
        SEMESTERS[usize::from(grade.semester)],
        shape.year_min + grade.year_index,
        if grade.grpc { "grpc" } else { "rest" },
    );
}

/// The idempotency keys a seed writes: those the grades of the last retention window carry
/// (older ones the services' sweeper would have deleted).
#[derive(Debug, Clone, Copy)]
pub struct KeyShape {
    /// First grade id inside the window; every later id of the load is inside it too.
    pub first_id: u64,
    /// Grades inside the window (the window's traffic, at most the whole load).
    pub grades: u64,
    /// Share of them that carries a key.
    pub share: f64,
    /// When the window starts: the grades inside it were stored evenly from here to `from + window`.
    pub from: NaiveDateTime,
    pub window: Duration,
    pub seed: u64,
}

/// `idempotency_keys` rows for a share of the window's grades, in id order (so `created_at`
/// rises as the writer's would): random UUID-like keys, as HTTP clients make them, so the
/// primary key is the random-key index the writer checks on every keyed grade.
pub fn keys(keys: &KeyShape, out: &mpsc::Sender<Statement>) -> Result<(), LoaderGone> {
    let mut rows = Rows::new("INSERT INTO idempotency_keys (idem_key, grade_id, request_hash, created_at) VALUES ", out);
    let mut rng = StdRng::seed_from_u64(keys.seed ^ keys.first_id.wrapping_mul(0xA076_1D64_78BD_642F));
    let window_ms = keys.window.as_millis();
    for position in 0..keys.grades {
        if !rng.random_bool(keys.share.clamp(0.0, 1.0)) {
            continue;
        }
        let offset = (u128::from(position) * window_ms + window_ms / 2) / u128::from(keys.grades);
        let stored = keys.from + Duration::from_millis(offset as u64);
        let (high, low, hash): (u64, u64, u64) = (rng.random(), rng.random(), rng.random());
        let sql = rows.next_row();
        // Version 4 layout: 8-4-4-4-12 lower-case hex.
        let _ = write!(
            sql,
            "('{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}',{},{hash},'{}')",
            high >> 32,
            (high >> 16) & 0xFFFF,
            high & 0xFFF,
            0x8000 | (low >> 48) & 0x3FFF,
            low & 0xFFFF_FFFF_FFFF,
            keys.first_id + position,
            stored.format("%Y-%m-%d %H:%M:%S%.3f"),
        );
        rows.row_done()?;
    }
    rows.flush()
}

/// Rows every summary table gets: enrollments, course term stats, student stats, route stats.
pub fn summary_rows(aggregates: &Aggregates) -> u64 {
    let shape = &aggregates.shape;
    let mut rows = 0;
    for course in 0..COURSES.len() as u8 {
        for semester in 0..SEMESTERS.len() as u8 {
            let mut all_years = vec![0_u64; shape.students.div_ceil(64) as usize];
            for year_index in 0..shape.years {
                let term = shape.term_index(course, semester, year_index);
                let bits = &aggregates.enrolled[term];
                rows += bits.iter().map(|w| u64::from(w.count_ones())).sum::<u64>();
                rows += u64::from(aggregates.pass_fail[term] != [0, 0]);
                all_years.iter_mut().zip(bits).for_each(|(a, b)| *a |= b);
            }
            let all = all_years.iter().map(|w| u64::from(w.count_ones())).sum::<u64>();
            rows += all + u64::from(all > 0);
        }
    }
    rows += student_rollups(aggregates, |_, _, _, _, _| {});
    rows + aggregates.routes.iter().filter(|&&n| n > 0).count() as u64
}

/// `enrollments` and `course_term_stats`, in primary-key order (year 0, the all-years rollup,
/// sorts first).
pub fn terms(aggregates: &Aggregates, out: &mpsc::Sender<Statement>) -> Result<(), LoaderGone> {
    let shape = &aggregates.shape;
    let mut enrollments = Rows::new("INSERT INTO enrollments (curso, semestre, year, carnet) VALUES ", out);
    let mut stats = Vec::new();
    for (course, code) in COURSES.iter().enumerate() {
        for (semester, semestre) in SEMESTERS.iter().enumerate() {
            let years: Vec<usize> = (0..shape.years).map(|y| shape.term_index(course as u8, semester as u8, y)).collect();
            let mut all_years = vec![0_u64; shape.students.div_ceil(64) as usize];
            let mut all_pass_fail = [0, 0];
            for &term in &years {
                all_years.iter_mut().zip(&aggregates.enrolled[term]).for_each(|(a, b)| *a |= b);
                all_pass_fail[0] += aggregates.pass_fail[term][0];
                all_pass_fail[1] += aggregates.pass_fail[term][1];
            }
            let terms = std::iter::once((0, &all_years, all_pass_fail)).chain(
                years
                    .iter()
                    .enumerate()
                    .map(|(y, &term)| (shape.year_min + y as u16, &aggregates.enrolled[term], aggregates.pass_fail[term])),
            );
            for (year, bits, [passed, failed]) in terms {
                if passed + failed == 0 {
                    continue; // a term without grades has no row, as after the projector
                }
                let mut students = 0_u64;
                for (word_index, &word) in bits.iter().enumerate() {
                    let mut word = word;
                    while word != 0 {
                        let student = word_index as u64 * 64 + u64::from(word.trailing_zeros());
                        word &= word - 1;
                        students += 1;
                        let _ = write!(enrollments.next_row(), "('{code}','{semestre}',{year},{})", FIRST_CARNET + student);
                        enrollments.row_done()?;
                    }
                }
                stats.push(format!("('{code}','{semestre}',{year},{students},{passed},{failed})"));
            }
        }
    }
    enrollments.flush()?;
    let mut course_terms = Rows::new("INSERT INTO course_term_stats (curso, semestre, year, students, passed, failed) VALUES ", out);
    for row in stats {
        course_terms.next_row().push_str(&row);
        course_terms.row_done()?;
    }
    course_terms.flush()?;
    let mut routes = Rows::new("INSERT INTO route_stats (route, grades) VALUES ", out);
    for (route, grades) in ["grpc", "rest"].iter().zip(aggregates.routes) {
        if grades > 0 {
            let _ = write!(routes.next_row(), "('{route}',{grades})");
        }
    }
    routes.flush()
}

/// `student_stats` in primary-key order: semestre '*' (both semesters) sorts before '1S' and
/// '2S', year 0 (all years) before the years.
pub fn students(aggregates: &Aggregates, out: &mpsc::Sender<Statement>) -> Result<(), LoaderGone> {
    let mut rows = Rows::new("INSERT INTO student_stats (semestre, year, carnet, nombre, grade_count, grade_sum) VALUES ", out);
    let mut failed = Ok(());
    student_rollups(aggregates, |semestre, year, student, count, sum| {
        if failed.is_err() {
            return;
        }
        let sql = rows.next_row();
        let _ = write!(sql, "('{semestre}',{year},{},'", FIRST_CARNET + u64::from(student));
        generate::name(student, sql);
        let _ = write!(sql, "',{count},{sum})");
        failed = rows.row_done();
    });
    failed?;
    rows.flush()
}

/// Calls `row(semestre, year, student, grade_count, grade_sum)` for every `student_stats` row
/// in primary-key order; returns how many.
fn student_rollups(aggregates: &Aggregates, mut row: impl FnMut(&str, u16, u32, u64, u64)) -> u64 {
    let shape = &aggregates.shape;
    let semesters: [(&str, Vec<u8>); 3] = [("*", vec![0, 1]), (SEMESTERS[0], vec![0]), (SEMESTERS[1], vec![1])];
    let mut rows = 0;
    for (semestre, included) in &semesters {
        let years =
            std::iter::once((0, (0..shape.years).collect::<Vec<_>>())).chain((0..shape.years).map(|y| (shape.year_min + y, vec![y])));
        for (year, year_indexes) in years {
            for student in 0..shape.students {
                let (mut count, mut sum) = (0_u64, 0_u64);
                for &semester in included {
                    for &year_index in &year_indexes {
                        let cell = aggregates.student_cell(semester, year_index, student);
                        count += u64::from(aggregates.student_count[cell]);
                        sum += aggregates.student_sum[cell];
                    }
                }
                if count > 0 {
                    rows += 1;
                    row(semestre, year, student, count, sum);
                }
            }
        }
    }
    rows
}

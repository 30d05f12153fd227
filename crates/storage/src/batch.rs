//! The text of one batch transaction, sent as one multi-statement query: a batch costs one round
//! trip to MySQL. Commits are serialized by the id lock, so every round trip inside a transaction
//! is time no other batch can commit; at moderate rates those round trips, not the rows, are
//! what a grade costs.
//!
//! Values are literals: numbers printed, codes that validation restricted to letters and digits
//! quoted, and free text (names, idempotency keys) as hex literals, which no character and no
//! `sql_mode` can break out of.

use std::fmt::Write;

use grades_domain::{NewGrade, Route};

/// One grade of a batch, as stored.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BatchRow<'a> {
    pub grade: &'a NewGrade,
    pub route: Route,
    /// Its Idempotency-Key and the grade's fingerprint, when it has one.
    pub key: Option<(&'a str, u64)>,
}

/// Index of the `UPDATE id_sequence` result among the statements' results: its OK packet carries
/// the new `next_id` (`LAST_INSERT_ID()`).
pub(crate) const SEQUENCE_STATEMENT: usize = 2;
/// Index of the `INSERT INTO idempotency_keys` statement, when there is one.
pub(crate) const KEYS_STATEMENT: usize = 4;

/// `rows` (at least one) as one transaction. Ids are `LAST_INSERT_ID() - n .. LAST_INSERT_ID() - 1`
/// after the sequence update; `LAST_INSERT_ID()` is set to 0 first, so if the sequence row were
/// missing, every id would be a negative unsigned value: an error (1690), never a wrong id.
pub(crate) fn batch_sql(rows: &[BatchRow<'_>]) -> String {
    let n = rows.len();
    let mut sql = String::with_capacity(256 + n * 160);
    let _ = write!(
        sql,
        "DO LAST_INSERT_ID(0);\nSTART TRANSACTION;\n\
         UPDATE id_sequence SET next_id = LAST_INSERT_ID(next_id + {n}) WHERE name = 'grade_ids';\n\
         INSERT INTO grades (id, carnet, nombre, curso, nota, semestre, year, route, created_at) VALUES "
    );
    for (index, row) in rows.iter().enumerate() {
        if index > 0 {
            sql.push(',');
        }
        let grade = row.grade;
        let _ = write!(sql, "(LAST_INSERT_ID() - {}, {}, _utf8mb4 X'", n - index, grade.carnet.get());
        hex(&mut sql, grade.nombre.as_str());
        // Course codes are ASCII letters and digits, semesters `1S`/`2S`, routes `grpc`/`rest`.
        let (curso, semestre, route) = (grade.curso.as_str(), grade.semestre.as_str(), row.route.as_str());
        let _ = write!(sql, "', '{curso}', {}, '{semestre}', {}, '{route}', UTC_TIMESTAMP(3))", grade.nota.get(), grade.year.get());
    }
    sql.push_str(";\n");
    let keyed: Vec<(usize, &str, u64)> = rows.iter().enumerate().filter_map(|(i, r)| r.key.map(|(key, hash)| (i, key, hash))).collect();
    if !keyed.is_empty() {
        sql.push_str("INSERT INTO idempotency_keys (idem_key, grade_id, request_hash, created_at) VALUES ");
        for (position, (index, key, hash)) in keyed.iter().enumerate() {
            if position > 0 {
                sql.push(',');
            }
            sql.push_str("(_ascii X'");
            hex(&mut sql, key);
            let _ = write!(sql, "', LAST_INSERT_ID() - {}, {hash}, UTC_TIMESTAMP(3))", n - index);
        }
        sql.push_str(";\n");
    }
    sql.push_str("COMMIT;");
    sql
}

fn hex(sql: &mut String, text: &str) {
    for byte in text.bytes() {
        let _ = write!(sql, "{byte:02X}");
    }
}

#[cfg(test)]
mod tests {
    use grades_domain::{Catalog, Course, CourseCode, GradeParts};

    use super::*;

    fn grade(nombre: &str) -> NewGrade {
        let catalog = Catalog::new([Course { code: CourseCode::parse("SO1").unwrap(), name: "SO1".into() }]);
        let parts = GradeParts { carnet: 7, nombre, curso: "SO1", nota: 90, semestre: "2S", year: 2023 };
        NewGrade::from_parts(&parts, &catalog).unwrap()
    }

    fn row<'a>(grade: &'a NewGrade, key: Option<(&'a str, u64)>) -> BatchRow<'a> {
        BatchRow { grade, route: Route::Rest, key }
    }

    #[test]
    fn ids_count_down_from_the_new_next_id_in_batch_order() {
        let (a, b, c) = (grade("A"), grade("B"), grade("C"));
        let sql = batch_sql(&[row(&a, None), row(&b, None), row(&c, None)]);
        let statements: Vec<&str> = sql.split(";\n").collect();
        assert!(statements[SEQUENCE_STATEMENT].starts_with("UPDATE id_sequence SET next_id = LAST_INSERT_ID(next_id + 3)"));
        let grades = statements[3];
        let first = grades.find("LAST_INSERT_ID() - 3").unwrap();
        let second = grades.find("LAST_INSERT_ID() - 2").unwrap();
        let third = grades.find("LAST_INSERT_ID() - 1").unwrap();
        assert!(first < second && second < third);
        assert!(sql.ends_with("COMMIT;"));
        assert!(!sql.contains("idempotency_keys"));
    }

    #[test]
    fn free_text_is_hex_so_quotes_cannot_escape() {
        let name = grade("O'Brien \\'; DROP TABLE grades; --");
        let sql = batch_sql(&[row(&name, Some(("k'\\\"", 42)))]);
        assert!(!sql.contains("Brien"), "{sql}");
        assert!(sql.contains("_utf8mb4 X'4F27427269656E"), "{sql}");
        assert!(!sql.contains("DROP"), "{sql}");
        let statements: Vec<&str> = sql.split(";\n").collect();
        assert!(statements[KEYS_STATEMENT].starts_with("INSERT INTO idempotency_keys"));
        assert!(statements[KEYS_STATEMENT].contains("(_ascii X'6B275C22', LAST_INSERT_ID() - 1, 42, UTC_TIMESTAMP(3))"));
    }

    #[test]
    fn keys_point_at_their_own_grade() {
        let (a, b, c, d) = (grade("A"), grade("B"), grade("C"), grade("D"));
        let sql = batch_sql(&[row(&a, None), row(&b, Some(("b", 1))), row(&c, None), row(&d, Some(("d", 2)))]);
        assert!(sql.contains("X'62', LAST_INSERT_ID() - 3, 1"), "{sql}");
        assert!(sql.contains("X'64', LAST_INSERT_ID() - 1, 2"), "{sql}");
    }
}

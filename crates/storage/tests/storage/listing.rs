//! The grade list: every filter combination pages through exactly the matching grades, newest
//! first, folded by the projector or not yet.

use std::time::Duration;

use grades_domain::{CourseCode, Semester, Year};
use grades_storage::stats::{list_grades, GradeFilter};
use grades_testkit::TestDatabase;

use crate::helpers::{insert_grades, quick, wait_folded, Projector};

/// Ids the filter matches, newest first, by the plainest query.
async fn expected_ids(db: &TestDatabase, curso: Option<&str>, semestre: Option<&str>, year: Option<u16>) -> Vec<u64> {
    let ids: Vec<(u64,)> = sqlx::query_as(
        "SELECT id FROM grades WHERE (? IS NULL OR curso = ?) AND (? IS NULL OR semestre = ?) AND (? IS NULL OR year = ?) ORDER BY id DESC",
    )
    .bind(curso)
    .bind(curso)
    .bind(semestre)
    .bind(semestre)
    .bind(year)
    .bind(year)
    .fetch_all(db.pool())
    .await
    .unwrap();
    ids.into_iter().map(|(id,)| id).collect()
}

/// One grade of SO1, 1S, 2030: a term no other grade has.
async fn insert_grade_in_a_new_term(db: &TestDatabase) {
    let mut tx = db.pool().begin().await.unwrap();
    let (id,): (u64,) =
        sqlx::query_as("SELECT next_id FROM id_sequence WHERE name = 'grade_ids' FOR UPDATE").fetch_one(&mut *tx).await.unwrap();
    sqlx::query(
        "INSERT INTO grades (id, carnet, nombre, curso, nota, semestre, year, route, created_at) \
         VALUES (?, 7, 'Alumno 7', 'SO1', 90, '1S', 2030, 'rest', UTC_TIMESTAMP(3))",
    )
    .bind(id)
    .execute(&mut *tx)
    .await
    .unwrap();
    sqlx::query("UPDATE id_sequence SET next_id = ? WHERE name = 'grade_ids'").bind(id + 1).execute(&mut *tx).await.unwrap();
    tx.commit().await.unwrap();
}

#[tokio::test]
async fn every_filter_pages_through_exactly_the_matching_grades() {
    let db = TestDatabase::create().await;
    insert_grades(db.pool(), 3_000, 200).await;
    let projector = Projector::start(&db.url(), None, quick());
    wait_folded(&db, Duration::from_secs(20)).await;
    projector.stop().await;
    // Committed but not folded: above the watermark, some in a course term that has no row yet.
    insert_grades(db.pool(), 700, 200).await;
    insert_grade_in_a_new_term(&db).await;

    // The helper's grades: SO1 only in 2019, so SO1 + 2021 matches nothing; 2031 has none.
    for curso in [None, Some("SO1")] {
        for semestre in [None, Some("1S")] {
            for year in [None, Some(2019), Some(2021), Some(2030), Some(2031)] {
                let filter = GradeFilter {
                    curso: curso.map(|c| CourseCode::parse(c).unwrap()),
                    semestre: semestre.map(|s| Semester::parse(s).unwrap()),
                    year: year.map(|y| Year::new(u64::from(y)).unwrap()),
                };
                let mut listed = Vec::new();
                let mut cursor = None;
                loop {
                    let page = list_grades(db.pool(), &filter, 97, cursor).await.unwrap();
                    listed.extend(page.items.iter().map(|g| g.id));
                    match page.next_cursor {
                        Some(next) => cursor = Some(next.parse().unwrap()),
                        None => break,
                    }
                }
                assert_eq!(listed, expected_ids(&db, curso, semestre, year).await, "curso {curso:?} semestre {semestre:?} year {year:?}");
            }
        }
    }
}

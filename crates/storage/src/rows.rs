//! Reading `grades` rows back as [`StoredGrade`]s: the one column list and conversion.

use chrono::NaiveDateTime;
use grades_domain::{Route, StoredGrade};
use sqlx::FromRow;

/// Columns of a [`StoredGrade`], in the order [`GradeRow`] reads them.
pub(crate) const GRADE_COLUMNS: &str =
    "id, carnet, nombre, curso, nota, semestre, CAST(year AS UNSIGNED) AS year, CAST(route AS CHAR) AS route, created_at";

#[derive(FromRow)]
pub(crate) struct GradeRow {
    id: u64,
    carnet: u64,
    nombre: String,
    curso: String,
    nota: u8,
    semestre: String,
    year: u16,
    route: String,
    created_at: NaiveDateTime,
}

impl TryFrom<GradeRow> for StoredGrade {
    type Error = sqlx::Error;

    fn try_from(row: GradeRow) -> Result<Self, Self::Error> {
        let route = Route::parse(&row.route)
            .ok_or_else(|| sqlx::Error::Decode(format!("grade {} has an unknown route {:?}", row.id, row.route).into()))?;
        Ok(StoredGrade {
            id: row.id,
            carnet: row.carnet,
            nombre: row.nombre,
            curso: row.curso,
            nota: row.nota,
            semestre: row.semestre,
            year: row.year,
            route,
            // The writer stores UTC_TIMESTAMP().
            created_at: row.created_at.and_utc(),
        })
    }
}

pub(crate) fn into_grades(rows: Vec<GradeRow>) -> Result<Vec<StoredGrade>, sqlx::Error> {
    rows.into_iter().map(StoredGrade::try_from).collect()
}

//! What both targets share: the seeded course catalog (migrations/) and the invariants a grade
//! that passed validation must keep.

use grades_domain::{Catalog, Course, CourseCode, GradeParts, NewGrade, ValidationErrors};

/// The catalog the migrations seed.
pub fn catalog() -> Catalog {
    let courses = [
        ("SO1", "Sistemas Operativos 1"),
        ("BD1", "Sistemas de Bases de Datos 1"),
        ("LFP", "Lenguajes Formales y de Programacion"),
        ("SA", "Software Avanzado"),
        ("AYD1", "Analisis y Diseno 1"),
    ];
    Catalog::new(courses.map(|(code, name)| Course { code: CourseCode::parse(code).unwrap(), name: name.to_owned() }))
}

/// A valid grade validates to itself through both doors: its JSON (the HTTP front's) and its
/// typed parts (gRPC's), so the two routes can never disagree on a grade.
pub fn check_accepted(grade: &NewGrade, catalog: &Catalog) {
    let json = serde_json::to_value(grade).unwrap();
    let object = json.as_object().unwrap();
    assert_eq!(NewGrade::from_json(object, catalog).as_ref(), Ok(grade), "JSON of {grade:?} does not validate to itself");
    let parts = GradeParts {
        carnet: grade.carnet.get(),
        nombre: grade.nombre.as_str(),
        curso: grade.curso.as_str(),
        nota: u64::from(grade.nota.get()),
        semestre: grade.semestre.as_str(),
        year: u64::from(grade.year.get()),
    };
    assert_eq!(NewGrade::from_parts(&parts, catalog).as_ref(), Ok(grade), "parts of {grade:?} do not validate to themselves");
}

/// A refusal names at least one field, and only the fields of a grade (or the idempotency key).
pub fn check_refused(errors: &ValidationErrors) {
    assert!(!errors.is_empty(), "a refusal without a reason");
    for field in errors.fields() {
        assert!(
            ["carnet", "nombre", "curso", "nota", "semestre", "year", "Idempotency-Key", "grade"].contains(&field),
            "unexpected field {field:?} in {errors}"
        );
    }
}

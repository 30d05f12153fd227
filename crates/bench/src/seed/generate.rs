//! The seed's grades, generated in fixed chunks from a seed number: the same chunk always holds
//! the same grades, so the grades writer and the summary aggregation each generate them on their
//! own (no 10 M-grade buffer), in parallel.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// The courses of the schema's migration, in primary-key order (byte order of upper-case codes).
pub const COURSES: [&str; 5] = ["AYD1", "BD1", "LFP", "SA", "SO1"];
/// Semesters in primary-key order.
pub const SEMESTERS: [&str; 2] = ["1S", "2S"];
/// First carnet of the student pool: student `i` is carnet `FIRST_CARNET + i`.
pub const FIRST_CARNET: u64 = 201_000_001;
/// Grades per generated chunk (each chunk has a random stream of its own).
pub const CHUNK: u64 = 1 << 16;

/// What is generated: how many grades from which id, over which students and years.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    pub first_id: u64,
    pub count: u64,
    pub students: u32,
    pub year_min: u16,
    pub years: u16,
    pub seed: u64,
}

impl Shape {
    pub fn chunks(&self) -> u64 {
        self.count.div_ceil(CHUNK)
    }

    /// Course terms (course, semester, year), without rollups.
    pub fn terms(&self) -> usize {
        COURSES.len() * SEMESTERS.len() * usize::from(self.years)
    }

    pub fn term_index(&self, course: u8, semester: u8, year_index: u16) -> usize {
        (usize::from(course) * SEMESTERS.len() + usize::from(semester)) * usize::from(self.years) + usize::from(year_index)
    }
}

/// One generated grade (its id is its position in the stream).
#[derive(Debug, Clone, Copy)]
pub struct Grade {
    pub student: u32,
    /// Index into [`COURSES`].
    pub course: u8,
    pub nota: u8,
    /// Index into [`SEMESTERS`].
    pub semester: u8,
    pub year_index: u16,
    pub grpc: bool,
}

/// The grades of chunk `index` (ids `first_id + index * CHUNK` onwards) into `out`.
pub fn chunk(shape: &Shape, index: u64, out: &mut Vec<Grade>) {
    out.clear();
    let first = index * CHUNK;
    let len = CHUNK.min(shape.count - first);
    let mut rng = StdRng::seed_from_u64(shape.seed ^ index.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    out.extend((0..len).map(|_| {
        // Notas: the mean of two draws, so most land in the middle and few at the extremes.
        let nota = (rng.random_range(0..=100_u16) + rng.random_range(0..=100_u16)).div_ceil(2) as u8;
        Grade {
            student: rng.random_range(0..shape.students),
            course: rng.random_range(0..COURSES.len() as u8),
            nota,
            semester: rng.random_range(0..SEMESTERS.len() as u8),
            year_index: rng.random_range(0..shape.years),
            grpc: rng.random_bool(0.5),
        }
    }));
}

const FIRST_NAMES: [&str; 32] = [
    "José",
    "María",
    "Juan",
    "Ana",
    "Luis",
    "Carmen",
    "Carlos",
    "Sofía",
    "Jorge",
    "Lucía",
    "Pedro",
    "Andrea",
    "Mario",
    "Gabriela",
    "Diego",
    "Valeria",
    "Fernando",
    "Daniela",
    "Ricardo",
    "Alejandra",
    "Javier",
    "Paola",
    "Sergio",
    "Mónica",
    "Óscar",
    "Claudia",
    "Eduardo",
    "Rocío",
    "Héctor",
    "Patricia",
    "Raúl",
    "Beatriz",
];
const SURNAMES: [&str; 32] = [
    "García",
    "López",
    "Pérez",
    "González",
    "Rodríguez",
    "Hernández",
    "Martínez",
    "Morales",
    "Castillo",
    "Ramírez",
    "Flores",
    "Méndez",
    "Juárez",
    "Cruz",
    "Reyes",
    "Ortiz",
    "Chávez",
    "Díaz",
    "Gómez",
    "Vásquez",
    "Estrada",
    "Aguilar",
    "Barrios",
    "Cabrera",
    "Mejía",
    "Orellana",
    "Pineda",
    "Sandoval",
    "Velásquez",
    "Zamora",
    "Fuentes",
    "Alvarado",
];

/// The name of student `student`: always the same for a student (first name and two surnames).
pub fn name(student: u32, out: &mut String) {
    let i = student as usize;
    out.push_str(FIRST_NAMES[i % 32]);
    out.push(' ');
    out.push_str(SURNAMES[(i / 32) % 32]);
    out.push(' ');
    out.push_str(SURNAMES[(i / 1024 + i) % 32]);
}

/// Every summary of the generated grades, counted while generating.
pub struct Aggregates {
    pub shape: Shape,
    /// Grades per route: gRPC, REST.
    pub routes: [u64; 2],
    /// Per course term: a bit per student who has a grade in it.
    pub enrolled: Vec<Vec<u64>>,
    /// Per course term: passing and failing grades.
    pub pass_fail: Vec<[u64; 2]>,
    /// Per (semester, year index, student): grades and their sum.
    pub student_count: Vec<u32>,
    pub student_sum: Vec<u64>,
}

impl Aggregates {
    /// Generates every chunk of `shape` and counts it.
    pub fn count(shape: Shape, passing: u8) -> Self {
        let students = shape.students as usize;
        let cells = SEMESTERS.len() * usize::from(shape.years) * students;
        let mut aggregates = Self {
            shape,
            routes: [0; 2],
            enrolled: vec![vec![0; students.div_ceil(64)]; shape.terms()],
            pass_fail: vec![[0; 2]; shape.terms()],
            student_count: vec![0; cells],
            student_sum: vec![0; cells],
        };
        let mut grades = Vec::with_capacity(CHUNK as usize);
        for index in 0..shape.chunks() {
            chunk(&shape, index, &mut grades);
            for grade in &grades {
                aggregates.add(grade, passing);
            }
        }
        aggregates
    }

    fn add(&mut self, grade: &Grade, passing: u8) {
        self.routes[usize::from(!grade.grpc)] += 1;
        let term = self.shape.term_index(grade.course, grade.semester, grade.year_index);
        let student = grade.student as usize;
        self.enrolled[term][student / 64] |= 1 << (student % 64);
        self.pass_fail[term][usize::from(grade.nota < passing)] += 1;
        let cell = self.student_cell(grade.semester, grade.year_index, grade.student);
        self.student_count[cell] += 1;
        self.student_sum[cell] += u64::from(grade.nota);
    }

    pub fn student_cell(&self, semester: u8, year_index: u16, student: u32) -> usize {
        (usize::from(semester) * usize::from(self.shape.years) + usize::from(year_index)) * self.shape.students as usize + student as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(count: u64) -> Shape {
        Shape { first_id: 1, count, students: 50, year_min: 2020, years: 3, seed: 7 }
    }

    #[test]
    fn a_chunk_is_the_same_every_time_and_stays_in_range() {
        let (mut a, mut b) = (Vec::new(), Vec::new());
        chunk(&shape(100_000), 1, &mut a);
        chunk(&shape(100_000), 1, &mut b);
        assert_eq!(a.len(), (100_000 - CHUNK) as usize);
        assert!(a.iter().zip(&b).all(|(x, y)| (x.student, x.nota, x.course, x.year_index) == (y.student, y.nota, y.course, y.year_index)));
        assert!(a.iter().all(|g| g.student < 50 && g.nota <= 100 && g.year_index < 3 && usize::from(g.course) < COURSES.len()));
    }

    #[test]
    fn a_student_always_has_the_same_name() {
        let (mut a, mut b) = (String::new(), String::new());
        name(12_345, &mut a);
        name(12_345, &mut b);
        assert_eq!(a, b);
        assert_eq!(a.split(' ').count(), 3);
    }

    #[test]
    fn courses_are_the_migrations_in_key_order() {
        let mut sorted = COURSES;
        sorted.sort_unstable();
        assert_eq!(sorted, COURSES);
    }
}

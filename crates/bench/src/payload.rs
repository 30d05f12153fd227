//! Realistic grade bodies, as the Locust generator sends them (loadgen/grades_payload.py): a
//! student pool with stable names, the five courses, both semesters, a span of years, a share of
//! numbers sent as numeric strings, and a share of requests with an Idempotency-Key.

use rand::Rng;

#[derive(Debug, Clone, clap::Args)]
pub struct PayloadConfig {
    /// Distinct students the grades are spread over.
    #[arg(long, default_value_t = 500)]
    pub students: u64,
    /// First carnet of the pool.
    #[arg(long, default_value_t = 201_900_000)]
    pub first_carnet: u64,
    #[arg(long, default_value_t = 2019)]
    pub year_min: u16,
    #[arg(long, default_value_t = 2025)]
    pub year_max: u16,
    /// Share of requests sending carnet, nota and year as numeric strings.
    #[arg(long, default_value_t = 0.3)]
    pub string_ratio: f64,
    /// Share of requests carrying an Idempotency-Key (each key new).
    #[arg(long, default_value_t = 0.1)]
    pub idempotency_ratio: f64,
}

const COURSES: [&str; 5] = ["SO1", "BD1", "LFP", "SA", "AYD1"];

/// One request: its body, and its Idempotency-Key when it has one.
pub fn grade(rng: &mut impl Rng, config: &PayloadConfig, sequence: u64) -> (String, Option<String>) {
    let index = rng.random_range(0..config.students.max(1));
    let carnet = config.first_carnet + index;
    let curso = COURSES[rng.random_range(0..COURSES.len())];
    let nota = rng.random_range(0..=100_u32);
    let semestre = if rng.random_bool(0.5) { "1S" } else { "2S" };
    let year = rng.random_range(config.year_min..=config.year_max.max(config.year_min));
    let quote = if rng.random_bool(config.string_ratio.clamp(0.0, 1.0)) { "\"" } else { "" };
    let body = format!(
        r#"{{"carnet": {quote}{carnet}{quote}, "nombre": "Alumno {}", "curso": "{curso}", "nota": {quote}{nota}{quote}, "semestre": "{semestre}", "year": {quote}{year}{quote}}}"#,
        index + 1
    );
    let key = rng.random_bool(config.idempotency_ratio.clamp(0.0, 1.0)).then(|| format!("bench-{}-{sequence}", std::process::id()));
    (body, key)
}

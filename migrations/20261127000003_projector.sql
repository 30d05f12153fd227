-- Summary tables are no longer written by the request transaction: a projector folds them from
-- `grades`. Each projection (a family of summary tables) follows a watermark kept here and moved
-- in the same transaction as its updates: 'terms' (enrollments, course_term_stats, route_stats)
-- and 'students' (student_stats).
CREATE TABLE projection_state (
    name VARCHAR(32) CHARACTER SET ascii COLLATE ascii_general_ci NOT NULL,
    -- Every grade with id <= applied_id is counted in the summaries, none above.
    applied_id BIGINT UNSIGNED NOT NULL,
    -- created_at of grade applied_id (NULL before the first grade).
    applied_at DATETIME(3) NULL,
    updated_at DATETIME(3) NOT NULL,
    PRIMARY KEY (name)
) ENGINE = InnoDB;

START TRANSACTION;
-- The id sequence row is renamed first: writers of the previous release (which also updated the
-- summaries) no longer find it and fail, instead of having their grades counted twice during a
-- rolling upgrade. Its lock also waits for any such writer still committing.
UPDATE id_sequence SET name = 'grade_ids' WHERE name = 'grades';
-- Until now every grade's summaries were written in the grade's own transaction, so the
-- summaries hold exactly the grades below next_id.
INSERT INTO projection_state (name, applied_id, applied_at, updated_at)
SELECT p.name, s.next_id - 1, (SELECT g.created_at FROM grades g WHERE g.id = s.next_id - 1), UTC_TIMESTAMP(3)
FROM id_sequence s CROSS JOIN (SELECT 'terms' AS name UNION ALL SELECT 'students') p WHERE s.name = 'grade_ids';
COMMIT;

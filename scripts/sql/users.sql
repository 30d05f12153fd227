-- grades: one MySQL user per kind of access (docs/security.md), created by an administrator.
--
--   migrator  every privilege on the grades database: the migrations' DDL (`rest-api migrate`)
--   app       rest-api and grpc-server: read, insert and update rows, and the projector's
--             per-connection scratch table (CREATE TEMPORARY TABLES); no DDL; DELETE only on
--             idempotency_keys (the expired-key sweeper), granted once that table exists: run
--             the script again after the migrations (compose's db-grants, `just dev` do)
--   reader    realtime: SELECT only
--
-- Settings are session variables, all optional (defaults below); scripts/db-users.sh sets them
-- from the environment. By hand:
--   { echo "SET @grades_database = 'grades', @app_password = '...';"; cat scripts/sql/users.sql; } | mysql -uroot
-- Re-running is harmless: it creates what is missing, resets the passwords and adds the grants
-- (it never removes a grant). The default passwords are for a local database only.
-- Cloud SQL uses IAM database authentication instead of passwords: see docs/security.md.
-- Plain SQL for MySQL 8 and MariaDB 10.11+ (names and passwords are quoted, never spliced raw).

SET @grades_database   = COALESCE(@grades_database, 'grades');
SET @grades_user_host  = COALESCE(@grades_user_host, '%');
SET @migrator_user     = COALESCE(@migrator_user, 'grades_migrator');
SET @migrator_password = COALESCE(@migrator_password, 'grades-migrator-dev-only');
SET @app_user          = COALESCE(@app_user, 'grades_app');
SET @app_password      = COALESCE(@app_password, 'grades-app-dev-only');
SET @reader_user       = COALESCE(@reader_user, 'grades_reader');
SET @reader_password   = COALESCE(@reader_password, 'grades-reader-dev-only');

SET @grades_db = CONCAT('`', REPLACE(@grades_database, '`', '``'), '`');
SET @migrator  = CONCAT(QUOTE(@migrator_user), '@', QUOTE(@grades_user_host));
SET @app       = CONCAT(QUOTE(@app_user), '@', QUOTE(@grades_user_host));
SET @reader    = CONCAT(QUOTE(@reader_user), '@', QUOTE(@grades_user_host));

-- The three users with their passwords, for CREATE USER and ALTER USER alike.
SET @users = CONCAT_WS(', ',
    CONCAT(@migrator, ' IDENTIFIED BY ', QUOTE(@migrator_password)),
    CONCAT(@app, ' IDENTIFIED BY ', QUOTE(@app_password)),
    CONCAT(@reader, ' IDENTIFIED BY ', QUOTE(@reader_password)));

-- One statement a line, built as text (identifiers cannot be variables) and run as a prepared
-- statement; each PREPARE replaces the one before. CREATE ... IF NOT EXISTS keeps an existing
-- user; ALTER sets the password either way.
SET @statement = CONCAT('CREATE DATABASE IF NOT EXISTS ', @grades_db); PREPARE grades_users FROM @statement; EXECUTE grades_users;
SET @statement = CONCAT('CREATE USER IF NOT EXISTS ', @users); PREPARE grades_users FROM @statement; EXECUTE grades_users;
SET @statement = CONCAT('ALTER USER ', @users); PREPARE grades_users FROM @statement; EXECUTE grades_users;
SET @statement = CONCAT('GRANT ALL PRIVILEGES ON ', @grades_db, '.* TO ', @migrator); PREPARE grades_users FROM @statement; EXECUTE grades_users;
SET @statement = CONCAT('GRANT SELECT, INSERT, UPDATE, CREATE TEMPORARY TABLES ON ', @grades_db, '.* TO ', @app); PREPARE grades_users FROM @statement; EXECUTE grades_users;
SET @statement = CONCAT('GRANT SELECT ON ', @grades_db, '.* TO ', @reader); PREPARE grades_users FROM @statement; EXECUTE grades_users;
-- A table grant needs the table: before the first migration this is a no-op (DO 0).
SET @statement = IF((SELECT COUNT(*) FROM information_schema.tables
                     WHERE table_schema = @grades_database AND table_name = 'idempotency_keys') > 0,
                    CONCAT('GRANT DELETE ON ', @grades_db, '.`idempotency_keys` TO ', @app), 'DO 0');
PREPARE grades_users FROM @statement; EXECUTE grades_users;
DEALLOCATE PREPARE grades_users;

CREATE TABLE "entity_changes" (
	"txid" "xid8" DEFAULT pg_current_xact_id() NOT NULL,
	"entity_type" text NOT NULL,
	"entity_id" text NOT NULL,
	"kind" text NOT NULL,
	"tag_id" integer
);
--> statement-breakpoint
CREATE INDEX "entity_changes_txid_idx" ON "entity_changes" USING btree ("txid");--> statement-breakpoint
-- The change log's writers (see src/db/schema/entity-changes.ts). Statement-level, with transition
-- tables: one insert per statement, each entity once. Updates that change nothing but updated_at
-- (a re-import of the same file) log nothing.
CREATE FUNCTION signaltag_log_user_changes() RETURNS trigger
  LANGUAGE plpgsql
  AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO entity_changes (entity_type, entity_id, kind)
    SELECT 'user', id, 'row' FROM new_rows
    UNION ALL SELECT DISTINCT 'account', account_id, 'member' FROM new_rows;
  ELSIF TG_OP = 'DELETE' THEN
    INSERT INTO entity_changes (entity_type, entity_id, kind)
    SELECT 'user', id, 'row' FROM old_rows
    UNION ALL SELECT DISTINCT 'account', account_id, 'member' FROM old_rows;
  ELSE
    INSERT INTO entity_changes (entity_type, entity_id, kind)
    WITH c AS (
      SELECT o.id AS old_id, n.id AS new_id, o.account_id AS old_account, n.account_id AS new_account
      FROM old_rows o FULL JOIN new_rows n ON n.id = o.id
      WHERE o.id IS NULL OR n.id IS NULL OR to_jsonb(o) - 'updated_at' IS DISTINCT FROM to_jsonb(n) - 'updated_at'
    )
    SELECT 'user', id, 'row' FROM (SELECT old_id FROM c UNION SELECT new_id FROM c) i(id) WHERE id IS NOT NULL
    UNION ALL
    SELECT 'account', id, 'member' FROM (SELECT old_account FROM c UNION SELECT new_account FROM c) a(id)
    WHERE id IS NOT NULL;
  END IF;
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE FUNCTION signaltag_log_account_changes() RETURNS trigger
  LANGUAGE plpgsql
  AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO entity_changes (entity_type, entity_id, kind) SELECT 'account', id, 'row' FROM new_rows;
  ELSIF TG_OP = 'DELETE' THEN
    INSERT INTO entity_changes (entity_type, entity_id, kind) SELECT 'account', id, 'row' FROM old_rows;
  ELSE
    INSERT INTO entity_changes (entity_type, entity_id, kind)
    SELECT DISTINCT 'account', coalesce(n.id, o.id), 'row'
    FROM old_rows o FULL JOIN new_rows n ON n.id = o.id
    WHERE o.id IS NULL OR n.id IS NULL OR to_jsonb(o) - 'updated_at' IS DISTINCT FROM to_jsonb(n) - 'updated_at';
  END IF;
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE FUNCTION signaltag_log_activity_changes() RETURNS trigger
  LANGUAGE plpgsql SET work_mem = '64MB'
  AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO entity_changes (entity_type, entity_id, kind)
    SELECT DISTINCT entity_type, entity_id, 'activity' FROM new_rows;
  ELSIF TG_OP = 'DELETE' THEN
    INSERT INTO entity_changes (entity_type, entity_id, kind)
    SELECT DISTINCT entity_type, entity_id, 'activity' FROM old_rows;
  ELSE
    INSERT INTO entity_changes (entity_type, entity_id, kind)
    SELECT entity_type, entity_id, 'activity' FROM old_rows
    UNION SELECT entity_type, entity_id, 'activity' FROM new_rows;
  END IF;
  RETURN NULL;
END $$;
--> statement-breakpoint
-- Claims and suppressions: the kind is the table's name.
CREATE FUNCTION signaltag_log_tag_changes() RETURNS trigger
  LANGUAGE plpgsql
  AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO entity_changes (entity_type, entity_id, kind, tag_id)
    SELECT DISTINCT entity_type, entity_id, TG_ARGV[0], tag_id FROM new_rows;
  ELSIF TG_OP = 'DELETE' THEN
    INSERT INTO entity_changes (entity_type, entity_id, kind, tag_id)
    SELECT DISTINCT entity_type, entity_id, TG_ARGV[0], tag_id FROM old_rows;
  ELSE
    INSERT INTO entity_changes (entity_type, entity_id, kind, tag_id)
    SELECT entity_type, entity_id, TG_ARGV[0], tag_id FROM old_rows
    UNION SELECT entity_type, entity_id, TG_ARGV[0], tag_id FROM new_rows;
  END IF;
  RETURN NULL;
END $$;
--> statement-breakpoint
-- A truncate leaves nothing to name: a `reset` row sends every rule back to a full evaluation.
CREATE FUNCTION signaltag_log_reset() RETURNS trigger
  LANGUAGE plpgsql
  AS $$
BEGIN
  INSERT INTO entity_changes (entity_type, entity_id, kind) VALUES ('user', '', 'reset'), ('account', '', 'reset');
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE TRIGGER users_log_insert AFTER INSERT ON users
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION signaltag_log_user_changes();
--> statement-breakpoint
CREATE TRIGGER users_log_update AFTER UPDATE ON users
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION signaltag_log_user_changes();
--> statement-breakpoint
CREATE TRIGGER users_log_delete AFTER DELETE ON users
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION signaltag_log_user_changes();
--> statement-breakpoint
CREATE TRIGGER users_log_truncate AFTER TRUNCATE ON users FOR EACH STATEMENT EXECUTE FUNCTION signaltag_log_reset();
--> statement-breakpoint
CREATE TRIGGER accounts_log_insert AFTER INSERT ON accounts
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION signaltag_log_account_changes();
--> statement-breakpoint
CREATE TRIGGER accounts_log_update AFTER UPDATE ON accounts
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION signaltag_log_account_changes();
--> statement-breakpoint
CREATE TRIGGER accounts_log_delete AFTER DELETE ON accounts
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION signaltag_log_account_changes();
--> statement-breakpoint
CREATE TRIGGER accounts_log_truncate AFTER TRUNCATE ON accounts FOR EACH STATEMENT EXECUTE FUNCTION signaltag_log_reset();
--> statement-breakpoint
CREATE TRIGGER activity_log_insert AFTER INSERT ON activity_daily
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION signaltag_log_activity_changes();
--> statement-breakpoint
CREATE TRIGGER activity_log_update AFTER UPDATE ON activity_daily
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION signaltag_log_activity_changes();
--> statement-breakpoint
CREATE TRIGGER activity_log_delete AFTER DELETE ON activity_daily
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION signaltag_log_activity_changes();
--> statement-breakpoint
CREATE TRIGGER activity_log_truncate AFTER TRUNCATE ON activity_daily FOR EACH STATEMENT EXECUTE FUNCTION signaltag_log_reset();
--> statement-breakpoint
CREATE TRIGGER claims_log_insert AFTER INSERT ON claims
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION signaltag_log_tag_changes('claim');
--> statement-breakpoint
CREATE TRIGGER claims_log_update AFTER UPDATE ON claims
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION signaltag_log_tag_changes('claim');
--> statement-breakpoint
CREATE TRIGGER claims_log_delete AFTER DELETE ON claims
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION signaltag_log_tag_changes('claim');
--> statement-breakpoint
CREATE TRIGGER claims_log_truncate AFTER TRUNCATE ON claims FOR EACH STATEMENT EXECUTE FUNCTION signaltag_log_reset();
--> statement-breakpoint
CREATE TRIGGER suppressions_log_insert AFTER INSERT ON suppressions
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION signaltag_log_tag_changes('suppression');
--> statement-breakpoint
CREATE TRIGGER suppressions_log_update AFTER UPDATE ON suppressions
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION signaltag_log_tag_changes('suppression');
--> statement-breakpoint
CREATE TRIGGER suppressions_log_delete AFTER DELETE ON suppressions
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION signaltag_log_tag_changes('suppression');
--> statement-breakpoint
CREATE TRIGGER suppressions_log_truncate AFTER TRUNCATE ON suppressions FOR EACH STATEMENT EXECUTE FUNCTION signaltag_log_reset();

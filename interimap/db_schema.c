/* The schema: the reference's tables, byte for byte, and the upgrade of an
 * interimap < 0.5 database (see db_schema() in db.h). */
#include "util.h"

#include <stdio.h>

#include <sqlite3.h>

#include "db_int.h"

/* The reference builds each statement as "CREATE TABLE name (" + its
 * column clauses joined by ", " + ")". The padding inside the clauses is
 * part of the text SQLite keeps in sqlite_master: `.schema` of our files
 * and of the Perl program's must be the same, byte for byte. */
#define MAILBOXES_COLS                                                         \
	"idx        INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT, "              \
	"mailbox    BLOB COLLATE BINARY NOT NULL CHECK (mailbox != '') UNIQUE, " \
	"subscribed BOOLEAN NOT NULL"
#define SIDE_COLS                                                              \
	"idx           INTEGER         NOT NULL PRIMARY KEY REFERENCES mailboxes(idx), " \
	"UIDVALIDITY   UNSIGNED INT    NOT NULL CHECK (UIDVALIDITY > 0), "     \
	"UIDNEXT       UNSIGNED INT    NOT NULL, "                             \
	"HIGHESTMODSEQ UNSIGNED BIGINT NOT NULL"

static const char *const schema[] = {
	"CREATE TABLE mailboxes (" MAILBOXES_COLS ")",
	"CREATE TABLE local (" SIDE_COLS ")",
	"CREATE TABLE remote (" SIDE_COLS ")",
	"CREATE TABLE mapping ("
	"idx  INTEGER      NOT NULL REFERENCES mailboxes(idx), "
	"lUID UNSIGNED INT NOT NULL CHECK (lUID > 0), "
	"rUID UNSIGNED INT NOT NULL CHECK (rUID > 0), "
	"PRIMARY KEY (idx,lUID), "
	"UNIQUE      (idx,rUID))",
};

int
db_schema_read(struct db *db, int *version_r, bool *tables_r, struct err *err)
{
	sqlite3_stmt *st = NULL;
	int rc;

	if (sqlite3_prepare_v2(db->db, "PRAGMA user_version", -1, &st, NULL) !=
		SQLITE_OK ||
	    sqlite3_step(st) != SQLITE_ROW) {
		db_err(db, err, "reading the schema version");
		sqlite3_finalize(st);
		return -1;
	}
	*version_r = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	/* The reference's test (DBI table_info of type TABLE): any table. */
	if (sqlite3_prepare_v2(db->db, "SELECT 1 FROM sqlite_master WHERE "
		"type = 'table' LIMIT 1", -1, &st, NULL) != SQLITE_OK)
		return db_err(db, err, "reading the schema");
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		db_err(db, err, "reading the schema");
		sqlite3_finalize(st);
		return -1;
	}
	*tables_r = rc == SQLITE_ROW;
	sqlite3_finalize(st);
	return 0;
}

/* The reference's print_delimiter(): "x" (quote and backslash escaped)
 * or NIL. */
static const char *
delim_text(char d, char buf[5])
{
	if (d == DB_DELIM_NIL)
		return "NIL";
	snprintf(buf, 5, "\"%s%c\"", d == '"' || d == '\\' ? "\\" : "", d);
	return buf;
}

/* interimap < 0.5 to 1 (see db.h), in the caller's transaction. */
static int
upgrade_from_0(struct db *db, char ldelim, char rdelim, struct err *err)
{
	sqlite3_stmt *st = NULL;
	int rc;

	if (ldelim != DB_DELIM_NIL && rdelim != DB_DELIM_NIL &&
	    ldelim != rdelim) {
		char lb[5], rb[5];
		/* sic: the reference's message. */
		return err_set(err, ERR_DB, "Local and remote hierachy "
		    "delimiters differ (local %s, remote %s), refusing to "
		    "update table `mailboxes`.", delim_text(ldelim, lb),
		    delim_text(rdelim, rb));
	}
	/* SQLite's 12-step ALTER TABLE recipe, with the reference's
	 * intermediate name (the rename leaves it as CREATE TABLE
	 * "mailboxes" in sqlite_master, as in the Perl program's files). */
	if (db_exec(db, "CREATE TABLE _tmp1_mailboxes (" MAILBOXES_COLS ")",
		"upgrading the schema", err) < 0)
		return -1;
	if (ldelim != DB_DELIM_NIL) {
		if (sqlite3_prepare_v2(db->db,
			"INSERT INTO _tmp1_mailboxes SELECT idx, "
			"CAST(REPLACE(mailbox, ?, x'00') AS BLOB), subscribed "
			"FROM mailboxes", -1, &st, NULL) != SQLITE_OK)
			return db_err(db, err, "upgrading the schema");
		sqlite3_bind_text(st, 1, &ldelim, 1, SQLITE_TRANSIENT);
		rc = sqlite3_step(st);
		sqlite3_finalize(st);
		if (rc != SQLITE_DONE)
			return db_err(db, err, "upgrading the schema");
	} else {
		/* Flat namespaces: the names as they were, but as BLOBs. The
		 * reference copies them as they are (TEXT), which no BLOB
		 * lookup finds afterwards: each would come back as a new
		 * mailbox, and its messages be copied again. */
		if (db_exec(db, "INSERT INTO _tmp1_mailboxes SELECT idx, "
				"CAST(mailbox AS BLOB), subscribed FROM mailboxes",
			"upgrading the schema", err) < 0)
			return -1;
	}
	if (db_exec(db, "DROP TABLE mailboxes; "
			"ALTER TABLE _tmp1_mailboxes RENAME TO mailboxes",
		"upgrading the schema", err) < 0)
		return -1;
	if (sqlite3_prepare_v2(db->db, "PRAGMA foreign_key_check", -1, &st,
		NULL) != SQLITE_OK)
		return db_err(db, err, "checking foreign keys");
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc == SQLITE_ROW)
		return err_set(err, ERR_DB, "Broken referential integrity! "
		    "Refusing to commit changes.");
	if (rc != SQLITE_DONE)
		return db_err(db, err, "checking foreign keys");
	return 0;
}

int
db_schema(struct db *db, char ldelim, char rdelim, char **msg_r,
    struct err *err)
{
	int version;
	bool tables;

	*msg_r = NULL;
	if (db_in_transaction(db))
		return err_set(err, ERR_INTERNAL, "%s: schema step inside a "
		    "transaction", db->path);
	/* Read outside a write transaction (the file is ours since
	 * db_open()): a run that finds the schema current writes nothing
	 * here. */
	if (db_schema_read(db, &version, &tables, err) < 0)
		return -1;
	if (version < 1) {
		if (db_begin(db, err) < 0)
			goto fail;
		if (version == 0 && !tables) {
			*msg_r = xasprintf("Creating new schema in database "
					   "file %s", db->path);
			for (size_t i = 0; i < ARRAY_LEN(schema); i++)
				if (db_exec(db, schema[i],
					"creating the schema", err) < 0)
					goto fail;
		} else {
			*msg_r = xasprintf("Upgrading database version from "
					   "%d", version);
			if (upgrade_from_0(db, ldelim, rdelim, err) < 0)
				goto fail;
		}
		if (db_exec(db, "PRAGMA user_version = 1", "setting the schema "
			"version", err) < 0 || db_commit(db, err) < 0)
			goto fail;
	}
	/* Only outside a transaction (a no-op inside one). */
	return db_exec(db, "PRAGMA foreign_keys = ON", "enabling foreign keys",
	    err);
fail:
	db_rollback(db);
	return -1;
}

#ifndef T_UNIT_DBFIX_H
#define T_UNIT_DBFIX_H

/* A fixture for the tests of interimap/db*.c: a new database. */

#include <stdio.h>
#include <stdlib.h>

#include "db.h"

/* A new database with the schema (delimiters '/' on both sides) at
 * dir/name; NULL when that fails (said on stderr). Its path in *path_r
 * (the caller frees it) unless path_r is NULL. */
static inline struct db *
dbfix_new(const char *dir, const char *name, char **path_r)
{
	struct err err;
	char *path = xasprintf("%s/%s", dir, name), *msg = NULL;
	struct db *db = db_open(path, 0, &err);

	if (!db || db_schema(db, '/', '/', &msg, &err) < 0) {
		fprintf(stderr, "# new database %s: %s\n", path, err.msg);
		db_close(&db);
	}
	free(msg);
	if (path_r)
		*path_r = path;
	else
		free(path);
	return db;
}

#endif

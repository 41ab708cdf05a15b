// Prototypes for the SQLite library that SQLiteNIO (sqlite-nio) compiles into every Sigil binary.
// Its functions are renamed with the `sqlite_nio_` prefix and have external linkage, so these
// declarations resolve, at link time, to that one copy: there is never a second SQLite in the
// process (two copies would not share SQLite's POSIX lock bookkeeping and could corrupt a
// database). Only what Sigil's statement-caching driver (SigilSQLStore/SQLiteStatementDriver.swift)
// calls is declared; the signatures are SQLite's own (https://sqlite.org/c3ref/funclist.html).
#ifndef SIGIL_SQLITE_H
#define SIGIL_SQLITE_H

typedef struct sqlite3 sqlite3;
typedef struct sqlite3_stmt sqlite3_stmt;
typedef long long int sigil_sqlite3_int64;

#define SIGIL_SQLITE_OK 0
#define SIGIL_SQLITE_ROW 100
#define SIGIL_SQLITE_DONE 101
#define SIGIL_SQLITE_INTEGER 1
#define SIGIL_SQLITE_FLOAT 2
#define SIGIL_SQLITE_TEXT 3
#define SIGIL_SQLITE_BLOB 4
#define SIGIL_SQLITE_NULL 5
#define SIGIL_SQLITE_OPEN_READWRITE 0x00000002
#define SIGIL_SQLITE_OPEN_CREATE 0x00000004
#define SIGIL_SQLITE_OPEN_FULLMUTEX 0x00010000
#define SIGIL_SQLITE_PREPARE_PERSISTENT 0x01
#define SIGIL_SQLITE_STMTSTATUS_REPREPARE 5

int sqlite_nio_sqlite3_open_v2(const char *filename, sqlite3 **ppDb, int flags, const char *zVfs);
int sqlite_nio_sqlite3_close_v2(sqlite3 *);
int sqlite_nio_sqlite3_extended_errcode(sqlite3 *db);
const char *sqlite_nio_sqlite3_errmsg(sqlite3 *);
int sqlite_nio_sqlite3_prepare_v3(sqlite3 *db, const char *zSql, int nByte, unsigned int prepFlags, sqlite3_stmt **ppStmt,
                                  const char **pzTail);
int sqlite_nio_sqlite3_bind_blob(sqlite3_stmt *, int, const void *, int n, void (*)(void *));
int sqlite_nio_sqlite3_bind_double(sqlite3_stmt *, int, double);
int sqlite_nio_sqlite3_bind_int64(sqlite3_stmt *, int, sigil_sqlite3_int64);
int sqlite_nio_sqlite3_bind_null(sqlite3_stmt *, int);
int sqlite_nio_sqlite3_bind_text(sqlite3_stmt *, int, const char *, int, void (*)(void *));
int sqlite_nio_sqlite3_bind_parameter_count(sqlite3_stmt *);
int sqlite_nio_sqlite3_clear_bindings(sqlite3_stmt *);
int sqlite_nio_sqlite3_column_count(sqlite3_stmt *pStmt);
const char *sqlite_nio_sqlite3_column_name(sqlite3_stmt *, int N);
int sqlite_nio_sqlite3_step(sqlite3_stmt *);
const void *sqlite_nio_sqlite3_column_blob(sqlite3_stmt *, int iCol);
double sqlite_nio_sqlite3_column_double(sqlite3_stmt *, int iCol);
sigil_sqlite3_int64 sqlite_nio_sqlite3_column_int64(sqlite3_stmt *, int iCol);
const unsigned char *sqlite_nio_sqlite3_column_text(sqlite3_stmt *, int iCol);
int sqlite_nio_sqlite3_column_bytes(sqlite3_stmt *, int iCol);
int sqlite_nio_sqlite3_column_type(sqlite3_stmt *, int iCol);
int sqlite_nio_sqlite3_finalize(sqlite3_stmt *pStmt);
int sqlite_nio_sqlite3_reset(sqlite3_stmt *pStmt);
int sqlite_nio_sqlite3_stmt_status(sqlite3_stmt *, int op, int resetFlg);
int sqlite_nio_sqlite3_db_config(sqlite3 *, int op, ...);

/// Binds copies of the bytes (SQLITE_TRANSIENT), which Swift cannot spell as a constant.
static inline int sigil_sqlite_bind_text(sqlite3_stmt *statement, int index, const char *text, int length) {
    return sqlite_nio_sqlite3_bind_text(statement, index, text, length, (void (*)(void *))-1);
}

static inline int sigil_sqlite_bind_blob(sqlite3_stmt *statement, int index, const void *bytes, int length) {
    return sqlite_nio_sqlite3_bind_blob(statement, index, bytes, length, (void (*)(void *))-1);
}

/// SQLITE_DBCONFIG_ENABLE_QPSG (1007), the query planner stability guarantee: a statement keeps
/// the plan it was prepared with whatever values are bound. (The function is variadic, which Swift
/// cannot call.)
static inline int sigil_sqlite_enable_qpsg(sqlite3 *db) {
    int enabled = 0;
    return sqlite_nio_sqlite3_db_config(db, 1007, 1, &enabled);
}

#endif

import PGClient

/// The session table: its quoted name, the statements the store sends, and creating or migrating
/// it.
struct SessionTable: Sendable {
    /// Each migration moves the schema one version up; all are idempotent. The version is kept in
    /// the table's comment ("swift-pgstore schema N").
    static let currentVersion = 3

    let qualifiedName: String  // quoted, e.g. "public"."http_sessions"
    let displayName: String  // unquoted, for messages and to_regclass
    let indexName: String
    let userIndexName: String
    let unlogged: Bool

    let selectSQL: String
    let insertSQL: String
    let insertBoundSQL: String
    let updateSQL: String
    /// `updateSQL` leaving the expiry as it is: a changed session whose expiry is not due. It
    /// changes no indexed column, so PostgreSQL can update the row in place (HOT).
    let updateDataSQL: String
    /// The row's data, locked until the transaction ends: a save merging with a concurrent write.
    let lockSQL: String
    let touchSQL: String
    let deleteSQL: String
    let regenerateSQL: String
    /// `regenerateSQL` for a table of schema 1, which has no `user_id` (a role that may not alter
    /// such a table still starts, see ``prepare(on:)``).
    let regenerateUnboundSQL: String
    let deleteUserSQL: String
    let deleteExpiredSQL: String

    init(schema: String?, table: String, unlogged: Bool) throws {
        for identifier in [schema, table].compactMap({ $0 }) {
            guard Self.isValidIdentifier(identifier) else {
                throw SessionStoreError(.invalidTableName, "\"\(identifier)\" is not a valid identifier (letters, digits, _; at most 63 bytes)")
            }
        }
        let quotedTable = "\"\(table)\""
        qualifiedName = schema.map { "\"\($0)\".\(quotedTable)" } ?? quotedTable
        displayName = schema.map { "\"\($0)\".\"\(table)\"" } ?? "\"\(table)\""
        indexName = "\"\(String(table.prefix(50)))_expires_on_idx\""
        userIndexName = "\"\(String(table.prefix(50)))_user_id_idx\""
        self.unlogged = unlogged
        let t = qualifiedName
        // Every read excludes expired rows: a row past expires_on is gone, whether or not the
        // cleanup has deleted it yet. All times come from the database clock.
        selectSQL = "SELECT data, expires_on - now() < make_interval(secs => $2) FROM \(t) WHERE key = $1 AND expires_on > now()"
        insertSQL = "INSERT INTO \(t) (key, data, created_on, modified_on, expires_on) VALUES ($1, $2, now(), now(), now() + make_interval(secs => $3))"
        // A new session bound to a user at login (regenerateID of a session never saved).
        insertBoundSQL = "INSERT INTO \(t) (key, data, created_on, modified_on, expires_on, user_id) VALUES ($1, $2, now(), now(), now() + make_interval(secs => $3), $4)"
        // The data's fingerprint as the row holds it, compared with the one a save was based on.
        let fingerprint = "substr(data, octet_length(data) - \(DataFingerprint.length - 1))"
        // UPDATE only: a row that is gone stays gone (no resurrection under an old ID). Only a
        // row still holding the data the session was loaded with ($4, its fingerprint) is
        // written; otherwise the store merges (see ConcurrentSaveMerge) and tries again.
        updateSQL = """
            UPDATE \(t) SET data = $2, modified_on = now(), expires_on = now() + make_interval(secs => $3) \
            WHERE key = $1 AND expires_on > now() AND \(fingerprint) = $4
            """
        updateDataSQL = """
            UPDATE \(t) SET data = $2, modified_on = now() \
            WHERE key = $1 AND expires_on > now() AND \(fingerprint) = $3
            """
        lockSQL = "SELECT data FROM \(t) WHERE key = $1 AND expires_on > now() FOR UPDATE"
        touchSQL = "UPDATE \(t) SET expires_on = now() + make_interval(secs => $2) WHERE key = $1 AND expires_on > now()"
        deleteSQL = "DELETE FROM \(t) WHERE key = $1"
        // One statement, so one transaction: the old row goes and the new one comes, or neither.
        // The new row is bound to user $5, or, when $5 is NULL, to the user the old one was. As
        // for an update, the old row must still hold the data the session was loaded with ($6).
        regenerateSQL = """
            WITH old AS (DELETE FROM \(t) WHERE key = $1 AND expires_on > now() AND \(fingerprint) = $6 \
            RETURNING created_on, user_id) \
            INSERT INTO \(t) (key, data, created_on, modified_on, expires_on, user_id) \
            SELECT $2, $3, created_on, now(), now() + make_interval(secs => $4), coalesce($5::text, user_id) FROM old
            """
        regenerateUnboundSQL = """
            WITH old AS (DELETE FROM \(t) WHERE key = $1 AND expires_on > now() AND \(fingerprint) = $5 \
            RETURNING created_on) \
            INSERT INTO \(t) (key, data, created_on, modified_on, expires_on) \
            SELECT $2, $3, created_on, now(), now() + make_interval(secs => $4) FROM old
            """
        // "Log out everywhere": every row bound to user $1 but the one with key $2 (NULL: none kept).
        // The rows are locked first, in the order of their keys' bytes (COLLATE "C", whatever the
        // column's collation), the order in which a group of concurrent saves locks its rows
        // (ConnectionPool.query's groupCommitKey, compared with Swift's `<`): deleted in the
        // table's order, a user's two rows could be locked in the opposite order to a group
        // saving both, and the two would deadlock until PostgreSQL failed one after
        // deadlock_timeout.
        deleteUserSQL = """
            DELETE FROM \(t) WHERE key IN \
            (SELECT key FROM \(t) WHERE user_id = $1 AND key IS DISTINCT FROM $2::text ORDER BY key COLLATE "C" FOR UPDATE)
            """
        // Bounded batches; SKIP LOCKED so cleanup never waits on (or blocks) a request's row.
        deleteExpiredSQL = """
            DELETE FROM \(t) WHERE key IN \
            (SELECT key FROM \(t) WHERE expires_on <= now() LIMIT $1 FOR UPDATE SKIP LOCKED)
            """
    }

    static func isValidIdentifier(_ name: String) -> Bool {
        guard let first = name.utf8.first, name.utf8.count <= 63 else { return false }
        let isLetter = { (c: UInt8) in (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c == 95 }
        return isLetter(first) && name.utf8.allSatisfy { isLetter($0) || ($0 >= 48 && $0 <= 57) }
    }

    private static let expectedColumns: [(name: String, type: String)] = [
        ("key", "text"), ("data", "bytea"), ("created_on", "timestamp with time zone"),
        ("modified_on", "timestamp with time zone"), ("expires_on", "timestamp with time zone"),
    ]

    /// Creates or migrates the table when needed, and returns its schema version.
    ///
    /// When the table is already at the current version nothing is written, so a role without the
    /// CREATE privilege can start. Creation runs in a transaction under an advisory lock, so several
    /// processes starting at once do not trip over each other. A role that may not migrate an older
    /// table starts with it as it is; the version returned says what it has.
    func prepare(on pool: ConnectionPool) async throws -> Int {
        if let version = try await existingVersion(on: pool), version >= Self.currentVersion { return version }
        do {
            // withConnection rolls back when the body throws.
            try await pool.withConnection { connection in
                _ = try await connection.query("BEGIN")
                _ = try await connection.query(
                    "SELECT pg_advisory_xact_lock(hashtext($1))", [.text("swift-pgstore " + displayName)])
                _ = try await connection.query("""
                    CREATE \(unlogged ? "UNLOGGED " : "")TABLE IF NOT EXISTS \(qualifiedName) (
                        key text PRIMARY KEY,
                        data bytea NOT NULL,
                        created_on timestamptz NOT NULL DEFAULT now(),
                        modified_on timestamptz NOT NULL DEFAULT now(),
                        expires_on timestamptz NOT NULL)
                    """)
                _ = try await connection.query(
                    "CREATE INDEX IF NOT EXISTS \(indexName) ON \(qualifiedName) (expires_on)")
                // Version 2: a user binding, for "log out everywhere".
                _ = try await connection.query("ALTER TABLE \(qualifiedName) ADD COLUMN IF NOT EXISTS user_id text")
                // Version 3: an index to find a user's sessions (only rows that have a user).
                _ = try await connection.query(
                    "CREATE INDEX IF NOT EXISTS \(userIndexName) ON \(qualifiedName) (user_id) WHERE user_id IS NOT NULL")
                _ = try await connection.query(
                    "COMMENT ON TABLE \(qualifiedName) IS 'swift-pgstore schema \(Self.currentVersion)'")
                _ = try await connection.query("COMMIT")
            }
        } catch let error as PGError where error.sqlState == .insufficientPrivilege {
            // No right to create or alter: fine if the table is there in a usable shape.
            guard let version = try await existingVersion(on: pool) else { throw error }
            return version
        }
        return Self.currentVersion
    }

    /// The schema version of an existing table, `nil` when there is none.
    /// - Throws: ``SessionStoreError/Code/incompatibleTable`` when the table has another layout.
    private func existingVersion(on pool: ConnectionPool) async throws -> Int? {
        let columns = try await pool.query("""
            SELECT a.attname::text, format_type(a.atttypid, a.atttypmod),
                   coalesce(obj_description(a.attrelid, 'pg_class'), '')
            FROM pg_attribute a
            WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped
            """, [.text(displayName)])
        guard columns.rowCount > 0 else { return nil }
        var types: [String: String] = [:]
        var comment = ""
        for row in columns.rows {
            types[try row.decode(String.self, column: 0)] = try row.decode(String.self, column: 1)
            comment = try row.decode(String.self, column: 2)
        }
        if types["id"] != nil, types["key"] == "bytea" {
            throw SessionStoreError(.incompatibleTable, """
                table \(displayName) has the layout of Go's pgstore (id serial, key bytea); \
                swift-pgstore cannot share it. Configure another table name, or drop that table.
                """)
        }
        var problems: [String] = []
        for column in Self.expectedColumns {
            if let type = types[column.name] {
                if type != column.type { problems.append("\(column.name) is \(type), expected \(column.type)") }
            } else {
                problems.append("column \(column.name) is missing")
            }
        }
        guard problems.isEmpty else {
            throw SessionStoreError(.incompatibleTable, "table \(displayName) has another layout: " + problems.joined(separator: "; "))
        }
        let prefix = "swift-pgstore schema "
        guard comment.hasPrefix(prefix), let version = Int(comment.dropFirst(prefix.count)) else { return 1 }
        return version
    }
}

import HTTPTypes
import Testing
import PGClient
import PGTestSupport
@testable import PGStore

/// Sessions bound to a user at login, and "log out everywhere".
@Suite("User bindings")
struct UserBindingTests {
    /// A saved session logged in as `user` (bound by `regenerateID`); returns its cookie.
    private func loggedIn(_ store: SessionStore, as user: String, _ session: inout Session) async throws -> String {
        session.values["user"] = .string(user)
        _ = try await store.save(&session)
        return cookieHeader(from: try await store.regenerateID(&session, userID: user))
    }

    @Test func logOutEverywhereDeletesEverySessionOfTheUserAndNoOther() async throws {
        let table = StoreTestDatabase.uniqueTable()
        try await withStore(table: table) { store in
            var laptop = await store.new(name: "sid")
            var phone = await store.new(name: "sid")
            var other = await store.new(name: "sid")
            var anonymous = await store.new(name: "sid")
            let laptopCookie = try await loggedIn(store, as: "ada", &laptop)
            let phoneCookie = try await loggedIn(store, as: "ada", &phone)
            let otherCookie = try await loggedIn(store, as: "bob", &other)
            anonymous.values["visits"] = 1
            let anonymousCookie = cookieHeader(from: try await store.save(&anonymous))

            #expect(try await store.destroySessions(ofUser: "ada") == 2)
            for cookie in [laptopCookie, phoneCookie] {
                let gone = try await store.get(cookieHeader: cookie, name: "sid")
                #expect(gone.isNew && gone.freshReason == .notFound)
            }
            #expect(try await store.get(cookieHeader: otherCookie, name: "sid").values["user"] == "bob")
            #expect(try await store.get(cookieHeader: anonymousCookie, name: "sid").values["visits"] == 1)
            #expect(try await store.destroySessions(ofUser: "ada") == 0)

            // A request of a logged-out device that was still running cannot save its session back.
            laptop.values["visits"] = 2
            let error = await #expect(throws: SessionStoreError.self) { try await store.save(&laptop) }
            #expect(error?.code == .sessionNotFound)
            #expect(try await rowCount(store, table) == 2)
        }
    }

    @Test func theBindingSurvivesSavesAndLaterRegenerationAndTheCurrentSessionCanBeKept() async throws {
        try await withStore { store in
            var laptop = await store.new(name: "sid")
            var phone = await store.new(name: "sid")
            _ = try await loggedIn(store, as: "ada", &laptop)
            let phoneCookie = try await loggedIn(store, as: "ada", &phone)
            // Changed and saved (an UPDATE), then given a new ID without naming the user again.
            laptop.values["theme"] = "dark"
            _ = try await store.save(&laptop)
            let laptopCookie = cookieHeader(from: try await store.regenerateID(&laptop))

            // A password change on the phone: every other device logs out, the phone stays in.
            #expect(try await store.destroySessions(ofUser: "ada", except: phone.id) == 1)
            #expect(try await store.get(cookieHeader: laptopCookie, name: "sid").freshReason == .notFound)
            let kept = try await store.get(cookieHeader: phoneCookie, name: "sid")
            #expect(!kept.isNew && kept.values["user"] == "ada")
        }
    }

    @Test func aSessionNeverSavedIsBoundWhenItsIDIsRenewedAndABindingCanChange() async throws {
        try await withStore { store in
            var fresh = await store.new(name: "sid")
            fresh.values["user"] = "ada"
            let cookie = cookieHeader(from: try await store.regenerateID(&fresh, userID: "ada"))
            #expect(try await store.get(cookieHeader: cookie, name: "sid").values["user"] == "ada")

            // The same browser logs in as someone else: the binding moves with the new ID.
            var switched = await store.new(name: "sid")
            _ = try await loggedIn(store, as: "ada", &switched)
            let switchedCookie = cookieHeader(from: try await store.regenerateID(&switched, userID: "bob"))
            #expect(try await store.destroySessions(ofUser: "ada") == 1, "only the first session is still ada's")
            #expect(try await store.get(cookieHeader: cookie, name: "sid").isNew)
            #expect(!(try await store.get(cookieHeader: switchedCookie, name: "sid").isNew))
            #expect(try await store.destroySessions(ofUser: "bob") == 1)
            #expect(try await store.get(cookieHeader: switchedCookie, name: "sid").isNew)
        }
    }

    @Test func aTableOfSchemaTwoGainsTheUserIndex() async throws {
        let table = StoreTestDatabase.uniqueTable()
        let pool = try ConnectionPool(url: try StoreTestDatabase.url)
        // The layout and comment an earlier release (schema 2) created, with a session in it.
        _ = try await pool.query("""
            CREATE TABLE "\(table)" (key text PRIMARY KEY, data bytea NOT NULL, created_on timestamptz NOT NULL DEFAULT now(),
            modified_on timestamptz NOT NULL DEFAULT now(), expires_on timestamptz NOT NULL, user_id text)
            """)
        _ = try await pool.query("COMMENT ON TABLE \"\(table)\" IS 'swift-pgstore schema 2'")
        var configuration = SessionStore.Configuration()
        configuration.tableName = table
        let store = try await SessionStore(pool: pool, keys: [try SessionKey(hashKey: hashKeyA)], configuration: configuration)
        let indexes = try await pool.query(
            "SELECT indexdef FROM pg_indexes WHERE tablename = $1 AND indexdef LIKE '%(user_id)%'", [.text(table)])
        #expect(indexes.rowCount == 1)
        let comment = try await pool.query("SELECT obj_description(to_regclass($1), 'pg_class')", [.text(table)])
        #expect(try comment.first?.decode(String.self, column: 0) == "swift-pgstore schema 3")
        var session = await store.new(name: "sid")
        let cookie = try await loggedIn(store, as: "ada", &session)
        #expect(try await store.destroySessions(ofUser: "ada") == 1)
        #expect(try await store.get(cookieHeader: cookie, name: "sid").isNew)
        _ = try await pool.query("DROP TABLE \"\(table)\"")
        await pool.close()
    }

    @Test func aRoleThatMayNotMigrateATableOfSchemaOneStartsWithoutBindings() async throws {
        let table = StoreTestDatabase.uniqueTable()
        let admin = try ConnectionPool(url: try StoreTestDatabase.url)
        // Schema 1: no user_id, no comment; the role may read and write rows, not alter the table.
        _ = try await admin.query("""
            CREATE TABLE "\(table)" (key text PRIMARY KEY, data bytea NOT NULL, created_on timestamptz NOT NULL DEFAULT now(),
            modified_on timestamptz NOT NULL DEFAULT now(), expires_on timestamptz NOT NULL)
            """)
        var configuration = SessionStore.Configuration()
        configuration.tableName = table
        try await withRowsOnlyRole(on: table, admin: admin) { limited in
            let store = try await SessionStore(pool: limited, keys: [try SessionKey(hashKey: hashKeyA)], configuration: configuration)
            var session = await store.new(name: "sid")
            session.values["user"] = "ada"
            let oldCookie = cookieHeader(from: try await store.save(&session))
            let newCookie = cookieHeader(from: try await store.regenerateID(&session))
            #expect(try await store.get(cookieHeader: oldCookie, name: "sid").isNew, "renewing the ID works as before")
            #expect(try await store.get(cookieHeader: newCookie, name: "sid").values["user"] == "ada")
            let bindError = await #expect(throws: SessionStoreError.self) { try await store.regenerateID(&session, userID: "ada") }
            #expect(bindError?.code == .incompatibleTable)
            let destroyError = await #expect(throws: SessionStoreError.self) { try await store.destroySessions(ofUser: "ada") }
            #expect(destroyError?.code == .incompatibleTable)
            #expect(try await store.get(cookieHeader: newCookie, name: "sid").values["user"] == "ada", "a refused binding changes nothing")
        }
        _ = try await admin.query("DROP TABLE \"\(table)\"")
        await admin.close()
    }

    /// "Log out everywhere" locks the user's rows in the order of their IDs' bytes, the order in
    /// which a group of concurrent saves locks them (the pool's `groupCommitKey`, compared with
    /// Swift's `<`), so the two never deadlock. Here a transaction stands in for a group that has
    /// locked the lower ID ("Bx") and will want the higher ("ax") next. The DELETE must wait for
    /// "Bx" without having locked "ax" first, although "ax" comes first in the table (inserted
    /// first) and in a linguistic collation; had it locked "ax", the group would wait for it
    /// while it waits for "Bx": a deadlock, which PostgreSQL breaks only after
    /// `deadlock_timeout` by failing one of them.
    @Test func logOutEverywhereLocksRowsInIDOrderSoItCannotDeadlockWithAGroupOfSaves() async throws {
        let table = StoreTestDatabase.uniqueTable()
        try await withStore(table: table) { store in
            for key in ["ax", "Bx"] {
                _ = try await store.pool.query(
                    "INSERT INTO \"\(table)\" (key, data, expires_on, user_id) VALUES ($1, '\\x00', now() + interval '1 hour', 'ada')",
                    [.text(key)])
            }
            let deleted = try await store.pool.withConnection { group in
                _ = try await group.query("BEGIN")
                _ = try await group.query("SELECT 1 FROM \"\(table)\" WHERE key = 'Bx' FOR UPDATE")
                async let deleting = store.destroySessions(ofUser: "ada")
                try await waitUntil("the DELETE waits for the row the transaction holds") {
                    // In a transaction the server's activity view holds still unless asked afresh.
                    _ = try await group.query("SELECT pg_stat_clear_snapshot()")
                    let waiting = try await group.query(
                        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE 'DELETE FROM %' || $1 || '%'",
                        [.text(table)])
                    return try waiting.first?.decode(Int.self, column: 0) == 1
                }
                // What the group would lock next: free, because the DELETE has locked nothing yet.
                await #expect(throws: Never.self) {
                    try await group.query("SELECT 1 FROM \"\(table)\" WHERE key = 'ax' FOR UPDATE NOWAIT")
                }
                _ = try await group.query("COMMIT")
                return try await deleting
            }
            #expect(deleted == 2)
            #expect(try await rowCount(store, table) == 0)
        }
    }
}

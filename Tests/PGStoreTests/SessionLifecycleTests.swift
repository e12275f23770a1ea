import Foundation
import HTTPTypes
import Testing
import PGClient
import ServiceLifecycle
import Logging
import Synchronization
import PGTestSupport
@testable import PGStore

@Suite("Session lifecycle")
struct SessionLifecycleTests {
    @Test func noResurrection() async throws {
        let table = StoreTestDatabase.uniqueTable()
        try await withStore(table: table) { store in
            var original = await store.new(name: "sid")
            original.values["cart"] = [1, 2]
            let cookie = cookieHeader(from: try await store.save(&original))
            var requestA = try await store.get(cookieHeader: cookie, name: "sid")
            var requestB = try await store.get(cookieHeader: cookie, name: "sid")
            try await store.destroy(&requestB)  // logout elsewhere
            requestA.values["cart"] = [1, 2, 3]
            let error = await #expect(throws: SessionStoreError.self) { try await store.save(&requestA) }
            #expect(error?.code == .sessionNotFound)
            #expect(try await rowCount(store, table) == 0, "the row stays gone")
        }
    }

    @Test func sessionsWorkFromTasksOnThePoolsThread() async throws {
        let table = StoreTestDatabase.uniqueTable()
        try await withStore(table: table) { store in
            // The store's actor and its codec run on the executor its callers prefer.
            try await withTaskExecutorPreference(store.pool.taskExecutor) {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for index in 0..<50 {
                        group.addTask {
                            var session = await store.new(name: "sid")
                            session.values["n"] = .int(index)
                            let cookie = cookieHeader(from: try await store.save(&session))
                            var loaded = try await store.get(cookieHeader: cookie, name: "sid")
                            #expect(loaded.values["n"] == .int(index))
                            loaded.values["n"] = .int(index + 1)
                            _ = try await store.save(&loaded)
                            #expect(try await store.get(cookieHeader: cookie, name: "sid").values["n"] == .int(index + 1))
                            try await store.destroy(&loaded)
                            #expect(try await store.get(cookieHeader: cookie, name: "sid").isNew)
                        }
                    }
                    try await group.waitForAll()
                }
            }
            #expect(try await rowCount(store, table) == 0)
        }
    }

    @Test func noFixation() async throws {
        let table = StoreTestDatabase.uniqueTable()
        try await withStore(table: table) { store in
            var session = await store.new(name: "sid")
            session.values["step"] = "anonymous"
            let oldCookie = cookieHeader(from: try await store.save(&session))
            let oldID = session.id
            session.values["user"] = "alice"
            let newCookie = cookieHeader(from: try await store.regenerateID(&session))
            #expect(session.id != oldID)
            let stale = try await store.get(cookieHeader: oldCookie, name: "sid")
            #expect(stale.isNew)
            #expect(stale.freshReason == .notFound)
            let current = try await store.get(cookieHeader: newCookie, name: "sid")
            #expect(current.id == session.id)
            #expect(current.values["step"] == "anonymous")
            #expect(current.values["user"] == "alice")
            #expect(try await rowCount(store, table) == 1)
        }
    }

    @Test func regenerateIDOfANewSessionAndOfOneWhoseRowIsGone() async throws {
        let table = StoreTestDatabase.uniqueTable()
        try await withStore(table: table) { store in
            // Never saved: written under the new ID, and a save right after writes nothing more.
            var fresh = await store.new(name: "sid")
            let unsavedID = fresh.id
            fresh.values["user"] = "dora"
            let cookie = cookieHeader(from: try await store.regenerateID(&fresh))
            #expect(fresh.id != unsavedID && !fresh.isNew)
            #expect(try await store.get(cookieHeader: cookie, name: "sid").values["user"] == "dora")
            let modifiedOn = { try await store.pool.query("SELECT modified_on FROM \"\(table)\"").first?.decode(Date.self, column: 0) }
            let before = try await modifiedOn()
            _ = try await store.save(&fresh)
            #expect(try await modifiedOn() == before, "regenerateID leaves nothing unsaved")

            // Destroyed by another request: nothing is written and the session keeps its ID.
            var stored = try await store.get(cookieHeader: cookie, name: "sid")
            var elsewhere = stored
            _ = try await store.destroy(&elsewhere)
            let goneID = stored.id
            let error = await #expect(throws: SessionStoreError.self) { try await store.regenerateID(&stored) }
            #expect(error?.code == .sessionNotFound)
            #expect(stored.id == goneID)
            #expect(try await rowCount(store, table) == 0)
        }
    }

    @Test(arguments: [true, false])
    func newSessionIDsBeginWithTheHourTheyWereMadeUnlessTurnedOff(_ hourFirst: Bool) async throws {
        let table = StoreTestDatabase.uniqueTable()
        try await withStore(table: table, { $0.idsBeginWithCreationHour = hourFirst }) { store in
            var ids: [String] = []
            for _ in 0..<20 {
                var fresh = await store.new(name: "sid")
                fresh.values["n"] = 1
                let cookie = cookieHeader(from: try await store.save(&fresh))
                var renewed = try await store.get(cookieHeader: cookie, name: "sid")
                _ = try await store.regenerateID(&renewed)  // a renewed ID is laid out the same way
                ids += [fresh.id, renewed.id]
            }
            let hour = try await store.pool.query("SELECT floor(extract(epoch FROM now()) / 3600)::int8").first!.decode(Int64.self, column: 0)
            let hours = try ids.map(hourOfID)
            if hourFirst {
                #expect(hours.allSatisfy { $0 == hour || $0 == hour - 1 }, "\(hours) against the database's hour \(hour)")
            } else {
                #expect(Set(hours).count > 1, "random IDs share no 3-byte start")
            }
            #expect(Set(ids).count == ids.count)
            #expect(try await rowCount(store, table) == 20)
        }
    }

    @Test func unchangedSessionsCostNoWrite() async throws {
        let table = StoreTestDatabase.uniqueTable()
        try await withStore(table: table) { store in
            var session = await store.new(name: "sid")
            session.values["n"] = 1
            let cookie = cookieHeader(from: try await store.save(&session))
            let before = try await rowTimes(store, table)
            var loaded = try await store.get(cookieHeader: cookie, name: "sid")
            _ = try await store.save(&loaded)
            let after = try await rowTimes(store, table)
            #expect(before.modified == after.modified)
            #expect(before.expires == after.expires)
            // Once a tenth of maxAge has passed, only the expiry moves.
            _ = try await store.pool.query("UPDATE \"\(table)\" SET expires_on = expires_on - interval '4 days'")
            var due = try await store.get(cookieHeader: cookie, name: "sid")
            _ = try await store.save(&due)
            let touched = try await rowTimes(store, table)
            #expect(touched.modified == before.modified)
            #expect(touched.expires > before.expires.addingTimeInterval(-3600))
        }
    }

    @Test func aChangedSessionsExpiryMovesWhenDueOrWhenItHasAMaxAgeOfItsOwn() async throws {
        let table = StoreTestDatabase.uniqueTable()
        try await withStore(table: table) { store in
            var session = await store.new(name: "sid")
            session.values["n"] = 1
            let cookie = cookieHeader(from: try await store.save(&session))
            let written = try await rowTimes(store, table)
            // Changed, expiry not due: the values and modified_on are written, the expiry stays
            // (an update PostgreSQL can make in place).
            var changed = try await store.get(cookieHeader: cookie, name: "sid")
            changed.values["n"] = 2
            _ = try await store.save(&changed)
            let afterChange = try await rowTimes(store, table)
            #expect(afterChange.expires == written.expires)
            #expect(afterChange.modified > written.modified)
            #expect(try await store.get(cookieHeader: cookie, name: "sid").values["n"] == 2)
            // Due (less than nine tenths of maxAge left): the change moves it too.
            _ = try await store.pool.query("UPDATE \"\(table)\" SET expires_on = expires_on - interval '4 days'")
            let aged = try await rowTimes(store, table).expires
            var due = try await store.get(cookieHeader: cookie, name: "sid")
            due.values["n"] = 3
            _ = try await store.save(&due)
            let renewed = try await rowTimes(store, table).expires
            #expect(renewed > aged.addingTimeInterval(3 * 86_400))
            // A browser-session cookie (maxAge 0) keeps its row for the store's maxAge: a change
            // leaves the expiry alone, as for any session with the store's lifetime.
            var browserOnly = try await store.get(cookieHeader: cookie, name: "sid")
            browserOnly.values["n"] = 35
            browserOnly.options.maxAge = 0
            let field = try await store.save(&browserOnly)
            #expect(!field.value.contains("Max-Age"))
            #expect(try await rowTimes(store, table).expires == renewed)
            #expect(try await store.get(cookieHeader: cookie, name: "sid").values["n"] == 35)
            // A max age of the session's own ("remember me" for 90 days) moves it, due or not.
            var remembered = try await store.get(cookieHeader: cookie, name: "sid")
            remembered.values["n"] = 4
            remembered.options.maxAge = 90 * 86_400
            _ = try await store.save(&remembered)
            #expect(try await rowTimes(store, table).expires > Date().addingTimeInterval(89 * 86_400))
            #expect(try await store.get(cookieHeader: cookie, name: "sid").values["n"] == 4)
        }
    }

    @Test func setMaxAgeMovesWhenAnExpiryIsDue() async throws {
        // Due once less than nine tenths of maxAge is left: not for a row just written with a
        // one-hour lifetime, but after the store's maxAge becomes a day.
        try await withStore({ $0.sessionOptions.maxAge = 3600 }) { store in
            var session = await store.new(name: "sid")
            session.values["n"] = 1
            let cookie = cookieHeader(from: try await store.save(&session))
            #expect(try await store.get(cookieHeader: cookie, name: "sid").touchDue == false)
            await store.setMaxAge(86_400)
            #expect(try await store.get(cookieHeader: cookie, name: "sid").touchDue == true)
        }
    }

    @Test func freshSessionsCostNoRowAndNegativeMaxAgeDeletes() async throws {
        let table = StoreTestDatabase.uniqueTable()
        try await withStore(table: table) { store in
            _ = try await store.get(cookieHeader: nil, name: "sid")
            _ = try await store.get(cookieHeader: "sid=garbage", name: "sid")
            #expect(try await rowCount(store, table) == 0)
            var session = await store.new(name: "sid")
            let cookie = cookieHeader(from: try await store.save(&session))
            #expect(try await rowCount(store, table) == 1)
            var loaded = try await store.get(cookieHeader: cookie, name: "sid")
            loaded.options.maxAge = -1
            let field = try await store.save(&loaded)
            #expect(field.value.contains("Max-Age=0"))
            #expect(try await rowCount(store, table) == 0)
        }
    }

    @Test func flashesAndCodableValuesAndSeveralNames() async throws {
        struct Profile: Codable, Equatable { var name: String; var roles: [String] }
        try await withStore { store in
            var cart = await store.new(name: "cart")
            var auth = await store.new(name: "auth")
            cart.addFlash("added to cart")
            cart.addFlash("free shipping")
            try auth.set(Profile(name: "Ada", roles: ["admin"]), forKey: "profile")
            let header = cookieHeader(from: try await store.save(&cart)) + "; " + cookieHeader(from: try await store.save(&auth))
            var loadedCart = try await store.get(cookieHeader: header, name: "cart")
            let loadedAuth = try await store.get(cookieHeader: header, name: "auth")
            #expect(try loadedAuth.get(Profile.self, forKey: "profile") == Profile(name: "Ada", roles: ["admin"]))
            #expect(loadedCart.flashes() == ["added to cart", "free shipping"])
            #expect(loadedCart.flashes().isEmpty, "flashes are consumed")
            _ = try await store.save(&loadedCart)
            let again = try await store.get(cookieHeader: header, name: "cart")
            #expect(again.values[Session.defaultFlashKey] == nil)
        }
    }

    @Test func thousandTasksOverHundredSessions() async throws {
        try await withStore { store in
            var cookies: [String] = []
            for index in 0..<100 {
                var session = await store.new(name: "sid")
                session.values["owner"] = .int(index)
                session.values["hits"] = 0
                cookies.append(cookieHeader(from: try await store.save(&session)))
            }
            let allCookies = cookies
            try await withThrowingTaskGroup(of: Void.self) { group in
                for task in 0..<1_000 {
                    group.addTask {
                        let index = task % 100
                        var session = try await store.get(cookieHeader: allCookies[index], name: "sid")
                        #expect(!session.isNew)
                        #expect(session.values["owner"] == .int(index), "never another session's data")
                        session.values["last"] = .int(task)
                        _ = try await store.save(&session)
                    }
                }
                try await group.waitForAll()
            }
            for (index, cookie) in cookies.enumerated() {
                let session = try await store.get(cookieHeader: cookie, name: "sid")
                #expect(session.values["owner"] == .int(index))
                // The last writer wins; its value is one of this session's tasks.
                #expect((session.values["last"]?.intValue).map { $0 % 100 == index } == true)
            }
        }
    }

    @Test func cleanupHandleStopsPromptlyAndTheStoreKeepsServing() async throws {
        try await withStore { store in
            let cleanup = store.startCleanup(interval: .seconds(3600))
            try await Task.sleep(for: .milliseconds(50))
            let start = ContinuousClock.now
            await cleanup.stop()
            #expect(ContinuousClock.now - start < .milliseconds(500) * TestEnvironment.timeScale)
            #expect(cleanup.isCancelled)
            var session = await store.new(name: "sid")
            let cookie = cookieHeader(from: try await store.save(&session))
            #expect(try await !store.get(cookieHeader: cookie, name: "sid").isNew)
        }
    }

    @Test func cleanupRunsAsAServiceAndStopsWithTheGroup() async throws {
        try await withStore { store in
            let group = ServiceGroup(
                services: [SessionCleanupService(store: store, interval: .milliseconds(50))],
                gracefulShutdownSignals: [], logger: Logger(label: "test"))
            let running = Task { try await group.run() }
            try await Task.sleep(for: .milliseconds(120))
            let start = ContinuousClock.now
            await group.triggerGracefulShutdown()
            try await running.value
            // A cleanup pass in flight finishes first; under TSan on the loaded 2-core CI machine
            // that took 1.1 s once (2026-12-04). The bound catches a stop that waits or hangs.
            #expect(ContinuousClock.now - start < .seconds(2) * TestEnvironment.timeScale)
        }
    }

    @Test func aCleanupWhosePoolClosedEndsByItself() async throws {
        // A closed pool never opens again: a cleanup left running after close() would log a
        // failure every interval, and keep the store alive, until someone cancels it.
        let cleanup = try await withStore { store in
            let cleanup = store.startCleanup(interval: .milliseconds(20))
            try await Task.sleep(for: .milliseconds(50))
            return cleanup
        }
        let endedByItself = await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                await cleanup.value
                return true
            }
            group.addTask {
                try? await Task.sleep(for: .seconds(5) * TestEnvironment.timeScale)
                cleanup.cancel()  // the failure's way out: the cleanup still ran
                return false
            }
            let first = await group.next() ?? false
            group.cancelAll()
            return first
        }
        #expect(endedByItself, "the cleanup ended without being cancelled once its pool closed")
    }

    @Test func theCleanupServiceWhosePoolClosedWaitsForTheGroupsShutdown() async throws {
        // The cleanup ends once its pool is closed, but the service does not end the application
        // with it (a ServiceGroup cancels every service when one returns): it waits for the
        // group's graceful shutdown, as before.
        let table = StoreTestDatabase.uniqueTable()
        try await withStore(table: table) { store in
            let group = ServiceGroup(
                services: [SessionCleanupService(store: store, interval: .milliseconds(20))],
                gracefulShutdownSignals: [], logger: Logger(label: "test"))
            let finished = Mutex(false)
            let running = Task {
                try await group.run()
                finished.withLock { $0 = true }
            }
            try await Task.sleep(for: .milliseconds(50))
            try await closing(store, table: table)
            try await Task.sleep(for: .milliseconds(300))
            #expect(!finished.withLock { $0 }, "the group still runs after the pool closed")
            await group.triggerGracefulShutdown()
            try await running.value
            #expect(finished.withLock { $0 })
        }
    }

    /// Drops the store's table and closes the store, in the middle of a test (`withStore` drops
    /// the table only through the store's pool, which is closed by then).
    private func closing(_ store: SessionStore, table: String) async throws {
        _ = try await store.pool.query("DROP TABLE IF EXISTS \"\(table)\"")
        await store.close()
    }

    @Test func theCleanupServiceStopsWhenItsTaskIsCancelled() async throws {
        // Outside a ServiceGroup, cancelling the task that runs the service stops it, also after
        // its pool closed (when it waits for a shutdown that no group will send).
        for closeFirst in [false, true] {
            let table = StoreTestDatabase.uniqueTable()
            try await withStore(table: table) { store in
                let running = Task { try await SessionCleanupService(store: store, interval: .milliseconds(20)).run() }
                try await Task.sleep(for: .milliseconds(50))
                if closeFirst {
                    try await closing(store, table: table)
                    try await Task.sleep(for: .milliseconds(50))
                }
                let start = ContinuousClock.now
                running.cancel()
                try await running.value
                #expect(ContinuousClock.now - start < .seconds(2) * TestEnvironment.timeScale, "pool closed first: \(closeFirst)")
            }
        }
    }
}

@Suite("Table creation")
struct TableTests {
    @Test func creationIsIdempotentAndConcurrent() async throws {
        let table = StoreTestDatabase.uniqueTable()
        let pool = try ConnectionPool(url: try StoreTestDatabase.url)
        var configuration = SessionStore.Configuration()
        configuration.tableName = table
        configuration.unlogged = true
        let key = try SessionKey(hashKey: hashKeyA)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<8 {
                group.addTask { [configuration] in
                    let store = try await SessionStore(pool: pool, keys: [key], configuration: configuration)
                    var session = await store.new(name: "sid")
                    _ = try await store.save(&session)
                }
            }
            try await group.waitForAll()
        }
        let comment = try await pool.query("SELECT obj_description(to_regclass($1), 'pg_class')", [.text(table)])
        #expect(try comment.first?.decode(String.self, column: 0) == "swift-pgstore schema \(SessionTable.currentVersion)")
        let unique = try await pool.query(
            "SELECT count(*) FROM pg_index WHERE indrelid = to_regclass($1) AND indisunique", [.text(table)])
        #expect(try unique.first?.decode(Int.self, column: 0) == 1)
        _ = try await pool.query("DROP TABLE \"\(table)\"")
        await pool.close()
    }

    @Test func goLayoutAndBadNamesAreRejected() async throws {
        let table = StoreTestDatabase.uniqueTable("gostore")
        let pool = try ConnectionPool(url: try StoreTestDatabase.url)
        _ = try await pool.query("CREATE TABLE \"\(table)\" (id SERIAL PRIMARY KEY, key BYTEA, data BYTEA, created_on TIMESTAMPTZ DEFAULT NOW(), modified_on TIMESTAMPTZ, expires_on TIMESTAMPTZ)")
        var configuration = SessionStore.Configuration()
        configuration.tableName = table
        let key = try SessionKey(hashKey: hashKeyA)
        let error = await #expect(throws: SessionStoreError.self) {
            _ = try await SessionStore(pool: pool, keys: [key], configuration: configuration)
        }
        #expect(error?.code == .incompatibleTable)
        #expect(error?.message.contains("Go's pgstore") == true)
        configuration.tableName = "bad\"; DROP TABLE x; --"
        let nameError = await #expect(throws: SessionStoreError.self) {
            _ = try await SessionStore(pool: pool, keys: [key], configuration: configuration)
        }
        #expect(nameError?.code == .invalidTableName)
        _ = try await pool.query("DROP TABLE \"\(table)\"")
        await pool.close()
    }

    @Test func startsWithoutCreatePrivilegeWhenTheTableExists() async throws {
        let table = StoreTestDatabase.uniqueTable()
        let admin = try ConnectionPool(url: try StoreTestDatabase.url)
        var configuration = SessionStore.Configuration()
        configuration.tableName = table
        let key = try SessionKey(hashKey: hashKeyA)
        _ = try await SessionStore(pool: admin, keys: [key], configuration: configuration)
        try await withRowsOnlyRole(on: table, admin: admin) { limited in
            let store = try await SessionStore(pool: limited, keys: [key], configuration: configuration)
            var session = await store.new(name: "sid")
            _ = try await store.save(&session)
            // Without the table, the missing privilege is a clear database error.
            configuration.tableName = StoreTestDatabase.uniqueTable()
            let error = await #expect(throws: PGError.self) {
                _ = try await SessionStore(pool: limited, keys: [key], configuration: configuration)
            }
            #expect(error?.sqlState == .insufficientPrivilege)
        }
        _ = try await admin.query("DROP TABLE \"\(table)\"")
        await admin.close()
    }
}

@Suite("Per-request registry")
struct SessionRegistryTests {
    @Test func oneSessionPerNamePerRequest() async throws {
        let table = StoreTestDatabase.uniqueTable()
        try await withStore(table: table) { store in
            let request = HTTPRequest(method: .get, scheme: "http", authority: "example.com", path: "/")
            let sessions = SessionRegistry(store: store, request: request)
            var first = try await sessions.get("sid")
            let again = try await sessions.get("sid")
            #expect(first.id == again.id, "a cookie-less request gets one fresh session, not two")
            #expect(try await sessions.get("other").id != first.id)
            first.values["n"] = 1
            sessions.update(first)
            #expect(try await sessions.get("sid").values["n"] == 1)
            let fields = try await sessions.save()
            #expect(fields.count == 1, "only the session with values is saved")
            #expect(try await rowCount(store, table) == 1)

            // The next request, with the cookie: loads the stored session once.
            var next = request
            next.headerFields[.cookie] = cookieHeader(from: try #require(fields.first))
            let nextSessions = SessionRegistry(store: store, request: next)
            let loaded = try await nextSessions.get("sid")
            #expect(!loaded.isNew)
            #expect(loaded.id == first.id)
            #expect(try await nextSessions.save().isEmpty, "nothing changed, nothing written")
        }
    }
}

@Suite("Cleanup at scale")
struct CleanupScaleTests {
    @Test func fiftyThousandExpiredRowsGoInBatchesWhileReadsGoOn() async throws {
        let table = StoreTestDatabase.uniqueTable()
        try await withStore(table: table, { $0.cleanupBatchSize = 1000 }) { store in
            var live = await store.new(name: "sid")
            live.values["keep"] = true
            let cookie = cookieHeader(from: try await store.save(&live))
            _ = try await store.pool.query("""
                INSERT INTO "\(table)" (key, data, expires_on)
                SELECT 'expired-' || g, '\\x00', now() - interval '1 hour' FROM generate_series(1, 50000) g
                """)
            let reads = Task {
                var count = 0
                while !Task.isCancelled {
                    do {
                        let session = try await store.get(cookieHeader: cookie, name: "sid")
                        #expect(!session.isNew, "reads keep finding the live session during cleanup")
                        count += 1
                    } catch is CancellationError {
                        break  // the test stopped the reader mid-query
                    }
                }
                return count
            }
            let deleted = try await store.deleteExpired()
            reads.cancel()
            let readCount = try await reads.value
            #expect(deleted == 50_000)
            #expect(try await rowCount(store, table) == 1)
            #expect(readCount > 0)
        }
    }
}

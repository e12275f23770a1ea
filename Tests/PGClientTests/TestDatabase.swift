import Foundation
import Testing
import PGClient
import PGTestSupport

/// Where the tests find PostgreSQL: `scripts/with-postgres` exports these. A missing database is a
/// failure, never a skip.
enum TestDatabase {
    static var url: String { get throws { try TestEnvironment.databaseURL } }
    static var socketURL: String? { TestEnvironment.socketURL }

    /// The test database's URL with its own `application_name`, so a test can find (and terminate)
    /// its own connections without touching those of tests running in parallel.
    static func url(applicationName: String) throws -> String {
        let base = try url
        return base + (base.contains("?") ? "&" : "?") + "application_name=" + applicationName
    }

    static func pool(
        applicationName: String = "pgstore_test",
        _ configure: (inout ConnectionPool.Configuration) -> Void = { _ in }
    ) throws -> ConnectionPool {
        var configuration = ConnectionPool.Configuration()
        configure(&configuration)
        return try ConnectionPool(url: try url(applicationName: applicationName), configuration: configuration)
    }

    static func pgctl(_ action: String) throws { try TestEnvironment.pgctl(action) }

    static func uniqueName(_ prefix: String) -> String { TestEnvironment.uniqueName(prefix) }
}

/// Runs `body` with a pool and always closes it.
func withPool<T>(
    applicationName: String = "pgstore_test",
    _ configure: (inout ConnectionPool.Configuration) -> Void = { _ in },
    _ body: (ConnectionPool) async throws -> T
) async throws -> T {
    let pool = try TestDatabase.pool(applicationName: applicationName, configure)
    return try await closing(pool) { try await body(pool) }
}

/// Runs `body`, then closes `pools`, also when `body` throws. The closes are awaited, not left to
/// an unstructured task: a pool still open when the test process exits shows up in LeakSanitizer's
/// report.
func closing<T>(_ pools: ConnectionPool..., after body: () async throws -> T) async throws -> T {
    do {
        let result = try await body()
        for pool in pools { await pool.close() }
        return result
    } catch {
        for pool in pools { await pool.close() }
        throw error
    }
}

/// An advisory lock that a connection of another pool holds for the test (see ``withLockHeld(_:)``).
struct HeldLock: Sendable {
    /// A statement that waits until the lock is let go, then returns.
    let waitingSQL = "SELECT pg_advisory_lock($1), pg_advisory_unlock($1)"
    let parameters: [PGValue]
    /// Lets the lock go.
    let release: @Sendable () async throws -> Void
}

/// Runs `body` while a connection of another pool holds an advisory lock of its own; `body`'s
/// `lock.release()` lets it go, and it is let go when `body` ends in any case. A query of the pool
/// under test running `lock.waitingSQL` waits until then, so it holds its connection for as long
/// as the test wants, however slowly the machine runs. Should the test wait for that query without
/// releasing (the code under test broken), the lock goes after 5 s (x the sanitizer scale) anyway,
/// so the test fails on its expectations instead of hanging.
func withLockHeld<T: Sendable>(_ body: @Sendable (HeldLock) async throws -> T) async throws -> T {
    let key = Int64.random(in: 1...Int64.max)
    return try await withPool { admin in
        try await admin.withConnection { holder in
            _ = try await holder.query("SELECT pg_advisory_lock($1)", [.int8(key)])
            let release: @Sendable () async throws -> Void = { _ = try await holder.query("SELECT pg_advisory_unlock_all()") }
            let backstop = Task {
                try? await Task.sleep(for: .seconds(5) * TestEnvironment.timeScale)
                if !Task.isCancelled { try? await release() }
            }
            do {
                let result = try await body(HeldLock(parameters: [.int8(key)], release: release))
                backstop.cancel()
                await backstop.value
                try await release()
                return result
            } catch {
                backstop.cancel()
                await backstop.value
                try? await release()
                throw error
            }
        }
    }
}

/// Runs `count` concurrent queries on `pool`, each expecting its own value back.
func expectEachCallerGetsItsOwnRow(
    from pool: ConnectionPool, count: Int, sourceLocation: SourceLocation = #_sourceLocation
) async throws {
    try await withThrowingTaskGroup(of: Void.self) { group in
        for index in 0..<count {
            group.addTask {
                let row = try #require(
                    try await pool.query("SELECT $1::int8", [.int8(Int64(index))]).first, sourceLocation: sourceLocation)
                #expect(try row.decode(Int.self, column: 0) == index, sourceLocation: sourceLocation)
            }
        }
        try await group.waitForAll()
    }
}

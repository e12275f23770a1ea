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

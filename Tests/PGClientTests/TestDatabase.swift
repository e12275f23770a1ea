import Foundation
import Testing
import PGClient

/// Where the tests find PostgreSQL: `scripts/with-postgres` exports these. A missing database is a
/// failure, never a skip.
enum TestDatabase {
    static var url: String {
        get throws {
            guard let url = ProcessInfo.processInfo.environment["PGSTORE_TEST_URL"], !url.isEmpty else {
                Issue.record("PGSTORE_TEST_URL is not set: run the tests through scripts/test")
                throw MissingDatabase()
            }
            return url
        }
    }

    static var socketURL: String? { ProcessInfo.processInfo.environment["PGSTORE_TEST_SOCKET_URL"] }

    struct MissingDatabase: Error {}

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

    /// Runs the cluster's pg_ctl wrapper (`stop`, `start`).
    static func pgctl(_ action: String) throws {
        guard let path = ProcessInfo.processInfo.environment["PGSTORE_TEST_PGCTL"] else {
            Issue.record("PGSTORE_TEST_PGCTL is not set: run the tests through scripts/test")
            throw MissingDatabase()
        }
        // posix_spawn + waitpid: Foundation's Process.waitUntilExit can miss the exit of a child
        // whose own child (the postmaster) lives on.
        var pid: pid_t = 0
        let argv: [UnsafeMutablePointer<CChar>?] = [strdup(path), strdup(action), nil]
        defer { for arg in argv { free(arg) } }
        let spawned = posix_spawn(&pid, path, nil, nil, argv, environ)
        #expect(spawned == 0, "could not run \(path)")
        var status: Int32 = 0
        waitpid(pid, &status, 0)
        #expect(status == 0, "pg_ctl \(action) failed with status \(status)")
    }

    /// A table name unique to one test, so suites can run in parallel.
    static func uniqueName(_ prefix: String) -> String {
        "\(prefix)_\(UInt32.random(in: 0...UInt32.max))"
    }
}

/// Runs `body` with a pool and always closes it.
func withPool<T>(
    applicationName: String = "pgstore_test",
    _ configure: (inout ConnectionPool.Configuration) -> Void = { _ in },
    _ body: (ConnectionPool) async throws -> T
) async throws -> T {
    let pool = try TestDatabase.pool(applicationName: applicationName, configure)
    do {
        let result = try await body(pool)
        await pool.close()
        return result
    } catch {
        await pool.close()
        throw error
    }
}

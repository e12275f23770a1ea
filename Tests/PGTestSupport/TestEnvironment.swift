import Foundation
import Testing

/// What every test target needs from `scripts/with-postgres`: where the database is, and a way to
/// stop and start it. A missing database is a recorded failure, never a skip.
public enum TestEnvironment {
    public struct MissingDatabase: Error {}

    /// `PGSTORE_TEST_URL`, the throwaway cluster's URL.
    public static var databaseURL: String {
        get throws {
            guard let url = ProcessInfo.processInfo.environment["PGSTORE_TEST_URL"], !url.isEmpty else {
                Issue.record("PGSTORE_TEST_URL is not set: run the tests through scripts/test")
                throw MissingDatabase()
            }
            return url
        }
    }

    /// `PGSTORE_TEST_SOCKET_URL`, the same cluster over its unix socket.
    public static var socketURL: String? { ProcessInfo.processInfo.environment["PGSTORE_TEST_SOCKET_URL"] }

    /// How many times longer than usual a "promptly" bound may be: `PGSTORE_TEST_TIME_SCALE`
    /// (default 1). `scripts/test --tsan` and `--asan` set 2: the sanitizers run the code several
    /// times slower. Only bounds that stay below what they tell apart when doubled use it (a
    /// cleanup that sleeps for an hour, a statement that waits for a lock the test holds); the
    /// rest stay as they are.
    public static var timeScale: Int {
        Int(ProcessInfo.processInfo.environment["PGSTORE_TEST_TIME_SCALE"] ?? "") ?? 1
    }

    /// A name unique to one test (tables, roles, application names), so suites can run in parallel.
    public static func uniqueName(_ prefix: String) -> String {
        "\(prefix)_\(UInt32.random(in: 0...UInt32.max))"
    }

    /// Runs the cluster's pg_ctl wrapper (`stop`, `start`) and waits for it.
    public static func pgctl(_ action: String) throws {
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
}

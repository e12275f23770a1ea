import Foundation
import Logging
import PostgresNIO

/// The same reads through PostgresNIO's `PostgresClient`, the Swift server ecosystem's own
/// PostgreSQL client, for the `nio` and `nioraw` modes: what a session store written on
/// PostgresNIO would cost, measured beside this one in the same process, on the same table and
/// server, with the same SQL as a prepared statement (as the store and `pgbench -M prepared` run
/// it).
///
/// PostgresNIO runs one query at a time on a connection, so its throughput is bounded by its
/// connection count: `--nio-connections` (default: the store's pool size) sets it.
final class PostgresNIOComparison: Sendable {
    let client: PostgresClient
    private let runner: Task<Void, Never>

    init(url: String, connections: Int) throws {
        var configuration = try Self.configuration(url: url)
        configuration.options.minimumConnections = connections
        configuration.options.maximumConnections = connections
        // Its log goes nowhere: stdout carries only RESULT lines.
        client = PostgresClient(configuration: configuration, backgroundLogger: Logger(label: "postgres-nio") { _ in SwiftLogNoOpLogHandler() })
        runner = Task { [client] in await client.run() }
    }

    /// Stops the client: cancelling the task that runs it closes its connections.
    func close() async {
        runner.cancel()
        await runner.value
    }

    /// A client configuration for a libpq-style URL: `postgresql://user:password@host:port/db`, or
    /// with `?host=/socket/directory&port=N` for a Unix socket.
    private static func configuration(url: String) throws -> PostgresClient.Configuration {
        guard let components = URLComponents(string: url) else { throw OptionError("not a URL: \(url)") }
        let query = Dictionary((components.queryItems ?? []).map { ($0.name, $0.value ?? "") }, uniquingKeysWith: { $1 })
        let username = components.user ?? query["user"] ?? "postgres"
        let password = components.password ?? query["password"]
        let path = components.path.drop(while: { $0 == "/" })
        let database = path.isEmpty ? query["dbname"] : String(path)
        let port = components.port ?? query["port"].flatMap { Int($0) } ?? 5432
        if let directory = query["host"], directory.hasPrefix("/") {
            return .init(unixSocketPath: "\(directory)/.s.PGSQL.\(port)", username: username, password: password, database: database)
        }
        let host = components.host.flatMap { $0.isEmpty ? nil : $0 } ?? query["host"] ?? "127.0.0.1"
        return .init(host: host, port: port, username: username, password: password, database: database, tls: .disable)
    }
}

/// The store's SELECT (`$1` the key, `$2` the touch threshold in seconds) as a PostgresNIO
/// prepared statement, prepared once per connection.
struct SelectSessionStatement: PostgresPreparedStatement {
    typealias Row = (ByteBuffer, Bool)

    /// The store's `$2`, taken from the store at run time (set up in main, before any query).
    nonisolated(unsafe) static var touchThreshold = 0.0
    /// The store's SQL, as the `raw` mode sends it.
    static var sql: String { rawQuery.0 }
    static var name: String { "pgstore_bench_select" }

    let key: String

    func makeBindings() throws -> PostgresBindings {
        var bindings = PostgresBindings(capacity: 2)
        bindings.append(key)
        bindings.append(Self.touchThreshold)
        return bindings
    }

    func decodeRow(_ row: PostgresRow) throws -> Row {
        try row.decode(Row.self)
    }
}

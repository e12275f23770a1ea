import Synchronization

/// A connection reserved for one caller by ``ConnectionPool/withConnection(_:)``.
///
/// Statements run in order on the same server session, so transactions and session settings work.
/// Do not keep it after the closure returns.
public struct PGConnection: Sendable {
    let pool: ConnectionPool
    let connection: LibPQConnection

    /// Runs one statement on this connection and returns its rows.
    /// - Parameters:
    ///   - sql: one SQL statement.
    ///   - parameters: values for `$1`, `$2`, ...
    /// - Returns: the statement's rows.
    /// - Throws: ``PGError`` or `CancellationError`.
    public func query(_ sql: String, _ parameters: [PGValue] = []) async throws -> QueryResult {
        connection.inFlight.add(1, ordering: .relaxed)
        return try await pool.run(sql, try EncodedParameters(parameters), on: connection)
    }
}

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
        let encoded = try EncodedParameters(parameters)
        connection.addQuery()
        return try await pool.run(sql, encoded, on: connection)
    }
}

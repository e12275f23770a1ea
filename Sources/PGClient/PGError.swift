/// The one error type of the PostgreSQL client.
///
/// It tells a connection failure (the server went away, could not be reached, the pool is closed or
/// exhausted) from a query failure (the server rejected one statement; the connection is fine), and
/// carries the server's SQLSTATE, message and detail when there are any.
///
/// `description` is short; `debugDescription` adds the detail. Neither ever contains a password
/// from the connection string.
public struct PGError: Error, Sendable, CustomStringConvertible, CustomDebugStringConvertible {
    /// What went wrong, as an extensible set of values.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        fileprivate enum Base: String, Sendable {
            case connectionFailed, connectionClosed, queryFailed, poolClosed, connectionWaitTimeout
            case tooManyWaiters, decoding, invalidParameter, invalidConnectionString
        }
        fileprivate let base: Base

        /// The connection could not be opened or broke while in use.
        public static let connectionFailed = Code(base: .connectionFailed)
        /// The connection was closed (by `close()`) before the query could complete.
        public static let connectionClosed = Code(base: .connectionClosed)
        /// The server rejected the statement; see ``PGError/sqlState``.
        public static let queryFailed = Code(base: .queryFailed)
        /// The pool was closed; no further queries are accepted.
        public static let poolClosed = Code(base: .poolClosed)
        /// No connection became available within the configured wait.
        public static let connectionWaitTimeout = Code(base: .connectionWaitTimeout)
        /// Too many callers are already waiting for a connection.
        public static let tooManyWaiters = Code(base: .tooManyWaiters)
        /// A column could not be decoded as the requested type (or was NULL).
        public static let decoding = Code(base: .decoding)
        /// A parameter cannot be sent (for example text with a NUL byte).
        public static let invalidParameter = Code(base: .invalidParameter)
        /// The connection string could not be parsed.
        public static let invalidConnectionString = Code(base: .invalidConnectionString)

        /// A short text for logs; it never contains secrets.
        public var description: String { base.rawValue }
    }

    /// What kind of failure this is.
    public let code: Code
    /// The server's SQLSTATE, when the server reported the error.
    public let sqlState: SQLState?
    /// The primary message (from the server, or from the client for client-side failures).
    public let message: String
    /// The server's DETAIL field, if any.
    public let detail: String?
    /// The server's HINT field, if any.
    public let hint: String?

    /// Set when the query never left the client, so running it elsewhere is safe.
    var wasNotSent = false

    /// Whether the failure concerns the connection (it is gone or could not be had) rather than one
    /// statement. A query failure leaves the connection usable.
    public var isConnectionError: Bool {
        switch code.base {
        case .connectionFailed, .connectionClosed, .poolClosed, .connectionWaitTimeout, .tooManyWaiters,
            .invalidConnectionString:
            return true
        case .queryFailed, .decoding, .invalidParameter:
            return false
        }
    }

    /// Whether the server rejected a statement (the connection itself is fine).
    public var isQueryError: Bool { code == .queryFailed }

    init(code: Code, message: String, sqlState: SQLState? = nil, detail: String? = nil, hint: String? = nil) {
        self.code = code
        self.message = message
        self.sqlState = sqlState
        self.detail = detail
        self.hint = hint
    }

    /// A short text for logs; it never contains secrets.
    public var description: String {
        if let sqlState { return "PGError.\(code) (\(sqlState)): \(message)" }
        return "PGError.\(code): \(message)"
    }

    /// The message with its detail and hint.
    public var debugDescription: String {
        var text = description
        if let detail { text += "\nDETAIL: \(detail)" }
        if let hint { text += "\nHINT: \(hint)" }
        return text
    }

    /// Reached from `Row`'s inlinable accessors.
    @usableFromInline
    static func decoding(_ message: String) -> PGError { PGError(code: .decoding, message: message) }
    static let poolClosed = PGError(code: .poolClosed, message: "the connection pool is closed")
}
